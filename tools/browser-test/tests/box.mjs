// Starts a real confcamd (the test build) on free local ports with a fresh
// data dir, and headless Chromium with fake media devices.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { createSocket } from 'node:dgram';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'node:https';
import { chromium } from 'playwright-core';

/// GET over HTTPS accepting the box's self-signed certificate; the status.
function status(url) {
  return new Promise((resolve, reject) => {
    request(url, { rejectUnauthorized: false }, (r) => { r.resume(); resolve(r.statusCode); })
      .on('error', reject)
      .end();
  });
}

export const repo = new URL('../../../', import.meta.url).pathname;
export const JOIN_CODE = '246810';

async function freeTcpPort() {
  return new Promise((resolve, reject) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

async function freeUdpPort() {
  return new Promise((resolve) => {
    const s = createSocket('udp4').bind(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

export async function startBox(extraToml = '', camera = 'width = 320\nheight = 180\nfps = 10', { bind = '127.0.0.1' } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'confcam-browser-'));
  const https = await freeTcpPort();
  const media = await freeUdpPort();
  const config = join(dir, 'confcam.toml');
  writeFileSync(config, `
[server]
bind = "${bind}"
https_port = ${https}
http_port = 0
media_port = ${media}

[meeting]
join_code = "${JOIN_CODE}"

[[camera]]
${camera}
${extraToml}
`);
  const binary = process.env.CONFCAMD || join(repo, 'target/debug/confcamd');
  const log = [];
  const url = `https://127.0.0.1:${https}`;
  let child;
  const ended = () => child.exitCode !== null || child.signalCode !== null;
  // Starts the daemon and waits for it to serve; again after it ended, on
  // the same ports and data (what systemd's Restart= does).
  const launch = async () => {
    child = spawn(binary, ['run', '--log-to', 'stderr', '--config', config, '--data-dir', join(dir, 'data')], {
      env: { ...process.env, RUST_LOG: process.env.RUST_LOG || 'info' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    child.stderr.on('data', (d) => log.push(d.toString()));
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (ended()) throw new Error(`confcamd exited:\n${log.join('')}`);
      try {
        if ((await status(`${url}/healthz`)) === 200) break;
      } catch { /* not up yet */ }
      if (Date.now() > deadline) throw new Error(`confcamd did not come up:\n${log.join('')}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  };
  await launch();
  return {
    url,
    port: https,
    log,
    db: join(dir, 'data', 'confcam.db'),
    restart: launch,
    // Resolves with the exit code once the daemon has ended.
    exited() {
      return new Promise((r) => (ended() ? r(child.exitCode) : child.on('exit', (code) => r(code))));
    },
    async stop() {
      if (!ended()) child.kill('SIGTERM');
      await this.exited();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// Flags from TESTING.md: no background traffic off the machine, fake camera
// and microphone, and loopback ICE candidates (the box runs on 127.0.0.1).
// `netns`: run it inside that network namespace (tools/browser-test/netns.sh).
export async function launchChromium(extraArgs = [], { netns } = {}) {
  const userDataDir = mkdtempSync(join(tmpdir(), 'confcam-chromium-'));
  let executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
  if (netns) {
    const sudo = process.getuid() === 0 ? '' : 'sudo ';
    const wrapper = join(userDataDir, 'chromium-in-netns');
    writeFileSync(wrapper, `#!/bin/sh\nexec ${sudo}ip netns exec ${netns} ${executablePath} "$@"\n`, { mode: 0o755 });
    executablePath = wrapper;
  }
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath,
    headless: true,
    ignoreHTTPSErrors: true,
    permissions: ['camera', 'microphone'],
    args: [
      '--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
      '--allow-loopback-in-peer-connection', '--autoplay-policy=no-user-gesture-required',
      ...extraArgs,
    ],
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

// Opens the join page and joins like a person: name, code, Join.
export async function joinAs(context, box, name, { display = false, code = JOIN_CODE } = {}) {
  const page = await context.newPage();
  page.on('pageerror', (e) => console.error(`[${name}] page error:`, e.message));
  const url = `${box.url}/join/${display ? '?as=display' : ''}`;
  // A network change on this machine (another test's link coming up)
  // aborts a load in flight, as it would on a phone; a person reloads.
  await page.goto(url).catch((e) => {
    if (!/ERR_NETWORK_CHANGED/.test(e.message)) throw e;
    return page.goto(url);
  });
  await page.fill('#name', name);
  await page.fill('#code', code);
  await page.click('#join-button');
  // In the meeting and connected, or refused: a refusal fails here with the
  // page's words. Connected, because a join whose handshake stalls is
  // dropped by the box after 20 s and the page joins again, as someone else.
  const outcome = await page.waitForFunction(() => {
    if (!document.getElementById('join-error').hidden) return { error: document.getElementById('join-error').textContent };
    const c = window.confcam;
    return c?.me != null && !document.getElementById('meeting').hidden && c.pc?.connectionState === 'connected' && { id: c.me };
  }, undefined, { timeout: 60_000, polling: 250 }).then((h) => h.jsonValue(), async (e) => {
    const where = await page.evaluate(() => ({ script: !!window.confcam, ice: window.confcam?.pc?.iceConnectionState ?? null }));
    throw new Error(`${name} did not get into the meeting: ${e.message} (page state ${JSON.stringify(where)})`);
  });
  if (outcome.error) throw new Error(`${name} could not join: ${outcome.error}`);
  return { page, id: outcome.id, name };
}

// A page's connection and what it receives, track by track (for a
// failure's report): whose stream each track is in, and its packets,
// frames and keyframe requests.
export async function inbound(page) {
  return page.evaluate(async () => {
    const owner = new Map();
    for (const [id, stream] of window.confcam.streams) for (const t of stream.getTracks()) owner.set(t.id, id);
    const rows = [];
    (await window.confcam.pc.getStats()).forEach((s) => {
      if (s.type !== 'inbound-rtp') return;
      rows.push({
        mid: s.mid, kind: s.kind, owner: owner.get(s.trackIdentifier) ?? null, packets: s.packetsReceived,
        lost: s.packetsLost, frames: s.framesReceived, decoded: s.framesDecoded, keyframes: s.keyFramesDecoded,
        plis: s.pliCount, firs: s.firCount, nacks: s.nackCount, width: s.frameWidth,
      });
    });
    const pc = window.confcam.pc;
    const lines = pc.getTransceivers().map((t) => `${t.mid}:${t.receiver.track.kind}:${t.currentDirection}`);
    return {
      connection: pc.connectionState, ice: pc.iceConnectionState, dtls: pc.sctp?.transport.state ?? null,
      channel: window.confcam.channel?.readyState ?? null, signaling: pc.signalingState,
      participants: window.confcam.participants.size, paused: [...window.confcam.paused], lines, rows,
    };
  });
}

// Waits until `check` (run in the page) returns true; returns its last value.
export async function until(page, check, arg, timeout = 30_000) {
  await page.waitForFunction(check, arg, { timeout, polling: 250 });
}

// Reads `read()` once a second for `seconds` seconds: what a test saw
// change over a stretch of meeting.
export async function everySecond(seconds, read) {
  const seen = [];
  for (let i = 0; i < seconds; i++) {
    await new Promise((r) => setTimeout(r, 1_000));
    seen.push(await read());
  }
  return seen;
}

// Rows of a query on the box's SQLite database (Python's sqlite3: always on
// the machine, and it reads the file as any other client would).
export function sql(db, query) {
  const out = execFileSync('python3', ['-c', `
import json, sqlite3, sys
con = sqlite3.connect(sys.argv[1])
print(json.dumps(con.execute(sys.argv[2]).fetchall()))`, db, query]);
  return JSON.parse(out.toString());
}

// Screenshots for people to look at (CI keeps target/screenshots): the page
// at a phone's size and at a desktop's (or a TV's).
export const SIZES = { phone: { width: 390, height: 844 }, desktop: { width: 1366, height: 900 }, tv: { width: 1920, height: 1080 } };
export async function screenshots(page, name, sizes = ['phone', 'desktop']) {
  const dir = join(repo, 'target/screenshots');
  mkdirSync(dir, { recursive: true });
  const before = page.viewportSize();
  for (const size of sizes) {
    await page.setViewportSize(SIZES[size]);
    await page.waitForTimeout(400);
    await page.screenshot({ path: join(dir, `${name}-${size}.png`), fullPage: size !== 'tv' });
  }
  if (before) await page.setViewportSize(before);
}
