// The admin page: claim the box or log in, then settings (checked by the box,
// errors shown next to each field), check-in and enrollment, attendance with
// CSV export, the live view with the network facts (live.js), software
// updates (update.js). Every
// request after login carries the session's CSRF token.
import { api, setCsrf } from './api.js';
import { startLive } from './live.js';
import { loadUpdate } from './update.js';

const $ = (id) => document.getElementById(id);

// What each setting looks like on the page. Ranges mirror the box's own
// checks; the box has the last word and says why.
const FIELDS = {
  'room.name': { label: 'Room name', type: 'text', max: 64 },
  'meeting.join_code': { label: 'Fixed code (6 digits)', type: 'code' },
  'camera[0].device': { label: 'Camera', type: 'camera' },
  'camera[0].width': { label: 'Width', type: 'number', unit: 'px', min: 64, max: 3840, step: 2 },
  'camera[0].height': { label: 'Height', type: 'number', unit: 'px', min: 64, max: 2160, step: 2 },
  'camera[0].fps': { label: 'Frame rate', type: 'number', unit: 'fps', min: 1, max: 60 },
  'microphone.device': { label: 'Microphone', type: 'microphone' },
  'microphone.profile': { label: 'Microphone board', type: 'profile' },
  'speaker.enabled': { label: 'Play the far end through the box (the display page stays silent; the box cancels its echo)', type: 'checkbox' },
  'speaker.device': { label: 'Loudspeaker', type: 'speaker' },
  'speaker.volume_percent': { label: 'Volume', type: 'number', unit: '%', min: 0, max: 100 },
  'speaker.far_end_muted': { label: 'Mute the far end', type: 'checkbox' },
  'microphone.echo_cancellation': { label: 'Cancel the loudspeaker\'s echo', type: 'checkbox' },
  'microphone.noise_suppression': { label: 'Suppress steady noise', type: 'checkbox' },
  'microphone.gain_control': { label: 'Even out speech levels', type: 'checkbox' },
  'director.mode': { label: 'Framing', type: 'mode' },
  'director.reaction_ms': { label: 'Reaction (speech before the picture moves)', type: 'number', unit: 'ms', min: 100, max: 5000, step: 50 },
  'director.hold_ms': { label: 'Hold (least time a shot stays)', type: 'number', unit: 'ms', min: 0, max: 30000, step: 100 },
  'director.group_after_silence_ms': { label: 'Group view after silence', type: 'number', unit: 'ms', min: 500, max: 60000, step: 100 },
  'director.pan_ms': { label: 'Pan time (0 cuts)', type: 'number', unit: 'ms', min: 0, max: 5000, step: 50 },
  'director.zoom_percent': { label: 'Speaker view width', type: 'number', unit: '% of picture', min: 10, max: 100 },
  'checkin.enabled': { label: 'Check people in by face', type: 'checkbox' },
  'checkin.threshold_percent': { label: 'Match threshold (higher is stricter)', type: 'number', unit: '%', min: 10, max: 95 },
  'checkin.retention_days': { label: 'Keep check-ins for', type: 'number', unit: 'days', min: 1, max: 3650 },
  'checkin.keep_photos': { label: 'Keep enrollment photos (only face codes are needed)', type: 'checkbox' },
};

const PROFILES = {
  'respeaker-4mic-hat': 'ReSpeaker 4-Mic HAT',
  'respeaker-6mic-hat': 'ReSpeaker 6-Mic circular HAT',
  'respeaker-usb-4mic': 'ReSpeaker USB Mic Array v2.0',
  'minidsp-uma8': 'miniDSP UMA-8',
  'generic-usb-mic': 'Any USB microphone (no direction)',
};

const MODES = {
  auto: 'Follow the talker, whole room when quiet',
  group: 'Always the whole room',
  speaker: 'Always the last talker',
};

const page = { settings: null, live: null };
window.confcamAdmin = page; // for tests and the curious

// ---- claiming the box and logging in ---------------------------------------

async function start() {
  const session = await api('GET', '/api/admin/session');
  if (session.logged_in) return enter(session.csrf);
  $('setup-form').hidden = !session.setup_needed;
  $('login-form').hidden = session.setup_needed;
}

