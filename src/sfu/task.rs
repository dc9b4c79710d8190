//! The tokio task that owns the SFU: it moves datagrams between the socket
//! and [`Sfu`], keeps its timers, takes the room's own media from the
//! encoders, and answers commands from the web handlers.

// The SFU's shell: it gives the engine the time.
#![allow(clippy::disallowed_methods)]

use crate::events::ParticipantId;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot, watch};

use super::engine::{FarAudio, JoinError, LocalPacket, Sfu};
use super::messages::{ParticipantInfo, ParticipantKind};
use super::quality::LinkQuality;
use super::socket::{ActiveSocket, MediaSocket};
use crate::supervisor::{Part, Progress, Supervisor};

enum Command {
    Join {
        name: String,
        kind: ParticipantKind,
        offer: String,
        reply: oneshot::Sender<Result<(ParticipantId, String), JoinError>>,
    },
    Participants {
        reply: oneshot::Sender<Vec<ParticipantInfo>>,
    },
    Links {
        reply: oneshot::Sender<Vec<(ParticipantId, LinkQuality)>>,
    },
    Leave {
        id: ParticipantId,
    },
    Renegotiate {
        id: ParticipantId,
        offer: String,
        reply: oneshot::Sender<Result<String, JoinError>>,
    },
}

