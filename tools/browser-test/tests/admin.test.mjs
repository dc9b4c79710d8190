// The admin page and the room display in a real browser: claiming the box
// with the code on the display, settings that take effect, enrollment and
// deletion (checked in the database), check-in seen on the display, the
// attendance CSV, and the login throttle.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startBox, launchChromium, repo, sql, screenshots } from './box.mjs';

const PASSWORD = 'correct horse battery';
const photos = join(repo, 'target/face-photos');

test('an admin claims the box, changes settings, enrolls and deletes someone, exports attendance; logins are throttled', async () => {
  // The simulated camera shows a photo of someone in the room, so check-in
  // runs on the real models and pipeline.
  const box = await startBox(`
[checkin]
models_dir = "${join(repo, 'target/models')}"

[simulation]
person_photo = "${join(photos, 'obama.jpg')}"
`, 'width = 640\nheight = 360\nfps = 10');
  const browser = await launchChromium();
  try {
    const display = await browser.context.newPage();
    display.on('pageerror', (e) => console.error('[display] page error:', e.message));
    await display.goto(`${box.url}/display/`);
    await display.waitForFunction(() => document.getElementById('setup-code').textContent.length === 8);
    const setupCode = await display.textContent('#setup-code');
    await screenshots(display, 'display-unclaimed', ['tv']);

    // First boot: the setup form, a wrong code refused, the right one claims.
    const admin = await browser.context.newPage();
    admin.on('pageerror', (e) => console.error('[admin] page error:', e.message));
    admin.on('dialog', (d) => d.accept());
    await admin.goto(`${box.url}/admin/`);
    await admin.waitForSelector('#setup-form:not([hidden])');
    await screenshots(admin, 'admin-setup');
    await admin.fill('#setup-code', '00000000');
    await admin.fill('#setup-password', PASSWORD);
    await admin.fill('#setup-repeat', PASSWORD);
    await admin.click('#setup-form button[type=submit]');
    await admin.waitForSelector('#setup-error:not([hidden])');
    await admin.fill('#setup-code', setupCode);
    await admin.click('#setup-form button[type=submit]');
    await admin.waitForSelector('#console:not([hidden])');
    // Claimed: the display no longer shows a setup code.
    await display.waitForSelector('#setup[hidden]', { state: 'attached', timeout: 10_000 });

    // A bad value is refused next to its field, and nothing changes.
    await admin.fill('[name="director.reaction_ms"]', '50');
    await admin.click('#framing button[type=submit]');
    const fieldError = admin.locator('[data-key="director.reaction_ms"] .field-error');
    await fieldError.waitFor();
    assert.match(await fieldError.textContent(), /100/);
    // Good ones are applied by the running director, no restart.
    await admin.fill('[name="director.reaction_ms"]', '900');
    await admin.selectOption('[name="director.mode"]', 'speaker');
    await admin.click('#framing button[type=submit]');
    await admin.waitForSelector('#framing .saved:text("Saved and applied.")');
    await admin.waitForSelector('#director-in-use[data-reaction="900"][data-mode="speaker"]', { timeout: 10_000 });
    assert.deepEqual(sql(box.db, "SELECT value FROM settings WHERE key = 'director.mode'"), [['"speaker"']]);
    assert.deepEqual(sql(box.db, "SELECT value FROM settings WHERE key = 'director.reaction_ms'"), [['900']]);

    // The room's new name reaches the display.
    await admin.fill('[name="room.name"]', 'Board room');
    await admin.click('#meeting button[type=submit]');
    await display.waitForFunction(() => document.getElementById('room-side').textContent === 'Board room', null, { timeout: 10_000 });

    // Enroll by photo upload: listed, and in the database.
    await admin.fill('#enroll-name', 'Barack Obama');
    await admin.setInputFiles('#enroll-photo', join(photos, 'obama2.jpg'));
    await admin.click('#enroll-form button[type=submit]');
    await admin.waitForSelector('#people li:has-text("Barack Obama")', { timeout: 30_000 });
    const [[person]] = sql(box.db, "SELECT id FROM people WHERE name = 'Barack Obama'");
    assert.equal(sql(box.db, `SELECT count(*) FROM embeddings WHERE person_id = ${person}`)[0][0], 1);

    // Check-in on: the camera sees him, the display welcomes him, and the
    // meeting's attendance lists him.
    await admin.check('[name="checkin.enabled"]');
    await admin.click('#checkin form.settings button[type=submit]');
    await display.waitForSelector('#welcome p:has-text("Welcome, Barack Obama")', { timeout: 30_000 });
    await screenshots(display, 'display-welcome', ['tv', 'phone']);
    await admin.reload();
    await admin.waitForSelector('#meetings li .csv');
    const [download] = await Promise.all([admin.waitForEvent('download'), admin.click('#meetings li .csv')]);
    const csv = readFileSync(await download.path(), 'utf8');
    assert.match(csv, /^name,email,first_seen,last_seen\r\nBarack Obama,,\d{4}-/);

    // The live view has data to show before its screenshots.
    await admin.waitForFunction(() => (window.confcamAdmin.history?.level.length ?? 0) > 3);
    await screenshots(admin, 'admin');

    // Delete him: gone from the list and from every table.
    await admin.click(`#people li[data-person="${person}"] button`);
    await admin.waitForSelector('#no-people:not([hidden])');
    for (const table of ['people', 'embeddings', 'photos']) {
      const column = table === 'people' ? 'id' : 'person_id';
      assert.equal(sql(box.db, `SELECT count(*) FROM ${table} WHERE ${column} = ${person}`)[0][0], 0, table);
    }
    assert.equal(sql(box.db, `SELECT count(*) FROM checkins WHERE person_id = ${person}`)[0][0], 0, 'checkins');

    // Log out; wrong passwords are refused, the 6th in a row is throttled.
    await admin.click('#logout');
    await admin.waitForSelector('#login-form:not([hidden])');
    await screenshots(admin, 'admin-login');
    for (let attempt = 1; attempt <= 6; attempt++) {
      await admin.fill('#login-password', `wrong ${attempt}`);
      const [answer] = await Promise.all([
        admin.waitForResponse((r) => r.url().endsWith('/api/admin/login')),
        admin.click('#login-form button[type=submit]'),
      ]);
      assert.equal(answer.status(), attempt < 6 ? 401 : 429, `attempt ${attempt}`);
    }
    // The page shows the answer after reading its body: wait for the words.
    await admin.waitForSelector('#login-error:text-matches("too many", "i")');
  } catch (e) {
    console.error(box.log.join('').split('\n').slice(-60).join('\n'));
    throw e;
  } finally {
    await browser.close();
    await box.stop();
  }
});
