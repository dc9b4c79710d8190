//! Simulcast: which of a publisher's layers each viewer gets.
//!
//! A phone sends its camera in up to three sizes. Every viewer gets exactly
//! one of them at a time: the largest for the video shown large (the active
//! speaker), a middle one for thumbnails. Layers are ordered by what they
//! actually carry, so naming conventions (l/m/h, q/h/f) do not matter.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use str0m::media::Rid;

/// How a viewer shows a video.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    Large,
    Small,
}

/// Bytes per layer over the last second, to rank layers.
#[derive(Debug, Default)]
pub struct LayerRates {
    windows: HashMap<Rid, Window>,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    started: Instant,
    bytes: u64,
    /// Bytes per second over the last full window.
    rate: u64,
}

const WINDOW: Duration = Duration::from_secs(1);

impl LayerRates {
    pub fn record(&mut self, rid: Rid, bytes: usize, now: Instant) {
        let w = self.windows.entry(rid).or_insert(Window { started: now, bytes: 0, rate: 0 });
        if now.saturating_duration_since(w.started) >= WINDOW {
            w.rate = w.bytes;
            w.bytes = 0;
            w.started = now;
        }
        w.bytes += bytes as u64;
    }

    /// Layers that carried something recently, smallest first.
    pub fn ranked(&self, now: Instant) -> Vec<Rid> {
        let mut live: Vec<(Rid, u64)> = self
            .windows
            .iter()
            .filter(|(_, w)| now.saturating_duration_since(w.started) < WINDOW * 2)
            .map(|(rid, w)| (*rid, w.rate.max(w.bytes)))
            .collect();
        live.sort_by_key(|(rid, rate)| (*rate, rid.to_string()));
        live.into_iter().map(|(rid, _)| rid).collect()
    }
}

/// The layer to show: the largest when large, the middle (or smallest of
/// two) when small.
pub fn choose_layer(ranked: &[Rid], view: View) -> Option<Rid> {
    match view {
        View::Large => ranked.last().copied(),
        View::Small => ranked.get(ranked.len().saturating_sub(1) / 2).copied(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_rank_by_what_they_carry_whatever_their_names() {
        let mut rates = LayerRates::default();
        let t0 = Instant::now();
        for i in 0..100u64 {
            let now = t0 + Duration::from_millis(i * 20);
            rates.record("f".into(), 5000, now);
            rates.record("q".into(), 300, now);
            rates.record("h".into(), 1500, now);
        }
        let ranked = rates.ranked(t0 + Duration::from_secs(2));
        assert_eq!(ranked, vec![Rid::from("q"), Rid::from("h"), Rid::from("f")]);
        assert_eq!(choose_layer(&ranked, View::Large), Some(Rid::from("f")));
        assert_eq!(choose_layer(&ranked, View::Small), Some(Rid::from("h")));
        assert_eq!(choose_layer(&ranked[..2], View::Small), Some(Rid::from("q")));
        assert_eq!(choose_layer(&[], View::Large), None);
    }

    #[test]
    fn a_layer_that_stops_is_no_longer_offered() {
        let mut rates = LayerRates::default();
        let t0 = Instant::now();
        rates.record("h".into(), 5000, t0);
        rates.record("l".into(), 500, t0 + Duration::from_secs(3));
        assert_eq!(rates.ranked(t0 + Duration::from_secs(3)), vec![Rid::from("l")]);
    }
}
