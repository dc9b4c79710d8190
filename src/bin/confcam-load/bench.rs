//! N publishers × M subscribers through the box's SFU, measured from the
//! outside: the daemon's CPU time and memory come from /proc, forwarded
//! packets and their trip times from the subscribers.

use std::time::{Duration, Instant};

use crate::session::{Role, Session};
use crate::{http, run_sessions, whip_session};

/// The meeting both benchmarks drive (`bench` through the daemon, `engine`
/// through the engine alone).
#[derive(clap::Args)]
pub struct Meeting {
    #[arg(long, default_value_t = 8)]
    pub publishers: usize,
    #[arg(long, default_value_t = 8)]
    pub subscribers: usize,
    /// Each publisher's top simulcast layer (720p) in kbit/s.
    #[arg(long, default_value_t = 1700)]
    pub video_kbps: u32,
    /// Seconds of traffic before measuring (the subscribers' bandwidth
    /// estimates climb from where they start to what their views need).
    #[arg(long, default_value_t = 8)]
    pub warmup: u64,
}

#[derive(clap::Args)]
pub struct BenchArgs {
    /// The daemon's process id (for its CPU time and memory).
    #[arg(long)]
    pid: u32,
    #[command(flatten)]
    meeting: Meeting,
    /// Appended to the METRIC names (e.g. `_2x30`), to tell meetings apart
    /// when one run measures several.
    #[arg(long, default_value = "")]
    metric_suffix: String,
    #[command(flatten)]
    figures: FiguresFile,
}

/// Where a run's figures also go as `name=value` lines, for
/// `tools/bench-sfu` to compare runs (confcamd's and Janus's).
#[derive(clap::Args)]
pub struct FiguresFile {
    #[arg(long)]
    figures: Option<std::path::PathBuf>,
}

impl FiguresFile {
    pub fn write(&self, f: &Figures) -> Result<(), String> {
        let Some(path) = &self.figures else { return Ok(()) };
        let text = format!(
            "forwarded_per_s={:.0}\ncpu_us_per_packet={:.2}\nrss_mb_per_participant={:.3}\np50_ms={:.3}\np99_ms={:.3}\n",
            f.forwarded as f64 / f.elapsed,
            f.cpu_per_packet(),
            f.rss_per_participant,
            f.p50_ms,
            f.p99_ms
        );
        std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
    }
}

/// How long the first call lasts (see [`warm_up`]).
pub const FIRST_CALL: Duration = Duration::from_secs(3);

/// A first call before the meeting measured: one publisher and one
/// viewer for [`FIRST_CALL`], then gone. What only the first call costs
/// (code paged in from the binary and libcrypto, the room's H.264 encoder:
/// openh264 zeroes 6 MB of scaling buffers whatever the picture size) is
/// then in the memory before, and the memory per participant is what each
/// one adds. Janus gets the same first call.
async fn warm_up(url: &str, code: &str, video_kbps: u32) -> Result<(), String> {
    let (publisher, resource) = whip_session(url, code, Role::SimulcastPublisher).await?;
    let viewer = subscriber(url, code, 0).await?;
    let mut sessions = vec![publisher, viewer];
    run_sessions(&mut sessions, 1, video_kbps, Instant::now() + FIRST_CALL);
    if !sessions.iter().all(|s| s.connected) {
        return Err("the first call never connected".into());
    }
    sessions[1].leave();
    run_sessions(&mut sessions, 0, 0, Instant::now() + Duration::from_millis(300));
    let _ = http().delete(&resource).bearer_auth(code).send().await;
    // The box drops both on its next rounds.
    tokio::time::sleep(Duration::from_secs(1)).await;
    Ok(())
}

