//! The box follows the admin's settings while it runs: the room's name (on
//! the pages and in mDNS), the join code's policy, the director's timings
//! and check-in. Camera and microphone changes wait for the next start.

use std::net::IpAddr;
use std::sync::Arc;

use tokio::sync::watch;

use super::advertise::{self, Advertisement};
use crate::config::{Config, DirectorSettings};
use crate::sfu::JoinCode;
use crate::vision::service::CheckInService;
use crate::web::join::Admission;

pub struct Followers {
    pub checkin: Arc<CheckInService>,
    pub admission: Arc<Admission>,
    pub director: watch::Sender<DirectorSettings>,
    /// Counts the meetings that ended: with a rotating code, the next
    /// meeting gets a new one (someone who was in this one cannot come back
    /// to the next uninvited).
    pub meetings_ended: watch::Receiver<u64>,
    /// Where mDNS advertises (bind address, HTTPS port); None when off.
    pub mdns: Option<(IpAddr, u16)>,
}

/// Runs until the configuration's sender is gone.
pub async fn follow(mut config: watch::Receiver<Config>, mut parts: Followers) {
    let mut applied = config.borrow_and_update().clone();
    let mut advertisement = parts.mdns.and_then(|(bind, port)| advertise_as(&applied.room.name, bind, port));
    loop {
        tokio::select! {
            changed = config.changed() => {
                if changed.is_err() {
                    return;
                }
                let next = config.borrow_and_update().clone();
                if next.room.name != applied.room.name {
                    tracing::info!(room = %next.room.name, "room renamed");
                    if let Some((bind, port)) = parts.mdns {
                        // The old name is withdrawn before the new one is sent.
                        drop(advertisement.take());
                        advertisement = advertise_as(&next.room.name, bind, port);
                    }
                }
                if next.meeting.join_code != applied.meeting.join_code {
                    let code = next.meeting.join_code.as_deref().and_then(JoinCode::parse).unwrap_or_else(JoinCode::generate);
                    tracing::info!(join_code = code.as_str(), fixed = next.meeting.join_code.is_some(), "join code policy changed");
                    parts.admission.set_code(code);
                }
                if next.director != applied.director {
                    parts.director.send_replace(next.director.clone());
                }
                if next.checkin != applied.checkin {
                    parts.checkin.apply(&next.checkin);
                }
                applied = next;
            }
            Ok(()) = parts.meetings_ended.changed() => {
                if applied.meeting.join_code.is_none() {
                    let code = JoinCode::generate();
                    tracing::info!(join_code = code.as_str(), "the meeting ended; a new join code for the next one");
                    parts.admission.set_code(code);
                }
            }
        }
    }
}

fn advertise_as(room: &str, bind: IpAddr, port: u16) -> Option<Advertisement> {
    advertise::advertise(room, bind, port)
        .inspect_err(|e| tracing::warn!(error = %e, "cannot advertise the box on the network (mDNS)"))
        .ok()
}
