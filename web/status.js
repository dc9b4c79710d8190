// The box's status page: what /healthz says, refreshed every two seconds.

const $ = (id) => document.getElementById(id);

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  e.append(...children);
  return e;
}

function duration(seconds) {
  const s = Math.floor(seconds);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
  return h ? `${h} h ${m} min` : m ? `${m} min ${s % 60} s` : `${s} s`;
}

function deviceCard(kind, source) {
  return el('li', { class: `card ${source.state}` },
    el('strong', {}, kind),
    el('span', { class: 'state' }, source.state),
    el('span', { class: 'muted' }, `${source.backend} · ${source.device}`),
    el('span', { class: 'muted' }, source.description),
    source.last_error ? el('span', { class: 'error' }, source.last_error) : '');
}

function render(h) {
  document.title = `${h.room} · confcam`;
  $('room').textContent = h.room;
  const words = h.status === 'ok' ? 'All systems working' : 'Something needs attention';
  $('summary').textContent = `${words}${h.muted ? ' · microphones muted' : ''}`;
  $('summary').className = h.status === 'ok' ? 'muted' : 'error';
  $('devices').replaceChildren(
    ...h.subsystems.cameras.map((c) => deviceCard(`Camera ${c.name.replace('camera:', '')}`, c)),
    deviceCard('Microphone array', h.subsystems.microphone));
  const facts = [
    ['Version', h.version],
    ['Up for', duration(h.uptime_s)],
    ['Meeting', h.subsystems.meeting.state === 'ok'
      ? `${h.subsystems.meeting.participants} joined · media on UDP ${h.subsystems.meeting.media_port}`
      : 'media server not running'],
    ['Database', h.subsystems.store.state === 'ok'

      ? `ok (schema ${h.subsystems.store.schema_version})` : h.subsystems.store.error],
    ['Certificate SHA-256', h.subsystems.web.certificate_sha256],
  ];
  $('facts').replaceChildren(...facts.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]));
}

async function refresh() {
  try {
    const r = await fetch('/healthz', { cache: 'no-store' });
    if (!r.ok) throw new Error(`HTTP ${r.status}`);
    render(await r.json());
  } catch (e) {
    $('summary').textContent = `Cannot reach the box (${e.message}); retrying…`;
    $('summary').className = 'error';
  }
}

refresh();
setInterval(refresh, 2000);
