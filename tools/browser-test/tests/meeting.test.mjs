// Phones join the meeting in a real browser and see and hear each other.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { startBox, launchChromium, joinAs, until, inbound } from './box.mjs';

const ROOM = 0;

/// In the page: true once audio and video from each of `ids` play here.
function receivesFrom(ids) {
  return ids.every((id) => {
    const s = window.confcam.stats.byParticipant[id];
    return s && s.audioBytes > 0 && s.audioSamples > 0 && s.videoBytes > 0 && s.framesDecoded > 0;
  });
}

test('three phones and a display receive everyone; a phone that leaves is gone and can come back', async () => {
  const box = await startBox();
  const browser = await launchChromium();
  const pages = [];
  try {
    const phones = [];
    for (const name of ['Ada', 'Bob', 'Cy']) phones.push(await joinAs(browser.context, box, name));
    const display = await joinAs(browser.context, box, 'Room display', { display: true });
    pages.push(...phones, display);

    // Everyone gets everyone else's phone, and the room itself (id 0: the
    // box's camera and microphone array).
    for (const viewer of [...phones, display]) {
      const others = [ROOM, ...phones.filter((p) => p !== viewer).map((p) => p.id)];
      await until(viewer.page, receivesFrom, others, 45_000);
    }

    // Each phone publishes its camera in simulcast layers. On a busy
    // machine Chromium may hold its upper layers back for CPU ('cpu'
    // adaptation, seen in CI): then one layer and that reason are accepted.
    for (const phone of phones) {
      const simulcast = () => window.confcam.stats.sentVideoLayers >= 2 ||
        (window.confcam.stats.sentVideoLayers >= 1 && window.confcam.stats.videoLimitation === 'cpu');
      await until(phone.page, simulcast, null, 30_000);
      const { sentVideoLayers, videoLimitation } = await phone.page.evaluate(() => window.confcam.stats);
      if (sentVideoLayers < 2) console.error(`${phone.name} sends ${sentVideoLayers} layer(s): limited by ${videoLimitation}`);
    }

    // Cy closes the tab: the others see Cy leave within 15 s.

    const [ada, bob, cy] = phones;
    await cy.page.close();
    for (const viewer of [ada, bob, display]) {
      await until(viewer.page, (id) => !window.confcam.participants.has(id), cy.id, 15_000);
    }

    // Ada's page restarts ICE over HTTPS (what it does after a network
    // change); her media keeps flowing to Bob, and Bob's to her.
    assert.equal(await ada.page.evaluate(() => window.confcam.restartIce()), true);
    const before = await bob.page.evaluate((id) => window.confcam.stats.byParticipant[id].framesDecoded, ada.id);
    await until(bob.page, ([id, n]) => window.confcam.stats.byParticipant[id].framesDecoded > n + 20, [ada.id, before], 15_000);
    await until(ada.page, () => window.confcam.pc.connectionState === 'connected', null, 10_000);

    // Cy comes back: media flows both ways again.

    const cyAgain = await joinAs(browser.context, box, 'Cy');
    for (const viewer of [ada, bob, display]) await until(viewer.page, receivesFrom, [cyAgain.id], 45_000);
    await until(cyAgain.page, receivesFrom, [ROOM, ada.id, bob.id], 45_000);
  } catch (e) {
    for (const p of pages) {
      if (p.page.isClosed()) continue;
      console.error(p.name, p.id, await p.page.evaluate(() => JSON.stringify({
        connection: window.confcam.pc?.connectionState,
        participants: [...window.confcam.participants.keys()],
        streams: [...window.confcam.streams.keys()],
        received: window.confcam.stats.byParticipant,
        transceivers: window.confcam.pc?.getTransceivers().map((t) => [t.mid, t.currentDirection]),
      })));
    }
    console.error(box.log.join('').split('\n').slice(-60).join('\n'));
    throw e;
  } finally {
    await browser.close();
    await box.stop();
  }
});

test('a browser without WebRTC is told so in plain words', async () => {
  const box = await startBox();
  const browser = await launchChromium();
  try {
    const page = await browser.context.newPage();
    // As an in-app browser or an old WebView: no RTCPeerConnection at all.
    await page.addInitScript(() => { delete window.RTCPeerConnection; });
    await page.goto(`${box.url}/join/`);
    const error = page.locator('#join-error');
    await error.waitFor({ state: 'visible' });
    assert.match(await error.textContent(), /cannot join video meetings \(it has no WebRTC\)/);
    assert.equal(await page.locator('#join-button').isDisabled(), true);
  } finally {
    await browser.close();
    await box.stop();
  }
});

test('on a busy machine the receive-only display keeps getting everyone\'s video', async () => {
  // Both cores busy, as on a box that is also encoding, or a CI machine.
  const burners = [0, 1].map(() => spawn('sh', ['-c', 'exec yes > /dev/null'], { stdio: 'ignore' }));
  const box = await startBox();
  const browser = await launchChromium();
  const pages = [];
  try {
    for (const name of ['Ada', 'Bob', 'Cy']) pages.push(await joinAs(browser.context, box, name));
    const display = await joinAs(browser.context, box, 'Room display', { display: true });
    pages.push(display);
    const everyone = [ROOM, ...pages.slice(0, 3).map((p) => p.id)];
    await until(display.page, receivesFrom, everyone, 60_000);
    // And it keeps coming: every picture moves on over the next 10 s.
    const decoded = () => display.page.evaluate((ids) => ids.map((id) => window.confcam.stats.byParticipant[id]?.framesDecoded ?? 0), everyone);
    const roomOn = (p) => p.page.evaluate(() => window.confcam.stats.byParticipant[0]?.framesDecoded ?? 0);
    const phoneBefore = await roomOn(pages[0]);
    const before = await decoded();
    await new Promise((r) => setTimeout(r, 10_000));
    const after = await decoded();
    // The room's own picture is encoded on this busy machine too; a phone
    // shows how fast it comes for everyone.
    console.error(`Ada decoded ${await roomOn(pages[0]) - phoneBefore} frames of the room`);
    const gained = after.map((n, i) => n - before[i]);
    console.error(`display decoded in 10 s under load: ${JSON.stringify(Object.fromEntries(everyone.map((id, i) => [id, gained[i]])))}`);
    for (const [i, id] of everyone.entries()) assert.ok(gained[i] >= 10, `participant ${id}: ${gained[i]} frames in 10 s`);
  } catch (e) {
    console.error(box.log.join('').split('\n').slice(-40).join('\n'));
    // Each page's connection, and what the display receives track by track.
    for (const p of pages) console.error(`${p.name}: ${JSON.stringify(await inbound(p.page))}`);
    throw e;
  } finally {
    for (const b of burners) b.kill();
    await browser.close();
    await box.stop();
  }
});
