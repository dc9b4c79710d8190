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

    /// Layers that carried something recently, smallest first, with their
    /// bitrates (bits per second).
    pub fn ranked(&self, now: Instant) -> Vec<(Rid, u64)> {
        let mut live: Vec<(Rid, u64)> = self
            .windows
            .iter()
            .filter(|(_, w)| now.saturating_duration_since(w.started) < WINDOW * 2)
            .map(|(rid, w)| (*rid, w.rate.max(w.bytes) * 8))
            .collect();
        live.sort_by_key(|(rid, rate)| (*rate, rid.to_string()));
        live
    }
}

/// The layer a view asks for: the largest when large, the middle (or
/// smallest of two) when small. Its index in `ranked`.
fn ideal(ranked: &[(Rid, u64)], view: View) -> Option<usize> {
    let last = ranked.len().checked_sub(1)?;
    Some(match view {
        View::Large => last,
        View::Small => last / 2,
    })
}

/// The layer to show, bandwidth aside.
pub fn choose_layer(ranked: &[(Rid, u64)], view: View) -> Option<Rid> {
    ideal(ranked, view).map(|i| ranked[i].0)
}

/// A simulcast video a viewer shows: its layers (as [`LayerRates::ranked`])
/// and how it is shown.
#[derive(Debug, Clone, Copy)]
pub struct Shown<'a> {
    pub view: View,
    pub layers: &'a [(Rid, u64)],
}

/// What a viewer gets: a layer for each video (or a pause), and the
/// bitrate the layers its views ask for would need (what its bandwidth
/// estimate should probe towards).
#[derive(Debug, PartialEq, Eq)]
pub struct Allocation {
    pub layers: Vec<Option<Rid>>,
    /// Videos held back: even their smallest layers do not fit.
    pub paused: Vec<bool>,
    pub desired: u64,
}

/// Share of the estimate that layers may fill: the rest is headroom for
/// keyframes and for the estimate's own wobble.
const HEADROOM_PERCENT: u64 = 90;

