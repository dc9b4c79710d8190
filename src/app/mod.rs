//! Builds the running box from its parts and takes it down again.
//!
//! [`Boot::open`] prepares the data dir and the store and works out the
//! effective configuration (file + stored settings); the caller then binds
//! listeners and picks hardware for that configuration and hands all of it to
//! [`run`] (or [`start`], which returns a handle tests can inspect).

// The wiring: threads and tasks read the clock for the cores.
#![allow(clippy::disallowed_methods)]

pub mod advertise;
mod events;
mod gpio;
mod hardware;
mod listening;
mod live;
mod meeting;
pub mod playing;
mod room_media;
mod room_video;

pub use hardware::{Camera, Hardware, SimHandles};
use listening::Ears;
use room_media::{RoomInputs, spawn_room_media};
use room_video::RoomCamera;

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum_server::tls_rustls::RustlsConfig;
use tokio::sync::{broadcast, watch};

use crate::capture::{AudioBlock, Feed, Frame, SourceHealth, spawn_pump};
use crate::config::{Config, ServerConfig, apply_settings};
use crate::director::CameraView;
use crate::sfu::{JoinCode, MediaSocket, RoomControl, Sfu, SfuConfig, SfuHandle, spawn_sfu};
use crate::status::{BoxStatus, SpeakerStatus};
use crate::store::{Opened, Store, StoreError};
use crate::supervisor::{Ended, Supervisor};
use crate::system::{HostIdentity, Notifier, NotifyState, Watchdog, stalled_sources, unix_now};
use crate::vision::service::CheckInService;
use crate::web::join::Admission;
use crate::web::{self, WebServer, WebState, certificate};

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Frames a slow consumer may fall behind before it loses the oldest.
const FRAME_RING: usize = 4;
/// Audio blocks likewise (16 × 20 ms).
const BLOCK_RING: usize = 16;
/// What the loudspeaker played (10 ms each) waiting for the room's
/// listening: 320 ms.
const PLAYED_RING: usize = 32;
/// Far-end packets on their way from the SFU to the loudspeaker: seconds
/// of a whole meeting's voices.
const FAR_AUDIO_RING: usize = 512;
/// How long requests in flight may take to finish at shutdown.
const SHUTDOWN_GRACE: Duration = Duration::from_millis(800);
/// How long every part of the box may take to stop once told.
const STOP_DEADLINE: Duration = Duration::from_millis(1500);

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("data dir {path}: {source}")]
    DataDir { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Certificate(#[from] certificate::CertificateError),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("web server: {0}")]
    Web(std::io::Error),
    #[error("cannot start a thread: {0}")]
    Thread(std::io::Error),
    #[error("a startup task failed: {0}")]
    Join(#[from] tokio::task::JoinError),
    #[error("part of the box stopped working: {0}")]
    PartEnded(#[from] Ended),
}

/// The box before it runs: data dir ready, store open, configuration settled.
pub struct Boot {
    /// File configuration with the stored runtime settings applied.
    pub config: Config,
    pub store: Store,
    pub data_dir: PathBuf,
    pub notifier: Notifier,
    pub watchdog: Option<Watchdog>,
    /// How often to check whether the certificate still names the box.
    pub certificate_check: Duration,
    /// Reads the box's names and addresses (the host's, except in tests).
    pub host_identity: Arc<dyn Fn() -> std::io::Result<HostIdentity> + Send + Sync>,
    /// RAUC, on a box set up to update itself (the image).
    pub rauc: Option<crate::update::Rauc>,
}

impl Boot {
    /// Creates the data dir (0700), opens or recovers the database, and lays
    /// the stored settings over `file_config`. Blocking.
    pub fn open(file_config: Config, data_dir: &Path) -> Result<Boot, AppError> {
        prepare_data_dir(data_dir)?;
        let (store, opened) = Store::open(data_dir)?;
        match &opened {
            Opened::Created => {
                tracing::info!(path = %store.path().display(), "created a new database")
            }
            Opened::Existing { from_version } if *from_version < store.schema_version()? => {
                tracing::info!(from = from_version, to = store.schema_version()?, "database migrated")
            }
            Opened::Existing { .. } => {}
            Opened::RolledBack { found, moved_to } => {
                tracing::warn!(found, moved_to = %moved_to.display(), "an update was rolled back: the database is as it was before it")
            }
            Opened::Recovered { moved_to, .. } => {
                tracing::warn!(moved_to = %moved_to.display(), "started with a fresh database; settings are back to the file's")
            }
        }
        let settings = store.settings().unwrap_or_else(|e| {
            tracing::error!(error = %e, "cannot read stored settings; using the file's");
            Vec::new()
        });
        let (config, rejected) = apply_settings(file_config, &settings);
        for e in rejected {
            tracing::warn!(error = %e, "ignoring a stored setting");
        }
        Ok(Boot {
            config,
            store,
            data_dir: data_dir.into(),
            notifier: Notifier::default(),
            watchdog: None,
            certificate_check: Duration::from_secs(30),
            host_identity: Arc::new(HostIdentity::current),
            rauc: crate::update::Rauc::find(),
        })
    }
}

fn prepare_data_dir(dir: &Path) -> Result<(), AppError> {
    let err = |source| AppError::DataDir { path: dir.into(), source };
    if !dir.exists() {
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).map_err(err)?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(err)?;
    } else if std::fs::metadata(dir).map_err(err)?.permissions().mode() & 0o077 != 0 {
        tracing::warn!(path = %dir.display(), "data dir is readable by other users; it holds the TLS key");
    }
    Ok(())
}

/// The sockets the box serves on, bound by the caller (tests bind port 0).
pub struct Listeners {
    pub https: TcpListener,
    /// The redirect-to-HTTPS port, if enabled.
    pub http: Option<TcpListener>,
    /// WebRTC media for every participant.
    pub media: MediaSocket,
}

impl Listeners {
    /// Binds the configured ports. `::` takes IPv4 too (whatever the host's
    /// `bindv6only`), and falls back to `0.0.0.0` on a host without IPv6.
    pub fn bind(server: &ServerConfig) -> Result<Listeners, AppError> {
        let bind = |port: u16| -> Result<TcpListener, AppError> {
            let addr = SocketAddr::new(server.bind, port);
            match listen(addr) {
                Err(e) if server.bind.is_unspecified() && server.bind.is_ipv6() && no_ipv6(&e) => {
                    let v4 = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port);
                    tracing::info!("no IPv6 on this host; listening on IPv4 only");
                    listen(v4).map_err(|source| AppError::Bind { addr: v4, source })
                }
                other => other.map_err(|source| AppError::Bind { addr, source }),
            }
        };

        let https = bind(server.https_port)?;
        let http = if server.http_port == 0 { None } else { Some(bind(server.http_port)?) };
        let port = server.media_port;
        let media = MediaSocket::bind(port)
            .map_err(|source| AppError::Bind { addr: SocketAddr::new(server.bind, port), source })?;
        Ok(Listeners { https, http, media })
    }
}

fn listen(addr: SocketAddr) -> std::io::Result<TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    if addr.is_ipv6() {
        socket.set_only_v6(false)?;
    }
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    Ok(socket.into())
}

