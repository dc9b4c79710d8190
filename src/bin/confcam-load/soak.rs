//! Churn against the running daemon: cycle after cycle of people joining
//! and leaving as they do in a real room, in every way they do it, while
//! the daemon's memory, open files and threads are sampled from /proc.
//!
//! One cycle: a phone that leaves, a phone that vanishes (no `leave`, its
//! socket gone), a WHIP publisher and a WHEP viewer that stop with DELETE,
//! and a phone and a WHIP publisher that never finish ICE. What the daemon
//! holds is compared after warm-up and at the end, each time once it has
//! dropped everyone (the last leftovers go when their connect timeout
//! ends), so the growth is what the cycles left behind.

use std::time::{Duration, Instant};

use crate::bench::rss_kb;
use crate::session::{Role, Session};
use crate::{http, join_page, run_sessions, whip_session};

#[derive(clap::Args)]
pub struct SoakArgs {
    /// The daemon's process id (for its memory, files and threads).
    #[arg(long)]
    pid: u32,
    /// Join/leave cycles after the warm-up.
    #[arg(long, default_value_t = 100)]
    cycles: u64,
    /// Cycles before the first sample (pools and caches fill).
    #[arg(long, default_value_t = 20)]
    warmup: u64,
    /// How long each cycle's sessions exchange media, ms.
    #[arg(long, default_value_t = 500)]
    talk_ms: u64,
    /// Each cycle takes at least this long, ms: the sessions that vanish
    /// or never finish ICE hold a seat until the daemon drops them (20 s),
    /// and a meeting has at most 64.
    #[arg(long, default_value_t = 2000)]
    cycle_ms: u64,
    /// Instead of cycles: a meeting of `--phones` phones for this long, one
    /// of them leaving (or vanishing) and another joining every
    /// `--rejoin-s`; the figures are per 100 rejoins.
    #[arg(long)]
    meeting_minutes: Option<u64>,
    #[arg(long, default_value_t = 8)]
    phones: usize,
    #[arg(long, default_value_t = 10)]
    rejoin_s: u64,
}

/// What the daemon holds at one moment.
#[derive(Debug, Clone, Copy)]
struct Held {
    rss_kb: u64,
    fds: u64,
    threads: u64,
}

impl Held {
    fn describe(&self) -> String {
        format!("{:.1} MB, {} fds, {} threads", self.rss_kb as f64 / 1024.0, self.fds, self.threads)
    }

    fn sample(pid: u32) -> Result<Held, String> {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).map_err(|e| format!("daemon gone: {e}"))?;
        let threads = status
            .lines()
            .find_map(|l| l.strip_prefix("Threads:"))
            .and_then(|v| v.trim().parse().ok())
            .ok_or("no Threads in /proc status")?;
        let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).map_err(|e| e.to_string())?.count() as u64;
        Ok(Held { rss_kb: rss_kb(pid)?, fds, threads })
    }
}

pub async fn run(url: &str, code: &str, args: SoakArgs) -> Result<(), String> {
    if let Some(minutes) = args.meeting_minutes {
        return meeting(url, code, minutes, &args).await;
    }
    let started = Instant::now();
    for n in 0..args.warmup {
        cycle(url, code, n, &args).await?;
    }
    let before = settled(url, args.pid).await?;
    println!("after {} warm-up cycles: {}", args.warmup, before.describe());
    for n in 0..args.cycles {
        cycle(url, code, args.warmup + n, &args).await?;
        if (n + 1) % (args.cycles / 5).max(1) == 0 {
            println!("cycle {:>5}: {} (in the thick of it)", n + 1, Held::sample(args.pid)?.describe());
        }
    }
    let after = settled(url, args.pid).await?;
    println!("after {} cycles: {} ({:.0} s in all)", args.cycles, after.describe(), started.elapsed().as_secs_f64());
    report(before, after, args.cycles);
    Ok(())
}

/// The growth from `before` to `after` per 100 of `cycles`, as METRIC lines.
fn report(before: Held, after: Held, cycles: u64) {
    let per_100 = 100.0 / cycles.max(1) as f64;
    let rss = (after.rss_kb as f64 - before.rss_kb as f64) / 1024.0 * per_100;
    let fds = (after.fds as f64 - before.fds as f64) * per_100;
    let threads = (after.threads as f64 - before.threads as f64) * per_100;
    println!("METRIC soak_rss_growth_mb_per_100_cycles={rss:.3}");
    println!("METRIC soak_fd_growth_per_100_cycles={fds:.2}");
    println!("METRIC soak_thread_growth_per_100_cycles={threads:.2}");
}

