//! `confcamd`: runs the box, lists devices, checks config files.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use confcam::app::{self, Boot, Hardware, Listeners};
use confcam::config::{self, Config};
use confcam::system::devices;
use confcam::system::logging::{self, LogTarget};
use confcam::system::{Notifier, Watchdog};

const DEFAULT_CONFIG: &str = "/etc/confcam/confcam.toml";
const DEFAULT_DATA_DIR: &str = "/var/lib/confcam";

#[derive(Parser)]
#[command(name = "confcamd", version, about = "The confcam conference camera box daemon")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Where log lines go.
    #[arg(long, value_enum, default_value = "auto", global = true)]
    log_to: LogTarget,
}

#[derive(Subcommand)]
enum Command {
    /// Run the box (the default).
    Run(RunArgs),
    /// List the cameras and microphones plugged in.
    Devices {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Check a config file; exits non-zero naming the bad key and line.
    CheckConfig { path: PathBuf },
    /// RAUC's custom bootloader backend (system.conf's
    /// bootloader-custom-backend): get-primary, set-primary SLOT,
    /// get-state SLOT, set-state SLOT good|bad, on the Pi firmware's
    /// autoboot.txt (A/B boot partitions, tried once with tryboot).
    BootSlot {
        /// The firmware's autoboot.txt.
        #[arg(long, default_value = confcam::update::backend::AUTOBOOT_FILE)]
        file: PathBuf,
        #[arg(required = true, num_args = 1..=3)]
        verb: Vec<String>,
    },
    /// Record frames from a camera to a Y4M file (I420, as the box sees
    /// them), or with --passthrough its own H.264 as an Annex B file,
    /// printing each frame's sequence number (to bring up or check a camera).
    RecordCamera {
        /// V4L2 device.
        #[arg(long, default_value = "/dev/video0")]
        device: PathBuf,
        #[arg(long, default_value_t = 10)]
        frames: u32,
        #[arg(long, default_value_t = 1280)]
        width: u32,
        #[arg(long, default_value_t = 720)]
        height: u32,
        #[arg(long, default_value_t = 30)]
        fps: u32,
        /// Take the camera's own H.264 when it offers it, as `passthrough`
        /// in the config does.
        #[arg(long)]
        passthrough: bool,
        output: PathBuf,
    },
    /// Record the microphone array to a WAV file, one channel per
    /// microphone exactly as captured (to bring up or check a board).
    RecordMics {
        /// Config file for the `[microphone]` section [default: as `run`].
        #[arg(long)]
        config: Option<PathBuf>,
        /// ALSA device [default: the config's microphone device].
        #[arg(long)]
        device: Option<String>,
        /// How long to record.
        #[arg(long, default_value_t = 5.0)]
        seconds: f64,
        output: PathBuf,
    },
    /// Play the test tone through the loudspeaker, as the admin page's
    /// button does (to bring up or check a speaker).
    SpeakerTest {
        /// Config file for the `[speaker]` and `[microphone]` sections
        /// [default: as `run`].
        #[arg(long)]
        config: Option<PathBuf>,
        /// ALSA device [default: the config's, else the board profile's].
        #[arg(long)]
        device: Option<String>,
        #[arg(long, default_value_t = 2.0)]
        seconds: f64,
    },
}

#[derive(clap::Args, Default)]
struct RunArgs {
    /// Config file [default: /etc/confcam/confcam.toml, when it exists].
    #[arg(long)]
    config: Option<PathBuf>,
    /// State directory [default: $STATE_DIRECTORY, else /var/lib/confcam].
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command.unwrap_or(Command::Run(RunArgs::default())) {
        Command::Run(args) => run(args, cli.log_to),
        Command::Devices { json } => list_devices(json),
        Command::RecordCamera { device, frames, width, height, fps, passthrough, output } => {
            report("record-camera", record_camera(&device, frames, (width, height, fps), passthrough, &output))
        }
        Command::RecordMics { config, device, seconds, output } => {
            report("record-mics", record_mics(config, device, seconds, &output))
        }
        Command::SpeakerTest { config, device, seconds } => {
            report("speaker-test", speaker_test(config, device, seconds))
        }
        Command::BootSlot { file, verb } => {
            let args: Vec<&str> = verb.iter().map(String::as_str).collect();
            match confcam::update::backend::run(&file, &args) {
                Ok(out) => {
                    if !out.is_empty() {
                        println!("{out}");
                    }
                    ExitCode::SUCCESS
                }
                Err(message) => {
                    eprintln!("confcamd boot-slot: {message}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::CheckConfig { path } => match config::load_file(&path) {
            Ok(_) => {
                println!("{}: ok", path.display());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{e}");
                ExitCode::from(2)
            }
        },
    }
}

/// The config from `path`, else the installed one, else the defaults.
fn load_config(path: Option<&Path>) -> Result<Config, config::ConfigError> {
    match path {
        Some(path) => config::load_file(path),
        None if Path::new(DEFAULT_CONFIG).exists() => config::load_file(Path::new(DEFAULT_CONFIG)),
        None => Ok(Config::default()),
    }
}

fn run(args: RunArgs, log_to: LogTarget) -> ExitCode {
    let config = match load_config(args.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("confcamd: refusing to start: {e}");
            return ExitCode::from(2);
        }
    };
    let (target, log_filter) = logging::init(&config.system.log, log_to);
    tracing::info!(version = app::VERSION, logs = target, "confcamd starting");
    let file_log = config.system.log.clone();
    let data_dir = args
        .data_dir
        .or_else(|| std::env::var_os("STATE_DIRECTORY").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));

    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the async runtime");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        // Handlers first: a SIGTERM while starting must still stop cleanly.
        let shutdown = shutdown_signal().map_err(app::AppError::Thread)?;
        let mut boot =
            tokio::task::spawn_blocking(move || Boot::open(config, &data_dir)).await.map_err(app::AppError::Join)??;
        if boot.config.system.log != file_log {
            log_filter.set(&boot.config.system.log);
        }
        boot.notifier = Notifier::from_env();
        boot.watchdog = Watchdog::from_env();
        let listeners = Listeners::bind(&boot.config.server)?;
        let hardware = Hardware::for_config(&boot.config, &devices::discover(Path::new("/")));
        app::run(boot, listeners, hardware, shutdown).await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "confcamd stopped on an error");
            ExitCode::FAILURE
        }
    }
}

