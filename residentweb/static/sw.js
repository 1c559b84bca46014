// DOOR service worker: the shell from the network when it answers, else
// from the cache; the last-known keys and doorcode likewise (marked with
// X-DOOR-Cached so the page says it is offline). Nothing else is cached:
// writes always go to the server.
'use strict';
const SHELL = 'dooros-shell-__VERSION__';
const DATA = 'dooros-data';
const ASSETS = ['/app/', '/app/app.js?v=__VERSION__', '/app/app.css?v=__VERSION__', '/app/manifest.webmanifest', '/app/icon.svg'];
const CACHED_API = ['/api/v1/me/keys', '/api/v1/me/doorcode'];

self.addEventListener('install', (ev) => {
  ev.waitUntil(caches.open(SHELL).then((c) => c.addAll(ASSETS)).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (ev) => {
  ev.waitUntil(caches.keys()
    .then((names) => Promise.all(names.filter((n) => n.startsWith('dooros-shell-') && n !== SHELL).map((n) => caches.delete(n))))
    .then(() => self.clients.claim()));
});

self.addEventListener('fetch', (ev) => {
  const req = ev.request;
  if (req.method !== 'GET') return;
  const url = new URL(req.url);
  if (url.origin !== location.origin) return;
  if (CACHED_API.includes(url.pathname)) {
    ev.respondWith(fetch(req).then(async (r) => {
      if (r.ok) {
        const c = await caches.open(DATA);
        const body = await r.clone().arrayBuffer();
        await c.put(url.pathname, new Response(body, { headers: { 'Content-Type': 'application/json', 'X-DOOR-Saved': new Date().toISOString() } }));
      }
      return r;
    }).catch(async () => {
      const hit = await caches.match(url.pathname, { cacheName: DATA });
      if (!hit) return Response.json({ error: { code: 'internal', message: 'You are offline and nothing is saved yet.' } }, { status: 503 });
      const h = new Headers(hit.headers);
      h.set('X-DOOR-Cached', hit.headers.get('X-DOOR-Saved') || '');
      return new Response(await hit.arrayBuffer(), { status: 200, headers: h });
    }));
    return;
  }
  if (url.pathname.startsWith('/app/')) {
    const key = url.pathname === '/app/' || url.pathname === '/app/index.html' ? '/app/' : req;
    ev.respondWith(fetch(req).catch(async () => (await caches.match(key, { cacheName: SHELL, ignoreSearch: false })) || Response.error()));
  }
});
