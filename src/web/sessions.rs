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
    /// A token for `id`; tokens of participants no longer in `live` (left,
    /// or dropped when their connection ended) go, so the map is as large
    /// as the meeting, not as every join since the box started. Ids only
    /// grow: one above all of `live` joined after it was read, and stays.
    pub fn insert(&self, id: ParticipantId, live: &[ParticipantId]) -> String {
        let newest = live.iter().max().copied();
        let gone = |p: &ParticipantId| !live.contains(p) && newest.is_some_and(|n| *p < n);
        self.by_token.lock().unwrap_or_else(|p| p.into_inner()).retain(|_, p| !gone(p));
        self.add(id)
    }

    fn add(&self, id: ParticipantId) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_of_participants_who_left_are_forgotten() {
        let sessions = Sessions::default();
        // A hundred phones come and go, one at a time.
        let tokens: Vec<String> = (1..=100).map(|n| sessions.insert(ParticipantId(n), &[ParticipantId(n)])).collect();
        assert_eq!(sessions.by_token.lock().unwrap().len(), 1, "each join forgot those gone");
        assert_eq!(sessions.get(&tokens[99]), Some(ParticipantId(100)), "still in the meeting");
        assert_eq!(sessions.get(&tokens[0]), None);
        // Two join at once: the one who read the meeting first does not
        // forget the newer one.
        let bob = sessions.insert(ParticipantId(102), &[ParticipantId(100), ParticipantId(101), ParticipantId(102)]);
        let _alice = sessions.insert(ParticipantId(101), &[ParticipantId(100), ParticipantId(101)]);
        assert_eq!(sessions.remove(&bob), Some(ParticipantId(102)));
    }
}
