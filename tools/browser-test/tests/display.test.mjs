// The room display in a real browser: its QR code (decoded here) opens the
// join page with the code filled in, and a phone that joins appears on it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import jsQR from 'jsqr';
import { PNG } from 'pngjs';
import { startBox, launchChromium, JOIN_CODE, screenshots } from './box.mjs';

test('the display shows a QR code of the join address; a phone that scans it joins and appears on the display', async () => {
  const box = await startBox();
  const browser = await launchChromium();
  try {
    const display = await browser.context.newPage();
    display.on('pageerror', (e) => console.error('[display] page error:', e.message));
    await display.setViewportSize({ width: 1920, height: 1080 });
    await display.goto(`${box.url}/display/`);
    await display.waitForFunction(() => {
      const qr = document.getElementById('qr');
      return qr.complete && qr.naturalWidth > 0;
    });
    assert.equal(await display.textContent('#code'), JOIN_CODE);

    // Read the QR code off the screen as a phone's camera would.
    const png = PNG.sync.read(await display.locator('#qr').screenshot());
    const found = jsQR(new Uint8ClampedArray(png.data), png.width, png.height);
    assert.ok(found, 'a QR code on the display');
    assert.equal(found.data, `${box.url}/join/?code=${JOIN_CODE}`);

    // The phone opens it: the code is filled in; it gives a name and joins.
    const phone = await browser.context.newPage();
    phone.on('pageerror', (e) => console.error('[phone] page error:', e.message));
    await phone.goto(found.data);
    assert.equal(await phone.inputValue('#code'), JOIN_CODE);
    await phone.fill('#name', 'Ada');
    await screenshots(phone, 'join-lobby');
    await phone.click('#join-button');
    await phone.waitForFunction(() => window.confcam.me !== null && !document.getElementById('meeting').hidden);
    const ada = await phone.evaluate(() => window.confcam.me);

    // Ada is on the display, large, with her picture playing.
    await display.waitForFunction((id) => {
      const tile = document.querySelector(`#speaker #tile-${id}`);
      return tile?.querySelector('figcaption').textContent === 'Ada' && tile.querySelector('video').videoWidth > 0;
    }, ada, { timeout: 45_000 });
    await phone.waitForFunction(() => Object.values(window.confcam.stats.byParticipant).some((p) => p.framesDecoded > 0), null, { timeout: 45_000 });
    await screenshots(phone, 'join-meeting');
    await screenshots(display, 'display', ['tv', 'phone']);

    // She leaves: her tile goes.
    await phone.click('#leave');
    await display.waitForFunction((id) => !document.getElementById(`tile-${id}`), ada, { timeout: 15_000 });
  } catch (e) {
    console.error(box.log.join('').split('\n').slice(-60).join('\n'));
    throw e;
  } finally {
    await browser.close();
    await box.stop();
  }
});