pub async fn run(url: &str, code: &str, seconds: u64, bench: BenchArgs) -> Result<(), String> {
    let (pid, args) = (bench.pid, bench.meeting);
    let rss_start = rss_kb(pid)?;
    warm_up(url, code, args.video_kbps).await?;
    let rss_before = Rss { start_kb: rss_start, first_call_kb: rss_kb(pid)? };
    let mut publishers = Vec::new();
    let mut resources = Vec::new();
    for _ in 0..args.publishers {
        let (s, resource) = whip_session(url, code, Role::SimulcastPublisher).await?;
        publishers.push(s);
        resources.push(resource);
    }
    let mut subscribers = Vec::new();
    for i in 0..args.subscribers {
        subscribers.push(subscriber(url, code, i).await?);
    }

    // Publishers send from their own thread, so a payload leaves as soon as
    // it is stamped, however busy receiving keeps the subscribers' thread.
    let kbps = args.video_kbps;
    let warm_until = Instant::now() + Duration::from_secs(args.warmup);
    let measure = Duration::from_secs(seconds);
    let publishing = std::thread::spawn(move || {
        let n = publishers.len();
        run_sessions(&mut publishers, n, kbps, warm_until + measure + Duration::from_millis(500));
        publishers
    });
    let figures = Figures::measure(pid, rss_before, &mut subscribers, &args, warm_until, measure);

    let publishers = publishing.join().map_err(|_| "the publishers' thread failed".to_string())?;
    for r in &resources {
        let _ = http().delete(r).bearer_auth(code).send().await;
    }
    let figures = figures?;
    if publishers.iter().any(|p| !p.connected) {
        return Err("a publisher never connected".into());
    }
    figures.print("SFU benchmark", &args);
    let m = &bench.metric_suffix;
    println!("METRIC sfu_forwarded_packets_per_s{m}={:.0}", figures.forwarded as f64 / figures.elapsed);
    println!("METRIC sfu_cpu_us_per_forwarded_packet{m}={:.2}", figures.cpu_per_packet());
    println!("METRIC sfu_rss_mb_per_participant{m}={:.3}", figures.rss_per_participant);
    println!("METRIC sfu_added_latency_p50_ms{m}={:.3}", figures.p50_ms);
    println!("METRIC sfu_added_latency_p99_ms{m}={:.3}", figures.p99_ms);
    bench.figures.write(&figures)
}

/// The SFU process's memory before the meeting: at the start, and after a
/// first call had come and gone (the baseline of the memory per
/// participant).
#[derive(Clone, Copy)]
pub struct Rss {
    pub start_kb: u64,
    pub first_call_kb: u64,
}

/// What one run of a meeting measured: the SFU process's CPU time and
/// memory from /proc, what was forwarded and how late at the subscribers.
pub struct Figures {
    forwarded: u64,
    elapsed: f64,
    /// The share of the packets expected (see [`expected_per_subscriber`]).
    delivered: f64,
    user_us: u64,
    system_us: u64,
    /// CPU µs by thread name, busiest first.
    threads: Vec<(String, u64)>,
    rss_before: Rss,
    rss_after_kb: u64,
    rss_per_participant: f64,
    p50_ms: f64,
    p99_ms: f64,
}

