// The phone's meeting page: join with the room's code, publish camera and
// microphone, receive everyone else. Signalling is one HTTPS request (the
// offer) and then the WebRTC data channel; iOS refuses WebSockets to a
// self-signed origin. `?as=display` joins as a receive-only room screen.

import { iceGathered, joinWith, negotiate, note, stable } from '/meeting.js';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const asDisplay = params.get('as') === 'display';

const state = {
  pc: null,
  channel: null,
  me: null,
  local: null, // MediaStream
  participants: new Map(), // id → { name, kind, audio_muted, video_muted }
  streams: new Map(), // participant id → MediaStream
  activeSpeaker: null,
  paused: new Set(), // participants whose video the box holds back (weak link)
  speakerLog: [], // { at, id }: every change, for the curious and for tests

  stats: { up: 0, down: 0, rtt: null, jitter: null, loss: null, byParticipant: {} },
  lastBytes: null,
  leaving: false,
};
// For tests and curious people: the live state of this page.
window.confcam = state;

// ---- lobby ----------------------------------------------------------------

$('name').value = params.get('name') || localStorage.getItem('confcam.name') || '';
$('code').value = params.get('code') || '';
// Joining waits for the camera: someone quick to press Join still publishes.
let preview = Promise.resolve();
// Some in-app browsers and old WebViews have no WebRTC: say so, in words.
const webrtc = typeof RTCPeerConnection === 'function';
if (!webrtc) {
  showJoinError('This browser cannot join video meetings (it has no WebRTC). Open this page in Safari, Chrome, Firefox or Edge.');
  $('join-button').disabled = true;
  $('preview').hidden = true;
} else if (asDisplay) {
  $('name').value ||= 'Room display';
  $('room-title').textContent = 'Room display';
  $('preview').hidden = true;
} else {
  preview = startPreview();
}

async function startPreview() {
  try {
    state.local = await navigator.mediaDevices.getUserMedia({
      audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true },
      video: { width: { ideal: 1280 }, height: { ideal: 720 }, facingMode: 'user' },
    });
    $('preview').srcObject = state.local;
  } catch (e) {
    const note = $('device-note');
    note.hidden = false;
    note.textContent = navigator.mediaDevices
      ? `No camera or microphone (${e.name}); you can still join and watch.`
      : 'This page needs a secure connection (https) for the camera.';
  }
}

$('join-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const name = $('name').value.trim();
  const code = $('code').value.replace(/\D/g, '');
  if (!name) return showJoinError('Please enter your name.');
  if (code.length !== 6) return showJoinError('The join code has 6 digits; it is shown in the room.');
  localStorage.setItem('confcam.name', name);
  $('join-button').disabled = true;
  try {
    await join(name, code);
  } catch (e) {
    showJoinError(e.message);
    $('join-button').disabled = false;
  }
});

function showJoinError(text) {
  const p = $('join-error');
  p.hidden = false;
  p.textContent = text;
}

// ---- joining --------------------------------------------------------------

async function join(name, code) {
  await preview;
  const pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle' });

  state.pc = pc;
  state.leaving = false;
  const channel = pc.createDataChannel('room');
  state.channel = channel;
  channel.onmessage = (e) => onMessage(JSON.parse(e.data));
  if (state.local && !asDisplay) {
    for (const track of state.local.getAudioTracks()) {
      pc.addTransceiver(track, { direction: 'sendonly', streams: [state.local] });
    }
    // The camera in three sizes: viewers get the large one for the active
    // speaker and a smaller one for thumbnails, without the box re-encoding.
    for (const track of state.local.getVideoTracks()) {
      pc.addTransceiver(track, {
        direction: 'sendonly',
        streams: [state.local],
        sendEncodings: [
          { rid: 'l', scaleResolutionDownBy: 4, maxBitrate: 150_000 },
          { rid: 'm', scaleResolutionDownBy: 2, maxBitrate: 500_000 },
          { rid: 'h', maxBitrate: 1_500_000 },
        ],
      });
    }
  }

  pc.ontrack = (e) => {
    const id = Number(e.streams[0]?.id);
    if (!Number.isFinite(id)) return;
    state.streams.set(id, e.streams[0]);
    e.streams[0].onremovetrack = () => renderTile(id);
    renderTile(id);
  };
  pc.onconnectionstatechange = () => onConnectionState(pc);

  const body = await joinWith(pc, { code, name, kind: asDisplay ? 'display' : 'phone' });
  state.me = body.participant;
  state.session = body.session;
  state.joinArgs = { name, code };
  enterMeeting();
}

function send(message) {
  if (state.channel?.readyState === 'open') state.channel.send(JSON.stringify(message));
}

