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

fn run(args: RunArgs, log_to: LogTarget) -> ExitCode {
    let config = match &args.config {
        Some(path) => config::load_file(path),
        None if Path::new(DEFAULT_CONFIG).exists() => config::load_file(Path::new(DEFAULT_CONFIG)),
        None => Ok(Config::default()),
    };
    let config = match config {
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
    }
    println!("Microphones (ALSA capture):");
    if found.microphones.is_empty() {
        println!("  none found");
    }
    for m in &found.microphones {
        println!("  {}  {}", m.device, m.name);
    }
    ExitCode::SUCCESS
}
