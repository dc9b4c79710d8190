//! The room's sound, on one thread, block by block: the array is heard
//! (voice activity, direction; [`Listener`]), far-end playback is gated out
//! ([`FarEnd`]), the director frames the talker ([`Director`]), and the
//! room's voice goes out steered toward them ([`Mixdown`], Opus with its
//! level, tagged with the talker's seat for the dominant-speaker decision).
//! Every decision is in those sans-IO parts; this is their shell.

use std::sync::Arc;
use std::time::{Duration, Instant};

use str0m::media::MediaKind;
use tokio::sync::broadcast::Receiver;
use tokio::sync::{mpsc, watch};

use super::playing::Played;
use super::room_media::next_within;
use crate::audio::echo::{SILENT_DBFS, dbfs};
use crate::audio::{Cleanup, EchoCanceller, EchoStats, FarEnd, Heard, Listener, Mixdown, Reference};
use crate::capture::AudioBlock;
use crate::codec::{CodecError, OPUS_FRAME, RoomAudio};
use crate::director::{CameraView, Director, DirectorConfig, Program, Shot};
use crate::events::{BoxEvent, EventBus};
use crate::sfu::{LocalPacket, RoomControl, RoomVoice};
use crate::supervisor::Part;

/// Without a block this long, the microphone counts as away and silence goes
/// out (phones keep a live audio track rather than a stalled one).
const MIC_AWAY: Duration = Duration::from_millis(200);

/// What the room's listening decides with, and where its decisions go.
pub struct Ears {
    /// Microphone positions, in the blocks' channel order.
    mics: Vec<[f32; 3]>,
    director: Director,
    far_end: FarEnd,
    /// Camera names, in the director's order.
    cameras: Vec<String>,
    /// The shot on air, for the room's video.
    pub program: watch::Sender<Program>,
    /// The talker's direction (degrees), for the LED ring.
    pub talker: watch::Sender<Option<f32>>,
    /// The room's sound level (dBFS of the mixdown), for the admin page.
    pub level: watch::Sender<f32>,
    /// The admin's director settings, followed while the box runs.
    settings: Option<watch::Receiver<crate::config::DirectorSettings>>,
    /// The settings the director took, once it took them.
    pub in_use: watch::Sender<crate::config::DirectorSettings>,
    /// How the microphones' sound is cleaned; the loudspeaker's echo is
    /// only cancelled while there is a loudspeaker to hear (`played`).
    cleanup: Cleanup,
    played: Option<Receiver<Arc<Played>>>,
    /// The echo canceller's figures, for the admin page and `/metrics`.
    pub echo: watch::Sender<EchoStats>,
    events: EventBus,
    started: Instant,
}

impl Ears {
    /// `cameras` must not be empty.
    pub fn new(
        mics: Vec<[f32; 3]>,
        config: DirectorConfig,
        cameras: Vec<(String, CameraView)>,
        events: EventBus,
        started: Instant,
    ) -> Self {
        let (names, views): (Vec<String>, Vec<CameraView>) = cameras.into_iter().unzip();
        let director = Director::new(config, views, started);
        Ears {
            program: watch::channel(director.program()).0,
            talker: watch::channel(None).0,
            level: watch::channel(SILENT_DBFS).0,
            settings: None,
            in_use: watch::channel(crate::config::DirectorSettings::default()).0,
            cleanup: Cleanup { echo: false, noise: false, gain: false },
            played: None,
            echo: watch::channel(EchoStats::default()).0,
            mics,
            director,
            far_end: FarEnd::default(),
            cameras: names,
            events,
            started,
        }
    }

    /// Cleans the microphones' sound as `cleanup` says, with what the
    /// loudspeaker plays (`played`, when the box has one) as the echo
    /// canceller's reference.
    pub fn clean(&mut self, cleanup: Cleanup, played: Option<Receiver<Arc<Played>>>) {
        self.cleanup = Cleanup { echo: cleanup.echo && played.is_some(), ..cleanup };
        self.played = played;
    }

    /// Takes what the loudspeaker played since the last block.
    fn take_played(&mut self, hearing: Option<&mut Hearing>) {
        let Some(played) = self.played.as_mut() else { return };
        let mut hearing = hearing;
        loop {
            let p = match played.try_recv() {
                Ok(p) => p,
                Err(tokio::sync::broadcast::error::TryRecvError::Lagged(_)) => continue,
                Err(_) => return,
            };
            // The gate knows the loudspeaker plays from the sound itself,
            // not only from the phones' level flags (a client may send none).
            self.far_end.played(p.sounds_at, &p.samples);
            let Some(h) = hearing.as_deref_mut() else { continue };
            let reference = h.reference.get_or_insert_with(|| Reference::new(h.rate, p.rate, h.block_frames));
            reference.played(p.sounds_at, &p.samples);
        }
    }

