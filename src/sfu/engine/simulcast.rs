//! Which simulcast layer each viewer gets, in the engine: re-ranking the
//! layers, sharing each viewer's bandwidth estimate and retargeting viewers
//! (the choices themselves are in `sfu::layers`).

use crate::events::ParticipantId;
use std::time::Instant;

use str0m::bwe::Bitrate;
use str0m::media::{MediaKind, Rid};

use super::Sfu;
use crate::sfu::layers::{Shown, View, allocate};
use crate::sfu::messages::ServerMessage;
use crate::sfu::peer::TrackId;

/// A simulcast packet's layer and the layers a viewer should get.
#[derive(Clone, Copy)]
pub(super) struct Layer {
    pub rid: Rid,
    pub large: Option<Rid>,
    pub small: Option<Rid>,
}

/// Audio a viewer receives, per track, set aside from its estimate before
/// video layers are shared out (Opus voice with headers).
const AUDIO_BPS: u64 = 50_000;

impl Sfu {
    /// Re-ranks every simulcast track's layers and shares each viewer's
    /// bandwidth among the videos it shows: retargets viewers whose layer no
    /// longer fits (the active speaker changed; a layer stopped; the estimate
    /// moved) and tells each estimate what to probe towards.
    pub(super) fn reselect_layers(&mut self, now: Instant) {
        let speaker = self.active_speaker();
        let mut ranks: Vec<(TrackId, Vec<(Rid, u64)>)> = Vec::new();
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
            let audio = peer.subscriptions.iter().filter(|s| s.kind == MediaKind::Audio).count() as u64;
            let large = peer.large.as_deref();
            let simulcast: Vec<(usize, &[(Rid, u64)])> = peer
                .subscriptions
                .iter()
                .enumerate()
                .filter_map(|(i, s)| ranks.iter().find(|(t, _)| *t == s.source).map(|(_, r)| (i, &r[..])))
                .collect();
            let shown: Vec<Shown> = simulcast
                .iter()
                .map(|&(i, layers)| Shown {
                    view: view_of(peer.subscriptions[i].source.owner, speaker, videos, large),
                    layers,
                })
                .collect();
            let reserved = audio * AUDIO_BPS;
            let plan =
                allocate(peer.estimate.map(|e| e.saturating_sub(reserved)), &shown, peer.info.kind.may_pause_videos());
            for (&(i, _), (want, paused)) in simulcast.iter().zip(plan.layers.into_iter().zip(plan.paused)) {
                let s = &mut peer.subscriptions[i];
                if paused != s.paused {
                    s.paused = paused;
                    // Back from its next keyframe, on the layer chosen below.
                    s.layer = None;
                    let owner = s.source.owner;
                    tracing::debug!(
                        participant = %peer.info.id,
                        %owner,
                        paused,
                        estimate = peer.estimate,
                        "video paused"
                    );
                    peer.send(ServerMessage::VideoPaused { id: owner, paused });
                }
                let s = &mut peer.subscriptions[i];
                if paused {
                    continue;
                }
                if want.is_some() && want != s.layer {
                    if want != s.target {
                        let (owner, estimate) = (s.source.owner, peer.estimate);
                        tracing::debug!(participant = %peer.info.id, %owner, layer = ?want, estimate, "switching layer");
                    }
                    s.target = want;
                } else if want == s.layer {
                    s.target = None;
                }
            }
            // Probe for what the views ask for (not more: probing costs the
            // link padding), and only on a real change.
            let desired = plan.desired + reserved;
            if desired.abs_diff(peer.desired) > peer.desired / 10 {
                peer.desired = desired;
                peer.rtc.bwe().set_desired_bitrate(Bitrate::bps(desired));
            }
            // Short of it and stalled: estimation starts over from here,
            // probing first (see `sfu::probe`).
            if let Some(estimate) = peer.estimate
                && peer.reprobe.due(now, estimate, peer.desired)
            {
                tracing::debug!(participant = %peer.info.id, estimate, desired = peer.desired, "probing again");
                peer.rtc.bwe().reset(Bitrate::bps(estimate));
                peer.rtc.bwe().set_desired_bitrate(Bitrate::bps(peer.desired));
            }
        }
    }
}

#[cfg(test)]
impl Sfu {
    /// Sets a peer's bandwidth estimate as a TWCC or REMB report would.
    pub(crate) fn set_estimate(&mut self, id: ParticipantId, bps: u64) {
        if let Some(p) = self.peers.iter_mut().find(|p| p.id() == id) {
            p.estimate = Some(bps);
        }
    }
}

/// What the page asked for; else large for the active speaker and for
/// everyone in a small call (a phone showing one or two others).
pub(super) fn view_of(
    owner: ParticipantId,
    speaker: Option<ParticipantId>,
    videos: usize,
    large: Option<&[ParticipantId]>,
) -> View {
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
