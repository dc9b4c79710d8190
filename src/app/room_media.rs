//! The box's own camera and microphone as a meeting participant: the
//! threads that turn captured frames and blocks into RTP payloads for the
//! SFU. The sound thread also hears who speaks and directs the picture
//! ([`super::listening`]); the video thread shows what it directs
//! ([`super::room_video`]).

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::runtime::Runtime;
use tokio::sync::broadcast::Receiver;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{mpsc, watch};

use super::listening::{Ears, listen};
use super::room_video::{RoomCamera, encode_video};
use crate::capture::AudioBlock;
use crate::sfu::{LocalPacket, RoomControl};

/// The running encoder threads; they end when capture stops.
pub struct RoomMedia {
    threads: Vec<JoinHandle<()>>,
}

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

impl RoomMedia {
    pub fn spawn(inputs: RoomInputs, ears: Ears) -> std::io::Result<Self> {
        let RoomInputs { cameras, picture, blocks, muted, control, out } = inputs;
        let program = ears.program.subscribe();
        let (video_control, video_out) = (control.clone(), out.clone());
        let video = std::thread::Builder::new()
            .name("room-video".into())
            .spawn(move || encode_video(cameras, picture, program, &video_control, &video_out))?;
        let audio = std::thread::Builder::new()
            .name("room-audio".into())
            .spawn(move || listen(blocks, muted, ears, &control, &out))?;
        Ok(RoomMedia { threads: vec![video, audio] })
    }

    /// Waits for the threads (they end once the capture feeds close).
    pub fn join(self) {
        for t in self.threads {
            let _ = t.join();
        }
    }
}

/// Waits up to `wait` for the next item of a feed: `Ok(None)` on time out,
/// `Err(())` once the feed has closed.
pub(super) fn next_within<T: Clone>(
    runtime: &Runtime,
    feed: &mut Receiver<T>,
    wait: Duration,
) -> Result<Option<T>, ()> {
    loop {
        match runtime.block_on(async { tokio::time::timeout(wait, feed.recv()).await }) {
            Err(_) => return Ok(None),
            Ok(Ok(item)) => return Ok(Some(item)),
            Ok(Err(RecvError::Lagged(_))) => continue,
            Ok(Err(RecvError::Closed)) => return Err(()),
        }
    }
}

pub(super) fn timer() -> Option<Runtime> {
    match tokio::runtime::Builder::new_current_thread().enable_time().build() {
        Ok(r) => Some(r),
        Err(e) => {
            tracing::error!(error = %e, "no timer for the room's media");
            None
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
