//! The box's own camera and microphone as a meeting participant: the
//! threads that turn captured frames and blocks into RTP payloads for the
//! SFU. The sound thread also hears who speaks and directs the picture
//! ([`super::listening`]); the video thread shows what it directs
//! ([`super::room_video`]).

use std::sync::Arc;
use std::time::Duration;

use tokio::runtime::Handle;
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
    // Their waits for a feed run on the box's runtime's timer.
    let (video_timer, timer) = (Handle::current(), Handle::current());
    supervisor.thread("room-video", Progress::Within(STALL), move |part| {
        encode_video(part, &video_timer, cameras, picture, program, &video_control, &video_out)
    })?;
    supervisor.thread("room-audio", Progress::Within(STALL), move |part| {
        listen(part, &timer, blocks, muted, ears, &control, &out)
    })
}

/// Waits up to `wait` for the next item of a feed, on `timer`'s clock (a
/// runtime's, from a thread of its own): `Ok(None)` on time out, `Err(())`
/// once the feed has closed.
pub(super) fn next_within<T: Clone>(timer: &Handle, feed: &mut Receiver<T>, wait: Duration) -> Result<Option<T>, ()> {
    loop {
        match timer.block_on(async { tokio::time::timeout(wait, feed.recv()).await }) {
            Err(_) => return Ok(None),
            Ok(Ok(item)) => return Ok(Some(item)),
            Ok(Err(RecvError::Lagged(_))) => continue,
            Ok(Err(RecvError::Closed)) => return Err(()),
        }
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
