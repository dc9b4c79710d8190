use crate::events::ParticipantId;
use std::collections::HashMap;
use std::sync::Mutex;

/// Live sessions by an unguessable token: what a client must show to act on
/// its own session later (WHIP/WHEP `DELETE`, a phone's ICE restart).
#[derive(Default)]
pub struct Sessions {
    by_token: Mutex<HashMap<String, ParticipantId>>,
}

impl Sessions {
    pub fn insert(&self, id: ParticipantId) -> String {
        let token = super::secret::token::<16>();
        self.by_token.lock().unwrap_or_else(|p| p.into_inner()).insert(token.clone(), id);
        token
    }

    pub fn get(&self, token: &str) -> Option<ParticipantId> {
        self.by_token.lock().unwrap_or_else(|p| p.into_inner()).get(token).copied()
    }

    pub fn remove(&self, token: &str) -> Option<ParticipantId> {
        self.by_token.lock().unwrap_or_else(|p| p.into_inner()).remove(token)
    }
}