/// A meeting that goes on: `args.phones` phones publish all along; every
/// `args.rejoin_s` the longest-staying one goes (leaving, or every other
/// time vanishing) and a new one joins. The daemon is sampled with the
/// meeting full after a tenth of the time (at least a minute) and at the
/// end, and once more after everyone has gone.
async fn meeting(url: &str, code: &str, minutes: u64, args: &SoakArgs) -> Result<(), String> {
    let started = Instant::now();
    let end = started + Duration::from_secs(minutes * 60);
    let warm = started + Duration::from_secs((minutes * 6).max(60).min(minutes * 30));
    let every = Duration::from_secs(args.rejoin_s.max(1));
    let mut phones = Vec::new();
    for n in 0..args.phones {
        phones.push(phone(url, code, n as u64).await?);
    }
    let (mut joined, mut rejoins, mut before) = (args.phones as u64, 0u64, None);
    let mut next = started + every;
    while Instant::now() < end {
        run_sessions(&mut phones, args.phones, 300, next.min(end));
        if before.is_none() && Instant::now() >= warm {
            let held = Held::sample(args.pid)?;
            println!("after warm-up ({rejoins} rejoins): {}", held.describe());
            before = Some((held, rejoins));
        }
        if Instant::now() >= next && Instant::now() < end {
            let mut going = phones.remove(0);
            if !going.connected {
                return Err(format!("phone {} never connected", joined - args.phones as u64));
            }
            if rejoins % 2 == 0 {
                going.leave();
                let mut last = [going];
                run_sessions(&mut last, 0, 0, Instant::now() + Duration::from_millis(100));
            }
            phones.push(phone(url, code, joined).await?);
            joined += 1;
            rejoins += 1;
            next += every;
            if rejoins % 30 == 0 {
                let held = Held::sample(args.pid)?;
                println!("{rejoins} rejoins, {:.0} s: {}", started.elapsed().as_secs_f64(), held.describe());
            }
        }
    }
    let connected = phones.iter().filter(|p| p.connected).count();
    if connected < args.phones.saturating_sub(1) {
        return Err(format!("only {connected} of {} phones connected at the end", args.phones));
    }
    let after = Held::sample(args.pid)?;
    println!("at the end ({rejoins} rejoins, the meeting full): {}", after.describe());
    drop(phones);
    let empty = settled(url, args.pid).await?;
    println!("once everyone had gone: {}", empty.describe());
    let (before, at) = before.ok_or("the meeting ended before its warm-up")?;
    report(before, after, rejoins - at);
    Ok(())
}

/// One cycle of joining and leaving (see the module's comment).
async fn cycle(url: &str, code: &str, n: u64, args: &SoakArgs) -> Result<(), String> {
    let next = tokio::time::Instant::now() + Duration::from_millis(args.cycle_ms);
    let leaving = phone(url, code, n).await?;
    let vanishing = phone(url, code, n).await?;
    let (publisher, whip) = whip_session(url, code, Role::Publisher).await?;
    let (viewer, whep) = whip_session(url, code, Role::Viewer).await?;
    // Answered, then never heard from: the daemon's connect timeout ends them.
    drop(phone(url, code, n).await?);
    drop(whip_session(url, code, Role::Publisher).await?);

    // The first three publish; all four must connect.
    let mut sessions = [leaving, vanishing, publisher, viewer];
    let deadline = Instant::now() + Duration::from_secs(20);
    while !sessions.iter().all(|s| s.connected) {
        if Instant::now() > deadline {
            let up = sessions.iter().filter(|s| s.connected).count();
            return Err(format!("cycle {n}: {up} of 4 sessions connected in 20 s"));
        }
        run_sessions(&mut sessions, 3, 300, Instant::now() + Duration::from_millis(50));
    }
    run_sessions(&mut sessions, 3, 300, Instant::now() + Duration::from_millis(args.talk_ms));
    let [mut leaving, vanishing, publisher, viewer] = sessions;
    if !leaving.leave() {
        return Err(format!("cycle {n}: the phone's data channel never opened"));
    }
    // The leave message goes out with the next turns.
    let mut last = [leaving];
    run_sessions(&mut last, 0, 0, Instant::now() + Duration::from_millis(100));
    for resource in [whip, whep] {
        let r = http().delete(&resource).bearer_auth(code).send().await.map_err(|e| e.to_string())?;
        if !r.status().is_success() {
            return Err(format!("cycle {n}: DELETE {resource}: {}", r.status()));
        }
    }
    drop((last, vanishing, publisher, viewer));
    tokio::time::sleep_until(next).await;
    Ok(())
}

/// A phone joined over `/api/join`, its answer taken.
async fn phone(url: &str, code: &str, n: u64) -> Result<Session, String> {
    join_page(url, code, Role::Phone, &format!("Soak {n}"), "phone").await
}

/// Waits until the daemon has dropped every participant (the leftovers of
/// the last cycles go when their connect timeout ends) and its idle
/// workers have gone, then samples it.
async fn settled(url: &str, pid: u32) -> Result<Held, String> {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let metrics = http().get(format!("{url}/metrics")).send().await.map_err(|e| e.to_string())?;
        let text = metrics.text().await.map_err(|e| e.to_string())?;
        // Everyone but the room itself.
        let phones: f64 = text
            .lines()
            .filter(|l| l.starts_with("confcam_participants{") && !l.contains("\"room\""))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum();
        if phones <= 0.0 {
            break;
        }
        if Instant::now() > deadline {
            return Err(format!("{phones} participants still held after 90 s"));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // tokio's idle blocking threads end after 10 s.
    tokio::time::sleep(Duration::from_secs(11)).await;
    Held::sample(pid)
}
