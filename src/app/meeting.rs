//! The `follow-meeting` task: the meeting ([`crate::meeting`]) fed with the
//! faces check-in sees and the phones the SFU counts. Each change goes on
//! the event bus (logs, pages, tests); each end also counts on
//! `meetings_ended`, a watch that never loses one, which attendance and
//! the join code's rotation follow.

use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::events::{BoxEvent, EventBus};
use crate::meeting::{Change, Meeting};
use crate::vision::pipeline::FaceBox;

pub struct MeetingInputs {
    pub faces: watch::Receiver<Vec<FaceBox>>,
    pub phones: watch::Receiver<usize>,
    /// How long a room with no face and no phone stays in the meeting.
    pub idle: Duration,
}

/// Runs until faces and phones both stop being told (the box stopped).
pub async fn follow(mut inputs: MeetingInputs, events: EventBus, meetings_ended: watch::Sender<u64>) {
    let mut meeting = Meeting::new(inputs.idle);
    let (mut faces_open, mut phones_open) = (true, true);
    meeting.phones(*inputs.phones.borrow_and_update());
    while faces_open || phones_open {
        let deadline = meeting.deadline();
        tokio::select! {
            changed = inputs.faces.changed(), if faces_open => match changed {
                Ok(()) => {
                    let count = inputs.faces.borrow_and_update().len();
                    meeting.faces(Instant::now(), count);
                }
                Err(_) => faces_open = false,
            },
            changed = inputs.phones.changed(), if phones_open => match changed {
                Ok(()) => meeting.phones(*inputs.phones.borrow_and_update()),
                Err(_) => phones_open = false,
            },
            () = sleep_until(deadline) => {}
        }
        match meeting.poll(Instant::now()) {
            Some(Change::Began) => {
                tracing::info!("a meeting began");
                let _ = events.send(BoxEvent::MeetingBegan);
            }
            Some(Change::Ended { lasted }) => {
                tracing::info!(minutes = lasted.as_secs() / 60, "the meeting ended");
                meetings_ended.send_modify(|n| *n += 1);
                let _ = events.send(BoxEvent::MeetingEnded { lasted_s: lasted.as_secs() });
            }
            None => {}
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}
