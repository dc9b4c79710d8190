use std::collections::HashMap;
use std::sync::Mutex;

/// Live sessions by an unguessable token: what a client must show to act on
/// its own session later (WHIP/WHEP `DELETE`, a phone's ICE restart).
#[derive(Default)]
pub struct Sessions {
    by_token: Mutex<HashMap<String, u64>>,
}

impl Sessions {
    pub fn insert(&self, id: u64) -> String {
        let mut bytes = [0u8; 16];
        // The OS random source only fails on a broken system.
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes).expect("OS randomness");
        let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        self.by_token.lock().unwrap_or_else(|p| p.into_inner()).insert(token.clone(), id);
        token
    }

    pub fn get(&self, token: &str) -> Option<u64> {
        self.by_token.lock().unwrap_or_else(|p| p.into_inner()).get(token).copied()
    }

    pub fn remove(&self, token: &str) -> Option<u64> {
        self.by_token.lock().unwrap_or_else(|p| p.into_inner()).remove(token)
    }
}
