// DOOR resident web app. Every action is a call to the resident API with
// the bearer token; the page renders with textContent only (no HTML from
// data). See residentweb.go.
'use strict';
(() => {
const $ = (id) => document.getElementById(id);
const TOKEN = 'dooros.token', EMAIL = 'dooros.email', SAVED = 'dooros.saved';
let token = localStorage.getItem(TOKEN) || '';
let keysData = [];

function el(tag, props, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (k === 'text') e.textContent = v;
    else if (k === 'on') for (const [ev, f] of Object.entries(v)) e.addEventListener(ev, f);
    else if (v !== undefined && v !== null && v !== false) e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of kids.flat()) if (c !== null && c !== undefined) e.append(c);
  return e;
}

function say(msg, kind) {
  const s = $('status');
  s.textContent = msg || '';
  s.className = 'status' + (kind ? ' ' + kind : '');
}

class APIError extends Error {
  constructor(status, body) {
    const e = (body && body.error) || {};
    super(e.message || 'Request failed (' + status + ')');
    this.status = status; this.code = e.code;
  }
}

async function api(method, path, body) {
  const headers = {};
  if (token) headers.Authorization = 'Bearer ' + token;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const r = await fetch('/api/v1' + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (r.headers.get('X-DOOR-Cached')) showOffline(r.headers.get('X-DOOR-Cached'));
  const data = r.status === 204 ? null : await r.json().catch(() => null);
  if (!r.ok) {
    if (r.status === 401 && token) signedOut('Your session ended: sign in again.');
    throw new APIError(r.status, data);
  }
  return data;
}

function showOffline(at) {
  const b = $('offline');
  b.textContent = 'You are offline. Showing your keys and doorcode as of ' + fmt(at) + '.';
  b.hidden = false;
}

// Dates in the property's time zone, which is what the locks judge by.
function fmt(t, tz) {
  if (!t) return '';
  const opts = { dateStyle: 'medium', timeStyle: 'short' };
  if (tz) opts.timeZone = tz;
  try { return new Intl.DateTimeFormat(undefined, opts).format(new Date(t)); } catch { return t; }
}

function schedule(s) {
  if (!s || !s.length) return 'any time';
  return s.map((w) => w.days.join(', ') + ' ' + w.start + '–' + w.end).join('; ');
}

// --- device key -----------------------------------------------------
// The phone's key is made in the browser and never leaves it: WebCrypto
// Ed25519 where the browser has it, otherwise ECDSA P-256; the private key
// is non-extractable, kept in IndexedDB.
function idb() {
  return new Promise((ok, bad) => {
    const r = indexedDB.open('dooros', 1);
    r.onupgradeneeded = () => r.result.createObjectStore('keys');
    r.onsuccess = () => ok(r.result);
    r.onerror = () => bad(r.error);
  });
}
async function deviceKey() {
  let pair;
  try {
    pair = await crypto.subtle.generateKey({ name: 'Ed25519' }, false, ['sign', 'verify']);
  } catch (e) {
    // No WebCrypto Ed25519: an ECDSA P-256 key (ES256), which locks also
    // accept. Its public key exports "raw" as the 65-byte SEC1 point.
    try {
      pair = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify']);
    } catch (e2) {
      throw new Error('This browser cannot make a device key (WebCrypto Ed25519 or P-256). Update it, or use the DOOR App.');
    }
  }
  const raw = new Uint8Array(await crypto.subtle.exportKey('raw', pair.publicKey));
  try {
    const db = await idb();
    db.transaction('keys', 'readwrite').objectStore('keys').put(pair, 'device');
  } catch { /* private browsing: the key lives for this session only */ }
  return btoa(String.fromCharCode(...raw));
}

function deviceName() {
  const ua = navigator.userAgent;
  const os = /Android/.test(ua) ? 'Android' : /iPhone|iPad/.test(ua) ? 'iPhone' : /Mac/.test(ua) ? 'Mac' : /Windows/.test(ua) ? 'Windows' : 'Linux';
  return 'Browser on ' + os;
}

// --- sign-in --------------------------------------------------------
function wireSignIn() {
  const params = new URLSearchParams(location.search);
  $('email').value = params.get('email') || localStorage.getItem(EMAIL) || '';
  $('start-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const email = $('email').value.trim();
    if (!email) { say('Enter your email address.', 'bad'); $('email').focus(); return; }
    await busy(ev.submitter, async () => {
      await api('POST', '/app/login/start', { email });
      localStorage.setItem(EMAIL, email);
      $('sent-to').textContent = email;
      $('start-form').hidden = true; $('verify-form').hidden = false;
      say('Check your email for the code.', 'ok');
      $('code').focus();
    });
  });
  $('verify-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const code = $('code').value.trim();
    if (!/^[0-9]{6}$/.test(code)) { say('The code has 6 digits.', 'bad'); $('code').focus(); return; }
    await busy(ev.submitter, async () => {
      const key = await deviceKey();
      const s = await api('POST', '/app/login/verify', { email: localStorage.getItem(EMAIL), code, device_public_key: key, device_name: deviceName() });
      token = s.token;
      localStorage.setItem(TOKEN, token);
      $('code').value = '';
      say('Signed in.', 'ok');
      await showHome();
    });
  });
  $('other-email').addEventListener('click', () => {
    $('verify-form').hidden = true; $('start-form').hidden = false; $('email').focus();
  });
  $('signout').addEventListener('click', async () => {
    try { await api('POST', '/app/logout'); } catch { /* signed out here anyway */ }
    signedOut('Signed out.');
  });
}

