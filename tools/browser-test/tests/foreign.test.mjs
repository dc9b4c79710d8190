// WebRTC clients nobody here wrote, against the box: GStreamer's webrtcbin
// (libnice, OpenSSL DTLS with an RSA certificate, as encoders and gateways
// use) and aiortc (Python) publish by WHIP, pull the room by WHEP, and
// aiortc joins as a phone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { startBox, launchChromium, joinAs, until, repo, JOIN_CODE } from './box.mjs';

const run = promisify(execFile);
const gstreamer = join(repo, 'tools/foreign/gst-webrtc');
const aiortc = join(repo, 'tools/foreign/aiortc');

/// Waits until a participant of `kind` plays on `page` with pictures and sound.
async function plays(page, kind) {
  await until(page, (kind) => [...window.confcam.participants.values()].some((p) => p.kind === kind), kind, 20_000);
  const id = await page.evaluate((kind) => [...window.confcam.participants.values()].find((p) => p.kind === kind).id, kind);
  await until(page, (id) => {
    const s = window.confcam.stats.byParticipant[id];
    return s && s.framesDecoded > 10 && s.audioSamples > 0;
  }, id, 20_000);
}

test('GStreamer webrtcbin publishes by WHIP (a phone plays it) and pulls the room by WHEP', async () => {
  const box = await startBox();
  const browser = await launchChromium();
  try {
    const ada = await joinAs(browser.context, box, 'Ada');
    const publishing = run(gstreamer, ['whip', box.url, JOIN_CODE, '20']);
    await plays(ada.page, 'ingest');

    const pulled = await run(gstreamer, ['whep', box.url, JOIN_CODE, '5']);
    assert.match(pulled.stdout, /received [1-9]\d* video and [1-9]\d* audio packets/);

    const published = await publishing;
    assert.match(published.stdout, /sent [1-9]\d* video and [1-9]\d* audio packets/);
    assert.doesNotMatch(box.log.join(''), /DTLS error|certificate error/);
  } catch (e) {
    console.error(box.log.join('').split('\n').slice(-40).join('\n'));
    throw e;
  } finally {
    await browser.close();
    await box.stop();
  }
});

test('aiortc joins as a phone and becomes the active speaker, publishes by WHIP and pulls by WHEP', async () => {
  const box = await startBox();
  const browser = await launchChromium();
  try {
    // Its voice: a steady level with pauses of digital silence (no noise
    // floor at all), which never took the floor before.
    const phone = await run(aiortc, ['phone', box.url, JOIN_CODE, '20']);
    console.error(phone.stdout.trim());
    assert.match(phone.stdout, /active speaker after/);

    const ada = await joinAs(browser.context, box, 'Ada');
    const publishing = run(aiortc, ['whip', box.url, JOIN_CODE, '20']);
    await plays(ada.page, 'ingest');
    const pulled = await run(aiortc, ['whep', box.url, JOIN_CODE, '5']);
    assert.match(pulled.stdout, /decoded [1-9]\d* video and [1-9]\d* audio frames/);
    await publishing;

    // The phone left by closing its connection (an SCTP abort): normal,
    // not an error.
    assert.doesNotMatch(box.log.join(''), / ERROR /);
  } catch (e) {
    console.error(box.log.join('').split('\n').slice(-40).join('\n'));
    throw e;
  } finally {
    await browser.close();
    await box.stop();
  }
});