/// Talks to the SFU task; cheap to clone.
#[derive(Clone)]
pub struct SfuHandle {
    commands: mpsc::Sender<Command>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SfuError {
    #[error(transparent)]
    Join(#[from] JoinError),
    #[error("the media server is not running")]
    Stopped,
}

impl SfuHandle {
    /// Adds a participant; returns its id and the SDP answer.
    pub async fn join(
        &self,
        name: String,
        kind: ParticipantKind,
        offer: String,
    ) -> Result<(ParticipantId, String), SfuError> {
        let (reply, answer) = oneshot::channel();
        self.commands.send(Command::Join { name, kind, offer, reply }).await.map_err(|_| SfuError::Stopped)?;
        Ok(answer.await.map_err(|_| SfuError::Stopped)??)
    }

    /// A participant's page renegotiates (ICE restart); returns the answer.
    pub async fn renegotiate(&self, id: ParticipantId, offer: String) -> Result<String, SfuError> {
        let (reply, answer) = oneshot::channel();
        self.commands.send(Command::Renegotiate { id, offer, reply }).await.map_err(|_| SfuError::Stopped)?;
        Ok(answer.await.map_err(|_| SfuError::Stopped)??)
    }

    /// Ends a participant's session (a WHIP or WHEP client said so).
    pub async fn leave(&self, id: ParticipantId) -> Result<(), SfuError> {
        self.commands.send(Command::Leave { id }).await.map_err(|_| SfuError::Stopped)
    }

    /// Each participant's link: bitrate, round trip, loss, jitter.
    pub async fn links(&self) -> Result<Vec<(ParticipantId, LinkQuality)>, SfuError> {
        let (reply, list) = oneshot::channel();
        self.commands.send(Command::Links { reply }).await.map_err(|_| SfuError::Stopped)?;
        list.await.map_err(|_| SfuError::Stopped)
    }

    pub async fn participants(&self) -> Result<Vec<ParticipantInfo>, SfuError> {
        let (reply, list) = oneshot::channel();
        self.commands.send(Command::Participants { reply }).await.map_err(|_| SfuError::Stopped)?;
        list.await.map_err(|_| SfuError::Stopped)
    }
}

/// What the SFU tells the box's own media threads.
#[derive(Debug, Default)]
pub struct RoomControl {
    /// The far end's voices, for the box's loudspeaker (none: the display
    /// page plays them).
    pub far_audio: Option<std::sync::mpsc::SyncSender<FarAudio>>,
    /// Someone receives the room's video (else encoding it is wasted).
    pub viewers: AtomicBool,
    /// A viewer needs a keyframe.
    pub keyframe: AtomicBool,
    /// When a remote participant's voice last came through (the room's
    /// display may be playing it): the room's listening is gated on it.
    pub far_voice: std::sync::Mutex<Option<Instant>>,
    /// Phones in the meeting, told as they join and leave.
    pub phones: watch::Sender<usize>,
}

impl RoomControl {
    pub fn far_voice(&self) -> Option<Instant> {
        *self.far_voice.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// How long the `sfu` thread may go without a round of its loop (it wakes
/// at least twice a second) before it counts as stalled.
const STALL: Duration = Duration::from_secs(5);

/// Starts the SFU on its own thread (`sfu`, under `supervisor`) on
/// `socket`. `addresses` are the box's addresses (its ICE candidates are
/// these with the socket's port); the task follows changes. `local` brings
/// the room's own media, `muted` the room's mute state; the far end's audio
/// goes to `control.far_audio` (the box's loudspeaker, when it plays),
/// dropped while that is full. It runs until the box stops or every handle
/// is dropped. `socket` must be registered with no runtime yet: it moves to
/// the SFU's own.
pub fn spawn_sfu(
    supervisor: &Supervisor,
    mut sfu: Sfu,
    socket: MediaSocket,
    addresses: watch::Receiver<Vec<IpAddr>>,
    local: mpsc::Receiver<LocalPacket>,
    muted: watch::Receiver<bool>,
    control: Arc<RoomControl>,
) -> std::io::Result<SfuHandle> {
    sfu.play_far_end(control.far_audio.is_some());
    let (commands, rx) = mpsc::channel(64);
    // Its own thread and runtime: every datagram and timer is handled where
    // it arrives, without hopping between worker threads.
    supervisor.thread("sfu", Progress::Within(STALL), move |part| {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
        runtime.block_on(async move {
            let socket = socket.activate().map_err(|e| format!("media socket: {e}"))?;
            run(part, sfu, socket, rx, addresses, local, muted, control).await;
            Ok(())
        })
    })?;
    Ok(SfuHandle { commands })
}

#[allow(clippy::too_many_arguments)]
async fn run(
    part: &Part,
    mut sfu: Sfu,
    socket: ActiveSocket,
    mut commands: mpsc::Receiver<Command>,
    mut addresses: watch::Receiver<Vec<IpAddr>>,
    mut local: mpsc::Receiver<LocalPacket>,
    mut muted: watch::Receiver<bool>,
    control: Arc<RoomControl>,
) {
    let port = socket.port();
    let candidates = |ips: &[IpAddr]| -> Vec<SocketAddr> { ips.iter().map(|ip| SocketAddr::new(*ip, port)).collect() };
    sfu.set_local_addresses(&candidates(&addresses.borrow_and_update()));
    sfu.set_room_muted(*muted.borrow_and_update(), Instant::now());
    let mut buf = vec![0u8; 2048];
    let mut local_open = true;
    let mut outgoing = Vec::new();
    let counters = sfu.counters();
    loop {
        part.alive();
        let deadline = sfu.poll_timeout(Instant::now());
        tokio::select! {
            () = part.stopped() => break,
            received = socket.recv(&mut buf) => match received {
                Ok((n, source, destination)) => {
                    // Take the rest of a burst too, then run each session once.
                    let now = Instant::now();
                    sfu.receive(now, source, destination, &buf[..n]);
                    for _ in 0..64 {
                        let Ok((n, source, destination)) = socket.try_recv(&mut buf) else { break };
                        sfu.receive(now, source, destination, &buf[..n]);
                    }
                    sfu.flush(now);
                }
                Err(e) => tracing::debug!(error = %e, "media socket receive failed"),
            },
            command = commands.recv() => match command {
                Some(Command::Join { name, kind, offer, reply }) => {
                    let _ = reply.send(sfu.join(&name, kind, &offer, Instant::now()));
                }
                Some(Command::Participants { reply }) => {
                    let _ = reply.send(sfu.participants());
                }
                Some(Command::Links { reply }) => {
                    let _ = reply.send(sfu.links());
                }
                Some(Command::Leave { id }) => sfu.leave(id, Instant::now()),
                Some(Command::Renegotiate { id, offer, reply }) => {
                    let _ = reply.send(sfu.renegotiate(id, &offer, Instant::now()));
                }

                None => break,
            },
            packet = local.recv(), if local_open => match packet {
                Some(packet) => sfu.handle_local(packet, Instant::now()),
                None => local_open = false,
            },
            Ok(()) = muted.changed() => sfu.set_room_muted(*muted.borrow_and_update(), Instant::now()),
            Ok(()) = addresses.changed() => {
                sfu.set_local_addresses(&candidates(&addresses.borrow_and_update()));
            }
            () = tokio::time::sleep_until(deadline.into()) => sfu.handle_timeout(Instant::now()),
        }
        control.viewers.store(sfu.room_has_viewers(), Ordering::Relaxed);
        if sfu.take_room_keyframe_request() {
            control.keyframe.store(true, Ordering::Relaxed);
        }
        let phones = sfu.phones();
        control.phones.send_if_modified(|known| std::mem::replace(known, phones) != phones);
        if let Some(at) = sfu.take_far_voice() {
            *control.far_voice.lock().unwrap_or_else(|p| p.into_inner()) = Some(at);
        }
        while let Some(audio) = sfu.poll_far_audio() {
            if let Some(tx) = &control.far_audio {
                let _ = tx.try_send(audio);
            }
        }
        outgoing.clear();
        outgoing.extend(std::iter::from_fn(|| sfu.poll_transmit()));
        if let Err((e, lost)) = socket.send_batch(&outgoing).await {
            tracing::debug!(error = %e, lost, "media send failed");
            counters.send_failed(lost as u64);
        }
    }
}
