//! Pictures the face models look at: RGB, decoded from an uploaded photo
//! (JPEG or PNG, with limits checked before any pixel is decoded) or
//! converted from a camera frame.

/// An RGB picture, 3 bytes a pixel, rows packed.
#[derive(Clone, PartialEq)]
pub struct Picture {
    pub width: u32,
    pub height: u32,
    pub rgb: Vec<u8>,
}

impl std::fmt::Debug for Picture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Picture({}x{})", self.width, self.height)
    }
}

/// What an uploaded photo may be, checked from its header before any
/// pixel is decoded.
#[derive(Debug, Clone, Copy)]
pub struct PhotoLimits {
    pub max_bytes: usize,
    /// Pixels a photo may claim.
    pub max_pixels: u64,
    /// Pixels decoded at most: a larger JPEG is decoded at 1/2, 1/4 or 1/8
    /// of its size (libjpeg-turbo scales while decoding, cheaply), a larger
    /// PNG is refused. The face models need a few megapixels.
    pub max_decoded_pixels: u64,
    /// Neither side longer (a 1 × 49,000,000 PNG took 74 s to decode).
    pub max_side: u32,
}

impl Default for PhotoLimits {
    fn default() -> Self {
        // A 48 MP phone photo passes (decoded at half size); a panorama, a
        // crafted 100 MP file or a 49 MP PNG does not reach the decoder.
        PhotoLimits { max_bytes: 25 << 20, max_pixels: 50_000_000, max_decoded_pixels: 12_000_000, max_side: 16_384 }
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PhotoError {
    #[error("the photo is {bytes} bytes; at most {max} are accepted")]
    TooLarge { bytes: usize, max: usize },
    #[error("the photo is {width}x{height} ({} megapixels); at most {} megapixels are accepted",
        (*.width as u64 * *.height as u64) / 1_000_000, .max_pixels / 1_000_000)]
    TooManyPixels { width: u32, height: u32, max_pixels: u64 },
    #[error("not a JPEG or PNG photo ({0})")]
    UnsupportedType(&'static str),
    #[error("the photo cannot be decoded: {0}")]
    Corrupt(String),
}

impl Picture {
    /// Decodes an uploaded JPEG or PNG, turned upright by its EXIF
    /// orientation (phones store portraits sideways with a tag).
    pub fn decode(bytes: &[u8], limits: PhotoLimits) -> Result<Picture, PhotoError> {
        if bytes.len() > limits.max_bytes {
            return Err(PhotoError::TooLarge { bytes: bytes.len(), max: limits.max_bytes });
        }
        let check = |width: u32, height: u32| {
            if width as u64 * height as u64 > limits.max_pixels || width.max(height) > limits.max_side {
                Err(PhotoError::TooManyPixels { width, height, max_pixels: limits.max_pixels })
            } else if width == 0 || height == 0 {
                Err(PhotoError::Corrupt(format!("the photo is {width}x{height}")))
            } else {
                Ok(())
            }
        };
        match sniff(bytes) {
            Kind::Jpeg => {
                let corrupt = |e: turbojpeg::Error| PhotoError::Corrupt(e.to_string());
                let header = turbojpeg::read_header(bytes).map_err(corrupt)?;
                check(header.width as u32, header.height as u32)?;
                let image = decode_jpeg_within(bytes, header, limits.max_decoded_pixels).map_err(corrupt)?;
                let mut rgb = image.pixels;
                if image.pitch != image.width * 3 {
                    rgb = rgb.chunks(image.pitch).flat_map(|row| &row[..image.width * 3]).copied().collect();
                }
                let picture = Picture { width: image.width as u32, height: image.height as u32, rgb };
                Ok(picture.oriented(exif_orientation(bytes)))
            }
            Kind::Png => decode_png(bytes, |width, height| {
                check(width, height)?;
                match width as u64 * height as u64 > limits.max_decoded_pixels {
                    true => Err(PhotoError::TooManyPixels { width, height, max_pixels: limits.max_decoded_pixels }),
                    false => Ok(()),
                }
            }),
            Kind::Other(what) => Err(PhotoError::UnsupportedType(what)),
        }
    }

