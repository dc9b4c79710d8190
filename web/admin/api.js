// Requests to the box's API: JSON in and out, the session's CSRF token on
// every request, and the box's error message (and per-field errors) thrown.
let csrf = null;

export function setCsrf(token) {
  csrf = token;
}

export function csrfToken() {
  return csrf;
}

export async function api(method, path, body, type = 'application/json', want = 'json') {
  const headers = {};
  if (csrf) headers['x-csrf-token'] = csrf;
  if (body !== undefined && body !== null) headers['content-type'] = type;
  const payload = body === undefined || body === null ? undefined : type === 'application/json' ? JSON.stringify(body) : body;
  const r = await fetch(path, { method, headers, body: payload, credentials: 'same-origin' });
  if (r.status === 401 && csrf) dispatchEvent(new Event('confcam:unauthorized'));
  if (!r.ok) {
    const answer = await r.json().catch(() => ({}));
    const wait = r.headers.get('retry-after');
    const error = new Error(answer.error || `The box answered ${r.status}.${wait ? ` Try again in ${wait} s.` : ''}`);
    Object.assign(error, { status: r.status, fields: answer.fields });
    throw error;
  }
  if (r.status === 204) return null;
  return want === 'blob' ? r.blob() : r.json();
}