async function onMessage(m) {
  if (await negotiate(state.pc, m, send)) return;
  note(state, m);
  switch (m.type) {
    case 'welcome':
      state.me = m.you;
      document.title = `${m.room} · confcam`;
      renderAll();
      break;
    case 'participant_joined':
      renderTile(m.participant.id);
      break;
    case 'participant_left':
      document.getElementById(`tile-${m.id}`)?.remove();
      break;
    case 'muted':
      renderTile(m.id);
      break;
    case 'video_paused':
      // This page's link cannot carry every picture: the box holds one back.
      if (m.paused) state.paused.add(m.id);
      else state.paused.delete(m.id);
      renderTile(m.id);
      break;
    case 'active_speaker':
      state.speakerLog.push({ at: Date.now(), id: m.id });
      renderAll();
      break;
    case 'error':
      console.warn('box:', m.message);
      break;
  }
}

// ---- the meeting ----------------------------------------------------------

function enterMeeting() {
  $('lobby').hidden = true;
  $('left').hidden = true;
  $('meeting').hidden = false;
  if (state.local && !asDisplay) {
    $('self').srcObject = state.local;
    $('self').hidden = false;
  } else {
    document.querySelector('.controls').hidden = asDisplay;
  }
  statsTimer ??= setInterval(updateStats, 1000);
}

function renderAll() {
  for (const id of new Set([...state.participants.keys(), ...state.streams.keys()])) renderTile(id);
}

function renderTile(id) {
  if (id === state.me) return;
  const p = state.participants.get(id);
  const stream = state.streams.get(id);
  if (!p && !stream) return;
  let tile = document.getElementById(`tile-${id}`);
  if (!tile) {
    tile = document.createElement('figure');
    tile.id = `tile-${id}`;
    tile.className = 'tile';
    tile.innerHTML = '<video autoplay playsinline muted></video><audio autoplay></audio><figcaption class="name"></figcaption>';
    $('grid').append(tile);
  }
  const [video, audio] = [tile.querySelector('video'), tile.querySelector('audio')];
  if (stream && video.srcObject !== stream) {
    video.srcObject = stream;
    audio.srcObject = stream;
  }
  tile.querySelector('.name').textContent = p ? p.name : '…';
  tile.querySelector('.name').classList.toggle('muted', !!p?.audio_muted);
  tile.classList.toggle('no-video', !!p?.video_muted || !stream?.getVideoTracks().length || state.paused.has(id));
  tile.classList.toggle('paused', state.paused.has(id));
  tile.classList.toggle('speaker', id === state.activeSpeaker);
  if (id === state.activeSpeaker) $('grid').prepend(tile);
}

$('mic').addEventListener('click', () => toggle('audio', $('mic')));
$('camera').addEventListener('click', () => toggle('video', $('camera')));

function toggle(kind, button) {
  const tracks = kind === 'audio' ? state.local?.getAudioTracks() : state.local?.getVideoTracks();
  if (!tracks?.length) return;
  const off = tracks[0].enabled;
  tracks.forEach((t) => { t.enabled = !off; });
  button.setAttribute('aria-pressed', String(off));
  send({
    type: 'mute',
    audio: !(state.local.getAudioTracks()[0]?.enabled ?? false),
    video: !(state.local.getVideoTracks()[0]?.enabled ?? false),
  });
}

$('leave').addEventListener('click', leave);
window.addEventListener('pagehide', () => send({ type: 'leave' }));

function leave() {
  state.leaving = true;
  send({ type: 'leave' });
  setTimeout(() => state.pc?.close(), 100);
  $('meeting').hidden = true;
  $('left').hidden = false;
  $('grid').replaceChildren();
  state.streams.clear();
  state.participants.clear();
}

$('rejoin').addEventListener('click', () => rejoin());

async function rejoin() {
  const { name, code } = state.joinArgs;
  try {
    await join(name, code);
  } catch (e) {
    showStatus(`Could not rejoin: ${e.message}`);
  }
}

// A lost connection (Wi-Fi dropped, network changed): after a moment, an
// ICE restart over HTTPS (the data channel is down too) finds the new path;
// if that fails or does not connect, join again from scratch.
let reconnectTimer = null;
function onConnectionState(pc) {
  if (pc !== state.pc || state.leaving) return;
  if (pc.connectionState === 'connected') {
    clearTimeout(reconnectTimer);
    reconnectTimer = null;
    showStatus(null);
  } else if (['disconnected', 'failed'].includes(pc.connectionState) && !reconnectTimer) {
    showStatus('Connection lost; reconnecting…');
    reconnectTimer = setTimeout(async () => {
      if (pc.connectionState === 'connected') return;
      const restarted = await restartIce(pc).catch(() => false);
      reconnectTimer = setTimeout(async () => {
        reconnectTimer = null;
        if (restarted && pc.connectionState === 'connected') return;
        pc.close();
        $('grid').replaceChildren();
        state.streams.clear();
        await rejoin();
      }, restarted ? 6000 : 0);
    }, 2000);
  }
}