    /// An I420 camera frame as RGB (BT.601 limited range, what cameras send).
    pub fn from_i420(data: &[u8], width: u32, height: u32) -> Picture {
        let (w, h) = (width as usize, height as usize);
        let (y_plane, chroma) = data.split_at(w * h);
        let (u_plane, v_plane) = chroma.split_at(w * h / 4);
        let mut rgb = vec![0u8; w * h * 3];
        for row in 0..h {
            let (ys, crow) = (&y_plane[row * w..][..w], row / 2 * (w / 2));
            for (col, out) in rgb[row * w * 3..][..w * 3].chunks_exact_mut(3).enumerate() {
                let c = (ys[col] as i32 - 16) * 298;
                let d = u_plane[crow + col / 2] as i32 - 128;
                let e = v_plane[crow + col / 2] as i32 - 128;
                out[0] = ((c + 409 * e + 128) >> 8).clamp(0, 255) as u8;
                out[1] = ((c - 100 * d - 208 * e + 128) >> 8).clamp(0, 255) as u8;
                out[2] = ((c + 516 * d + 128) >> 8).clamp(0, 255) as u8;
            }
        }
        Picture { width, height, rgb }
    }

    /// The picture as I420 (for pasting a photo into the simulated camera's
    /// scene); odd sizes lose their last row or column.
    pub fn to_i420(&self) -> (u32, u32, Vec<u8>) {
        let (w, h) = (self.width as usize & !1, self.height as usize & !1);
        let mut out = vec![0u8; w * h * 3 / 2];
        let (y_plane, chroma) = out.split_at_mut(w * h);
        let (u_plane, v_plane) = chroma.split_at_mut(w * h / 4);
        let px = |x: usize, y: usize| {
            let p = &self.rgb[(y * self.width as usize + x) * 3..][..3];
            (p[0] as i32, p[1] as i32, p[2] as i32)
        };
        for y in 0..h {
            for x in 0..w {
                let (r, g, b) = px(x, y);
                y_plane[y * w + x] = (((66 * r + 129 * g + 25 * b + 128) >> 8) + 16) as u8;
                if x % 2 == 0 && y % 2 == 0 {
                    let u = ((-38 * r - 74 * g + 112 * b + 128) >> 8) + 128;
                    let v = ((112 * r - 94 * g - 18 * b + 128) >> 8) + 128;
                    u_plane[y / 2 * (w / 2) + x / 2] = u.clamp(0, 255) as u8;
                    v_plane[y / 2 * (w / 2) + x / 2] = v.clamp(0, 255) as u8;
                }
            }
        }
        (w as u32, h as u32, out)
    }

    /// The picture scaled by `factor` (< 1 shrinks), each output pixel the
    /// mean of the source pixels under it so a big photo does not alias.
    pub fn scaled(&self, factor: f32) -> Picture {
        let width = ((self.width as f32 * factor).round() as u32).max(1);
        let height = ((self.height as f32 * factor).round() as u32).max(1);
        self.resized(width, height)
    }

    /// The picture resized to exactly `width` x `height` (area average when
    /// shrinking, bilinear when growing).
    pub fn resized(&self, width: u32, height: u32) -> Picture {
        let (sw, sh) = (self.width as usize, self.height as usize);
        let xs = spans(sw, width as usize);
        let ys = spans(sh, height as usize);
        let mut rgb = Vec::with_capacity(width as usize * height as usize * 3);
        for &(y0, y1, fy) in &ys {
            for &(x0, x1, fx) in &xs {
                if y1 - y0 <= 1 && x1 - x0 <= 1 {
                    rgb.extend_from_slice(&self.bilinear(x0, y0, fx, fy));
                    continue;
                }
                let mut sum = [0u32; 3];
                for y in y0..y1 {
                    for p in self.rgb[(y * sw + x0) * 3..(y * sw + x1) * 3].chunks_exact(3) {
                        sum[0] += p[0] as u32;
                        sum[1] += p[1] as u32;
                        sum[2] += p[2] as u32;
                    }
                }
                let n = ((y1 - y0) * (x1 - x0)) as u32;
                rgb.extend(sum.map(|s| ((s + n / 2) / n) as u8));
            }
        }
        Picture { width, height, rgb }
    }