    /// Follows the admin's director settings from now on.
    pub fn follow(&mut self, mut settings: watch::Receiver<crate::config::DirectorSettings>) {
        self.in_use.send_replace(settings.borrow_and_update().clone());
        self.settings = Some(settings);
    }

    /// One piece of evidence for the director, through the far-end gate.
    fn hear(&mut self, at: Instant, azimuth_deg: Option<f32>) {
        if let Some(settings) = self.settings.as_mut().filter(|s| s.has_changed().unwrap_or(false)) {
            let taken = settings.borrow_and_update().clone();
            tracing::info!(reaction_ms = taken.reaction_ms.get(), "director settings changed");
            self.director.set_config(taken.director());
            self.in_use.send_replace(taken);
        }
        let admitted = self.far_end.admit(at, azimuth_deg);
        let Some(framing) = self.director.hear(at, admitted) else { return };
        self.program.send_replace(self.director.program());
        let camera = self.cameras.get(framing.camera).cloned().unwrap_or_default();
        match framing.shot {
            Shot::Speaker { azimuth_deg, .. } => tracing::debug!(%camera, azimuth_deg, "speaker view"),
            Shot::Group => tracing::debug!(%camera, "group view"),
        }
        let uptime_ms = at.saturating_duration_since(self.started).as_millis() as u64;
        let _ = self.events.send(BoxEvent::Framing { camera, shot: framing.shot, crop: framing.crop, uptime_ms });
    }

    /// The talker at `now`, published for the LED ring when it changes.
    fn talker(&mut self, now: Instant) -> Option<(usize, f32)> {
        let talker = self.director.talker(now);
        let direction = talker.map(|(_, azimuth)| azimuth);
        self.talker.send_if_modified(|shown| {
            let moved = match (*shown, direction) {
                (Some(a), Some(b)) => (a - b).abs() >= 1.0,
                (a, b) => a.is_some() != b.is_some(),
            };
            if moved {
                *shown = direction;
            }
            moved
        });
        talker
    }
}

/// The per-format state: rebuilt if the array comes back in another shape.
struct Hearing {
    rate: u32,
    channels: u16,
    /// None where direction finding cannot work (one microphone, blocks that
    /// do not match the geometry, a rate voice activity does not take).
    listener: Option<Listener>,
    /// Echo cancellation, noise suppression and gain control, when any is
    /// on; the loudspeaker's sound lined up with the microphones.
    echo: Option<EchoCanceller>,
    reference: Option<Reference>,
    reference_block: Vec<f32>,
    /// Samples per block (the reference is taken a block at a time).
    block_frames: usize,
    mixdown: Mixdown,
    encoder: RoomAudio,
    split: Vec<Vec<f32>>,
    heard: Vec<Heard>,
    mono: Vec<f32>,
    /// Samples heard so far (the listener's clock).
    samples: u64,
}

impl Hearing {
    fn new(mics: &[[f32; 3]], block: &AudioBlock, cleanup: Cleanup) -> Result<Self, CodecError> {
        let matches = usize::from(block.channels) == mics.len();
        let listener = match Listener::new(mics, block.rate) {
            Ok(l) if matches && mics.len() >= 2 => Some(l),
            Ok(_) => {
                tracing::warn!(channels = block.channels, mics = mics.len(), "no direction finding on this microphone");
                None
            }
            Err(e) => {
                tracing::warn!(error = %e, "no direction finding at this rate");
                None
            }
        };
        // Without the geometry, the mixdown is a plain average.
        let positions: Vec<[f32; 3]> =
            if matches { mics.to_vec() } else { vec![[0.0; 3]; usize::from(block.channels.max(1))] };
        Ok(Hearing {
            rate: block.rate,
            channels: block.channels,
            listener,
            echo: (cleanup.echo || cleanup.noise || cleanup.gain)
                .then(|| EchoCanceller::new(block.rate, usize::from(block.channels), cleanup)),
            reference: None,
            reference_block: Vec::new(),
            block_frames: block.frames(),
            mixdown: Mixdown::new(&positions, block.rate),
            encoder: RoomAudio::new(block.rate)?,
            split: Vec::new(),
            heard: Vec::new(),
            mono: Vec::new(),
            samples: 0,
        })
    }

