//! WAV files as one vector per channel, full scale ±1 (included by path).

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// The channels of `path` and its sample rate.
pub fn read(path: &std::path::Path) -> Result<(Vec<Vec<f32>>, u32)> {
    let mut reader = hound::WavReader::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let spec = reader.spec();
    let count = usize::from(spec.channels).max(1);
    let samples: Vec<f32> = match spec.sample_format {
        hound::SampleFormat::Float => reader.samples::<f32>().collect::<std::result::Result<_, _>>()?,
        hound::SampleFormat::Int => {
            let scale = 1.0 / (1u64 << (spec.bits_per_sample - 1)) as f32;
            reader.samples::<i32>().map(|s| s.map(|s| s as f32 * scale)).collect::<std::result::Result<_, _>>()?
        }
    };
    let mut channels = vec![Vec::with_capacity(samples.len() / count); count];
    for frame in samples.chunks_exact(count) {
        channels.iter_mut().zip(frame).for_each(|(c, &s)| c.push(s));
    }
    Ok((channels, spec.sample_rate))
}
