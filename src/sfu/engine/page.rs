//! What a page says over its data channel: answers and offers, mute, its
//! layout, leaving.

use crate::events::ParticipantId;
use std::time::Instant;

use super::Sfu;
use super::room::Talker;
use crate::sfu::messages::{ClientMessage, ServerMessage};
use crate::sfu::peer::{Peer, TrackId};

impl Sfu {
    /// A data-channel message from a page.
    pub(super) fn message(&mut self, from: ParticipantId, data: &[u8], now: Instant) -> Vec<ParticipantId> {
        let Some(peer) = self.peer_mut(from) else { return Vec::new() };
        let message: ClientMessage = match serde_json::from_slice(data) {
            Ok(m) => m,
            Err(e) => {
                peer.send(ServerMessage::Error { message: format!("message not understood: {e}") });
                return vec![from];
            }
        };
        match message {
            ClientMessage::Answer { sdp } => {
                if let Err(e) = peer.accept_answer(&sdp) {
                    peer.send(ServerMessage::Error { message: e });
                }
                peer.negotiate();
                // Newly opened video asks its publisher for a picture at once.
                let waiting: Vec<TrackId> = peer.awaiting_keyframes().collect();
                let mut touched = vec![from];
                for track in waiting {
                    touched.extend(self.ask_keyframe(track, None, now));
                }
                touched
            }
            ClientMessage::Offer { sdp } => {
                match peer.accept_offer(&sdp) {
                    Ok(answer) => peer.send(ServerMessage::Answer { sdp: answer }),
                    Err(e) => peer.send(ServerMessage::Error { message: e }),
                }
                vec![from]
            }
            ClientMessage::Mute { audio, video } => {
                let unmuted = peer.info.audio_muted && !audio;
                peer.info.audio_muted = audio;
                peer.info.video_muted = video;
                if unmuted {
                    self.speaker.unmuted(&Talker::Participant(from));
                }
                self.broadcast(ServerMessage::Muted { id: from, audio, video });
                self.peers.iter().map(Peer::id).collect()
            }
            ClientMessage::Layout { large } => {
                // A page shows a handful of videos large; more is nonsense.
                peer.large = large.map(|mut l| {
                    l.truncate(16);
                    l
                });
                self.reselect_layers(now);
                vec![from]
            }
            ClientMessage::Leave => {
                tracing::info!(participant = %from, "left");
                peer.rtc.disconnect();
                Vec::new()
            }
        }
    }
}