async function signedOut(msg) {
  token = '';
  localStorage.removeItem(TOKEN);
  if (window.caches) await caches.delete('dooros-data');
  $('home').hidden = true; $('signout').hidden = true; $('signin').hidden = false;
  $('verify-form').hidden = true; $('start-form').hidden = false;
  say(msg, 'ok');
}

async function busy(button, f) {
  if (button) button.disabled = true;
  try { await f(); } catch (e) { say(e.message, 'bad'); } finally { if (button) button.disabled = false; }
}

// --- home -----------------------------------------------------------
const loaders = { keys: loadKeys, doorcode: loadDoorcode, guests: loadGuests, activity: loadActivity, devices: loadDevices };

async function showHome() {
  $('signin').hidden = true; $('home').hidden = false; $('signout').hidden = false;
  await route();
}

async function route() {
  if (!token) return;
  const tab = (location.hash || '#keys').slice(1);
  const name = loaders[tab] ? tab : 'keys';
  for (const a of document.querySelectorAll('nav a')) {
    if (a.dataset.tab === name) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
  for (const s of document.querySelectorAll('.tab')) s.hidden = s.id !== 'tab-' + name;
  try { await loaders[name](); } catch (e) { say(e.message, 'bad'); }
}

async function loadKeys() {
  const list = $('keys-list');
  const data = await api('GET', '/me/keys');
  keysData = data.items;
  list.replaceChildren(...keysData.map((acc) => el('div', { class: 'card' },
    el('h3', { text: acc.property_name }),
    el('p', { class: 'muted', text: 'Access ' + acc.status + (acc.expires_at ? ', until ' + fmt(acc.expires_at, acc.time_zone) : '') + ' · times in ' + acc.time_zone }),
    acc.keys.length ? null : el('p', { text: 'No keys.' }),
    acc.keys.map((k) => el('div', { class: 'key' },
      el('h4', { text: k.name }),
      el('p', { class: 'muted', text: 'From ' + fmt(k.starts_at, acc.time_zone) + (k.expires_at ? ' until ' + fmt(k.expires_at, acc.time_zone) : '') }),
      el('ul', { class: 'doors' }, k.doors.map((d) => el('li', {},
        el('strong', { text: d.name }), ' ', el('span', { class: 'badge', text: d.connectivity }),
        el('div', { class: 'muted', text: 'Schedule: ' + schedule(d.schedule) }),
        d.connectivity === 'online'
          ? el('button', { type: 'button', 'data-door': d.door_id, 'aria-label': 'Unlock ' + d.name, on: { click: (ev) => unlock(ev.currentTarget, d) } }, 'Unlock')
          : el('div', { class: 'muted', text: 'Offline door: open it with the DOOR App near the door.' })))))))));
  try {
    const mb = await api('GET', '/me/mailbox');
    const names = {};
    for (const acc of keysData) for (const k of acc.keys) for (const d of k.doors) names[d.door_id] = d.name;
    const waiting = (mb.items || []).map((i) => names[i.door_id] || i.door_id);
    $('waiting').hidden = waiting.length === 0;
    $('waiting-list').replaceChildren(...waiting.map((n) => el('li', { text: n })));
  } catch { $('waiting').hidden = true; }
}

async function unlock(button, door) {
  say('Unlocking ' + door.name + '…');
  await busy(button, async () => {
    const r = await api('POST', '/me/doors/' + encodeURIComponent(door.door_id) + '/unlock');
    if (r.granted) say(door.name + ' unlocked.', 'ok');
    else say(door.name + ' refused: ' + r.reason.replaceAll('_', ' ') + '.', 'bad');
  });
}

async function loadDoorcode() {
  const data = await api('GET', '/me/doorcode');
  const list = $('doorcode-list');
  if (!data.items.length) { list.replaceChildren(el('p', { text: 'You have no doorcode.' })); return; }
  list.replaceChildren(...data.items.map((c) => el('div', { class: 'card' },
    el('p', { class: 'muted', text: c.property_name }),
    el('p', { class: 'code', id: 'code-' + c.property_id, text: c.code }),
    el('p', { text: 'Opens: ' + c.doors.join(', ') }),
    el('button', { type: 'button', class: 'secondary', 'data-reset': c.property_id, on: { click: () => confirmReset(c.property_id) } }, 'Reset Doorcode'))));
}

// ask shows the confirmation dialog; true when confirmed.
function ask(title, text, ok) {
  const d = $('confirm');
  $('confirm-h').textContent = title; $('confirm-text').textContent = text; $('confirm-ok').textContent = ok;
  d.returnValue = '';
  return new Promise((done) => { d.onclose = () => done(d.returnValue === 'confirm'); d.showModal(); });
}

async function confirmReset(propertyID) {
  if (!await ask('Reset your doorcode?', 'Your current code stops working at each door as soon as the door gets the update. Anyone you gave it to will need the new one.', 'Reset Doorcode')) {
    say('Doorcode not changed.');
    return;
  }
  await busy(null, async () => {
    const c = await api('POST', '/me/doorcode/reset', { property_id: propertyID });
    say('Your new doorcode is ' + c.code + '. Doors take it at their next update.', 'ok');
    await loadDoorcode();
  });
}

function shareable() {
  const out = [];
  for (const acc of keysData) for (const k of acc.keys) if (k.may_share) out.push({ acc, k });
  return out;
}

async function loadGuests() {
  if (!keysData.length) keysData = (await api('GET', '/me/keys')).items;
  const sel = $('g-key');
  const prev = sel.value;
  sel.replaceChildren(...shareable().map(({ acc, k }) => el('option', { value: acc.property_id + '|' + k.key_id, text: k.name + ' (' + acc.property_name + ')' })));
  if (prev) sel.value = prev;
  const data = await api('GET', '/me/guests');
  $('guest-list').replaceChildren(...(data.items.length ? data.items : [null]).map((g) => g === null ? el('li', { text: 'No guests yet.' }) : guestCard(g)));
}

function guestText(g) {
  return 'Your DOOR code ' + g.code + ' works on ' + g.day + (g.kind === 'quarter_hour_code' ? ' for 15 minutes from first use.' : ', all day.');
}

function guestCard(g) {
  const name = [g.first_name, g.last_name].filter(Boolean).join(' ');
  const kinds = { app: 'App guest', day_code: 'Code for one day', quarter_hour_code: 'Code for 15 minutes' };
  const li = el('li', { 'data-guest': g.id },
    el('strong', { text: name }), ' ', el('span', { class: 'badge', text: g.status }),
    el('div', { class: 'muted', text: kinds[g.kind] + (g.day ? ' · ' + g.day : ' · from ' + fmt(g.starts_at) + (g.expires_at ? ' until ' + fmt(g.expires_at) : '')) }));
  if (g.code) {
    const text = guestText(g);
    li.append(el('p', { class: 'code', text: g.code }),
      el('div', { class: 'row' },
        el('button', { type: 'button', class: 'secondary', on: { click: () => share(text) } }, 'Share code'),
        el('a', { class: 'button secondary', href: 'sms:?&body=' + encodeURIComponent(text) }, 'Text it')));
  }
  if (g.status === 'active' || g.status === 'pending') {
    li.append(el('button', { type: 'button', class: 'danger', 'aria-label': 'Revoke ' + name, on: { click: (ev) => revokeGuest(ev.currentTarget, g, name) } }, 'Revoke'));
  }
  return li;
}

async function share(text) {
  if (navigator.share) { try { await navigator.share({ text }); return; } catch { /* cancelled */ } }
  try { await navigator.clipboard.writeText(text); say('Copied: ' + text, 'ok'); } catch { say(text, 'ok'); }
}

async function revokeGuest(button, g, name) {
  if (!await ask('Revoke ' + name + '?', 'Their access ends now, at every door.', 'Revoke')) return;
  await busy(button, async () => {
    await api('DELETE', '/me/guests/' + encodeURIComponent(g.id));
    say(name + ' revoked.', 'ok');
    await loadGuests();
  });
}

function wireGuests() {
  $('g-kind').addEventListener('change', () => {
    const app = $('g-kind').value === 'app';
    $('g-app-fields').hidden = !app; $('g-code-fields').hidden = app;
  });
  $('guest-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const [propertyID, keyID] = ($('g-key').value || '|').split('|');
    if (!keyID) { say('You have no key you may share.', 'bad'); return; }
    const kind = $('g-kind').value;
    const body = { property_id: propertyID, kind, keys: [keyID], first_name: $('g-first').value.trim(), last_name: $('g-last').value.trim(), email: $('g-email').value.trim() };
    if (kind === 'app') {
      if ($('g-start').value) body.starts_at = new Date($('g-start').value).toISOString();
      if ($('g-end').value) body.expires_at = new Date($('g-end').value).toISOString();
    } else {
      body.day = $('g-day').value;
    }
    await busy(ev.submitter, async () => {
      const g = await api('POST', '/me/guests', body);
      say(g.code ? 'Guest invited. Their code: ' + g.code : 'Guest invited: they get an email.', 'ok');
      $('g-first').value = ''; $('g-last').value = ''; $('g-email').value = '';
      await loadGuests();
    });
  });
}