    /// Hears one block; the room's voice is left in `self.mono`. Returns
    /// whom it carries: the placed talker's seat; where the array places
    /// talkers, nobody without one (so the canceller's leftover echo of a
    /// phone cannot take the floor from that phone); else the whole room.
    fn hear(&mut self, block: &AudioBlock, ears: &mut Ears) -> RoomVoice {
        block.split_channels(&mut self.split);
        if let Some(echo) = &mut self.echo {
            self.reference_block.resize(block.frames(), 0.0);
            match &mut self.reference {
                Some(reference) => reference.take(block.captured_at, &mut self.reference_block),
                None => self.reference_block.fill(0.0),
            }
            echo.process(&mut self.split, &self.reference_block);
            if block.seq.is_multiple_of(25) {
                ears.echo.send_replace(echo.stats());
            }
        }
        let refs: Vec<&[f32]> = self.split.iter().map(Vec::as_slice).collect();
        let start = self.samples;
        self.samples += block.frames() as u64;
        let end = block.captured_at + samples_to_time(block.frames() as u64, self.rate);
        if let Some(listener) = &mut self.listener {
            self.heard.clear();
            listener.push(&refs, &mut self.heard);
            for h in &self.heard {
                let at = block.captured_at + samples_to_time(h.end_sample.saturating_sub(start), self.rate);
                ears.hear(at, h.azimuth_deg);
            }
        } else {
            ears.hear(end, None);
        }
        let talker = ears.talker(end);
        self.mixdown.mix(&refs, talker.map(|(_, azimuth)| azimuth), &mut self.mono);
        ears.level.send_replace(dbfs(&self.mono));
        match talker {
            Some((seat, _)) => RoomVoice::Seat(seat),
            None if self.listener.is_some() => RoomVoice::Nobody,
            None => RoomVoice::Whole,
        }
    }
}

fn samples_to_time(samples: u64, rate: u32) -> Duration {
    Duration::from_micros(samples * 1_000_000 / u64::from(rate.max(1)))
}

