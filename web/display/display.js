// The room display (a TV in the room, or the box's own HDMI in kiosk mode):
// a receive-only participant of the meeting showing the active speaker large
// and everyone else small, and beside it how to join: QR code, code, address.
// What it shows comes from GET /api/display, which needs no login and holds
// nothing an attendee could not read off the screen.

import { joinWith, negotiate, note } from '/meeting.js';

const $ = (id) => document.getElementById(id);
const ROOM = 0; // the box's own camera and microphone
const POLL_MS = 2000;

const state = {
  code: null,
  pc: null,
  channel: null,
  me: null,
  participants: new Map(),
  streams: new Map(),
  activeSpeaker: null,
  joining: false,
  shown: null, // the last /api/display answer
};
window.confcamDisplay = state; // for tests

// ---- what the room sees: name, code, QR, welcomes, banners ------------------

async function poll() {
  try {
    const r = await fetch('/api/display', { cache: 'no-store' });
    if (r.ok) show(await r.json());
  } catch { /* the box restarts; try again */ }
  setTimeout(poll, POLL_MS);
}

function show(d) {
  state.shown = d;
  for (const id of ['room', 'room-side']) $(id).textContent = d.room;
  document.title = `${d.room} · confcam`;
  if (d.code !== state.code) {
    state.code = d.code;
    $('code').textContent = d.code;
    $('qr').src = `/api/display/qr.svg?code=${d.code}`;
    if (!state.pc) join();
  }
  $('join-url').textContent = d.join_url.replace(/^https:\/\//, '').replace(/\/\?code=.*$/, '/');
  $('setup').hidden = !d.setup_code;
  $('setup-code').textContent = d.setup_code || '';
  const problems = [];
  if (d.camera_offline) problems.push('The room camera is offline');
  if (d.microphone_offline) problems.push('The room microphone is offline');
  else if (d.muted) problems.push('The room microphone is muted');
  $('banner').hidden = problems.length === 0;
  $('banner').textContent = problems.join(' · ');
  welcome(d.welcome);
  // One loudspeaker in the room: when the box plays the far end, this page
  // stays silent (the box cancels only its own playback's echo).
  for (const audio of document.querySelectorAll('.tile audio')) audio.muted = !!d.box_plays_far_end;
}

function welcome(names) {
  const box = $('welcome');
  for (const p of [...box.children]) if (!names.includes(p.dataset.name)) p.remove();
  for (const name of names) {
    if ([...box.children].some((p) => p.dataset.name === name)) continue;
    const p = document.createElement('p');
    p.dataset.name = name;
    p.textContent = `Welcome, ${name}`;
    box.append(p);
  }
}

// ---- the meeting, received only ---------------------------------------------

async function join() {
  if (state.joining || !state.code) return;
  state.joining = true;
  try {
    const pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle' });
    const channel = pc.createDataChannel('room');
    channel.onmessage = (e) => onMessage(pc, JSON.parse(e.data));
    pc.ontrack = (e) => {
      const id = Number(e.streams[0]?.id);
      if (!Number.isFinite(id)) return;
      state.streams.set(id, e.streams[0]);
      e.streams[0].onremovetrack = () => render();
      render();
    };
    pc.onconnectionstatechange = () => {
      if (pc === state.pc && ['failed', 'closed'].includes(pc.connectionState)) again(pc);
    };
    const joined = await joinWith(pc, { code: state.code, name: 'Room display', kind: 'display' });
    Object.assign(state, { pc, channel, me: joined.participant });
  } catch (e) {
    console.warn('display could not join; trying again', e);
    setTimeout(join, 3000);
  } finally {
    state.joining = false;
  }
}

function again(pc) {
  pc.close();
  Object.assign(state, { pc: null, channel: null, me: null });
  state.participants.clear();
  state.streams.clear();
  render();
  setTimeout(join, 2000);
}

async function onMessage(pc, m) {
  const send = (msg) => state.channel?.readyState === 'open' && state.channel.send(JSON.stringify(msg));
  if (await negotiate(pc, m, send)) return;
  if (note(state, m)) render();
}

// The active speaker large (a phone; the room's own camera only when nobody
// else is here), everyone else as thumbnails. The room's own microphone is
// never played: the TV is in that room.
function render() {
  const ids = [...state.participants.keys()].filter((id) => id !== state.me && state.participants.get(id).kind !== 'display');
  const phones = ids.filter((id) => id !== ROOM);
  const large = phones.includes(state.activeSpeaker) ? state.activeSpeaker : phones[0] ?? null;
  for (const id of ids) {
    const tile = tileFor(id);
    const target = id === large ? $('speaker') : $('thumbs');
    if (tile.parentElement !== target) {
      if (target === $('speaker')) for (const old of [...target.children]) $('thumbs').append(old);
      target.append(tile);
    }
  }
  for (const tile of document.querySelectorAll('.tile')) if (!ids.includes(Number(tile.dataset.id))) tile.remove();
  $('empty').hidden = phones.length > 0;
}

function tileFor(id) {
  let tile = document.getElementById(`tile-${id}`);
  if (!tile) {
    tile = document.createElement('figure');
    tile.id = `tile-${id}`;
    tile.className = 'tile';
    tile.dataset.id = id;
    tile.innerHTML = '<video autoplay playsinline muted></video><audio autoplay></audio><figcaption></figcaption>';
  }
  const p = state.participants.get(id);
  const stream = state.streams.get(id);
  const [video, audio] = [tile.querySelector('video'), tile.querySelector('audio')];
  if (stream && video.srcObject !== stream) {
    video.srcObject = stream;
    if (id !== ROOM) audio.srcObject = stream;
    audio.muted = !!state.shown?.box_plays_far_end;
  }
  tile.querySelector('figcaption').textContent = `${p?.name ?? '…'}${p?.audio_muted ? ' · muted' : ''}`;
  tile.classList.toggle('no-video', !!p?.video_muted || !stream?.getVideoTracks().length);
  return tile;
}

poll();
