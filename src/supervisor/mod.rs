//! Every long-running part of the box (a thread or a tokio task) starts
//! here, so none ends or stalls unnoticed, and all of them stop one way.
//!
//! - **Ending:** a part that returns, fails or panics while the box is not
//!   stopping is reported by [`Supervisor::failed`]; the daemon then logs
//!   which part and why and exits non-zero, and systemd restarts it.
//! - **Stalling:** a part that must keep making progress says so with
//!   [`Part::alive`]; [`Supervisor::stalled`] names those that went quiet,
//!   and the watchdog is fed only while there are none.
//! - **Stopping:** one token. [`Supervisor::stop`] cancels it, every part
//!   sees it ([`Part::stopping`], [`Part::stopped`]) and ends on its own
//!   terms, and the supervisor waits for all of them with a deadline.

// A shell: it watches threads on the clock.
#![allow(clippy::disallowed_methods)]

#[cfg(feature = "faults")]
pub mod faults;

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// A part that ended while the box was not stopping.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{part} {reason}")]
pub struct Ended {
    pub part: String,
    pub reason: String,
}

/// Whether a part must show progress, and how often at least.
#[derive(Debug, Clone, Copy)]
pub enum Progress {
    /// Silent for longer than this: stalled.
    Within(Duration),
    /// Waits for others (a device, a signal); its ending is still watched.
    NotWatched,
}

/// What a part is given: the stop signal, and its heartbeat.
#[derive(Clone)]
pub struct Part {
    name: Arc<str>,
    stop: CancellationToken,
    pulse: Option<Arc<Pulse>>,
    #[cfg(feature = "faults")]
    faults: Arc<faults::Pending>,
}

struct Pulse {
    name: Arc<str>,
    /// Milliseconds since `epoch` when the part last made progress.
    last: AtomicU64,
    within: Duration,
    epoch: Instant,
}

impl Pulse {
    fn silent_for(&self, now: Instant) -> Duration {
        let last = self.epoch + Duration::from_millis(self.last.load(Ordering::Relaxed));
        now.saturating_duration_since(last)
    }
}

impl Part {
    /// A part on its own, for tests of one part: nothing watches it.
    pub fn detached(name: &str) -> Part {
        Part {
            name: name.into(),
            stop: CancellationToken::new(),
            pulse: None,
            #[cfg(feature = "faults")]
            faults: Arc::default(),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The box is stopping: return soon.
    pub fn stopping(&self) -> bool {
        self.stop.is_cancelled()
    }

    /// Resolves once the box is stopping.
    pub async fn stopped(&self) {
        self.stop.cancelled().await
    }

    /// The part made progress (a loop went round).
    pub fn alive(&self) {
        #[cfg(feature = "faults")]
        self.faults.strike(self);
        if let Some(pulse) = &self.pulse {
            let ms = pulse.epoch.elapsed().as_millis() as u64;
            pulse.last.store(ms, Ordering::Relaxed);
        }
    }
}

/// Starts the parts, watches them, stops them. Cheap to clone.
#[derive(Clone)]
pub struct Supervisor {
    inner: Arc<Inner>,
}

struct Inner {
    stop: CancellationToken,
    epoch: Instant,
    ended_tx: mpsc::UnboundedSender<Ended>,
    ended_rx: tokio::sync::Mutex<mpsc::UnboundedReceiver<Ended>>,
    pulses: Mutex<Vec<Arc<Pulse>>>,
    threads: Mutex<Vec<(Arc<str>, std::thread::JoinHandle<()>)>>,
    tasks: Mutex<Vec<(Arc<str>, tokio::task::JoinHandle<()>)>>,
    #[cfg(feature = "faults")]
    faults: Arc<faults::Pending>,
}

impl Default for Supervisor {
    fn default() -> Self {
        let (ended_tx, ended_rx) = mpsc::unbounded_channel();
        Supervisor {
            inner: Arc::new(Inner {
                stop: CancellationToken::new(),
                epoch: Instant::now(),
                ended_tx,
                ended_rx: tokio::sync::Mutex::new(ended_rx),
                pulses: Mutex::default(),
                threads: Mutex::default(),
                tasks: Mutex::default(),
                #[cfg(feature = "faults")]
                faults: Arc::default(),
            }),
        }
    }
}

impl Supervisor {
    fn part(&self, name: &str, progress: Progress) -> Part {
        let name: Arc<str> = name.into();
        let pulse = match progress {
            Progress::Within(within) => {
                let epoch = self.inner.epoch;
                let last = AtomicU64::new(epoch.elapsed().as_millis() as u64);
                let pulse = Arc::new(Pulse { name: name.clone(), last, within, epoch });
                lock(&self.inner.pulses).push(pulse.clone());
                Some(pulse)
            }
            Progress::NotWatched => None,
        };
        Part {
            name,
            stop: self.inner.stop.clone(),
            pulse,
            #[cfg(feature = "faults")]
            faults: self.inner.faults.clone(),
        }
    }

    /// Runs `body` on a named OS thread. It should return soon after
    /// [`Part::stopping`] turns true; `Err` says why it could not go on.
    pub fn thread(
        &self,
        name: &str,
        progress: Progress,
        body: impl FnOnce(&Part) -> Result<(), String> + Send + 'static,
    ) -> std::io::Result<()> {
        let part = self.part(name, progress);
        let ended = self.inner.ended_tx.clone();
        let label = part.name.clone();
        let thread = std::thread::Builder::new().name(name.into()).spawn(move || {
            let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| body(&part)));
            let reason = match outcome {
                Ok(Ok(())) => "ended".to_string(),
                Ok(Err(e)) => format!("failed: {e}"),
                Err(panic) => format!("panicked: {}", panic_message(&*panic)),
            };
            let _ = ended.send(Ended { part: part.name.to_string(), reason });
        })?;
        lock(&self.inner.threads).push((label, thread));
        Ok(())
    }