/// The host has no IPv6 (as opposed to: the port is taken, or not ours).
fn no_ipv6(e: &std::io::Error) -> bool {
    const EAFNOSUPPORT: i32 = 97;
    e.kind() == std::io::ErrorKind::AddrNotAvailable || e.raw_os_error() == Some(EAFNOSUPPORT)
}

/// Runs the box until `shutdown` resolves (or a server fails, or any
/// supervised part ends), then stops it gracefully.
pub async fn run(
    boot: Boot,
    listeners: Listeners,
    hardware: Hardware,
    shutdown: impl Future<Output = ()>,
) -> Result<(), AppError> {
    start(boot, listeners, hardware).await?.run_until(shutdown).await
}

impl RunningBox {
    /// Serves until `shutdown` resolves (or a server fails, or any
    /// supervised part ends), then stops gracefully.
    pub async fn run_until(mut self, shutdown: impl Future<Output = ()>) -> Result<(), AppError> {
        let result = tokio::select! {
            () = shutdown => Ok(()),
            e = self.web.failed() => Err(AppError::Web(e)),
            ended = self.supervisor.failed() => {
                tracing::error!(part = %ended.part, reason = %ended.reason, "a part of the box ended; stopping so systemd restarts it");
                Err(AppError::PartEnded(ended))
            }
        };
        self.shutdown().await;
        result
    }
}

