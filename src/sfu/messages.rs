//! What the box and a participant's page say to each other over the WebRTC
//! data channel (label `room`): JSON objects tagged by `type`.

use crate::events::ParticipantId;
use serde::{Deserialize, Serialize};

/// A participant, as every page sees it. Ids are small numbers, unique for
/// the box's lifetime; each phone's media streams carry its id as stream id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParticipantInfo {
    pub id: ParticipantId,
    pub name: String,
    pub kind: ParticipantKind,
    pub audio_muted: bool,
    pub video_muted: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ParticipantKind {
    /// Publishes its camera and microphone, receives everyone.
    Phone,
    /// A screen in the room: receives only.
    Display,
    /// The box itself: the room's camera and microphone.
    Room,
    /// A WHIP publisher (OBS, an encoder): publishes, receives nothing.
    Ingest,
    /// A WHEP player: receives the room's camera and microphone.
    Viewer,
}

impl ParticipantKind {
    /// Pages with a data channel, which get every track by renegotiation.
    pub fn receives_everyone(self) -> bool {
        matches!(self, ParticipantKind::Phone | ParticipantKind::Display)
    }

    /// Whether videos may be held back when the link's estimate cannot
    /// carry even their smallest layers. Not on the room's screen: it is
    /// what the room looks at, usually wired, and a busy machine (the
    /// box's or the screen's) makes the estimate fall where no link is
    /// short (measured: 80–380 kbit/s over loopback with both cores busy,
    /// pausing every video but one). It gets every smallest layer instead.
    pub fn may_pause_videos(self) -> bool {
        self != ParticipantKind::Display
    }
}

/// Box → page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    /// First message on the channel: who you are and who is here.
    Welcome {
        you: ParticipantId,
        room: String,
        participants: Vec<ParticipantInfo>,
        active_speaker: Option<ParticipantId>,
    },
    /// A renegotiation offer (tracks added or removed); answer with `answer`.
    Offer {
        sdp: String,
    },
    /// The answer to the page's own renegotiation offer.
    Answer {
        sdp: String,
    },
    ParticipantJoined {
        participant: ParticipantInfo,
    },
    ParticipantLeft {
        id: ParticipantId,
    },
    Muted {
        id: ParticipantId,
        audio: bool,
        video: bool,
    },
    /// Who speaks now, across the room and the phones (`null`: nobody);
    /// for the room, which of its seats.
    ActiveSpeaker {
        id: Option<ParticipantId>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seat: Option<usize>,
    },
    /// The box holds `id`'s video back from this page, or sends it again:
    /// the page's link cannot carry every picture (audio always goes).
    VideoPaused {
        id: ParticipantId,
        paused: bool,
    },
    /// A message from the page was not understood; nothing changed.
    Error {
        message: String,
    },
}

/// Page → box.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientMessage {
    Answer {
        sdp: String,
    },
    /// The page renegotiates (an ICE restart after a network change).
    Offer {
        sdp: String,
    },
    Mute {
        audio: bool,
        video: bool,
    },
    /// Which participants this page shows large (the rest as thumbnails);
    /// `null` goes back to the box's choice (the active speaker large).
    Layout {
        large: Option<Vec<ParticipantId>>,
    },
    Leave,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_format_is_plain_tagged_json() {
        let m = ServerMessage::ActiveSpeaker { id: Some(ParticipantId(3)), seat: None };
        assert_eq!(serde_json::to_string(&m).unwrap(), r#"{"type":"active_speaker","id":3}"#);
        let c: ClientMessage = serde_json::from_str(r#"{"type":"mute","audio":true,"video":false}"#).unwrap();
        assert_eq!(c, ClientMessage::Mute { audio: true, video: false });
        assert!(serde_json::from_str::<ClientMessage>(r#"{"type":"mute","audio":true}"#).is_err());
        assert!(serde_json::from_str::<ClientMessage>(r#"{"type":"reboot"}"#).is_err());
    }
}
