// A part of the box dies in a meeting: the daemon ends naming it, systemd
// (here: the test) starts it again, and the phones' pages find their way
// back into the meeting by themselves.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startBox, launchChromium, joinAs, until } from './box.mjs';

/// In the page: true once video from the phone called `name` plays here.
function seesVideoOf(name) {
  for (const [id, p] of window.confcam.participants) {
    const s = window.confcam.stats.byParticipant[id];
    if (p.name === name && s && s.framesDecoded > 0) return true;
  }
  return false;
}

test('after the SFU thread dies and the box restarts, the phones rejoin on their own', async () => {
  const box = await startBox();
  const browser = await launchChromium();
  try {
    const ada = await joinAs(browser.context, box, 'Ada');
    const bob = await joinAs(browser.context, box, 'Bob');
    await until(ada.page, seesVideoOf, 'Bob', 45_000);
    await until(bob.page, seesVideoOf, 'Ada', 45_000);

    // The test build's fault hook, asked from a page (which takes the box's
    // certificate).
    const status = await ada.page.evaluate(async () => (await fetch('/api/faults', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ part: 'sfu', fault: 'die' }),
    })).status);
    assert.equal(status, 202);
    const code = await box.exited();
    assert.notEqual(code, 0, 'a dead part is a failure: systemd restarts on it');
    assert.match(box.log.join(''), /part of the box stopped working: sfu panicked: injected fault/);

    const sessions = await Promise.all([ada, bob].map((p) => p.page.evaluate(() => window.confcam.session)));
    await box.restart();
    for (const [i, [phone, other]] of [[ada, 'Bob'], [bob, 'Ada']].entries()) {
      // A new session (the old one died with the daemon: its ICE restart is
      // refused, so the page joins again), and media again.
      await until(phone.page, (old) => window.confcam.session !== old, sessions[i], 60_000);
      await until(phone.page, () => window.confcam.pc.connectionState === 'connected', null, 30_000);
      await until(phone.page, seesVideoOf, other, 45_000);
    }
  } finally {
    await browser.close();
    await box.stop();
  }
});