// For tests (and a support person in the console): restart ICE now.
state.restartIce = () => restartIce(state.pc);

async function restartIce(pc) {
  // The box may be renegotiating tracks right now; an offer of ours has to
  // wait for that to finish.
  await stable(pc);
  await pc.setLocalDescription(await pc.createOffer({ iceRestart: true }));
  await iceGathered(pc);
  const r = await fetch(`/api/session/${state.session}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ sdp: pc.localDescription.sdp }),
  });
  if (!r.ok) return false;
  await pc.setRemoteDescription({ type: 'answer', sdp: (await r.json()).sdp });
  return true;
}

function showStatus(text) {
  $('status').hidden = !text;
  $('status').textContent = text || '';
}

// ---- connection quality ---------------------------------------------------

let statsTimer = null;

async function updateStats() {
  const pc = state.pc;
  if (!pc || pc.connectionState === 'closed') return;
  const report = await pc.getStats();
  const owner = new Map(); // track id → participant id
  for (const [id, stream] of state.streams) for (const t of stream.getTracks()) owner.set(t.id, id);
  let sent = 0, received = 0, lost = 0, got = 0, jitter = [], rtt = null;
  const byParticipant = {};
  let layers = 0, limitation = 'none';
  report.forEach((s) => {
    if (s.type === 'outbound-rtp') sent += s.bytesSent || 0;
    if (s.type === 'outbound-rtp' && s.kind === 'video' && s.bytesSent > 0) layers += 1;
    // Why the browser sends fewer layers or less than asked ('cpu', 'bandwidth').
    if (s.type === 'outbound-rtp' && s.kind === 'video' && s.qualityLimitationReason) limitation = s.qualityLimitationReason;
    if (s.type === 'inbound-rtp') {
      received += s.bytesReceived || 0;
      lost += Math.max(0, s.packetsLost || 0);
      got += s.packetsReceived || 0;
      if (s.kind === 'audio' && s.jitter !== undefined) jitter.push(s.jitter);
      const who = owner.get(s.trackIdentifier);
      if (who !== undefined) {
        const p = (byParticipant[who] ??= {
          audioBytes: 0, audioSamples: 0, audioLevel: 0, videoBytes: 0, framesDecoded: 0,
          frameWidth: 0, freezeCount: 0, freezeSeconds: 0,
        });
        if (s.kind === 'audio') {
          p.audioBytes += s.bytesReceived || 0;
          p.audioSamples += s.totalSamplesReceived || 0;
          p.audioLevel = Math.max(p.audioLevel, s.audioLevel || 0);
        } else {
          p.videoBytes += s.bytesReceived || 0;
          p.framesDecoded += s.framesDecoded || 0;
          // The picture's size shows which simulcast layer arrives.
          p.frameWidth = Math.max(p.frameWidth, s.frameWidth || 0);
          p.freezeCount += s.freezeCount || 0;
          p.freezeSeconds += s.totalFreezesDuration || 0;
        }
      }
    }
    if (s.type === 'candidate-pair' && s.nominated && s.currentRoundTripTime !== undefined) rtt = s.currentRoundTripTime;
  });
  const now = performance.now();
  const last = state.lastBytes;
  if (last) {
    const secs = (now - last.at) / 1000;
    state.stats.up = ((sent - last.sent) * 8) / secs / 1000;
    state.stats.down = ((received - last.received) * 8) / secs / 1000;
  }
  state.lastBytes = { at: now, sent, received };
  state.stats.rtt = rtt;
  state.stats.jitter = jitter.length ? Math.max(...jitter) : null;
  state.stats.loss = got + lost ? (100 * lost) / (got + lost) : null;
  state.stats.byParticipant = byParticipant;
  state.stats.sentVideoLayers = layers;
  state.stats.videoLimitation = limitation;

  const ms = (v) => (v === null ? '–' : `${Math.round(v * 1000)} ms`);
  const rate = (kbps) => (kbps >= 1000 ? `${(kbps / 1000).toFixed(1)} Mbps` : `${Math.round(kbps)} kbps`);
  $('quality').textContent = `↑ ${rate(state.stats.up)} ↓ ${rate(state.stats.down)} · RTT ${ms(rtt)} · jitter ${ms(state.stats.jitter)} · loss ${
    state.stats.loss === null ? '–' : state.stats.loss.toFixed(1)} %`;
}
