// What every page in the meeting does alike, phone or room display: join
// with one HTTPS request carrying the offer, answer the box's renegotiations
// on the data channel, and keep the list of participants and the active
// speaker from its messages.

// Host candidates are enough on a room network; wait for them (at most 1 s)
// so the offer carries them.
export function iceGathered(pc) {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => { pc.removeEventListener('icegatheringstatechange', check); resolve(); };
    const check = () => pc.iceGatheringState === 'complete' && done();
    pc.addEventListener('icegatheringstatechange', check);
    setTimeout(done, 1000);
  });
}

/// Resolves once no negotiation is half done (an offer of ours or the
/// box's is waiting for its answer), at most after 5 s.
export function stable(pc) {
  if (pc.signalingState === 'stable') return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => { pc.removeEventListener('signalingstatechange', check); resolve(); };
    const check = () => pc.signalingState === 'stable' && done();
    pc.addEventListener('signalingstatechange', check);
    setTimeout(done, 5000);
  });
}

/// Offers `pc` (its tracks and data channel already added) with the join
/// code and applies the box's answer: `{participant, session}`. A refusal
/// closes `pc` and throws the box's reason.
export async function joinWith(pc, { code, name, kind }) {
  await pc.setLocalDescription(await pc.createOffer());
  await iceGathered(pc);
  const response = await fetch('/api/join', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ code, name, sdp: pc.localDescription.sdp, kind }),
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    pc.close();
    throw new Error(body.error || `The box said ${response.status}.`);
  }
  await pc.setRemoteDescription({ type: 'answer', sdp: body.sdp });
  return body;
}

/// The box renegotiates (a track to add or remove): true when `m` was that.
export async function negotiate(pc, m, send) {
  if (m.type === 'offer') {
    await pc.setRemoteDescription({ type: 'offer', sdp: m.sdp });
    await pc.setLocalDescription(await pc.createAnswer());
    send({ type: 'answer', sdp: pc.localDescription.sdp });
    return true;
  }
  if (m.type === 'answer') {
    await pc.setRemoteDescription({ type: 'answer', sdp: m.sdp });
    return true;
  }
  return false;
}

/// Brings `roster` ({participants: Map, streams: Map, activeSpeaker}) up to
/// date with a box message; true when `m` was about the participants.
export function note(roster, m) {
  switch (m.type) {
    case 'welcome':
      roster.participants = new Map(m.participants.map((p) => [p.id, p]));
      roster.activeSpeaker = m.active_speaker;
      return true;
    case 'participant_joined':
      roster.participants.set(m.participant.id, m.participant);
      return true;
    case 'participant_left':
      roster.participants.delete(m.id);
      roster.streams.delete(m.id);
      return true;
    case 'muted': {
      const p = roster.participants.get(m.id);
      if (p) Object.assign(p, { audio_muted: m.audio, video_muted: m.video });
      return true;
    }
    case 'active_speaker':
      roster.activeSpeaker = m.id;
      return true;
    default:
      return false;
  }
}
