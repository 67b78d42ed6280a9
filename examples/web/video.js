// Video SDK demo: get a Video SDK JWT through Caddy (inject mode or the
// signing endpoint), show what the backend sent beside what the module
// wrote, decode the token, and join the session with @zoom/videosdk from
// the local copy that cmd/testall unpacks (served at /videosdk/).
'use strict';

const VIDEO_SDK_VERSION = '2.5.0';
let current = null;

const $ = id => document.getElementById(id);
const auth = () => 'Basic ' + btoa($('user').value + ':' + $('password').value);

function setStatus(el, text, cls) {
  el.textContent = text;
  el.className = cls;
}

async function answer(res) {
  try { return await res.json(); } catch { return { errors: [{ code: 'not_json', reason: 'the answer was not JSON (HTTP ' + res.status + ')' }] }; }
}

// refused shows the module's refusal: its status, code and reason.
function refused(res, body) {
  const err = (body.errors || [])[0] || {};
  setStatus($('status'), 'Refused, ' + res.status + ' ' + (err.code || '') + ': ' + (err.reason || ''), 'error');
}

// fetchConfig: inject mode. The backend's join config, and the same
// config as the module wrote it.
async function fetchConfig() {
  const get = async url => { const res = await fetch(url, { headers: { Authorization: auth() }, cache: 'no-store' }); return { res, body: await answer(res) }; };
  let signed, sent;
  try {
    [signed, sent] = await Promise.all([get('/api/video/join-config'), get('/api/video/backend/join-config')]);
  } catch (e) {
    setStatus($('status'), 'The request failed: ' + e, 'error');
    return;
  }
  $('backend').textContent = sent.res.ok ? JSON.stringify(sent.body, null, 2) : '';
  if (!signed.res.ok) {
    use(null);
    showConfig(null, signed.body);
    refused(signed.res, signed.body);
    return;
  }
  use(signed.body, sent.res.ok ? sent.body : null);
  setStatus($('status'), 'Signed for ' + $('user').value + ' with role ' + signed.body.role + ', for the session ' + JSON.stringify(signed.body.sessionName) + '.', 'ok');
}

// signAtEndpoint: endpoint mode, with the body Zoom's
// videosdk-auth-endpoint-sample takes; the page keeps the topic it asked
// for, as a frontend of the sample does.
async function signAtEndpoint(ask) {
  ask = ask || { sessionName: 'Cool Cars', role: 0 };
  let res, body;
  try {
    res = await fetch('/api/video/signature', { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: auth() }, body: JSON.stringify(ask) });
    body = await answer(res);
  } catch (e) {
    setStatus($('status'), 'The request failed: ' + e, 'error');
    return;
  }
  $('backend').textContent = 'POST /api/video/signature\n' + JSON.stringify(ask, null, 2);
  if (!res.ok) {
    use(null);
    showConfig(null, body);
    refused(res, body);
    return;
  }
  use({ sessionName: ask.sessionName, role: ask.role, userName: $('user').value, signature: body.signature }, ask);
  setStatus($('status'), 'Signed by the endpoint for the session ' + JSON.stringify(ask.sessionName) + '.', 'ok');
}

// use makes cfg the join the button will make, and shows it; sent is what
// the module was given, to mark what it added or changed.
function use(cfg, sent) {
  current = cfg;
  $('join').disabled = !cfg;
  $('join-status').textContent = '';
  $('join-status').className = '';
  showConfig(sent || null, cfg);
  showClaims(cfg && cfg.signature);
}

function showConfig(sent, signed) {
  const pre = $('config');
  pre.replaceChildren();
  if (!signed) return;
  for (const line of JSON.stringify(signed, null, 2).split('\n')) {
    const span = document.createElement('span');
    span.textContent = line + '\n';
    const m = /^  "([^"]+)": (.*?),?$/.exec(line);
    if (sent && m) {
      if (!(m[1] in sent)) span.className = 'added';
      else if (JSON.stringify(sent[m[1]]) !== m[2]) span.className = 'changed';
    }
    pre.appendChild(span);
  }
}

function decodePart(part) {
  const b64 = part.replace(/-/g, '+').replace(/_/g, '/');
  const text = atob(b64 + '='.repeat((4 - b64.length % 4) % 4));
  return JSON.parse(new TextDecoder().decode(Uint8Array.from(text, c => c.charCodeAt(0))));
}

function showClaims(jwt) {
  const table = $('claims');
  table.replaceChildren();
  if (!jwt) return;
  const row = (k, v) => { const tr = table.insertRow(); tr.insertCell().textContent = k; tr.insertCell().textContent = v; };
  let header, claims;
  try {
    const [h, p] = jwt.split('.');
    header = decodePart(h);
    claims = decodePart(p);
  } catch {
    row('token', 'not a JWT');
    return;
  }
  row('header', JSON.stringify(header));
  for (const [k, v] of Object.entries(claims)) {
    let text = JSON.stringify(v);
    if (k === 'iat' || k === 'exp') text += '  (' + new Date(v * 1000).toLocaleString() + ')';
    row(k, text);
  }
  if (claims.exp && claims.iat) {
    const min = Math.round((claims.exp - claims.iat) / 60);
    row('lifetime', Math.floor(min / 60) + ' h ' + (min % 60) + ' min (iat is back-dated for clock skew)');
  }
  if (!('tpc' in claims)) row('warning', 'no tpc: this is not a Video SDK token (a Meeting SDK token?)');
}

let sdk = null;
function loadSDK() {
  if (sdk) return sdk;
  sdk = new Promise((resolve, reject) => {
    const s = document.createElement('script');
    s.src = '/videosdk/index.umd.js';
    s.onload = () => resolve(window.WebVideoSDK.default);
    s.onerror = () => { sdk = null; reject(new Error('could not load the Video SDK from /videosdk/')); };
    document.head.appendChild(s);
  });
  return sdk;
}

let client = null;

// join hands the token to the Video SDK, exactly as the module wrote it.
// The SDK's own answer is shown: its errorCode and reason, unchanged.
async function join() {
  if (!current) return;
  setStatus($('join-status'), 'Joining…', '');
  const ZoomVideo = await loadSDK();
  if (client) { try { await client.leave(); } catch {} }
  client = ZoomVideo.createClient();
  // Global assets are Zoom's CDN; this page serves the package's own lib.
  const initErr = await client.init('en-US', location.origin + '/videosdk/lib', { patchJsMedia: true });
  if (initErr && initErr.errorCode) throw initErr;
  await client.join(current.sessionName, current.signature, current.userName || $('user').value, current.passWord || '');
  setStatus($('join-status'), 'Joined the session ' + JSON.stringify(current.sessionName) + '.', 'ok');
}

function joinFailed(e) {
  const code = e && e.errorCode;
  setStatus($('join-status'), 'join() failed: ' + (code === undefined ? '' : code) + ' ' + ((e && e.reason) || String(e)), 'error');
}

window.zsVideo = { fetchConfig, signAtEndpoint, use, join: () => join().catch(joinFailed), version: VIDEO_SDK_VERSION };
$('signin').onsubmit = e => { e.preventDefault(); fetchConfig(); };
$('get-endpoint').onclick = () => signAtEndpoint();
$('join').onclick = () => join().catch(joinFailed);