    /// Sample at (x + fx, y + fy), fx and fy in [0, 1).
    fn bilinear(&self, x: usize, y: usize, fx: f32, fy: f32) -> [u8; 3] {
        let (w, h) = (self.width as usize, self.height as usize);
        let (x1, y1) = ((x + 1).min(w - 1), (y + 1).min(h - 1));
        let at = |x: usize, y: usize, c: usize| self.rgb[(y * w + x) * 3 + c] as f32;
        [0, 1, 2].map(|c| {
            let top = at(x, y, c) * (1.0 - fx) + at(x1, y, c) * fx;
            let bottom = at(x, y1, c) * (1.0 - fx) + at(x1, y1, c) * fx;
            (top * (1.0 - fy) + bottom * fy).round() as u8
        })
    }

    /// Bilinear sample at a real position (clamped to the picture).
    pub fn sample(&self, x: f32, y: f32) -> [f32; 3] {
        let x = x.clamp(0.0, self.width as f32 - 1.0);
        let y = y.clamp(0.0, self.height as f32 - 1.0);
        let (x0, y0) = (x.floor() as usize, y.floor() as usize);
        self.bilinear(x0, y0, x - x0 as f32, y - y0 as f32).map(f32::from)
    }

    /// The picture turned by EXIF orientation `tag` (1 = as stored).
    fn oriented(self, tag: u32) -> Picture {
        let (w, h) = (self.width as usize, self.height as usize);
        // Where output pixel (x, y) comes from, for each tag; 5..=8 swap sides.
        let from: fn(usize, usize, usize, usize) -> (usize, usize) = match tag {
            2 => |x, y, w, _| (w - 1 - x, y),
            3 => |x, y, w, h| (w - 1 - x, h - 1 - y),
            4 => |x, y, _, h| (x, h - 1 - y),
            5 => |x, y, _, _| (y, x),
            6 => |x, y, _, h| (y, h - 1 - x),
            7 => |x, y, w, h| (w - 1 - y, h - 1 - x),
            8 => |x, y, w, _| (w - 1 - y, x),
            _ => return self,
        };
        let (ow, oh) = if tag >= 5 { (h, w) } else { (w, h) };
        let mut rgb = vec![0u8; w * h * 3];
        for y in 0..oh {
            for x in 0..ow {
                let (sx, sy) = from(x, y, w, h);
                rgb[(y * ow + x) * 3..][..3].copy_from_slice(&self.rgb[(sy * w + sx) * 3..][..3]);
            }
        }
        Picture { width: ow as u32, height: oh as u32, rgb }
    }
}

/// For each output index along an axis of `src` pixels shrunk or grown to
/// `dst`: the source span [start, end) it averages, and the fraction past
/// `start` for a bilinear sample when the span is a single pixel.
fn spans(src: usize, dst: usize) -> Vec<(usize, usize, f32)> {
    let ratio = src as f32 / dst as f32;
    (0..dst)
        .map(|i| {
            if ratio > 1.0 {
                let start = ((i as f32 * ratio) as usize).min(src - 1);
                let end = (((i + 1) as f32 * ratio) as usize).clamp(start + 1, src);
                (start, end, 0.0)
            } else {
                let centre = ((i as f32 + 0.5) * ratio - 0.5).max(0.0);
                (centre as usize, centre as usize + 1, centre.fract())
            }
        })
        .collect()
}

enum Kind {
    Jpeg,
    Png,
    Other(&'static str),
}

fn sniff(bytes: &[u8]) -> Kind {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(512)]).to_ascii_lowercase();
    match bytes {
        [0xFF, 0xD8, 0xFF, ..] => Kind::Jpeg,
        [0x89, b'P', b'N', b'G', ..] => Kind::Png,
        [b'G', b'I', b'F', ..] => Kind::Other("GIF"),
        [b'R', b'I', b'F', b'F', _, _, _, _, b'W', b'E', b'B', b'P', ..] => Kind::Other("WebP"),
        [_, _, _, _, b'f', b't', b'y', b'p', ..] => Kind::Other("HEIC or another ISO media file"),
        _ if text.contains("<svg") => Kind::Other("SVG"),
        [] => Kind::Other("empty"),
        _ => Kind::Other("unknown type"),
    }
}

