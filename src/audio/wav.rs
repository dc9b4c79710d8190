//! Writing captured microphone blocks as a WAV file (PCM, one channel per
//! microphone), the format every audio tool opens.

use std::io::{self, Seek, SeekFrom, Write};

use crate::capture::{AudioBlock, SampleFormat};

/// A WAV file being written; [`Self::finish`] fills in the lengths.
pub struct WavWriter<W: Write + Seek> {
    out: W,
    format: SampleFormat,
    channels: u16,
    data_bytes: u32,
}

impl<W: Write + Seek> WavWriter<W> {
    pub fn new(mut out: W, channels: u16, rate: u32, format: SampleFormat) -> io::Result<Self> {
        let bytes_per_sample: u16 = match format {
            SampleFormat::S16Le => 2,
            SampleFormat::S32Le => 4,
        };
        let block_align = channels * bytes_per_sample;
        out.write_all(b"RIFF\0\0\0\0WAVEfmt ")?;
        out.write_all(&16u32.to_le_bytes())?;
        out.write_all(&1u16.to_le_bytes())?; // integer PCM
        out.write_all(&channels.to_le_bytes())?;
        out.write_all(&rate.to_le_bytes())?;
        out.write_all(&(rate * u32::from(block_align)).to_le_bytes())?;
        out.write_all(&block_align.to_le_bytes())?;
        out.write_all(&(bytes_per_sample * 8).to_le_bytes())?;
        out.write_all(b"data\0\0\0\0")?;
        Ok(WavWriter { out, format, channels, data_bytes: 0 })
    }

    /// Appends a block's samples exactly as captured.
    pub fn write_block(&mut self, block: &AudioBlock) -> io::Result<()> {
        if block.channels != self.channels || block.format != self.format {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "block does not match the file's layout"));
        }
        let mut bytes = Vec::with_capacity(block.samples.len() * 4);
        for &s in &block.samples {
            match self.format {
                SampleFormat::S16Le => bytes.extend_from_slice(&(s as i16).to_le_bytes()),
                SampleFormat::S32Le => bytes.extend_from_slice(&s.to_le_bytes()),
            }
        }
        self.out.write_all(&bytes)?;
        self.data_bytes = self.data_bytes.saturating_add(bytes.len() as u32);
        Ok(())
    }

    pub fn finish(mut self) -> io::Result<W> {
        self.out.seek(SeekFrom::Start(4))?;
        self.out.write_all(&(36 + self.data_bytes).to_le_bytes())?;
        self.out.seek(SeekFrom::Start(40))?;
        self.out.write_all(&self.data_bytes.to_le_bytes())?;
        self.out.flush()?;
        Ok(self.out)
    }
}

/// Where the samples start in a file from [`WavWriter`].
pub const WAV_HEADER_LEN: usize = 44;

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;
    use std::time::Instant;

    #[test]
    fn a_block_round_trips_with_a_valid_header() {
        let block = AudioBlock {
            seq: 0,
            captured_at: Instant::now(),
            rate: 16_000,
            channels: 2,
            format: SampleFormat::S16Le,
            samples: vec![1, -2, 300, -32768],
        };
        let mut wav = WavWriter::new(Cursor::new(Vec::new()), 2, 16_000, SampleFormat::S16Le).unwrap();
        wav.write_block(&block).unwrap();
        let bytes = wav.finish().unwrap().into_inner();
        assert_eq!(&bytes[..4], b"RIFF");
        assert_eq!(u32::from_le_bytes(bytes[4..8].try_into().unwrap()), 36 + 8);
        assert_eq!(u16::from_le_bytes(bytes[22..24].try_into().unwrap()), 2, "channels");
        assert_eq!(u32::from_le_bytes(bytes[24..28].try_into().unwrap()), 16_000);
        assert_eq!(u32::from_le_bytes(bytes[40..44].try_into().unwrap()), 8, "data length");
        let samples: Vec<i16> = bytes[WAV_HEADER_LEN..].chunks(2).map(|c| i16::from_le_bytes([c[0], c[1]])).collect();
        assert_eq!(samples, [1, -2, 300, -32768]);
    }
}
