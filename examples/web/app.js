// Demo frontend: fetch the join config through Caddy, show what the backend
// sent beside what the module wrote, decode the signature, and optionally
// join with the Zoom Meeting SDK (Client View) from Zoom's CDN.
'use strict';

const SDK_VERSION = '6.2.0'; // the Client View build on source.zoom.us; the same version make sdk fetches
const DEMO_KEY = 'DEMOxNOTxAxREALxSDKxKEY';
let current = null;

const SDK_ERRORS = window.ZS_SDK_ERRORS; // sdk-errors.js

// The SDK keeps a join's tk, ZAK and OBF token in sessionStorage and sends
// them with a later join that has none, even one of another meeting or
// another user signed in in the same tab (6.2.0: tk: tk ||
// sessionStorage.getItem("WEB_CLIENT_TK")). Each join sends only its own.
const SDK_JOIN_KEYS = ['WEB_CLIENT_TK', 'WEB_CLIENT_ZTK', 'WEB_CLIENT_ZSK', 'WEB-CLIENT_ZAK', 'WEB_CLIENT_OBF_TOKEN', 'WEB_CLIENT_RECORDING_TOKEN'];
const forgetLastJoin = () => SDK_JOIN_KEYS.forEach(k => sessionStorage.removeItem(k));

const $ = id => document.getElementById(id);
const auth = () => 'Basic ' + btoa($('user').value + ':' + $('password').value);

async function getJSON(url) {
  const res = await fetch(url, { headers: { Authorization: auth() }, cache: 'no-store' });
  let body;
  try { body = await res.json(); } catch { body = { errors: [{ code: 'not_json', reason: 'the answer was not JSON (HTTP ' + res.status + ')' }] }; }
  return { res, body };
}

function setStatus(el, text, cls) {
  el.textContent = text;
  el.className = cls;
}

async function fetchConfig(role) {
  const q = role === 1 ? '?role=1' : '';
  let signed, sent;
  try {
    [signed, sent] = await Promise.all([getJSON('/api/join-config' + q), getJSON('/api/backend/join-config' + q)]);
  } catch (e) {
    setStatus($('status'), 'The request failed: ' + e, 'error');
    return;
  }
  $('backend').textContent = sent.res.ok ? JSON.stringify(sent.body, null, 2) : '';
  $('doctor').replaceChildren();
  showConfig(sent.res.ok && signed.res.ok ? sent.body : null, signed.body);
  current = null;
  $('join').disabled = true;
  showClaims(null);
  if (!signed.res.ok) {
    const err = (signed.body.errors || [])[0] || {};
    setStatus($('status'), 'Refused, ' + signed.res.status + ' ' + (err.code || '') + ': ' + (err.reason || ''), 'error');
    // A join that needs the user's own Zoom account (an external meeting)
    // names where to connect it in a Link header.
    const connect = connectURL(signed.res.headers.get('Link'));
    if (connect) {
      const a = document.createElement('a');
      a.id = 'connect';
      a.href = connect;
      a.textContent = 'Connect your Zoom account';
      $('status').append(' ', a);
    }
    return;
  }
  const b = signed.body;
  const asked = sent.res.ok ? Number(sent.body.role) : role;
  const downgraded = asked === 1 && b.role === 0;
  setStatus($('status'), downgraded
    ? 'Signed, downgraded: role 1 was asked, role 0 was granted.'
    : 'Signed for ' + $('user').value + ' with role ' + b.role + (b.zak ? ', with the host\'s ZAK' : '') +
      (b.obfToken ? ', with an OBF token from your connected Zoom account' : '') + '.', 'ok');
  $('demo-key').hidden = b.sdkKey !== DEMO_KEY;
  current = b;
  showClaims(b.signature);
  $('join').disabled = false;
}

// connectURL reads rel="zoom-connect" from a Link header: a path of this
// site only, never another origin's.
function connectURL(link) {
  const m = /<([^>]*)>\s*;\s*rel="zoom-connect"/.exec(link || '');
  return m && m[1].startsWith('/') && !m[1].startsWith('//') ? m[1] : null;
}

// showConfig writes the module's JSON, marking what it added or changed.
function showConfig(sent, signed) {
  const pre = $('config');
  pre.replaceChildren();
  const lines = JSON.stringify(signed, null, 2).split('\n');
  for (const line of lines) {
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
  const [h, p] = jwt.split('.');
  const row = (k, v) => { const tr = table.insertRow(); tr.insertCell().textContent = k; tr.insertCell().textContent = v; };
  row('header', JSON.stringify(decodePart(h)));
  const claims = decodePart(p);
  for (const [k, v] of Object.entries(claims)) {
    let text = JSON.stringify(v);
    if (['iat', 'exp', 'tokenExp'].includes(k)) text += '  (' + new Date(v * 1000).toLocaleString() + ')';
    row(k, text);
  }
  if (claims.exp && claims.iat) {
    const min = Math.round((claims.exp - claims.iat) / 60);
    row('lifetime', Math.floor(min / 60) + ' h ' + (min % 60) + ' min (iat is back-dated for clock skew)');
  }
}

function loadScript(src) {
  return new Promise((resolve, reject) => {
    const s = document.createElement('script');
    s.src = src;
    s.onload = resolve;
    s.onerror = () => reject(new Error('could not load ' + src));
    document.head.appendChild(s);
  });
}

function joinFailed(e) {
  const code = e && (e.errorCode || e.code);
  setStatus($('join-status'), 'join() failed: ' + (code || '') + ' ' + ((e && (e.reason || e.errorMessage)) || String(e)) +
    (SDK_ERRORS[code] ? ' ' + SDK_ERRORS[code] : ''), 'error');
  // "why?" beside the SDK's code asks the join doctor about this join.
  const joined = current || {};
  const authorization = auth();
  $('join-status').append(zsDoctor.whyButton($('doctor'), () => ({
    meetingNumber: joined.meetingNumber, role: joined.role, sdkCode: code, sdkVersion: SDK_VERSION, authorization,
  })));
}

// Client View from Zoom's CDN; needs a real SDK key and secret in Caddy.
async function join() {
  if (!current) return;
  const base = 'https://source.zoom.us/' + SDK_VERSION + '/lib/vendor/';
  for (const lib of ['react.min.js', 'react-dom.min.js', 'redux.min.js', 'redux-thunk.min.js', 'lodash.min.js']) {
    await loadScript(base + lib);
  }
  await loadScript('https://source.zoom.us/zoom-meeting-' + SDK_VERSION + '.min.js');
  const { ZoomMtg } = window;
  ZoomMtg.preLoadWasm();
  ZoomMtg.prepareWebSDK();
  $('zmmtg-root').style.display = 'block';
  forgetLastJoin();
  ZoomMtg.init({
    leaveUrl: current.leaveUrl || location.href,
    success: () => ZoomMtg.join(Object.assign({
      signature: current.signature,
      meetingNumber: current.meetingNumber,
      passWord: current.passWord || '',
      userName: current.userName || $('user').value,
      userEmail: current.userEmail || '',
      tk: current.tk || '',
      success: () => setStatus($('join-status'), 'Joined.', 'ok'),
      error: joinFailed,
    // A ZAK or an OBF token, never both: the SDK refuses the pair.
    }, current.zak ? { zak: current.zak } : current.obfToken ? { obfToken: current.obfToken } : {})),
    error: joinFailed,
  });
}

window.zsDemo = { fetchConfig, SDK_ERRORS };
$('signin').onsubmit = e => { e.preventDefault(); fetchConfig(0); };
$('get-host').onclick = () => fetchConfig(1);
$('join').onclick = () => join().catch(joinFailed);
