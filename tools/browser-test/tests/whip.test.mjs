// WHIP and WHEP with a str0m client from our own test tools: what it
// publishes plays on a phone; it can pull the room.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { startBox, launchChromium, joinAs, until, JOIN_CODE } from './box.mjs';

const run = promisify(execFile);
const loadClient = process.env.CONFCAM_LOAD || join(new URL('../../../', import.meta.url).pathname, 'target/debug/confcam-load');

test('a WHIP stream plays on a phone, and WHEP pulls the room', async () => {
  const box = await startBox();
  const browser = await launchChromium();
  try {
    const ada = await joinAs(browser.context, box, 'Ada');
    const publishing = run(loadClient, ['--url', box.url, '--code', JOIN_CODE, '--seconds', '15', 'whip']);
    await until(ada.page, () => [...window.confcam.participants.values()].some((p) => p.kind === 'ingest'), null, 15_000);
    const whipId = await ada.page.evaluate(() => [...window.confcam.participants.values()].find((p) => p.kind === 'ingest').id);
    await until(ada.page, (id) => {
      const s = window.confcam.stats.byParticipant[id];
      return s && s.framesDecoded > 10 && s.audioSamples > 0;
    }, whipId, 20_000);

    const pulled = await run(loadClient, ['--url', box.url, '--code', JOIN_CODE, '--seconds', '4', 'whep']);
    assert.match(pulled.stdout, /received [1-9]\d* video and [1-9]\d* audio packets/);

    const refused = await run(loadClient, ['--url', box.url, '--code', '999999', '--seconds', '1', 'whep']).catch((e) => e);
    assert.match(String(refused.stderr), /401/);
    await publishing;
  } finally {
    await browser.close();
    await box.stop();
  }
});