/// The running box.
pub struct RunningBox {
    pub status: Arc<BoxStatus>,
    /// What changes while the box runs (devices coming and going).
    pub events: crate::events::EventBus,
    pub web: WebServer,
    /// The join code and its guessing throttle.
    pub admission: Arc<Admission>,
    pub sfu: SfuHandle,
    /// Face check-in (enrollment, the check-in thread).
    pub checkin: Arc<CheckInService>,
    /// The UDP port WebRTC media uses.
    pub media_port: u16,
    /// Every long-running thread and task of the box.
    pub supervisor: Supervisor,
    /// Dropped without [`Self::shutdown`] (a test ends): the parts stop too.
    _stop_on_drop: StopOnDrop,
    cameras: Vec<(String, Feed<Frame>)>,
    microphone: Feed<AudioBlock>,
    notifier: Notifier,
    store: Store,
    run_id: i64,
    /// The running configuration; the followers stop when it goes.
    _config: Arc<watch::Sender<Config>>,
}

/// Starts every part of the box and reports READY to systemd.
pub async fn start(boot: Boot, listeners: Listeners, hardware: Hardware) -> Result<RunningBox, AppError> {
    let store = boot.store.clone();
    let run = {
        let store = store.clone();
        blocking(move || store.begin_run(VERSION, unix_now())).await?
    };
    if run.previous_unclean {
        tracing::warn!("the previous run did not stop cleanly (crash, kill or power cut)");
    }
    // A start that fails part-way is a clean stop, not a crash; the threads
    // already started end as their handles drop.
    let result = start_parts(boot, listeners, hardware, run.id).await;
    if result.is_err() {
        let _ = blocking(move || store.end_run(run.id, unix_now())).await;
    }
    result
}