function showError(id, text) {
  $(id).hidden = !text;
  $(id).textContent = text || '';
}

$('setup-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  if ($('setup-password').value !== $('setup-repeat').value) return showError('setup-error', 'The two passwords differ.');
  try {
    const s = await api('POST', '/api/admin/setup', { code: $('setup-code').value.trim(), password: $('setup-password').value });
    enter(s.csrf);
  } catch (err) {
    showError('setup-error', err.message);
  }
});

$('login-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  try {
    const s = await api('POST', '/api/admin/login', { password: $('login-password').value });
    $('login-password').value = '';
    enter(s.csrf);
  } catch (err) {
    showError('login-error', err.message);
  }
});

$('logout').addEventListener('click', async () => {
  await api('POST', '/api/admin/logout').catch(() => {});
  location.reload();
});

async function enter(csrf) {
  setCsrf(csrf);
  for (const id of ['setup-form', 'login-form']) $(id).hidden = true;
  $('console').hidden = false;
  $('logout').hidden = false;
  await Promise.all([loadSettings(), loadCheckin(), loadPeople(), loadMeetings(), loadUpdate()]);
  page.live = startLive();
}

// A session that ended (expired, logged out elsewhere) goes back to login.
addEventListener('confcam:unauthorized', () => {
  page.live?.stop();
  $('console').hidden = true;
  $('logout').hidden = true;
  $('login-form').hidden = false;
  showError('login-error', 'Your session ended; please log in again.');
});

// ---- settings ----------------------------------------------------------------

async function loadSettings() {
  page.settings = await api('GET', '/api/settings');
  const { values } = page.settings;
  $('room').textContent = values['room.name'];
  document.title = `Admin · ${values['room.name']} · confcam`;
  for (const box of document.querySelectorAll('.fields')) {
    box.replaceChildren(...box.dataset.keys.split(' ').map((key) => field(key, values[key])));
  }
  const fixed = values['meeting.join_code'] !== null;
  document.querySelector(`input[name="code-policy"][value="${fixed ? 'fixed' : 'rotate'}"]`).checked = true;
  showCodePolicy();
  $('current-code').textContent = page.settings.join_code;
  showRestart(page.settings.restart_pending);
}

function field(key, value) {
  const spec = FIELDS[key];
  const wrap = document.createElement('label');
  wrap.className = spec.type === 'checkbox' ? 'field inline' : 'field';
  wrap.dataset.key = key;
  let input;
  if (['camera', 'microphone', 'speaker', 'profile', 'mode'].includes(spec.type)) {
    input = document.createElement('select');
    for (const [v, text] of choices(spec.type, value)) input.add(new Option(text, v, false, v === value));
  } else {
    input = document.createElement('input');
    input.type = { number: 'number', checkbox: 'checkbox' }[spec.type] || 'text';
    if (spec.type === 'checkbox') input.checked = !!value;
    else input.value = value ?? '';
    if (spec.type === 'code') Object.assign(input, { inputmode: 'numeric', maxLength: 6, placeholder: '6 digits' });
    if (spec.max && spec.type === 'text') input.maxLength = spec.max;
    for (const a of ['min', 'max', 'step']) if (spec.type === 'number' && spec[a] !== undefined) input[a] = spec[a];
  }
  input.name = key;
  input.dataset.initial = spec.type === 'checkbox' ? String(!!value) : String(value ?? '');
  const text = document.createElement('span');
  text.textContent = spec.label + (spec.unit ? ` (${spec.unit})` : '');
  if (page.settings.takes[key] === 'restart') text.textContent += ' · applies at restart';
  const error = document.createElement('span');
  error.className = 'field-error';
  error.setAttribute('role', 'alert');
  if (spec.type === 'checkbox') wrap.append(input, text, error);
  else wrap.append(text, input, error);
  return wrap;
}

