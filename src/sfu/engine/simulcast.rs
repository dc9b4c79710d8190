//! Which simulcast layer each viewer gets, in the engine: re-ranking the
//! layers and retargeting viewers (the choice itself is in `sfu::layers`).

use std::time::Instant;

use str0m::media::{MediaKind, Rid};

use super::Sfu;
use crate::sfu::layers::{View, choose_layer};
use crate::sfu::peer::TrackId;

/// A simulcast packet's layer and the layers a viewer should get.
#[derive(Clone, Copy)]
pub(super) struct Layer {
    pub rid: Rid,
    pub large: Option<Rid>,
    pub small: Option<Rid>,
}

impl Sfu {
    /// Re-ranks every simulcast track's layers and retargets viewers whose
    /// layer no longer fits (the active speaker changed; a layer stopped).
    pub(super) fn reselect_layers(&mut self, now: Instant) {
        let speaker = self.speaker.dominant().copied();
        let mut ranks: Vec<(TrackId, Vec<Rid>)> = Vec::new();
        for peer in &mut self.peers {
            for p in peer.published.iter_mut().filter(|p| p.kind == MediaKind::Video) {
                p.ranked = p.rates.ranked(now);
                if !p.ranked.is_empty() {
                    ranks.push((TrackId { owner: peer.info.id, mid: p.mid }, p.ranked.clone()));
                }
            }
        }
        for peer in &mut self.peers {
            let videos = peer.subscriptions.iter().filter(|s| s.kind == MediaKind::Video).count();
            let large = peer.large.as_deref();
            for s in &mut peer.subscriptions {
                let Some((_, ranked)) = ranks.iter().find(|(t, _)| *t == s.source) else { continue };
                let want = choose_layer(ranked, view_of(s.source.owner, speaker, videos, large));
                if want.is_some() && want != s.layer {
                    s.target = want;
                } else if want == s.layer {
                    s.target = None;
                }
            }
        }
    }
}

/// What the page asked for; else large for the active speaker and for
/// everyone in a small call (a phone showing one or two others).
pub(super) fn view_of(owner: u64, speaker: Option<u64>, videos: usize, large: Option<&[u64]>) -> View {
    let is_large = match large {
        Some(large) => large.contains(&owner),
        None => Some(owner) == speaker || videos <= 2,
    };
    if is_large { View::Large } else { View::Small }
}

impl Layer {
    pub(super) fn pick(&self, view: View) -> Option<Rid> {
        match view {
            View::Large => self.large,
            View::Small => self.small,
        }
    }
}
