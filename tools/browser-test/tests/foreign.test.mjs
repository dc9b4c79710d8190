// WebRTC clients nobody here wrote, against the box: GStreamer's webrtcbin
// (libnice, OpenSSL DTLS with an RSA certificate, as encoders and gateways
// use) publishes by WHIP and pulls the room by WHEP.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { startBox, launchChromium, joinAs, until, repo, JOIN_CODE } from './box.mjs';

const run = promisify(execFile);
const gstreamer = join(repo, 'tools/gst-webrtc');

test('GStreamer webrtcbin publishes by WHIP (a phone plays it) and pulls the room by WHEP', async () => {
  const box = await startBox();
  const browser = await launchChromium();
  try {
    const ada = await joinAs(browser.context, box, 'Ada');
    const publishing = run(gstreamer, ['whip', box.url, JOIN_CODE, '20']);
    await until(ada.page, () => [...window.confcam.participants.values()].some((p) => p.kind === 'ingest'), null, 20_000);
    const id = await ada.page.evaluate(() => [...window.confcam.participants.values()].find((p) => p.kind === 'ingest').id);
    await until(ada.page, (id) => {
      const s = window.confcam.stats.byParticipant[id];
      return s && s.framesDecoded > 10 && s.audioSamples > 0;
    }, id, 20_000);

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