function choices(type, value) {
  const found = page.settings.devices;
  let list;
  if (type === 'profile') list = Object.entries(PROFILES);
  else if (type === 'mode') list = Object.entries(MODES);
  else if (type === 'camera') list = [['auto', 'First camera found'], ['simulated', 'Simulated (test picture)'], ...found.cameras.map((c) => [c.device, `${c.name} (${c.device})`])];
  else if (type === 'speaker') list = [['auto', 'The board\'s own, else simulated'], ['simulated', 'Simulated (into the simulated room)'], ...found.speakers.map((s) => [s.device, `${s.name} (${s.device})`])];
  else list = [['auto', 'First microphone found'], ['simulated', 'Simulated (test voices)'], ...found.microphones.map((m) => [m.device, `${m.name} (${m.device})`])];
  if (!list.some(([v]) => v === value)) list.push([value, `${value} (not found now)`]);
  return list;
}

function showCodePolicy() {
  const fixed = document.querySelector('input[name="code-policy"]:checked')?.value === 'fixed';
  document.querySelector('[data-key="meeting.join_code"]').hidden = !fixed;
  $('new-code').hidden = fixed;
}
for (const r of document.querySelectorAll('input[name="code-policy"]')) r.addEventListener('change', showCodePolicy);

$('test-tone').addEventListener('click', async () => {
  try {
    const r = await api('POST', '/api/speaker/tone');
    $('test-tone-result').textContent = `Playing on ${r.device}`;
  } catch (e) {
    $('test-tone-result').textContent = e.message;
  }
});

$('new-code').addEventListener('click', async () => {
  const { code } = await api('POST', '/api/meeting/code');
  $('current-code').textContent = code;
});

// Each settings form saves what changed in it, all or nothing.
for (const form of document.querySelectorAll('form.settings')) {
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const changes = {};
    for (const input of form.querySelectorAll('[name]:not([type=radio])')) {
      const value = valueOf(input);
      if (String(value ?? '') !== input.dataset.initial) changes[input.name] = value;
    }
    if (form.id === 'meeting') {
      const fixed = form.querySelector('input[name="code-policy"]:checked').value === 'fixed';
      const code = form.querySelector('[name="meeting.join_code"]');
      const was = page.settings.values['meeting.join_code'];
      if (!fixed && was !== null) changes['meeting.join_code'] = null;
      else if (fixed) changes['meeting.join_code'] = code.value.trim();
      if (fixed && code.value.trim() === was) delete changes['meeting.join_code'];
    }
    for (const e of form.querySelectorAll('.field-error')) e.textContent = '';
    const saved = form.querySelector('.saved');
    if (!Object.keys(changes).length) return (saved.textContent = 'Nothing changed.');
    try {
      const result = await api('PUT', '/api/settings', changes);
      saved.textContent = 'Saved.';
      await loadSettings();
      form.querySelector('.saved').textContent = result.restart_pending.length ? 'Saved; some changes apply at the next restart.' : 'Saved and applied.';
      if ('checkin.enabled' in changes) loadCheckin();
    } catch (err) {
      saved.textContent = '';
      for (const [key, message] of Object.entries(err.fields || {})) {
        const slot = form.querySelector(`[data-key="${CSS.escape(key)}"] .field-error`);
        if (slot) slot.textContent = message;
      }
      if (!err.fields) saved.textContent = err.message;
    }
  });
}

function valueOf(input) {
  if (input.type === 'checkbox') return input.checked;
  if (input.type === 'number') return input.value === '' ? null : Number(input.value);
  return input.value;
}

function showRestart(keys) {
  for (const form of document.querySelectorAll('form.settings')) {
    const pending = keys.filter((k) => form.querySelector(`[data-key="${CSS.escape(k)}"]`));
    if (pending.length) form.querySelector('.saved').textContent = `Waiting for a restart: ${pending.map((k) => FIELDS[k].label).join(', ')}.`;
  }
}

// ---- check-in and people -----------------------------------------------------

async function loadCheckin() {
  const s = await api('GET', '/api/checkin');
  $('checkin-state').textContent = !s.available
    ? `Check-in is unavailable: ${s.unavailable_because}`
    : s.privacy_switch ? 'The privacy switch is on: the camera is not looked at.' : s.enabled ? 'Check-in is on.' : 'Check-in is off.';
}