/// The room-audio thread: ends when the box stops or the microphone's feed
/// closes; `Err` when the room's sound cannot be encoded.
pub(super) fn listen(
    part: &Part,
    mut blocks: Receiver<Arc<AudioBlock>>,
    muted: watch::Receiver<bool>,
    mut ears: Ears,
    control: &RoomControl,
    out: &mpsc::Sender<LocalPacket>,
) -> Result<(), String> {
    let mut hearing: Option<Hearing> = None;
    let (mut seq, mut time) = (0u64, 0u32);
    let mut away = false;
    while !part.stopping() {
        part.alive();
        let block = match next_within(&mut blocks, MIC_AWAY) {
            Ok(Some(block)) => {
                if std::mem::take(&mut away) {
                    tracing::info!("room microphone back");
                }
                Some(block)
            }
            Ok(None) => {
                if !away {
                    tracing::warn!("room microphone away; sending silence");
                    away = true;
                }
                None
            }
            Err(()) => return Ok(()),
        };
        if let Some(at) = control.far_voice() {
            ears.far_end.far_voice(at);
        }
        ears.take_played(hearing.as_mut());
        let (packets, voice, captured) = match (block, &mut hearing) {
            (Some(block), _) => {
                if hearing.as_ref().is_none_or(|h| h.rate != block.rate || h.channels != block.channels) {
                    hearing = match Hearing::new(&ears.mics, &block, ears.cleanup) {
                        Ok(h) => Some(h),
                        Err(e) => return Err(format!("no room audio: {e}")),
                    };
                }
                let Some(h) = hearing.as_mut() else { continue };
                let voice = h.hear(&block, &mut ears);
                (h.encoder.push(&h.mono, *muted.borrow()), voice, block.captured_at)
            }
            // Silence as long as the wait, in the last block's format.
            (None, Some(h)) => {
                let now = Instant::now();
                ears.hear(now, None);
                ears.talker(now);
                let quiet = vec![0.0; (MIC_AWAY.as_micros() as u64 * u64::from(h.rate) / 1_000_000) as usize];
                (h.encoder.push(&quiet, true), RoomVoice::Nobody, now)
            }
            (None, None) => continue,
        };
        let packets = match packets {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(error = %e, "room audio not encoded");
                continue;
            }
        };
        let voice = if *muted.borrow() { RoomVoice::Nobody } else { voice };
        for p in packets {
            seq += 1;
            time = time.wrapping_add(OPUS_FRAME as u32);
            let packet = LocalPacket {
                kind: MediaKind::Audio,
                payload: p.payload,
                seq,
                time,
                marker: false,
                keyframe: false,
                dbov: Some(p.dbov),
                voice,
                captured,
            };
            if let Err(mpsc::error::TrySendError::Closed(_)) = out.try_send(packet) {
                return Ok(());
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::room_media::drain;
    use crate::audio::BoardProfile;
    use crate::capture::SampleFormat;
    use crate::capture::sim::{RoomScene, SimulatedMicArray};
    use tokio::sync::broadcast;

    fn ears(mics: Vec<[f32; 3]>) -> (Ears, broadcast::Receiver<BoxEvent>) {
        let (events, rx) = broadcast::channel(64);
        let camera = CameraView { azimuth_deg: 0.0, hfov_deg: 120.0 };
        (Ears::new(mics, DirectorConfig::default(), vec![("main".into(), camera)], events, Instant::now()), rx)
    }

    #[test]
    fn while_the_microphone_is_away_silence_goes_out() {
        let (blocks_tx, blocks) = broadcast::channel(8);
        let (out, mut packets) = mpsc::channel(4096);
        let (_muted_tx, muted) = watch::channel(false);
        let (ears, _) = ears(vec![[0.0; 3]]);
        let part = Part::detached("room-audio");
        let thread = std::thread::spawn(move || listen(&part, blocks, muted, ears, &RoomControl::default(), &out));
        let block = |seq| AudioBlock {
            seq,
            captured_at: Instant::now(),
            rate: 16_000,
            channels: 1,
            format: SampleFormat::S16Le,
            samples: (0..320).map(|i| ((i as f32 * 0.3).sin() * 8000.0) as i32).collect(),
        };
        for seq in 0..10 {
            blocks_tx.send(Arc::new(block(seq))).unwrap();
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(!drain(&mut packets, Duration::from_millis(100)).is_empty());

        let quiet = drain(&mut packets, Duration::from_millis(1000));
        // 50 packets a second when live; most of that while away.
        let silent = quiet.iter().filter(|p| p.dbov.is_some_and(|d| d >= 100)).count();
        assert!(silent >= 30, "silence keeps the track going: {silent} of {} packets", quiet.len());

        drop(blocks_tx);
        assert_eq!(thread.join().unwrap(), Ok(()), "the feed closing ends the thread quietly");
    }

    /// Runs `scene` on the 6-mic HAT through a [`Hearing`] for `seconds`,
    /// faster than real time; returns the seats of the packets' blocks.
    fn hear_scene(ears: &mut Ears, scene: RoomScene, seconds: u64, far_voice: bool) -> Vec<RoomVoice> {
        let profile = BoardProfile::Respeaker6MicHat;
        let block_len = Duration::from_millis(20);
        let mut mic = SimulatedMicArray::new(&profile.geometry(), 16_000, SampleFormat::S32Le, block_len, scene);
        let start = Instant::now();
        let mut hearing = None;
        let mut seats = Vec::new();
        for seq in 0..seconds * 50 {
            let captured_at = start + block_len * seq as u32;
            if far_voice {
                ears.far_end.far_voice(captured_at);
            }
            let block = AudioBlock {
                seq,
                captured_at,
                rate: 16_000,
                channels: 6,
                format: SampleFormat::S32Le,
                samples: mic.render_block(),
            };
            let h = hearing.get_or_insert_with(|| Hearing::new(&ears.mics, &block, ears.cleanup).unwrap());
            seats.push(h.hear(&block, ears));
        }
        seats
    }

    fn talker_at(azimuth: f32) -> RoomScene {
        RoomScene {
            talkers: vec![(azimuth, 140.0)],
            turn: Duration::from_secs(10),
            pause: Duration::ZERO,
            speech_dbfs: -26.0,
            noise_dbfs: -60.0,
            seed: 5,
        }
    }

    #[test]
    fn a_talker_is_framed_their_seat_tagged_and_shown_on_the_ring() {
        let (mut ears, mut events) = ears(BoardProfile::Respeaker6MicHat.geometry().positions);
        let seats = hear_scene(&mut ears, talker_at(40.0), 3, false);
        let Ok(BoxEvent::Framing { shot: Shot::Speaker { azimuth_deg, .. }, crop, .. }) = events.try_recv() else {
            panic!("the talker was framed")
        };
        assert!(crate::audio::doa::angle_between(azimuth_deg, 40.0) < 5.0, "{azimuth_deg}");
        assert!(crop.centre_x() < 0.5, "40° is left of the camera's centre");
        assert!(
            seats[100..].iter().all(|v| matches!(v, RoomVoice::Seat(_))),
            "the room's audio names the talker's seat"
        );
        let ring = ears.talker.borrow().expect("the ring points at the talker");
        assert!(crate::audio::doa::angle_between(ring, 40.0) < 5.0);
    }

    #[test]
    fn the_display_playing_the_far_end_is_not_taken_for_a_talker() {
        let (mut ears, mut events) = ears(BoardProfile::Respeaker6MicHat.geometry().positions);
        // The display's loudspeaker at 150° plays a phone's voice.
        let voices = hear_scene(&mut ears, talker_at(150.0), 3, true);
        assert!(events.try_recv().is_err(), "the picture did not move");
        assert!(voices.iter().all(|v| *v == RoomVoice::Nobody), "nor does the room's audio claim the floor");
        assert!(ears.far_end.loudspeaker().is_some_and(|a| crate::audio::doa::angle_between(a, 150.0) < 10.0));
    }
}
