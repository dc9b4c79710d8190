// The admin page's live view: polls /api/status once a second and plots the
// last five minutes (room sound, CPU, each participant's link) and the
// talker's direction on a polar plot; the network facts come with it.
import { api } from './api.js';
import { linePlot, polarPlot } from './plot.js';

const $ = (id) => document.getElementById(id);
const KEEP = 300; // samples: five minutes at one a second

export function startLive() {
  const history = { level: [], far: [], erle: [], cpu: [], board: [], peers: new Map() };
  const live = { history, last: null, timer: null, stop: () => clearInterval(live.timer) };
  window.confcamAdmin.history = history;
  const push = (list, v) => { list.push(v); if (list.length > KEEP) list.shift(); };

  async function tick() {
    let s;
    try {
      s = await api('GET', '/api/status');
    } catch {
      return; // a missed second; the plots carry on
    }
    live.last = s;
    window.confcamAdmin.status = s;
    push(history.level, s.audio.level_dbfs);
    push(history.far, s.speaker?.far_dbfs ?? -120);
    push(history.erle, s.speaker?.erle_db ?? 0);
    push(history.cpu, s.system.daemon_cpu_percent ?? 0);
    push(history.board, s.system.board_cpu_percent ?? 0);
    for (const p of s.participants) {
      if (!p.link) continue;
      const h = history.peers.get(p.id) || { name: p.name, rx: [], tx: [], rtt: [], loss: [], jitter: [] };
      push(h.rx, p.link.receive_kbps);
      push(h.tx, p.link.send_kbps);
      push(h.rtt, p.link.rtt_ms ?? 0);
      push(h.loss, p.link.loss_percent ?? 0);
      push(h.jitter, p.link.jitter_ms ?? 0);
      history.peers.set(p.id, h);
    }
    for (const id of history.peers.keys()) if (!s.participants.some((p) => p.id === id)) history.peers.delete(id);
    draw(s, history);
  }
  tick();
  live.timer = setInterval(tick, 1000);
  return live;
}

function draw(s, history) {
  const a = s.audio;
  $('level-text').textContent = `${Math.round(a.level_dbfs)} dBFS${a.muted ? ' · muted' : ''}${a.voice ? ' · voice' : ''}`;
  linePlot($('level-plot'), [{ values: history.level, colour: '#1b7f4a' }], { min: -90, max: 0, unit: 'dB' });
  speaker(s.speaker, history);
  $('doa-text').textContent = a.talker_deg === null ? 'nobody talking' : `${Math.round(a.talker_deg)}°`;
  polarPlot($('doa-plot'), a.talker_deg);
  const sys = s.system;
  const pct = (v) => (v === null || v === undefined ? '–' : `${v.toFixed(0)} %`);
  $('cpu-text').textContent = `daemon ${pct(sys.daemon_cpu_percent)} of a core · board ${pct(sys.board_cpu_percent)}`;
  linePlot($('cpu-plot'), [
    { values: history.cpu.map((v) => v / sys.cores), colour: '#1f5eff' },
    { values: history.board, colour: '#b26a00' },
  ], { min: 0, max: 100, unit: '%' });
  const mib = (b) => (b ? `${Math.round(b / 1048576)} MiB` : '–');
  facts($('system-facts'), [
    ['Memory', `daemon ${mib(sys.daemon_memory_bytes)} · free ${mib(sys.memory_available_bytes)} of ${mib(sys.memory_total_bytes)}`],
    ['Temperature', sys.temperature_c === null ? 'not reported by this board' : `${sys.temperature_c.toFixed(1)} °C`],
    ['Up for', `${Math.floor(s.uptime_s / 3600)} h ${Math.floor(s.uptime_s / 60) % 60} min`],
  ]);
  const d = s.director_in_use;
  $('director-in-use').textContent = `The director uses: ${d.mode} framing · reaction ${d.reaction_ms} ms · hold ${d.hold_ms} ms · pan ${d.pan_ms} ms · group after ${d.group_after_silence_ms} ms of silence.`;
  $('director-in-use').dataset.reaction = d.reaction_ms;
  $('director-in-use').dataset.mode = d.mode;
  peers(s, history);
  devices(s.devices);
  const n = s.network;
  facts($('network-facts'), [
    ['Address', location.host],
    ['Name on the network', n.local_name || 'mDNS is off'],
    ['IP addresses', n.ips.join(', ')],
    ['Certificate (SHA-256)', n.certificate_sha256],
    ['Media (UDP)', String(n.media_port)],
  ]);
}