impl Figures {
    /// Drives the subscribers until `warm_until`, then measures `pid` for
    /// `measure` while they receive (the publishers run elsewhere);
    /// `rss_before` is the process's memory before they joined.
    pub fn measure(
        pid: u32,
        rss_before: Rss,
        subscribers: &mut [Session],
        args: &Meeting,
        warm_until: Instant,
        measure: Duration,
    ) -> Result<Figures, String> {
        run_sessions(subscribers, 0, 0, warm_until);
        let connected = subscribers.iter().filter(|s| s.connected).count();
        if connected < args.subscribers {
            return Err(format!("only {connected} of {} subscribers connected", args.subscribers));
        }
        for s in subscribers.iter_mut() {
            s.received = Default::default();
        }

        let (user_before, system_before) = cpu_us(pid)?;
        let threads_before = threads_cpu_us(pid);
        let started = Instant::now();
        run_sessions(subscribers, 0, 0, started + measure);
        let elapsed = started.elapsed().as_secs_f64();
        let (user_after, system_after) = cpu_us(pid)?;
        let mut threads = threads_cpu_us(pid);
        for (name, before) in threads_before {
            threads.entry(name).and_modify(|t| *t = t.saturating_sub(before));
        }
        let rss_after_kb = rss_kb(pid)?;

        // Packets made by our publishers that reached a subscriber (the
        // room's own media, also received, carries no stamp and is not
        // counted).
        let mut latencies: Vec<u64> =
            subscribers.iter().flat_map(|s| s.received.latencies_us.iter().copied()).collect();
        let forwarded = latencies.len() as u64;
        if forwarded == 0 {
            return Err("nothing was forwarded".into());
        }
        latencies.sort_unstable();
        let pct = |p: f64| latencies[((latencies.len() - 1) as f64 * p) as usize] as f64 / 1000.0;
        let participants = args.publishers + args.subscribers;
        let mut threads: Vec<_> = threads.into_iter().filter(|(_, t)| *t > 0).collect();
        threads.sort_by_key(|(_, t)| std::cmp::Reverse(*t));
        Ok(Figures {
            forwarded,
            elapsed,
            delivered: forwarded as f64
                / (expected_per_subscriber(args.publishers, args.video_kbps, elapsed) * args.subscribers as f64),
            user_us: user_after - user_before,
            system_us: system_after - system_before,
            threads,
            rss_before,
            rss_after_kb,
            rss_per_participant: rss_after_kb.saturating_sub(rss_before.first_call_kb) as f64
                / 1024.0
                / participants as f64,
            p50_ms: pct(0.5),
            p99_ms: pct(0.99),
        })
    }

    pub fn cpu_per_packet(&self) -> f64 {
        (self.user_us + self.system_us) as f64 / self.forwarded as f64
    }

    /// The table, under `heading`.
    pub fn print(&self, heading: &str, args: &Meeting) {
        let (forwarded, elapsed) = (self.forwarded as f64, self.elapsed);
        println!("{heading}: {} publishers × {} subscribers, {elapsed:.1} s", args.publishers, args.subscribers);
        println!(
            "  forwarded packets       {} ({:.0}/s, {:.1} % of those expected)",
            self.forwarded,
            forwarded / elapsed,
            self.delivered * 100.0
        );
        println!("  daemon CPU              {:.1} % of a core", (self.user_us + self.system_us) as f64 / 1e4 / elapsed);
        println!(
            "  CPU per forwarded pkt   {:.2} µs ({:.2} user, {:.2} system incl. the kernel's delivery)",
            self.cpu_per_packet(),
            self.user_us as f64 / forwarded,
            self.system_us as f64 / forwarded
        );
        let shares: Vec<String> =
            self.threads.iter().map(|(name, t)| format!("{name} {:.2}", *t as f64 / forwarded)).collect();
        println!("  by thread (µs per pkt)  {}", shares.join(", "));
        println!(
            "  RSS                     {:.1} MB at the start, {:.1} MB after a first call, {:.1} MB with traffic",
            self.rss_before.start_kb as f64 / 1024.0,
            self.rss_before.first_call_kb as f64 / 1024.0,
            self.rss_after_kb as f64 / 1024.0
        );
        println!("  RSS per participant     {:.2} MB", self.rss_per_participant);
        println!(
            "  added latency           p50 {:.2} ms, p99 {:.2} ms (publisher stamp → arrival at the subscriber's socket)",
            self.p50_ms, self.p99_ms
        );
    }
}