async fn start_parts(
    boot: Boot,
    listeners: Listeners,
    hardware: Hardware,
    run_id: i64,
) -> Result<RunningBox, AppError> {
    let Boot { config, store, data_dir, notifier, watchdog, certificate_check, host_identity, rauc } = boot;
    let started = Instant::now();
    // Whatever fails below, the parts already started stop as this goes;
    // once running, they stop when the running box goes.
    let supervisor = Supervisor::default();
    let stop_on_drop = StopOnDrop(supervisor.clone());

    let tls_dir = data_dir.join("tls");
    let identity = host_identity().unwrap_or_else(|e| {
        tracing::warn!(error = %e, "cannot read the network addresses; the certificate names only localhost");
        HostIdentity::new(HostIdentity::hostname(), [])
    });
    let (cert, renewal) = {
        let (dir, id) = (tls_dir.clone(), identity.clone());
        blocking(move || certificate::ensure(&dir, &id, time::OffsetDateTime::now_utc())).await?
    };
    if let certificate::Renewal::Created(reason) = renewal {
        tracing::info!(reason, "made a new self-signed HTTPS certificate");
    }
    tracing::info!(sha256 = %cert.sha256, names = ?identity.dns_names(), ips = ?identity.ips, "HTTPS certificate");
    let tls = RustlsConfig::from_config(certificate::server_config(&cert)?);

    let mut camera_health = Vec::new();
    let mut cameras = Vec::new();
    let mut room_cameras = Vec::new();
    // Faces check-in finds in the main camera, for the director's framing.
    let (faces_tx, faces_rx) = watch::channel(Vec::new());
    for Camera { name, mut source, keyframes } in hardware.cameras {
        let info = source.info();
        tracing::info!(camera = %name, backend = info.backend, device = %info.device, "{}", info.description);
        let health = Arc::new(SourceHealth::new(format!("camera:{name}"), info, started));
        let (feed, _) = broadcast::channel(FRAME_RING);
        let sequence = health.clone();
        let next = move || source.next_frame().inspect(|frame| sequence.record_sequence(frame.seq));
        spawn_pump(&supervisor, format!("camera-{name}"), next, feed.clone(), health.clone())
            .map_err(AppError::Thread)?;
        camera_health.push(health);
        let faces = if room_cameras.is_empty() { faces_rx.clone() } else { watch::channel(Vec::new()).1 };
        room_cameras.push(RoomCamera { frames: feed.subscribe(), keyframes, faces });
        cameras.push((name, feed));
    }
    if cameras.is_empty() {
        return Err(AppError::Thread(std::io::Error::other("no camera configured")));
    }
    let mut mic = hardware.microphone;
    let info = mic.info();
    tracing::info!(backend = info.backend, device = %info.device, "microphone: {}", info.description);
    let mic_health = Arc::new(SourceHealth::new("microphone", info, started));
    let (microphone, _) = broadcast::channel(BLOCK_RING);
    spawn_pump(&supervisor, "microphone".into(), move || mic.next_block(), microphone.clone(), mic_health.clone())
        .map_err(AppError::Thread)?;

    let (events, _) = broadcast::channel(crate::events::EVENT_RING);
    let views = config.camera.iter().map(|c| {
        let view = CameraView { azimuth_deg: c.azimuth_deg.as_f32(), hfov_deg: c.hfov_deg.as_f32() };
        (c.name.clone(), view)
    });
    let mut ears = Ears::new(
        config.microphone.profile.geometry().positions,
        config.director.director(),
        views.collect(),
        events.clone(),
        started,
    );
    let talker = ears.talker.subscribe();
    let level = ears.level.subscribe();
    let (director_settings, director_rx) = watch::channel(config.director.clone());
    ears.follow(director_rx);
    let director_in_use = ears.in_use.subscribe();
    let (live_config, live_config_rx) = watch::channel(config.clone());
    let live_config = Arc::new(live_config);

    // The box plays the far end itself, and what it plays is the echo
    // canceller's reference.
    let (speaker, far_audio) = match hardware.speaker {
        Some(device) => {
            let info = device.info();
            tracing::info!(backend = info.backend, device = %info.device, "loudspeaker: {}", info.description);
            let health = Arc::new(SourceHealth::new("loudspeaker", info, started));
            let counters = Arc::new(crate::loudspeaker::SpeakerCounters::default());
            let (far_audio, far_audio_rx) = std::sync::mpsc::sync_channel(FAR_AUDIO_RING);
            let mut playing = playing::Playing::new(device, far_audio_rx, live_config_rx.clone(), counters.clone());
            let (played, _) = broadcast::channel(PLAYED_RING);
            ears.clean(config.microphone.cleanup(), Some(played.subscribe()));
            spawn_pump(&supervisor, "loudspeaker".into(), move || playing.play_next(), played, health.clone())
                .map_err(AppError::Thread)?;
            let echo = ears.echo.subscribe();
            (Some(SpeakerStatus { health, counters, echo }), Some(far_audio))
        }
        None => {
            ears.clean(config.microphone.cleanup(), None);
            (None, None)
        }
    };
    let (muted, muted_rx) = watch::channel(false);
    let (privacy, mut privacy_rx) = watch::channel(false);
    let talker_direction = ears.talker.subscribe();
    gpio::spawn_gpio(&supervisor, hardware.button, hardware.leds, muted, talker_direction, hardware.privacy, privacy)
        .map_err(AppError::Thread)?;

    let media_port = listeners.media.port();
    let (served, served_rx) = watch::channel(cert);
    let status = Arc::new(BoxStatus {
        config: live_config_rx.clone(),
        started,
        cameras: camera_health,
        microphone: mic_health,
        speaker,
        stall_timeout: Duration::from_millis(config.system.stall_timeout_ms.get() as u64),
        store: store.clone(),
        muted: muted_rx.clone(),
        media_port,
    });
    // Validated with the config, so a fixed code always parses.
    let code = config.meeting.join_code.as_deref().and_then(JoinCode::parse).unwrap_or_else(JoinCode::generate);
    tracing::info!(join_code = code.as_str(), "meeting open; phones join with this code");
    let admission = Arc::new(Admission::new(code));
    let mut sfu = Sfu::new(SfuConfig {
        room: config.room.name.clone(),
        max_participants: config.meeting.max_participants.get() as usize,
        bandwidth_estimation: true,
    });

    // The room itself takes part: its (main) camera and microphone array.
    sfu.add_room(&config.room.name, Instant::now());
    let forwarded = sfu.counters();
    let (local, local_rx) = tokio::sync::mpsc::channel(512);
    let control = Arc::new(RoomControl { far_audio, ..RoomControl::default() });
    let phones = control.phones.subscribe();
    let main = &config.camera[0];
    let inputs = RoomInputs {
        cameras: room_cameras,
        picture: (main.width.as_u32(), main.height.as_u32(), main.fps.as_u32()),
        blocks: microphone.subscribe(),
        muted: muted_rx.clone(),
        control: control.clone(),
        out: local,
    };
    spawn_room_media(&supervisor, inputs, ears).map_err(AppError::Thread)?;
    // The SFU offers the addresses the certificate names, and follows them.
    let (addresses, addresses_rx) = watch::channel(identity.ips.clone());
    let sfu = spawn_sfu(&supervisor, sfu, listeners.media, addresses_rx, local_rx, muted_rx.clone(), control)
        .map_err(AppError::Thread)?;
    let mut served_now = served_rx.clone();
    supervisor.task("follow-addresses", async move {
        while served_now.changed().await.is_ok() {
            let ips = served_now.borrow_and_update().identity.ips.clone();
            addresses.send_replace(ips);
        }
    });

    // The meeting: begins with the first face or phone, ends when nobody is
    // left; attendance and the join code follow its ends.
    let (meetings_ended, _) = watch::channel(0u64);
    let meeting_inputs = meeting::MeetingInputs {
        faces: faces_rx.clone(),
        phones,
        idle: Duration::from_secs(config.checkin.meeting_idle_minutes.get() as u64 * 60),
    };
    let checkin = {
        let (config, feed, store, events) =
            (config.checkin.clone(), cameras[0].1.clone(), store.clone(), events.clone());
        let (supervisor, ended) = (supervisor.clone(), meetings_ended.subscribe());
        let start = move || CheckInService::start(&supervisor, config, feed, store, events, ended, faces_tx);
        blocking(move || Ok::<_, AppError>(start())).await?
    };
    let sessions = Arc::new(web::sessions::Sessions::default());
    // A flood of connections meets the HTTPS server's bounds, not the
    // process's file limit.
    web::connections::raise_file_limit();
    let connections = Arc::new(web::connections::Connections::default());
    let welcomes = Arc::new(web::display::Welcomes::default());
    let admin = {
        let store = store.clone();
        blocking(move || web::admin::AdminAuth::new(store).map_err(AppError::Store)).await?
    };
    let updates = Arc::new(crate::update::Updates::new(data_dir.join("update"), rauc.clone()));
    let state = WebState {
        status: status.clone(),
        certificate: served_rx.clone(),
        admission: admission.clone(),
        sfu: sfu.clone(),
        sessions,
        checkin: checkin.clone(),
        admin,
        forwarded,
        talker,
        level,
        config: live_config.clone(),
        booted: Arc::new(config.clone()),
        updates: updates.clone(),
        director: director_in_use,
        welcomes: welcomes.clone(),
        connections: connections.clone(),
    };
    let health_state = state.clone();
    let router = web::router(state);
    #[cfg(feature = "faults")]
    let router = router.merge(web::faults::routes(supervisor.clone()));
    let limits = web::connections::ConnectionLimits::default();
    let web = web::spawn_web(listeners.https, listeners.http, router, tls.clone(), served_rx, limits, connections)
        .map_err(AppError::Web)?;
    tracing::info!(https = %web.https_addr, http = ?web.http_addr, media_port, room = %config.room.name, "serving");
    let followers = live::Followers {
        checkin: checkin.clone(),
        admission: admission.clone(),
        director: director_settings,
        meetings_ended: meetings_ended.subscribe(),
        mdns: config.server.mdns.then_some((config.server.bind, web.https_addr.port())),
    };

    let renew = web::renew_certificate(tls_dir, tls, served, certificate_check, move || host_identity());
    supervisor.task("renew-certificate", renew);
    // The admin's settings, and mDNS under the room's current name.
    supervisor.task("follow-settings", live::follow(live_config_rx, followers));
    supervisor.task("follow-meeting", meeting::follow(meeting_inputs, events.clone(), meetings_ended));
    supervisor.task("watch-devices", events::watch_devices(status.clone(), events.clone()));
    supervisor.task("welcome-check-ins", events::welcome_check_ins(events.subscribe(), welcomes));
    // The privacy switch overrides the admin's setting while engaged.
    supervisor.task("follow-privacy", {
        let checkin = checkin.clone();
        async move {
            loop {
                checkin.set_privacy(*privacy_rx.borrow_and_update());
                if privacy_rx.changed().await.is_err() {
                    break;
                }
            }
        }
    });
    // On a box that updates itself, the slot it runs is kept once healthy.
    if let Some(rauc) = rauc {
        let https = web.https_addr;
        let healthy = move || web::health::serving(health_state.clone(), https);
        supervisor.task("keep-slot", crate::update::commit::keep_slot_when_healthy(rauc, healthy));
    }
    notifier.send(&[NotifyState::Ready, NotifyState::Status("serving")]);
    if let Some(watchdog) = watchdog {
        let feed = feed_watchdog(notifier.clone(), watchdog, status.clone(), supervisor.clone());
        supervisor.task("watchdog", feed);
    }
    Ok(RunningBox {
        status,
        events,
        web,
        admission,
        sfu,
        checkin,
        media_port,
        supervisor,
        _stop_on_drop: stop_on_drop,
        cameras,
        microphone,
        notifier,
        store,
        run_id,
        _config: live_config,
    })
}