/// Shares a viewer's bandwidth estimate (bits per second; `None`: not known
/// yet) among the simulcast videos it shows. Every video gets its smallest
/// layer; when even those do not fit, thumbnails and then all but the first
/// large view are paused, last first, so what stays plays instead of all of
/// it freezing on an overrun link (the page shows who is paused; one video
/// always stays). Then, large views first, each is raised towards the layer
/// its view asks for while the total fits. Without an estimate each gets
/// the layer its view asks for. A viewer that must not `pause` keeps every
/// video at its smallest layer at worst.
pub fn allocate(estimate: Option<u64>, shown: &[Shown], pause: bool) -> Allocation {
    let ideals: Vec<Option<usize>> = shown.iter().map(|s| ideal(s.layers, s.view)).collect();
    let rate = |i: usize, layer: Option<usize>| layer.map_or(0, |l| shown[i].layers[l].1);
    let desired = (0..shown.len()).map(|i| rate(i, ideals[i])).sum();
    let mut paused = vec![false; shown.len()];
    let picks: Vec<Option<usize>> = match estimate {
        None => ideals.clone(),
        Some(estimate) => {
            let budget = estimate * HEADROOM_PERCENT / 100;
            let mut picks: Vec<Option<usize>> = ideals.iter().map(|i| i.map(|_| 0)).collect();
            let mut total: u64 = (0..shown.len()).map(|i| rate(i, picks[i])).sum();
            let mut order: Vec<usize> = (0..shown.len()).collect();
            order.sort_by_key(|&i| shown[i].view != View::Large);
            // Pause from the least wanted end, keeping the first video.
            for &i in order.iter().skip(1).rev() {
                if !pause || total <= budget {
                    break;
                }
                if picks[i].is_some() {
                    total -= rate(i, picks[i]);
                    picks[i] = None;
                    paused[i] = true;
                }
            }
            for i in order {
                let (Some(mut at), Some(best)) = (picks[i], ideals[i]) else { continue };
                while at < best {
                    let more = shown[i].layers[at + 1].1.saturating_sub(shown[i].layers[at].1);
                    if total + more > budget {
                        break;
                    }
                    total += more;
                    at += 1;
                }
                picks[i] = Some(at);
            }
            picks
        }
    };
    let layers = picks.iter().zip(shown).map(|(pick, s)| pick.map(|l| s.layers[l].0)).collect();
    Allocation { layers, paused, desired }
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
        let rids: Vec<Rid> = ranked.iter().map(|(rid, _)| *rid).collect();
        assert_eq!(rids, vec![Rid::from("q"), Rid::from("h"), Rid::from("f")]);
        assert_eq!(ranked[0].1, 300 * 50 * 8, "bits per second");
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
        let ranked = rates.ranked(t0 + Duration::from_secs(3));
        assert_eq!(ranked.len(), 1);
        assert_eq!(ranked[0].0, Rid::from("l"));
    }

    fn ladder() -> Vec<(Rid, u64)> {
        vec![("l".into(), 150_000), ("m".into(), 500_000), ("h".into(), 1_700_000)]
    }

    fn rids(a: &Allocation) -> Vec<&str> {
        a.layers.iter().map(|l| l.as_ref().map_or("-", |r| &**r)).collect()
    }

    #[test]
    fn with_room_to_spare_every_view_gets_what_it_asks_for() {
        let (a, b) = (ladder(), ladder());
        let shown = [Shown { view: View::Small, layers: &a }, Shown { view: View::Large, layers: &b }];
        let plenty = allocate(Some(10_000_000), &shown, true);
        assert_eq!(rids(&plenty), ["m", "h"]);
        assert_eq!(plenty.desired, 2_200_000);
        assert_eq!(allocate(None, &shown, true), plenty, "no estimate yet: as asked");
    }

    #[test]
    fn a_tight_link_serves_the_large_view_first_and_thumbnails_stay_on() {
        let (a, b, c) = (ladder(), ladder(), ladder());
        let shown = [
            Shown { view: View::Small, layers: &a },
            Shown { view: View::Large, layers: &b },
            Shown { view: View::Small, layers: &c },
        ];
        // 2.2 Mbit/s: 1.98 usable; large h (1.7) + two l (0.3) = 2.0 does not
        // fit, so the large view gets m and the thumbnails what is left.
        assert_eq!(rids(&allocate(Some(2_200_000), &shown, true)), ["m", "m", "m"]);
        // 2.6 Mbit/s: 2.34 usable: h for the large view, l for the others.
        assert_eq!(rids(&allocate(Some(2_600_000), &shown, true)), ["l", "h", "l"]);
        // 2.9 Mbit/s: 2.61 usable: one thumbnail moves up, in order.
        assert_eq!(rids(&allocate(Some(2_900_000), &shown, true)), ["m", "h", "l"]);
        // 0.6 Mbit/s: 0.54 usable, the three smallest (0.45) fit.
        let tight = allocate(Some(600_000), &shown, true);
        assert_eq!(rids(&tight), ["l", "l", "l"]);
        assert_eq!(tight.paused, [false, false, false]);
    }

    #[test]
    fn when_even_the_smallest_layers_overrun_the_link_thumbnails_pause_and_one_video_stays() {
        let (a, b, c) = (ladder(), ladder(), ladder());
        let shown = [
            Shown { view: View::Small, layers: &a },
            Shown { view: View::Large, layers: &b },
            Shown { view: View::Small, layers: &c },
        ];
        // 0.4 Mbit/s: 0.36 usable; two smallest fit, the last thumbnail pauses.
        let two = allocate(Some(400_000), &shown, true);
        assert_eq!((rids(&two), &two.paused[..]), (vec!["l", "l", "-"], &[false, false, true][..]));
        // 0.2 Mbit/s: the large view alone.
        let one = allocate(Some(200_000), &shown, true);
        assert_eq!((rids(&one), &one.paused[..]), (vec!["-", "l", "-"], &[true, false, true][..]));
        // Nothing fits: the large view still plays.
        let least = allocate(Some(50_000), &shown, true);
        assert_eq!((rids(&least), &least.paused[..]), (vec!["-", "l", "-"], &[true, false, true][..]));
    }

    #[test]
    fn a_viewer_that_must_not_pause_gets_every_smallest_layer_however_low_the_estimate() {
        let (a, b, c) = (ladder(), ladder(), ladder());
        let shown = [
            Shown { view: View::Small, layers: &a },
            Shown { view: View::Large, layers: &b },
            Shown { view: View::Small, layers: &c },
        ];
        for estimate in [400_000, 50_000] {
            let all = allocate(Some(estimate), &shown, false);
            assert_eq!((rids(&all), &all.paused[..]), (vec!["l", "l", "l"], &[false, false, false][..]));
        }
        // Above the smallest layers it shares out as any viewer's.
        assert_eq!(allocate(Some(2_600_000), &shown, false), allocate(Some(2_600_000), &shown, true));
    }

    #[test]
    fn a_video_with_no_live_layer_gets_none() {
        let a = ladder();
        let shown = [Shown { view: View::Large, layers: &[] }, Shown { view: View::Small, layers: &a }];
        assert_eq!(rids(&allocate(Some(1_000_000), &shown, true)), ["-", "m"]);
    }
}