/// Installs SIGINT and SIGTERM handlers now; the future resolves on either.
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = int.recv() => tracing::info!("SIGINT"),
            _ = term.recv() => tracing::info!("SIGTERM"),
        }
    })
}

fn list_devices(json: bool) -> ExitCode {
    let found = devices::discover(Path::new("/"));
    if json {
        println!("{}", serde_json::to_string_pretty(&found).unwrap_or_default());
        return ExitCode::SUCCESS;
    }
    println!("Cameras:");
    if found.cameras.is_empty() {
        println!("  none found");
    }
    for c in &found.cameras {
        println!("  {}  {}", c.device.display(), c.name);
        match confcam::capture::v4l2::describe(&c.device) {
            Ok((_, offers)) => {
                for o in offers {
                    let sizes: Vec<String> = o
                        .sizes
                        .iter()
                        .zip(o.rates.iter().map(Some).chain(std::iter::repeat(None)))
                        .map(|((w, h), rates)| {
                            let fps: Vec<String> = rates.into_iter().flatten().map(|r| format!("{r:.0}")).collect();
                            if fps.is_empty() { format!("{w}×{h}") } else { format!("{w}×{h}@{}", fps.join("/")) }
                        })
                        .collect();
                    println!("      {} ({}): {}", o.fourcc, o.description, sizes.join(" "));
                }
            }
            Err(e) => println!("      {e}"),
        }
    }
    println!("Microphones (ALSA capture):");
    if found.microphones.is_empty() {
        println!("  none found");
    }
    for m in &found.microphones {
        let profile = m.profile.map(|p| format!("  [profile {}]", p.name())).unwrap_or_default();
        println!("  {}  {}{profile}", m.device, m.name);
        match confcam::capture::alsa::probe(&m.device) {
            Ok(caps) => println!(
                "      {}–{} channels, {}–{} Hz, {:?}",
                caps.channels.0, caps.channels.1, caps.rates.0, caps.rates.1, caps.formats
            ),
            Err(e) => println!("      {e}"),
        }
    }
    ExitCode::SUCCESS
}

