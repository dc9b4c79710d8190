// Software update: the bundle is uploaded as the request body (progress from
// the upload itself), then RAUC's steps are polled from GET /api/update until
// it is installed or refused; "Restart" tries the new version, which the box
// keeps once it runs well there.
import { api, csrfToken } from './api.js';

const $ = (id) => document.getElementById(id);
let polling = null;

export async function loadUpdate() {
  show(await api('GET', '/api/update'));
}

function show(u) {
  $('update-version').textContent = `Running version ${u.version}.`;
  $('update-unsupported').hidden = u.supported;
  $('update-form').hidden = !u.supported;
  const busy = u.state === 'receiving' || u.state === 'installing';
  $('update-install').disabled = busy;
  $('update-file').disabled = busy;
  $('update-restart').hidden = u.state !== 'installed';
  const bar = $('update-progress');
  bar.hidden = u.state !== 'installing';
  if (u.state === 'installing') bar.value = u.percent;
  $('update-step').textContent = {
    idle: '',
    receiving: `Uploading… ${(u.bytes / 1048576).toFixed(0)} MiB`,
    installing: `Installing: ${u.step} (${u.percent} %)`,
    installed: 'Installed. Restart the box to run the new version.',
    failed: '',
  }[u.state] ?? '';
  $('update-error').hidden = u.state !== 'failed';
  $('update-error').textContent = u.state === 'failed' ? `Not installed: ${u.error}` : '';
  if (busy && !polling) polling = setTimeout(poll, 1000);
}

async function poll() {
  polling = null;
  try {
    show(await api('GET', '/api/update'));
  } catch {
    polling = setTimeout(poll, 3000);
  }
}

$('update-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const file = $('update-file').files[0];
  if (!file) return;
  // XMLHttpRequest, not fetch: only it reports how much of the body went out.
  const xhr = new XMLHttpRequest();
  xhr.open('POST', '/api/update');
  xhr.setRequestHeader('x-csrf-token', csrfToken());
  xhr.setRequestHeader('content-type', 'application/octet-stream');
  const bar = $('update-progress');
  bar.hidden = false;
  xhr.upload.onprogress = (p) => {
    if (p.lengthComputable) bar.value = (100 * p.loaded) / p.total;
    $('update-step').textContent = `Uploading… ${(p.loaded / 1048576).toFixed(0)} of ${(p.total / 1048576).toFixed(0)} MiB`;
  };
  xhr.onload = () => {
    let answer = {};
    try {
      answer = JSON.parse(xhr.responseText);
    } catch {}
    if (xhr.status === 202) return show(answer);
    $('update-error').hidden = false;
    $('update-error').textContent = answer.error || `The box answered ${xhr.status}.`;
    bar.hidden = true;
    loadUpdate();
  };
  xhr.onerror = () => {
    $('update-error').hidden = false;
    $('update-error').textContent = 'The upload broke off.';
    loadUpdate();
  };
  $('update-error').hidden = true;
  xhr.send(file);
});

$('update-restart').addEventListener('click', async () => {
  try {
    await api('POST', '/api/update/restart');
    $('update-restart').hidden = true;
    $('update-step').textContent = 'Restarting into the new version… this page comes back when the box does.';
  } catch (err) {
    $('update-error').hidden = false;
    $('update-error').textContent = err.message;
  }
});