async function loadPeople() {
  const people = await api('GET', '/api/people');
  $('no-people').hidden = people.length > 0;
  $('people').replaceChildren(...people.map((p) => {
    const li = document.createElement('li');
    li.dataset.person = p.id;
    const who = document.createElement('span');
    who.textContent = `${p.name}${p.email ? ` <${p.email}>` : ''}`;
    const facts = document.createElement('span');
    facts.className = 'muted';
    facts.textContent = `${p.embeddings} face${p.embeddings === 1 ? '' : 's'} · enrolled ${new Date(p.created_at * 1000).toLocaleDateString()}`;
    const remove = document.createElement('button');
    remove.className = 'danger quiet';
    remove.textContent = 'Delete';
    remove.addEventListener('click', async () => {
      if (!confirm(`Delete ${p.name} and their face data?`)) return;
      await api('DELETE', `/api/people/${p.id}`);
      loadPeople();
    });
    li.append(who, facts, remove);
    return li;
  }));
}

$('enroll-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const file = $('enroll-photo').files[0];
  if (!file) return showError('enroll-error', 'Choose a photo with one face, or take one from the camera.');
  enroll('', file);
});
$('enroll-capture').addEventListener('click', () => enroll('/capture', null));

async function enroll(suffix, file) {
  const name = $('enroll-name').value.trim();
  if (!name) return showError('enroll-error', 'Please give a name.');
  const query = new URLSearchParams({ name, email: $('enroll-email').value.trim() });
  showError('enroll-error', null);
  try {
    await api('POST', `/api/people${suffix}?${query}`, file, file?.type || 'application/octet-stream');
    $('enroll-form').reset();
    loadPeople();
  } catch (err) {
    showError('enroll-error', err.message);
  }
}

// ---- attendance --------------------------------------------------------------

async function loadMeetings() {
  const meetings = await api('GET', '/api/meetings');
  $('no-meetings').hidden = meetings.length > 0;
  $('meetings').replaceChildren(...meetings.map((m) => {
    const li = document.createElement('li');
    const when = document.createElement('span');
    when.textContent = `${new Date(m.started_at * 1000).toLocaleString()} · ${m.attendees} checked in${m.ended_at ? '' : ' · open'}`;
    const show = document.createElement('button');
    show.className = 'quiet';
    show.textContent = 'Show';
    show.addEventListener('click', () => showAttendees(m.id));
    const csv = document.createElement('button');
    csv.className = 'quiet csv';
    csv.textContent = 'Download CSV';
    csv.addEventListener('click', () => downloadCsv(m.id));
    li.append(when, show, csv);
    return li;
  }));
}

async function showAttendees(id) {
  const rows = await api('GET', `/api/meetings/${id}/attendance`);
  const table = document.createElement('table');
  table.innerHTML = '<thead><tr><th>Name</th><th>Email</th><th>First seen</th><th>Last seen</th></tr></thead><tbody></tbody>';
  for (const a of rows) {
    const tr = table.tBodies[0].insertRow();
    for (const v of [a.name, a.email || '', new Date(a.first_seen * 1000).toLocaleTimeString(), new Date(a.last_seen * 1000).toLocaleTimeString()]) tr.insertCell().textContent = v;
  }
  $('attendees').replaceChildren(table);
}

// The CSV needs the CSRF header, so it is fetched and saved from a blob.
async function downloadCsv(id) {
  const blob = await api('GET', `/api/meetings/${id}/attendance.csv`, undefined, undefined, 'blob');
  const a = Object.assign(document.createElement('a'), { href: URL.createObjectURL(blob), download: `meeting-${id}-attendance.csv` });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
}

// ---- password ----------------------------------------------------------------

$('account').addEventListener('submit', async (e) => {
  e.preventDefault();
  showError('password-error', null);
  try {
    await api('PUT', '/api/admin/password', { current: $('password-current').value, new: $('password-new').value });
    $('account').reset();
    $('account').querySelector('.saved').textContent = 'Password changed; other sessions were logged out.';
  } catch (err) {
    showError('password-error', err.message);
  }
});

start().catch((e) => showError('login-error', `The box did not answer: ${e.message}`));