/// The outcome of a bring-up command, told on stderr.
fn report(command: &str, result: Result<String, String>) -> ExitCode {
    match result {
        Ok(summary) => {
            eprintln!("{summary}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("confcamd {command}: {message}");
            ExitCode::FAILURE
        }
    }
}

fn record_mics(config: Option<PathBuf>, device: Option<String>, seconds: f64, output: &Path) -> Result<String, String> {
    use confcam::audio::wav::WavWriter;
    use confcam::capture::AudioSource;
    use confcam::capture::alsa::AlsaMicArray;
    use confcam::config::DeviceChoice;

    let in_output = |e: std::io::Error| format!("{}: {e}", output.display());
    let config = load_config(config.as_deref()).map_err(|e| e.to_string())?;
    let mic = &config.microphone;
    let device = match (device, &mic.device) {
        (Some(d), _) => d,
        (None, DeviceChoice::Named(d)) => d.clone(),
        (None, _) => match devices::discover(Path::new("/")).microphones.first() {
            Some(found) => found.device.clone(),
            None => return Err("no ALSA capture device found; name one with --device".into()),
        },
    };
    let mut source = AlsaMicArray::open(mic.alsa(&device)).map_err(|e| e.to_string())?;
    let file = std::io::BufWriter::new(std::fs::File::create(output).map_err(in_output)?);
    let channels = mic.channel_map().len() as u16;
    let mut wav = WavWriter::new(file, channels, mic.rate(), mic.format()).map_err(in_output)?;
    let blocks = (seconds * f64::from(mic.rate()) / f64::from(mic.block_frames())).ceil() as u64;
    for _ in 0..blocks {
        let block = source.next_block().map_err(|e| e.to_string())?;
        wav.write_block(&block).map_err(in_output)?;
    }
    wav.finish().map_err(in_output)?;
    Ok(format!("{}: {blocks} blocks from {} ({})", output.display(), device, source.info().description))
}

fn speaker_test(config: Option<PathBuf>, device: Option<String>, seconds: f64) -> Result<String, String> {
    use confcam::app::playing::Playing;
    use confcam::config::DeviceChoice;
    use confcam::loudspeaker::SpeakerCounters;
    use confcam::loudspeaker::alsa::AlsaSpeaker;

    let config = load_config(config.as_deref()).map_err(|e| e.to_string())?;
    let profile = config.microphone.profile;
    let device = match (device, &config.speaker.device) {
        (Some(d), _) => d,
        (None, DeviceChoice::Named(d)) => d.clone(),
        (None, _) => profile.spec().speaker.device.clone(),
    };
    let settings = config.speaker.alsa(&device, profile);
    let description = format!("{} channels at {} Hz", settings.channels, settings.rate);
    let speaker = Box::new(AlsaSpeaker::new(settings));
    // No meeting: only the tone plays.
    let (_far_audio, nothing) = std::sync::mpsc::sync_channel(1);
    let counters = std::sync::Arc::new(SpeakerCounters::default());
    counters.tone.store(true, std::sync::atomic::Ordering::Relaxed);
    let (_config, follow) = tokio::sync::watch::channel(config);
    let mut playing = Playing::new(speaker, nothing, follow, counters.clone());
    let chunks = (seconds * 100.0).ceil() as u64;
    for _ in 0..chunks {
        playing.play_next().map_err(|e| e.to_string())?;
    }
    let underruns = counters.underruns.load(std::sync::atomic::Ordering::Relaxed);
    Ok(format!("{device}: {chunks} × 10 ms of the test tone ({description}), {underruns} underruns"))
}

fn record_camera(
    device: &Path,
    frames: u32,
    (width, height, fps): (u32, u32, u32),
    passthrough: bool,
    output: &Path,
) -> Result<String, String> {
    use confcam::capture::h264::KeyframeWanted;
    use confcam::capture::v4l2::V4l2Camera;
    use confcam::capture::{CaptureError, PixelFormat, VideoSource};
    use std::io::Write;

    let in_output = |e: std::io::Error| format!("{}: {e}", output.display());
    let mut camera = V4l2Camera::new(device, width, height, fps);
    if passthrough {
        camera = camera.with_passthrough(KeyframeWanted::default());
    }
    let mut out = std::io::BufWriter::new(std::fs::File::create(output).map_err(in_output)?);
    let mut written = 0;
    let mut stalls = 0;
    while written < frames {
        let frame = match camera.next_frame() {
            Ok(f) => f,
            // A dropped (partial) frame or a slow device: a few are normal.
            Err(CaptureError::Timeout) if stalls < 20 => {
                stalls += 1;
                continue;
            }
            Err(e) => return Err(e.to_string()),
        };
        match frame.format {
            // Annex B access units simply follow one another.
            PixelFormat::H264 => out.write_all(&frame.data).map_err(in_output)?,
            PixelFormat::I420 => {
                if written == 0 {
                    let header = format!("YUV4MPEG2 W{} H{} F{fps}:1 Ip A1:1 C420jpeg\n", frame.width, frame.height);
                    out.write_all(header.as_bytes()).map_err(in_output)?;
                }
                out.write_all(b"FRAME\n").and_then(|()| out.write_all(&frame.data)).map_err(in_output)?;
            }
        }
        println!("frame seq={} {}x{} bytes={}", frame.seq, frame.width, frame.height, frame.data.len());
        written += 1;
    }
    out.flush().map_err(in_output)?;
    Ok(format!(
        "{}: {written} frames from {} ({}), {} dropped",
        output.display(),
        device.display(),
        camera.info().description,
        camera.dropped
    ))
}