async function loadActivity() {
  const data = await api('GET', '/me/activity');
  $('activity-list').replaceChildren(...(data.items.length ? data.items : [null]).map((e) => e === null
    ? el('li', { text: 'Nothing yet.' })
    : el('li', {}, el('strong', { text: e.door_name || '' }), ' ', e.detail, el('div', { class: 'muted', text: fmt(e.at) }))));
}

async function loadDevices() {
  const data = await api('GET', '/me/devices');
  $('device-list').replaceChildren(...data.items.map((d) => el('li', { 'data-device': d.id },
    el('strong', { text: d.name }), d.current ? el('span', { class: 'badge', text: 'this device' }) : null,
    el('div', { class: 'muted', text: 'Added ' + fmt(d.created_at) + (d.last_seen_at ? ' · last seen ' + fmt(d.last_seen_at) : '') }),
    el('button', { type: 'button', class: 'secondary', 'aria-label': 'Remove ' + d.name, on: { click: (ev) => removeDevice(ev.currentTarget, d) } }, 'Remove'))));
}

async function removeDevice(button, d) {
  if (!await ask('Remove ' + d.name + '?', 'It can no longer open doors.' + (d.current ? ' You will be signed out here.' : ''), 'Remove')) return;
  await busy(button, async () => {
    await api('DELETE', '/me/devices/' + encodeURIComponent(d.id));
    if (d.current) { signedOut('This device was removed.'); return; }
    say(d.name + ' removed.', 'ok');
    await loadDevices();
  });
}

// --- start ----------------------------------------------------------
wireSignIn();
wireGuests();
addEventListener('hashchange', route);
if ('serviceWorker' in navigator) navigator.serviceWorker.register('/app/sw.js', { scope: '/app/' }).catch(() => {});
if (token) showHome(); else $('email').focus();
performance.mark('dooros-ready');
document.body.dataset.ready = '1';
})();