impl RunningBox {
    /// Frames from the named camera, from now on.
    pub fn camera_frames(&self, name: &str) -> Option<broadcast::Receiver<Arc<Frame>>> {
        self.cameras.iter().find(|(n, _)| n == name).map(|(_, feed)| feed.subscribe())
    }

    /// Blocks from the microphone array, from now on.
    pub fn microphone_blocks(&self) -> broadcast::Receiver<Arc<AudioBlock>> {
        self.microphone.subscribe()
    }

    /// Tells systemd, then tells every part to stop at once (serving lets
    /// requests finish meanwhile), waits for them with a deadline, and
    /// records a clean stop.
    pub async fn shutdown(self) {
        let RunningBox { web, supervisor, notifier, store, run_id, cameras, microphone, sfu, .. } = self;
        tracing::info!("shutting down");
        notifier.send(&[NotifyState::Stopping]);
        // With capture stopping and these last senders gone, the feeds close
        // and the room's encoders end without waiting out a timeout.
        drop((cameras, microphone, sfu));
        let ((), late) = tokio::join!(web.shutdown(SHUTDOWN_GRACE), supervisor.stop(STOP_DEADLINE));
        if !late.is_empty() {
            tracing::warn!(?late, "parts of the box did not stop in time");
        }
        if let Err(e) = blocking(move || store.end_run(run_id, unix_now())).await {
            tracing::error!(error = %e, "cannot record the clean stop");
        }
        tracing::info!("stopped");
    }
}

