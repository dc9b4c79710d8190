//! The APA102 LED protocol, as the ReSpeaker HATs' rings speak it over SPI:
//! a start frame of 32 zero bits, one 32-bit frame per LED (`111` + 5-bit
//! brightness, then blue, green, red), and an end frame of at least one bit
//! per two LEDs to clock the data through the chain.

use super::Rgb;

/// The bytes that show `colors` at `brightness` (0–31).
pub fn frame(colors: &[Rgb], brightness: u8) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + 4 * colors.len() + colors.len().div_ceil(16) + 1);
    out.extend_from_slice(&[0; 4]);
    for &Rgb(r, g, b) in colors {
        out.extend_from_slice(&[0xe0 | brightness.min(31), b, g, r]);
    }
    // Ones, so an extra LED at the end of the chain would read "off".
    out.extend(std::iter::repeat_n(0xff, colors.len().div_ceil(16).max(1)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twelve_leds_in_the_protocols_order() {
        let mut colors = vec![Rgb::default(); 12];
        colors[0] = Rgb(1, 2, 3);
        let bytes = frame(&colors, 40);
        assert_eq!(&bytes[..4], &[0; 4], "start frame");
        assert_eq!(&bytes[4..8], &[0xff, 3, 2, 1], "brightness capped at 31, then blue, green, red");
        assert_eq!(&bytes[8..12], &[0xe0 | 31, 0, 0, 0]);
        assert_eq!(bytes.len(), 4 + 48 + 1, "an end frame of at least 6 bits");
    }
}
