// Who the page calls the API as (SPEC §8): a bearer token, and the tenant when a
// token names several, taken from the URL fragment (#access_token=…&org=…, then
// wiped from the address bar and history) or typed into the sign-in form after a
// 401, and kept in sessionStorage: this tab only, gone when it closes.
const KEY = 'arbor.auth';

function stored() {
  try { return JSON.parse(sessionStorage.getItem(KEY)) || {}; } catch { return {}; }
}

export function takeFragmentToken() {
  const f = new URLSearchParams(location.hash.slice(1));
  if (!f.get('access_token')) return;
  sessionStorage.setItem(KEY, JSON.stringify({ token: f.get('access_token'), org: f.get('org') || '' }));
  history.replaceState(history.state, '', location.pathname + location.search);
}

export function authHeaders() {
  const { token, org } = stored();
  const headers = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (org) headers['x-scope-orgid'] = org;
  return headers;
}

// A browser's WebSocket cannot send headers: the token rides in a subprotocol
// (the server answers "orcheo-auth"), the tenant in the query.
export function liveAuth() {
  const { token, org } = stored();
  return { protocols: token ? ['orcheo-auth', `bearer.${token}`] : undefined,
    query: org ? `&org=${encodeURIComponent(org)}` : '' };
}

let pending = null;
// Ask for a token (once, however many calls were refused); resolves when given.
export function signIn(message) {
  if (pending) return pending;
  pending = new Promise((resolve) => {
    const dlg = document.createElement('dialog');
    dlg.className = 'signin';
    dlg.innerHTML = '<form method="dialog"><h3>Sign in</h3><p class="note"></p>'
      + '<label>Bearer token <input name="token" type="password" autocomplete="off" required></label>'
      + '<label>Tenant (X-Scope-OrgID, if the token names several) <input name="org" autocomplete="off"></label>'
      + '<button type="submit">Use token</button></form>';
    dlg.querySelector('.note').textContent = message;
    dlg.querySelector('form').addEventListener('submit', () => {
      const form = dlg.querySelector('form');
      sessionStorage.setItem(KEY, JSON.stringify({ token: form.token.value.trim(), org: form.org.value.trim() }));
      dlg.remove();
      pending = null;
      resolve();
    });
    document.body.append(dlg);
    dlg.showModal();
  });
  return pending;
}