/// The packets a subscriber should get from `publishers` in `seconds`: it
/// shows the active speaker large (the top layer) and the others as
/// thumbnails (the middle layer), and hears everyone. The first publisher
/// talks (see `schedule`), so the box has the same speaker.
pub fn expected_per_subscriber(publishers: usize, video_kbps: u32, seconds: f64) -> f64 {
    let [_, (_, middle), (_, top)] = crate::media::SIMULCAST;
    let video = packets_per_frame(video_kbps * top / 100)
        + (publishers as f64 - 1.0) * packets_per_frame(video_kbps * middle / 100);
    seconds * (30.0 * video + 50.0 * publishers as f64)
}

/// Prints how much of the meeting was forwarded in `seconds` and the CPU
/// time `part` took per forwarded packet, ending with `metric`'s line (for
/// the benchmarks that time one part of the box: `engine`, `relay`).
pub fn report_part(
    heading: &str,
    args: &Meeting,
    seconds: u64,
    forwarded: u64,
    cpu: Duration,
    part: &str,
    metric: &str,
) {
    let expected = expected_per_subscriber(args.publishers, args.video_kbps, seconds as f64) * args.subscribers as f64;
    let per_packet = cpu.as_secs_f64() * 1e6 / forwarded as f64;
    println!("{heading}: {} publishers × {} subscribers, {seconds} s", args.publishers, args.subscribers);
    println!(
        "  forwarded packets       {forwarded} ({:.0}/s, {:.1} % of those expected)",
        forwarded as f64 / seconds as f64,
        forwarded as f64 / expected * 100.0
    );
    println!("  CPU per fwd pkt         {per_packet:.2} µs ({part})");
    println!("METRIC {metric}={per_packet:.2}");
}

fn packets_per_frame(video_kbps: u32) -> f64 {
    let frame = video_kbps as f64 * 1000.0 / 8.0 / 30.0;
    // Every 60th frame is a keyframe four times the size.
    (frame / crate::media::PACKET as f64).ceil() * (59.0 + 4.0) / 60.0
}

/// A receive-only participant like the room display: every track arrives
/// by renegotiation over its data channel.
async fn subscriber(url: &str, code: &str, i: usize) -> Result<Session, String> {
    crate::join_page(url, code, Role::Subscriber, &format!("Viewer {i}"), "display").await
}

/// User and system CPU time of a process, in microseconds.
fn cpu_us(pid: u32) -> Result<(u64, u64), String> {
    let path = format!("/proc/{pid}/stat");
    let stat = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
    Ok(parse_stat(&stat).1)
}

/// CPU time (user + system, µs) of a process's threads, summed by name
/// (tokio's workers share one; Janus names a thread per handle by its
/// number, `hloop 123`), to show where the time goes.
fn threads_cpu_us(pid: u32) -> std::collections::BTreeMap<String, u64> {
    let mut by_name = std::collections::BTreeMap::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return by_name };
    for task in tasks.flatten() {
        if let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) {
            let (name, (user, system)) = parse_stat(&stat);
            let kind = name.trim_end_matches(|c: char| c.is_ascii_digit() || c == ' ');
            let kind = if kind.is_empty() { name.as_str() } else { kind };
            *by_name.entry(kind.to_string()).or_default() += user + system;
        }
    }
    by_name
}

/// The command name and (user, system) µs of a `/proc/.../stat` line.
fn parse_stat(stat: &str) -> (String, (u64, u64)) {
    // The name is in parentheses and may contain spaces.
    let name = stat.split_once('(').and_then(|(_, rest)| rest.rsplit_once(')')).map(|(n, _)| n).unwrap_or_default();
    let after = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or_default();
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
    let hz = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK).ok().flatten().unwrap_or(100) as u64;
    (name.to_string(), (ticks(11) * 1_000_000 / hz, ticks(12) * 1_000_000 / hz))
}

pub fn rss_kb(pid: u32) -> Result<u64, String> {
    let status =
        std::fs::read_to_string(format!("/proc/{pid}/status")).map_err(|e| format!("/proc/{pid}/status: {e}"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
        .ok_or_else(|| "no VmRSS".into())
}