function peers(s, history) {
  const shown = s.participants.filter((p) => p.kind !== 'room');
  $('no-participants').hidden = shown.length > 0;
  const box = $('participants');
  for (const card of [...box.children]) if (!shown.some((p) => `peer-${p.id}` === card.id)) card.remove();
  for (const p of shown) {
    let card = document.getElementById(`peer-${p.id}`);
    if (!card) {
      card = document.createElement('article');
      card.id = `peer-${p.id}`;
      card.className = 'peer';
      card.innerHTML = '<h4></h4><p class="muted numbers"></p><canvas width="300" height="70" class="rate"></canvas><canvas width="300" height="50" class="rtt"></canvas>';
      box.append(card);
    }
    card.querySelector('h4').textContent = `${p.name} · ${p.kind}${p.audio_muted ? ' · muted' : ''}`;
    const l = p.link;
    const ms = (v) => (v === null || v === undefined ? '–' : `${Math.round(v)} ms`);
    card.querySelector('.numbers').textContent = l
      ? `in ${Math.round(l.receive_kbps)} kbps · out ${Math.round(l.send_kbps)} kbps · RTT ${ms(l.rtt_ms)} · jitter ${ms(l.jitter_ms)} · loss ${l.loss_percent === null ? '–' : l.loss_percent.toFixed(1)} %`
      : 'connecting…';
    const h = history.peers.get(p.id);
    if (!h) continue;
    const top = Math.max(100, ...h.rx, ...h.tx);
    linePlot(card.querySelector('.rate'), [{ values: h.rx, colour: '#1b7f4a' }, { values: h.tx, colour: '#1f5eff' }], { min: 0, max: top, unit: 'kbps' });
    linePlot(card.querySelector('.rtt'), [{ values: h.rtt, colour: '#b26a00' }, { values: h.jitter, colour: '#7a4cc2' }, { values: h.loss, colour: '#c2262e' }], { min: 0, max: Math.max(50, ...h.rtt, ...h.jitter), unit: 'ms / %' });
  }
}

// The loudspeaker: how loud the far end plays, how much of its echo the
// canceller removes (ERLE) and what may be left; or why there is none.
function speaker(sp, history) {
  if (!sp) {
    $('echo-text').textContent = 'no loudspeaker: the display page plays the far end, with no echo cancellation';
    $('speaker-summary').textContent = 'This box plays nothing: the room display\'s page plays the far end, and its echo is not cancelled.';
    return;
  }
  const db = (v) => (v === null || v === undefined ? '–' : `${Math.round(v)} dB`);
  const residual = sp.residual_echo === null ? '–' : `${Math.round(sp.residual_echo * 100)} %`;
  $('echo-text').textContent = `far end ${Math.round(sp.far_dbfs)} dBFS · echo removed ${db(sp.erle_db)} · residual echo ${residual} · ${sp.underruns} underrun${sp.underruns === 1 ? '' : 's'}`;
  $('speaker-summary').textContent = `Loudspeaker ${sp.state.device}: ${sp.state.state}${sp.far_end_muted ? ' · far end muted' : ''} · ${sp.far_end.talkers} talking`;
  linePlot($('echo-plot'), [
    { values: history.far, colour: '#1f5eff' },
    { values: history.erle.map((v) => v - 90), colour: '#1b7f4a' },
  ], { min: -90, max: 0, unit: 'dB' });
}

function devices(list) {
  $('devices-health').replaceChildren(...list.map((d) => {
    const li = document.createElement('li');
    li.className = `card ${d.state}`;
    const name = document.createElement('strong');
    name.textContent = d.name;
    const state = document.createElement('span');
    state.className = 'state';
    state.textContent = d.state;
    const what = document.createElement('span');
    what.className = 'muted';
    what.textContent = `${d.description} · ${d.delivered} delivered${d.dropped ? ` · ${d.dropped} dropped` : ''}${d.last_error ? ` · ${d.last_error}` : ''}`;
    li.append(name, state, what);
    return li;
  }));
}

function facts(dl, rows) {
  dl.replaceChildren(...rows.flatMap(([k, v]) => {
    const dt = document.createElement('dt');
    const dd = document.createElement('dd');
    dt.textContent = k;
    dd.textContent = v;
    return [dt, dd];
  }));
}