    /// Runs `task` on the current runtime until it ends or the box stops
    /// (then it is dropped at its next await).
    pub fn task(&self, name: &str, task: impl Future<Output = ()> + Send + 'static) {
        let part = self.part(name, Progress::NotWatched);
        let ended = self.inner.ended_tx.clone();
        let label = part.name.clone();
        let inner = tokio::spawn(task);
        let watcher = tokio::spawn(async move {
            let abort = inner.abort_handle();
            #[cfg(feature = "faults")]
            let killed = part.faults.killed(&part);
            #[cfg(not(feature = "faults"))]
            let killed = std::future::pending::<()>();
            let reason = tokio::select! {
                result = inner => match result {
                    Ok(()) => "ended".to_string(),
                    Err(e) if e.is_panic() => format!("panicked: {}", panic_message(&*e.into_panic())),
                    Err(e) => format!("failed: {e}"),
                },
                () = part.stopped() => {
                    abort.abort();
                    return;
                }
                () = killed => {
                    abort.abort();
                    "panicked: injected fault".to_string()
                }
            };
            let _ = ended.send(Ended { part: part.name.to_string(), reason });
        });
        lock(&self.inner.tasks).push((label, watcher));
    }

    /// Resolves with the first part that ends while the box is not
    /// stopping (never, if none does).
    pub async fn failed(&self) -> Ended {
        let mut ended = self.inner.ended_rx.lock().await;
        loop {
            match ended.recv().await {
                Some(e) if !self.inner.stop.is_cancelled() => return e,
                Some(_) => {}
                // We hold a sender ourselves: never closes.
                None => std::future::pending::<()>().await,
            }
        }
    }

    /// Parts that should make progress and have not for longer than they
    /// may, at `now`.
    pub fn stalled(&self, now: Instant) -> Vec<String> {
        let pulses = lock(&self.inner.pulses);
        pulses.iter().filter(|p| p.silent_for(now) > p.within).map(|p| p.name.to_string()).collect()
    }

    /// Test builds: the part named `part` dies or stalls at its next round.
    #[cfg(feature = "faults")]
    pub fn inject(&self, part: &str, fault: faults::Fault) {
        self.inner.faults.arm(part, fault);
    }

    /// Tells every part to stop, without waiting.
    pub fn request_stop(&self) {
        self.inner.stop.cancel();
    }