/// Tells a supervisor's parts to stop when dropped: a start that fails
/// part-way, or a running box dropped, leaves nothing running.
struct StopOnDrop(Supervisor);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.request_stop();
    }
}

/// Pings the watchdog while every capture source and every part that must
/// make progress does.
async fn feed_watchdog(notifier: Notifier, watchdog: Watchdog, status: Arc<BoxStatus>, supervisor: Supervisor) {
    let mut tick = tokio::time::interval(watchdog.ping_every());
    let mut withheld = false;
    loop {
        tick.tick().await;
        let now = Instant::now();
        let mut stalled = stalled_sources(&status.sources(), now, status.stall_timeout);
        stalled.extend(supervisor.stalled(now));
        if stalled.is_empty() {
            notifier.send(&[NotifyState::Watchdog]);
            withheld = false;
        } else if !withheld {
            tracing::error!(?stalled, "stalled; no longer feeding the watchdog");
            withheld = true;
        }
    }
}

/// Runs blocking work (SQLite, file writes, thread joins) off the runtime.
async fn blocking<T: Send + 'static, E: Send + 'static>(
    f: impl FnOnce() -> Result<T, E> + Send + 'static,
) -> Result<T, AppError>
where
    AppError: From<E>,
{
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r.map_err(AppError::from),
        Err(e) => Err(AppError::Join(e)),
    }
}
