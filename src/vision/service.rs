//! Check-in as the rest of the box sees it: whether it can run, its
//! switches, the faces it sees, and enrollment (a photo or the camera's
//! picture in, a person's face in the store out).

// A shell: it waits for the camera.
#![allow(clippy::disallowed_methods)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{broadcast, watch};

use super::checkin::CheckInRules;
use super::pipeline::{self, Command, FaceBox, Pipeline, PipelineSettings};
use super::{EnrollError, Models, PersonId, PhotoLimits, Picture};
use crate::capture::{Feed, Frame, PixelFormat};
use crate::config::CheckInConfig;
use crate::events::EventBus;
use crate::store::Store;
use crate::supervisor::Supervisor;

/// Where an enrollment picture comes from.
pub enum PictureSource {
    /// A photo as uploaded (JPEG or PNG).
    Upload(Vec<u8>),
    /// The main camera's next picture.
    Camera,
}

/// Whose face is enrolled.
pub enum Enrollee {
    New { name: String, email: Option<String> },
    Existing(PersonId),
}

pub struct CheckInService {
    /// The models, or why they are missing (check-in cannot run then).
    models: Result<Arc<Models>, String>,
    config: Mutex<CheckInConfig>,
    limits: PhotoLimits,
    /// The admin's setting.
    enabled: AtomicBool,
    /// The hardware privacy switch, engaged.
    privacy: AtomicBool,
    commands: Mutex<Option<Sender<Command>>>,
    faces: watch::Receiver<Vec<FaceBox>>,
    /// Only resubscribed from, never read: holding a sender would keep the
    /// camera's channel open after the camera stops.
    camera: Mutex<broadcast::Receiver<Arc<Frame>>>,
    store: Store,
}

impl CheckInService {
    /// Loads the models (blocking) and starts the check-in thread, which
    /// publishes each analysed frame's faces to `faces` and closes a
    /// meeting's attendance when `meetings_ended` counts one more; without
    /// models the service only answers that check-in is unavailable.
    pub fn start(
        supervisor: &Supervisor,
        config: CheckInConfig,
        camera: Feed<Frame>,
        store: Store,
        events: EventBus,
        meetings_ended: watch::Receiver<u64>,
        faces: watch::Sender<Vec<FaceBox>>,
    ) -> Arc<Self> {
        let models = Models::load(&config.models_dir).map(Arc::new).map_err(|e| {
            tracing::warn!(error = %e, "face check-in is unavailable");
            e.to_string()
        });
        let (mut commands, faces_rx) = (None, faces.subscribe());
        if let Ok(models) = &models {
            let settings = PipelineSettings {
                fps: config.fps.as_u32(),
                analysis_width: config.analysis_width.as_u32(),
                threshold: config.threshold(),
                retention: config.retention(),
                rules: CheckInRules::default(),
            };
            let frames = camera.subscribe();
            let pipeline = Pipeline::new(models.clone(), settings, store.clone(), events, faces);
            match pipeline::spawn(supervisor, pipeline, frames, meetings_ended, config.enabled) {
                Ok(inbox) => commands = Some(inbox),
                Err(e) => tracing::error!(error = %e, "cannot start the check-in thread"),
            }
        }
        let enabled = AtomicBool::new(config.enabled && commands.is_some());
        Arc::new(CheckInService {
            models,
            config: Mutex::new(config),
            limits: PhotoLimits::default(),
            enabled,
            privacy: AtomicBool::new(false),
            commands: Mutex::new(commands),
            faces: faces_rx,
            camera: Mutex::new(camera.subscribe()),
            store,
        })
    }

    /// Why check-in cannot run here (its models are missing), if so.
    pub fn unavailable(&self) -> Option<String> {
        self.models.as_ref().err().cloned()
    }

    /// The faces in the main camera's last analysed picture.
    pub fn faces(&self) -> Vec<FaceBox> {
        self.faces.borrow().clone()
    }