/// Decodes a JPEG at the largest of full, 1/2, 1/4 or 1/8 size that has
/// at most `max_pixels`.
fn decode_jpeg_within(
    bytes: &[u8],
    header: turbojpeg::DecompressHeader,
    max_pixels: u64,
) -> turbojpeg::Result<turbojpeg::Image<Vec<u8>>> {
    use turbojpeg::ScalingFactor;
    let fits = |f: &ScalingFactor| {
        let scaled = header.scaled(*f);
        (scaled.width * scaled.height) as u64 <= max_pixels
    };
    let factors = [ScalingFactor::ONE, ScalingFactor::ONE_HALF, ScalingFactor::ONE_QUARTER, ScalingFactor::ONE_EIGHTH];
    let factor = factors.into_iter().find(fits).unwrap_or(ScalingFactor::ONE_EIGHTH);
    let mut decompressor = turbojpeg::Decompressor::new()?;
    decompressor.set_scaling_factor(factor)?;
    let scaled = header.scaled(factor);
    let format = turbojpeg::PixelFormat::RGB;
    let pitch = scaled.width * format.size();
    let mut image = turbojpeg::Image {
        pixels: vec![0; scaled.height * pitch],
        width: scaled.width,
        pitch,
        height: scaled.height,
        format,
    };
    decompressor.decompress(bytes, image.as_deref_mut())?;
    Ok(image)
}

fn decode_png(bytes: &[u8], check: impl Fn(u32, u32) -> Result<(), PhotoError>) -> Result<Picture, PhotoError> {
    let corrupt = |e: png::DecodingError| PhotoError::Corrupt(e.to_string());
    let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let header = decoder.read_header_info().map_err(corrupt)?;
    check(header.width, header.height)?;
    let mut reader = decoder.read_info().map_err(corrupt)?;
    let mut buf = vec![0; reader.output_buffer_size().ok_or(PhotoError::Corrupt("too large".into()))?];
    let info = reader.next_frame(&mut buf).map_err(corrupt)?;
    let pixels = &buf[..info.buffer_size()];
    let rgb: Vec<u8> = match info.color_type {
        png::ColorType::Rgb => pixels.to_vec(),
        png::ColorType::Rgba => pixels.chunks_exact(4).flat_map(|p| [p[0], p[1], p[2]]).collect(),
        png::ColorType::Grayscale => pixels.iter().flat_map(|&g| [g, g, g]).collect(),
        png::ColorType::GrayscaleAlpha => pixels.chunks_exact(2).flat_map(|p| [p[0], p[0], p[0]]).collect(),
        png::ColorType::Indexed => return Err(PhotoError::Corrupt("palette not expanded".into())),
    };
    Ok(Picture { width: info.width, height: info.height, rgb })
}

