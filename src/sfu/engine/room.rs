//! The box itself as a participant: the room's camera and microphone array,
//! encoded by the box and fanned out like any publisher's tracks.

use std::time::Instant;

use str0m::format::Codec;
use str0m::media::{MediaKind, Mid};

use super::{Format, Outgoing, Sfu};
use crate::sfu::messages::{ParticipantInfo, ParticipantKind, ServerMessage};
use crate::sfu::peer::{Peer, TrackId};

/// The box itself, as a participant (its camera and microphone).
pub const ROOM_ID: u64 = 0;
pub(super) const ROOM_AUDIO: TrackId = TrackId { owner: ROOM_ID, mid: Mid::from_array(*b"room-audio      ") };
pub(super) const ROOM_VIDEO: TrackId = TrackId { owner: ROOM_ID, mid: Mid::from_array(*b"room-video      ") };

/// A packet of the room's own media, made by the box's encoders.
#[derive(Debug, Clone)]
pub struct LocalPacket {
    pub kind: MediaKind,
    /// RTP payload (an H.264 NAL unit or fragment, an Opus frame).
    pub payload: Vec<u8>,
    pub seq: u64,
    /// RTP time (90 kHz video, 48 kHz audio).
    pub time: u32,
    pub marker: bool,
    /// The first packet of an H.264 IDR picture (with its SPS).
    pub keyframe: bool,
    /// RFC 6464 level of audio, `-dBov`.
    pub dbov: Option<u8>,
    pub captured: Instant,
}

/// Receives the room's camera and microphone.
pub(super) fn subscribe_to_room(peer: &mut Peer) {
    peer.subscribe(ROOM_AUDIO, MediaKind::Audio);
    peer.subscribe(ROOM_VIDEO, MediaKind::Video);
}

impl Sfu {
    /// The box's own participant (the room's camera and microphone) joins
    /// the meeting; its media comes in through [`Self::handle_local`].
    pub fn add_room(&mut self, name: &str, now: Instant) {
        let info = ParticipantInfo {
            id: ROOM_ID,
            name: name.to_string(),
            kind: ParticipantKind::Room,
            audio_muted: false,
            video_muted: false,
        };
        for p in self.peers.iter_mut().filter(|p| p.info.kind.receives_everyone()) {
            p.send(ServerMessage::ParticipantJoined { participant: info.clone() });
            subscribe_to_room(p);
            p.negotiate();
        }
        self.speaker.add(ROOM_ID, now);
        self.room = Some(info);
        self.settle(now);
    }

    /// A packet of the room's own media.
    pub fn handle_local(&mut self, packet: LocalPacket, now: Instant) {
        if self.room.is_none() {
            return;
        }
        let (track, format) = match packet.kind {
            MediaKind::Audio => (ROOM_AUDIO, Format::Codec(Codec::Opus)),
            MediaKind::Video => (ROOM_VIDEO, Format::Codec(Codec::H264)),
        };
        let payload: std::sync::Arc<[u8]> = packet.payload.into();
        let touched = self.fan_out(
            Outgoing {
                track,
                kind: packet.kind,
                format,
                seq: packet.seq,
                time: packet.time,
                marker: packet.marker,
                keyframe: packet.keyframe,
                layer: None,
                level: packet.dbov,
                voice: packet.dbov.map(|l| l < 50),
                wallclock: packet.captured,
                payload: &payload,
            },
            now,
        );
        self.settle_after(touched, now);
    }

    /// Whether someone receives the room's video (no viewer: no need to
    /// spend a CPU core encoding it).
    pub fn room_has_viewers(&self) -> bool {
        self.peers.iter().flat_map(|p| &p.subscriptions).any(|s| s.source == ROOM_VIDEO && s.open_mid().is_some())
    }

    /// True once after a viewer asked for a keyframe of the room's video.
    pub fn take_room_keyframe_request(&mut self) -> bool {
        std::mem::take(&mut self.room_keyframe)
    }
}
