//! The box itself as a participant: the room's camera and microphone array,
//! encoded by the box and fanned out like any publisher's tracks; and what
//! the room's own devices learn of the far end (its voices for the
//! loudspeaker, when it talks for the far-end gate).

use crate::events::ParticipantId;
use std::time::Instant;

use str0m::format::Codec;
use str0m::media::{MediaKind, Mid};

use super::{Format, Outgoing, Sfu};
use crate::sfu::messages::{ParticipantInfo, ParticipantKind, ServerMessage};
use crate::sfu::peer::{Peer, TrackId};

/// The far end's voices, for the box's own loudspeaker.
#[derive(Debug, Clone)]
pub enum FarAudio {
    /// A remote participant's Opus packet (`seq` extended).
    Packet { participant: ParticipantId, seq: u64, payload: std::sync::Arc<[u8]> },
    /// They left: their voice stops at once.
    Left(ParticipantId),
}

/// The box itself, as a participant (its camera and microphone).
pub const ROOM_ID: ParticipantId = ParticipantId(0);
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
    /// Whom the room's audio carries, for the dominant speaker.
    pub voice: RoomVoice,
    pub captured: Instant,
}

/// Whom a packet of the room's audio carries, as the room's listening
/// heard it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoomVoice {
    /// A talker the microphone array placed at this seat.
    Seat(usize),
    /// Nobody the array placed: what it hears (the loudspeaker's echo
    /// that the canceller let through, a door, the fan) does not compete
    /// for the floor. Also video, and a muted room.
    Nobody,
    /// The room as a whole: a microphone that cannot place talkers.
    Whole,
}

/// Who may hold the floor: a participant, or a seat of the room (the box's
/// microphone array tells its talkers apart), so "who is speaking" is one
/// decision across the room and the phones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Talker {
    Participant(ParticipantId),
    Seat(usize),
}

impl Talker {
    /// The participant this talker is part of.
    pub fn participant(self) -> ParticipantId {
        match self {
            Talker::Participant(id) => id,
            Talker::Seat(_) => ROOM_ID,
        }
    }

    pub fn seat(self) -> Option<usize> {
        match self {
            Talker::Seat(seat) => Some(seat),
            Talker::Participant(_) => None,
        }
    }
}

/// A remote level this loud counts as far-end voice even without the
/// voice-activity flag (some senders leave it unset).
pub(super) const FAR_VOICE_DBOV: u8 = 40;

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
        self.speaker.add(Talker::Participant(ROOM_ID), now);
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
        let talker = match packet.voice {
            RoomVoice::Seat(seat) => Some(Talker::Seat(seat)),
            RoomVoice::Whole => Some(Talker::Participant(ROOM_ID)),
            RoomVoice::Nobody => None,
        };
        if let (Some(level), Some(talker)) = (packet.dbov, talker) {
            // A seat takes part from its first words.
            self.speaker.add(talker, now);
            self.speaker.handle_level(&talker, level, now);
        }
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

    /// The box's microphones were muted or unmuted (its button, or the
    /// admin page): every page is told, as for a phone's mute.
    pub fn set_room_muted(&mut self, muted: bool, now: Instant) {
        let Some(room) = self.room.as_mut().filter(|r| r.audio_muted != muted) else { return };
        room.audio_muted = muted;
        let video = room.video_muted;
        self.broadcast(ServerMessage::Muted { id: ROOM_ID, audio: muted, video });
        let everyone: Vec<ParticipantId> = self.peers.iter().map(|p| p.id()).collect();
        self.settle_after(everyone, now);
    }

    /// The box plays the far end itself: remote participants' Opus is kept
    /// for [`Self::poll_far_audio`].
    pub fn play_far_end(&mut self, play: bool) {
        self.far_audio = play.then(std::collections::VecDeque::new);
    }

    /// The next far-end packet (or departure) for the loudspeaker.
    pub fn poll_far_audio(&mut self) -> Option<FarAudio> {
        self.far_audio.as_mut()?.pop_front()
    }

    /// When a remote participant's voice last came through (the room's
    /// display may be playing it), once per change.
    pub fn take_far_voice(&mut self) -> Option<Instant> {
        self.far_voice.take()
    }

    /// True once after a viewer asked for a keyframe of the room's video.
    pub fn take_room_keyframe_request(&mut self) -> bool {
        std::mem::take(&mut self.room_keyframe)
    }
}