/// The EXIF orientation tag of a JPEG (1 when it has none).
fn exif_orientation(jpeg: &[u8]) -> u32 {
    let Ok(exif) = exif::Reader::new().read_from_container(&mut std::io::Cursor::new(jpeg)) else { return 1 };
    exif.get_field(exif::Tag::Orientation, exif::In::PRIMARY).and_then(|f| f.value.get_uint(0)).unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jpeg(width: u16, height: u16) -> Vec<u8> {
        let rgb: Vec<u8> = (0..width as usize * height as usize).flat_map(|i| [(i % 251) as u8, 90, 200]).collect();
        let mut out = Vec::new();
        jpeg_encoder::Encoder::new(&mut out, 90).encode(&rgb, width, height, jpeg_encoder::ColorType::Rgb).unwrap();
        out
    }

    #[test]
    fn a_jpeg_and_a_png_decode_to_rgb() {
        let picture = Picture::decode(&jpeg(64, 48), PhotoLimits::default()).unwrap();
        assert_eq!((picture.width, picture.height, picture.rgb.len()), (64, 48, 64 * 48 * 3));
        assert!((picture.rgb[1] as i32 - 90).abs() < 8 && (picture.rgb[2] as i32 - 200).abs() < 8);

        let mut png_bytes = Vec::new();
        let mut encoder = png::Encoder::new(&mut png_bytes, 3, 2);
        encoder.set_color(png::ColorType::Rgba);
        encoder.write_header().unwrap().write_image_data(&[10, 20, 30, 255].repeat(6)).unwrap();
        let picture = Picture::decode(&png_bytes, PhotoLimits::default()).unwrap();
        assert_eq!((picture.width, picture.height), (3, 2));
        assert_eq!(picture.rgb, [10, 20, 30].repeat(6));
    }

    #[test]
    fn limits_are_checked_before_decoding() {
        let limits = PhotoLimits { max_bytes: 1 << 20, max_pixels: 1000, ..PhotoLimits::default() };
        let err = Picture::decode(&jpeg(64, 48), limits).unwrap_err();
        assert!(matches!(err, PhotoError::TooManyPixels { width: 64, height: 48, .. }), "{err}");
        let err = Picture::decode(&vec![0xFF; 2 << 20], limits).unwrap_err();
        assert!(matches!(err, PhotoError::TooLarge { .. }), "{err}");
    }

    #[test]
    fn bombs_are_refused_from_their_header_and_a_big_jpeg_is_decoded_smaller() {
        let header_only = |width, height| {
            let mut out = Vec::new();
            let mut encoder = png::Encoder::new(&mut out, width, height);
            encoder.set_color(png::ColorType::Grayscale);
            drop(encoder.write_header().unwrap());
            out
        };
        // A 49 MP PNG in 381 kB took 38 s and 335 MB to decode; a 1 × 49 M
        // one 74 s. Both are refused unread.
        for (width, height) in [(7000, 7000), (1, 49_000_000), (4000, 3001)] {
            let err = Picture::decode(&header_only(width, height), PhotoLimits::default()).unwrap_err();
            assert!(matches!(err, PhotoError::TooManyPixels { .. }), "{width}x{height}: {err}");
        }
        // A JPEG over the decoded budget is decoded at a half, a quarter or
        // an eighth of its size, whichever fits first.
        let limits = PhotoLimits { max_decoded_pixels: 1000, ..PhotoLimits::default() };
        let picture = Picture::decode(&jpeg(64, 48), limits).unwrap();
        assert_eq!((picture.width, picture.height, picture.rgb.len()), (32, 24, 32 * 24 * 3));
    }

    #[test]
    fn other_types_and_garbage_are_refused_by_name() {
        let svg = br#"<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>"#;
        assert_eq!(Picture::decode(svg, PhotoLimits::default()), Err(PhotoError::UnsupportedType("SVG")));
        assert_eq!(Picture::decode(b"GIF89a....", PhotoLimits::default()), Err(PhotoError::UnsupportedType("GIF")));
        let mut cut = jpeg(64, 48);
        cut.truncate(40);
        assert!(matches!(Picture::decode(&cut, PhotoLimits::default()), Err(PhotoError::Corrupt(_))));
    }

    #[test]
    fn orientation_turns_the_picture_upright() {
        // 2x1: red then blue. Tag 6 (stored turned left) gives 1x2, red on top.
        let picture = Picture { width: 2, height: 1, rgb: vec![255, 0, 0, 0, 0, 255] };
        let turned = picture.clone().oriented(6);
        assert_eq!((turned.width, turned.height), (1, 2));
        assert_eq!(turned.rgb, vec![255, 0, 0, 0, 0, 255]);
        assert_eq!(picture.clone().oriented(3).rgb, vec![0, 0, 255, 255, 0, 0]);
        assert_eq!(picture.clone().oriented(1), picture);
    }

    #[test]
    fn shrinking_averages_and_i420_round_trips() {
        let picture = Picture { width: 4, height: 2, rgb: [[0u8, 0, 0], [200, 100, 50]].repeat(4).concat() };
        let half = picture.resized(2, 1);
        assert_eq!(half.rgb, vec![100, 50, 25, 100, 50, 25]);
        let grey = Picture { width: 8, height: 8, rgb: vec![120; 8 * 8 * 3] };
        let (w, h, i420) = grey.to_i420();
        let back = Picture::from_i420(&i420, w, h);
        assert!(back.rgb.iter().all(|&v| (v as i32 - 120).abs() <= 2), "{:?}", &back.rgb[..6]);
    }
}