    /// Tells every part to stop, and waits up to `deadline` for all of them;
    /// returns the names of those still running then.
    pub async fn stop(&self, deadline: Duration) -> Vec<String> {
        self.inner.stop.cancel();
        let until = tokio::time::Instant::now() + deadline;
        let tasks = std::mem::take(&mut *lock(&self.inner.tasks));
        let threads = std::mem::take(&mut *lock(&self.inner.threads));
        let mut late = Vec::new();
        for (name, task) in tasks {
            if tokio::time::timeout_at(until, task).await.is_err() {
                late.push(name.to_string());
            }
        }
        for (name, thread) in threads {
            let joined = tokio::task::spawn_blocking(move || thread.join());
            if tokio::time::timeout_at(until, joined).await.is_err() {
                late.push(name.to_string());
            }
        }
        late
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// What a caught panic said.
pub fn panic_message(panic: &(dyn Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn first_failure(s: &Supervisor) -> Ended {
        tokio::time::timeout(Duration::from_secs(10), s.failed()).await.expect("a part's end is reported")
    }

    #[tokio::test]
    async fn a_thread_that_ends_fails_or_panics_is_reported_by_name() {
        let s = Supervisor::default();
        s.thread("returns", Progress::NotWatched, |_| Ok(())).unwrap();
        assert_eq!(first_failure(&s).await, Ended { part: "returns".into(), reason: "ended".into() });
        s.thread("fails", Progress::NotWatched, |_| Err("encoder gone".into())).unwrap();
        assert_eq!(first_failure(&s).await.reason, "failed: encoder gone");
        s.thread("panics", Progress::NotWatched, |_| panic!("index out of range")).unwrap();
        let e = first_failure(&s).await;
        assert_eq!((e.part.as_str(), e.reason.as_str()), ("panics", "panicked: index out of range"));
    }

    #[tokio::test]
    async fn a_task_that_ends_or_panics_is_reported() {
        let s = Supervisor::default();
        s.task("follower", async {});
        assert_eq!(first_failure(&s).await.part, "follower");
        s.task("watcher", async { panic!("bad state") });
        assert_eq!(first_failure(&s).await.reason, "panicked: bad state");
    }

    #[tokio::test]
    async fn stopping_ends_every_part_and_reports_none() {
        let s = Supervisor::default();
        s.thread("loop", Progress::NotWatched, |part| {
            while !part.stopping() {
                std::thread::sleep(Duration::from_millis(5));
            }
            Ok(())
        })
        .unwrap();
        s.task("waits", std::future::pending());
        let started = Instant::now();
        assert!(s.stop(Duration::from_secs(10)).await.is_empty(), "everything stopped");
        assert!(started.elapsed() < Duration::from_secs(5));
        let reported = tokio::time::timeout(Duration::from_millis(100), s.failed()).await;
        assert!(reported.is_err(), "a part ending because the box stops is not a failure");
    }

    #[tokio::test]
    async fn a_part_stuck_past_the_deadline_is_named() {
        let s = Supervisor::default();
        s.thread("stuck", Progress::NotWatched, |_| {
            std::thread::sleep(Duration::from_millis(600));
            Ok(())
        })
        .unwrap();
        assert_eq!(s.stop(Duration::from_millis(50)).await, ["stuck"]);
    }

    #[test]
    fn only_a_watched_part_gone_quiet_is_stalled() {
        let s = Supervisor::default();
        let busy = s.part("busy", Progress::Within(Duration::from_secs(2)));
        let quiet = s.part("quiet", Progress::Within(Duration::from_secs(2)));
        let _waiting = s.part("waiting", Progress::NotWatched);
        busy.alive();
        quiet.alive();
        let t0 = Instant::now();
        assert!(s.stalled(t0 + Duration::from_secs(1)).is_empty());
        // Only `busy` goes round again; read the clock the pulse uses.
        let later = |secs| t0 + Duration::from_secs(secs);
        let busy_pulse = busy.pulse.as_ref().unwrap();
        busy_pulse.last.store((later(3) - s.inner.epoch).as_millis() as u64, Ordering::Relaxed);
        assert_eq!(s.stalled(later(4)), ["quiet"]);
    }
}
