//! The check-in thread: a few frames a second from the main camera, faces
//! found, followed and recognised ([`Attendance`] decides), check-ins
//! written to the store and told on the event bus, and the faces of each
//! frame published for the director.
//!
//! While check-in is off the thread does not read frames at all, so no
//! frame reaches the models.

// The check-in thread's shell gives the pipeline the time.
#![allow(clippy::disallowed_methods)]

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::{broadcast, watch};

use super::checkin::{Attendance, AttendanceEvent, CheckInRules};
use super::{Gallery, Models, PersonId, Picture, detect};
use crate::capture::{Frame, PixelFormat};
use crate::events::{BoxEvent, EventBus, MeetingId};
use crate::store::Store;
use crate::supervisor::{Part, Progress, Supervisor};

/// What the web side tells the thread.
#[derive(Debug)]
pub enum Command {
    Enable(bool),
    /// People were enrolled or deleted: read the gallery again.
    GalleryChanged,
    /// A person was deleted: forget them now.
    Forget(PersonId),
    /// The admin changed how sure a match must be, or how long check-ins
    /// are kept.
    Tune {
        threshold: f32,
        retention: Duration,
    },
}

/// A face in the latest analysed frame, in fractions of the picture.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FaceBox {
    pub x: f32,
    pub y: f32,
    pub w: f32,
    pub h: f32,
    pub person: Option<PersonId>,
}

#[derive(Debug, Clone)]
pub struct PipelineSettings {
    pub fps: u32,
    pub analysis_width: u32,
    pub threshold: f32,
    pub retention: Duration,
    pub rules: CheckInRules,
}

pub struct Pipeline {
    models: Arc<Models>,
    settings: PipelineSettings,
    store: Store,
    events: EventBus,
    faces: watch::Sender<Vec<FaceBox>>,
    attendance: Attendance,
    gallery: Gallery,
    names: HashMap<PersonId, String>,
    /// The meeting this one's check-ins go to: its row is made at the
    /// first check-in (a meeting nobody enrolled attended leaves no trace).
    meeting: Option<MeetingId>,
    last_expiry: Option<Instant>,
}

/// How long the check-in thread may go without a round of its loop (one
/// frame's analysis, or an idle tick) before it counts as stalled.
const STALL: Duration = Duration::from_secs(20);
/// While check-in is off the thread still wakes this often (to show it is
/// alive, and to see the box stopping).
const IDLE_TICK: Duration = Duration::from_millis(500);

/// Starts the `checkin` thread under `supervisor`; returns its inbox.
/// `frames` comes from the main camera; `meetings_ended` counts the meetings
/// that ended (`crate::meeting`), each closing its attendance. The thread
/// ends when the box stops or the inbox closes.
pub fn spawn(
    supervisor: &Supervisor,
    mut pipeline: Pipeline,
    mut frames: broadcast::Receiver<Arc<Frame>>,
    mut meetings_ended: watch::Receiver<u64>,
    enabled: bool,
) -> std::io::Result<Sender<Command>> {
    let (commands, inbox) = std::sync::mpsc::channel();
    supervisor.thread("checkin", Progress::Within(STALL), move |part| {
        pipeline.run(part, &mut frames, &mut meetings_ended, &inbox, enabled);
        Ok(())
    })?;
    Ok(commands)
}

impl Pipeline {
    /// The analysis without its thread (the benchmark drives it); each
    /// frame's faces go to `faces` (the director and the API read them).
    pub fn new(
        models: Arc<Models>,
        settings: PipelineSettings,
        store: Store,
        events: EventBus,
        faces: watch::Sender<Vec<FaceBox>>,
    ) -> Pipeline {
        let mut pipeline = Pipeline {
            attendance: Attendance::new(settings.rules),
            models,
            settings,
            store,
            events,
            faces,
            gallery: Gallery::default(),
            names: HashMap::new(),
            meeting: None,
            last_expiry: None,
        };
        pipeline.reload_gallery();
        pipeline
    }

    fn run(
        &mut self,
        part: &Part,
        frames: &mut broadcast::Receiver<Arc<Frame>>,
        meetings_ended: &mut watch::Receiver<u64>,
        inbox: &Receiver<Command>,
        mut enabled: bool,
    ) {
        let period = Duration::from_secs_f64(1.0 / self.settings.fps.max(1) as f64);
        let mut next = Instant::now();
        while !part.stopping() {
            part.alive();
            if meetings_ended.has_changed().unwrap_or(false) {
                meetings_ended.mark_unchanged();
                self.meeting_ended(crate::system::unix_now());
            }
            let wait = if enabled { next.saturating_duration_since(Instant::now()) } else { IDLE_TICK };
            match inbox.recv_timeout(wait) {
                Ok(Command::Enable(on)) => {
                    if on && !enabled {
                        // Frames queued while off are never looked at.
                        *frames = frames.resubscribe();
                        next = Instant::now();
                    }
                    if !on {
                        self.attendance = Attendance::new(self.settings.rules);
                        self.faces.send_replace(Vec::new());
                    }
                    tracing::info!(enabled = on, "face check-in");
                    enabled = on;
                    continue;
                }
                Ok(Command::GalleryChanged) => {
                    self.reload_gallery();
                    continue;
                }
                Ok(Command::Tune { threshold, retention }) => {
                    tracing::info!(threshold, retention_days = retention.as_secs() / 86_400, "check-in settings");
                    (self.settings.threshold, self.settings.retention) = (threshold, retention);
                    continue;
                }
                Ok(Command::Forget(person)) => {
                    self.attendance.forget(person);
                    self.reload_gallery();
                    continue;
                }
                Err(RecvTimeoutError::Disconnected) => return,
                Err(RecvTimeoutError::Timeout) if !enabled => continue,
                Err(RecvTimeoutError::Timeout) => {}
            }
            let now = Instant::now();
            next = (next + period).max(now);
            let Some(frame) = newest(frames) else {
                if frames.is_closed() {
                    return;
                }
                continue;
            };
            if frame.format != PixelFormat::I420 {
                continue; // A passthrough camera's H.264 has no pixels here.
            }
            let unix = crate::system::unix_now();
            if let Err(e) = self.analyse(&frame, now, unix) {
                tracing::warn!(error = %e, "face check-in: a frame could not be analysed");
            }
            self.housekeeping(now, unix);
        }
    }

