//! The box's own camera and microphone as a meeting participant: the
//! threads that turn captured frames and blocks into RTP payloads for the
//! SFU. The sound thread also hears who speaks and directs the picture
//! ([`super::listening`]); the video thread shows what it directs
//! ([`super::room_video`]).

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::Thread;
use std::time::{Duration, Instant};

use tokio::sync::broadcast::Receiver;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{mpsc, watch};

use super::listening::{Ears, listen};
use super::room_video::{RoomCamera, encode_video};
use crate::capture::AudioBlock;
use crate::sfu::{LocalPacket, RoomControl};
use crate::supervisor::{Progress, Supervisor};

/// How long the room's media threads may go without a round of their loop
/// (each waits at most a second for its feed) before they count as stalled.
const STALL: Duration = Duration::from_secs(5);

/// What the room's media is made from.
pub struct RoomInputs {
    /// In the order of the configuration (the director's camera indices).
    pub cameras: Vec<RoomCamera>,
    /// The outgoing picture's size and rate (the first camera's): the
    /// director's crops and the slate take it.
    pub picture: (u32, u32, u32),
    pub blocks: Receiver<Arc<AudioBlock>>,
    pub muted: watch::Receiver<bool>,
    pub control: Arc<RoomControl>,
    pub out: mpsc::Sender<LocalPacket>,
}

/// Starts the encoder threads under `supervisor`: `room-video` and
/// `room-audio`, each expected to go round its loop at least every few
/// seconds. They end when the box stops or capture's feeds close.
pub fn spawn_room_media(supervisor: &Supervisor, inputs: RoomInputs, ears: Ears) -> std::io::Result<()> {
    let RoomInputs { cameras, picture, blocks, muted, control, out } = inputs;
    let program = ears.program.subscribe();
    let (video_control, video_out) = (control.clone(), out.clone());
    supervisor.thread("room-video", Progress::Within(STALL), move |part| {
        encode_video(part, cameras, picture, program, &video_control, &video_out)
    })?;
    supervisor
        .thread("room-audio", Progress::Within(STALL), move |part| listen(part, blocks, muted, ears, &control, &out))
}

/// Waits up to `wait` for the next item of a feed, on this thread:
/// `Ok(None)` on time out, `Err(())` once the feed has closed.
pub(super) fn next_within<T: Clone>(feed: &mut Receiver<T>, wait: Duration) -> Result<Option<T>, ()> {
    let deadline = Instant::now() + wait;
    loop {
        match until(deadline, feed.recv()) {
            None => return Ok(None),
            Some(Ok(item)) => return Ok(Some(item)),
            Some(Err(RecvError::Lagged(_))) => continue,
            Some(Err(RecvError::Closed)) => return Err(()),
        }
    }
}

/// Runs `future` on this thread until it is ready or `deadline` passes. A
/// channel's receive needs no runtime, only a waker: this one unparks the
/// thread (so the room's threads neither build a runtime nor borrow the
/// box's timer, which is gone once the box's runtime shuts down).
fn until<F: Future>(deadline: Instant, future: F) -> Option<F::Output> {
    struct Unpark(Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return Some(out);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return None;
        }
        std::thread::park_timeout(left);
    }
}

/// Packets that arrive within `wait` (for the threads' tests).
#[cfg(test)]
pub(super) fn drain(rx: &mut mpsc::Receiver<LocalPacket>, wait: Duration) -> Vec<LocalPacket> {
    let until = std::time::Instant::now() + wait;
    let mut got = Vec::new();
    while std::time::Instant::now() < until {
        match rx.try_recv() {
            Ok(p) => got.push(p),
            Err(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
    got
}