    /// Enrolls the one face in `source` (blocking: decodes or captures,
    /// detects, embeds, writes): a new person, or another face of someone;
    /// returns their id. The photo is kept when the admin keeps photos.
    pub fn enroll(&self, who: Enrollee, source: PictureSource, now_unix: i64) -> Result<PersonId, EnrollError> {
        let models = self.models.as_ref().map_err(|why| EnrollError::Unavailable(why.clone()))?;
        let (picture, photo) = match source {
            PictureSource::Upload(bytes) => (Picture::decode(&bytes, self.limits)?, Some(bytes)),
            PictureSource::Camera => (self.capture()?, None),
        };
        let (_, embedding) = models.enrollment(&picture)?;
        let photos: Vec<Vec<u8>> = photo.filter(|_| self.config().keep_photos).into_iter().collect();
        let id = match who {
            Enrollee::Existing(id) => {
                if !self.store.add_faces(id, &[embedding], &photos)? {
                    return Err(EnrollError::NoSuchPerson);
                }
                id
            }
            Enrollee::New { name, email } => {
                self.store.add_person(&name, email.as_deref(), &[embedding], &photos, now_unix)?
            }
        };
        self.gallery_changed();
        tracing::info!(person = %id, "enrolled a face");
        Ok(id)
    }

    /// Deletes a person (their faces, photos and check-ins) and has
    /// check-in forget them; false if there was no such person.
    pub fn delete_person(&self, person: PersonId) -> Result<bool, crate::store::StoreError> {
        let deleted = self.store.delete_person(person)?;
        if deleted {
            self.forget(person);
        }
        Ok(deleted)
    }

    pub fn enabled(&self) -> bool {
        self.enabled.load(Ordering::Relaxed)
    }

    pub fn privacy(&self) -> bool {
        self.privacy.load(Ordering::Relaxed)
    }

    /// Turns check-in on or off; false when it cannot run (no models).
    /// While the privacy switch is engaged it stays off regardless.
    pub fn set_enabled(&self, on: bool) -> bool {
        if self.send(Command::Enable(on && !self.privacy())) {
            self.enabled.store(on, Ordering::Relaxed);
            // So a later `apply` of the same setting sends nothing again.
            self.config.lock().unwrap_or_else(|p| p.into_inner()).enabled = on;
            true
        } else {
            !on
        }
    }

    /// The privacy switch moved.
    pub fn set_privacy(&self, engaged: bool) {
        if self.privacy.swap(engaged, Ordering::Relaxed) != engaged {
            tracing::info!(engaged, "privacy switch");
            self.send(Command::Enable(self.enabled() && !engaged));
        }
    }

    /// The admin's settings as they are now.
    pub fn config(&self) -> CheckInConfig {
        self.config.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Applies the admin's changed settings at once.
    pub fn apply(&self, config: &CheckInConfig) {
        let before = std::mem::replace(&mut *self.config.lock().unwrap_or_else(|p| p.into_inner()), config.clone());
        if (before.threshold_percent, before.retention_days) != (config.threshold_percent, config.retention_days) {
            self.send(Command::Tune { threshold: config.threshold(), retention: config.retention() });
        }
        if before.enabled != config.enabled {
            self.set_enabled(config.enabled);
        }
    }

    fn gallery_changed(&self) {
        self.send(Command::GalleryChanged);
    }

    fn forget(&self, person: PersonId) {
        self.send(Command::Forget(person));
    }

    fn send(&self, command: Command) -> bool {
        let commands = self.commands.lock().unwrap_or_else(|p| p.into_inner());
        commands.as_ref().is_some_and(|c| c.send(command).is_ok())
    }

    /// The next picture from the main camera (blocking, up to 3 s).
    fn capture(&self) -> Result<Picture, EnrollError> {
        let mut frames = self.camera.lock().unwrap_or_else(|p| p.into_inner()).resubscribe();
        let deadline = std::time::Instant::now() + Duration::from_secs(3);
        while std::time::Instant::now() < deadline {
            match frames.try_recv() {
                Ok(frame) if frame.format == PixelFormat::I420 => {
                    return Ok(Picture::from_i420(&frame.data, frame.width, frame.height));
                }
                Ok(_) => {
                    return Err(EnrollError::NoCamera(
                        "the camera sends H.264 (passthrough): no pictures to enroll from",
                    ));
                }
                Err(broadcast::error::TryRecvError::Empty | broadcast::error::TryRecvError::Lagged(_)) => {
                    std::thread::sleep(Duration::from_millis(10))
                }
                Err(broadcast::error::TryRecvError::Closed) => break,
            }
        }
        Err(EnrollError::NoCamera("no picture from the camera"))
    }
}