    /// Finds, follows and recognises the faces of one frame.
    /// `now` on the monotonic clock, `unix` on the wall clock (what the
    /// store records).
    pub fn analyse(&mut self, frame: &Frame, now: Instant, unix: i64) -> Result<(), super::ModelError> {
        let picture = Picture::from_i420(&frame.data, frame.width, frame.height);
        let k = (self.settings.analysis_width as f32 / frame.width as f32).min(1.0);
        let small = if k < 1.0 { picture.scaled(k) } else { picture.clone() };
        let faces: Vec<_> =
            self.models.detector.detect(&small, detect::MIN_SCORE)?.into_iter().map(|f| f.scaled(1.0 / k)).collect();
        let rects: Vec<_> = faces.iter().map(|f| f.rect).collect();
        for (index, track) in self.attendance.observe(now, &rects) {
            // Nobody enrolled: nobody to recognise, nothing to compute.
            let found = if self.gallery.is_empty() {
                None
            } else {
                let embedding = self.models.embedder.embed(&picture, &faces[index])?;
                self.gallery.identify(&embedding, self.settings.threshold)
            };
            self.attendance.identified(now, track, found);
        }
        let (w, h) = (frame.width as f32, frame.height as f32);
        let boxes = self
            .attendance
            .faces(now)
            .into_iter()
            .map(|f| FaceBox { x: f.rect.x / w, y: f.rect.y / h, w: f.rect.w / w, h: f.rect.h / h, person: f.person })
            .collect();
        // The faces first: whoever hears of a check-in finds that face
        // named already.
        self.faces.send_replace(boxes);
        while let Some(event) = self.attendance.poll_event() {
            self.record(event, unix);
        }
        Ok(())
    }

    fn record(&mut self, event: AttendanceEvent, now: i64) {
        let (person, similarity) = match event {
            AttendanceEvent::CheckedIn { person, similarity, .. } => (person, Some(similarity)),
            AttendanceEvent::StillHere { person, .. } => (person, None),
        };
        let meeting = match self.meeting {
            Some(m) => m,
            None => match self.store.current_meeting(now) {
                Ok(m) => *self.meeting.insert(m),
                Err(e) => return tracing::error!(error = %e, "cannot start a meeting for a check-in"),
            },
        };
        if let Err(e) = self.store.check_in(meeting, person, now) {
            return tracing::error!(error = %e, %person, "cannot record a check-in");
        }
        if let Some(similarity) = similarity {
            let name = self.names.get(&person).cloned().unwrap_or_default();
            tracing::info!(%person, %name, %meeting, similarity, "checked in");
            let _ = self.events.send(BoxEvent::CheckIn { person, name, meeting, similarity });
        }
    }

    /// The meeting is over: its attendance is closed (at `unix`), and
    /// everyone checks in afresh to the next.
    pub fn meeting_ended(&mut self, unix: i64) {
        if self.meeting.take().is_some()
            && let Err(e) = self.store.end_meeting(unix)
        {
            tracing::error!(error = %e, "cannot end the meeting");
        }
        self.attendance.new_meeting();
    }

    /// Expires old check-ins, hourly.
    fn housekeeping(&mut self, now: Instant, unix: i64) {
        if self.last_expiry.is_none_or(|t| now.duration_since(t) >= Duration::from_secs(3600)) {
            self.last_expiry = Some(now);
            match self.store.expire_checkins(unix - self.settings.retention.as_secs() as i64) {
                Ok(0) => {}
                Ok(n) => tracing::info!(removed = n, "expired old check-ins"),
                Err(e) => tracing::error!(error = %e, "cannot expire old check-ins"),
            }
        }
    }

    fn reload_gallery(&mut self) {
        match (self.store.embeddings(), self.store.people()) {
            (Ok(entries), Ok(people)) => {
                self.gallery = Gallery::new(entries);
                self.names = people.into_iter().map(|p| (p.id, p.name)).collect();
            }
            (Err(e), _) | (_, Err(e)) => tracing::error!(error = %e, "cannot read the enrolled people"),
        }
    }
}

/// The newest frame waiting, dropping older ones (only the present matters).
fn newest(frames: &mut broadcast::Receiver<Arc<Frame>>) -> Option<Arc<Frame>> {
    let mut latest = None;
    loop {
        match frames.try_recv() {
            Ok(frame) => latest = Some(frame),
            Err(broadcast::error::TryRecvError::Lagged(_)) => continue,
            Err(_) => return latest,
        }
    }
}
