// Demo frontend: fetch the join config through Caddy, show what came back,
// and optionally join with the Zoom Meeting SDK (Client View) from Zoom's CDN.
'use strict';

const SDK_VERSION = '6.2.0'; // the Client View build on source.zoom.us; the same version make sdk fetches
let current = null;

function user() {
  return document.querySelector('input[name=user]:checked').value;
}

async function fetchConfig(role) {
  const url = '/api/join-config' + (role === 1 ? '?role=1' : '');
  const auth = 'Basic ' + btoa(user() + ':' + document.getElementById('password').value);
  const status = document.getElementById('status');
  let res, body;
  try {
    res = await fetch(url, { headers: { Authorization: auth }, cache: 'no-store' });
    body = await res.json();
  } catch (e) {
    status.textContent = 'The request failed: ' + e;
    status.className = 'bad';
    return;
  }
  document.getElementById('config').textContent = JSON.stringify(body, null, 2);
  if (!res.ok) {
    const err = (body.errors || [])[0] || {};
    status.textContent = res.status + ' ' + (err.code || '') + ': ' + (err.reason || 'refused');
    status.className = 'bad';
    current = null;
    showClaims(null);
    document.getElementById('join').disabled = true;
    return;
  }
  status.textContent = res.status + ': signed for ' + user() + ' with role ' + body.role;
  status.className = 'ok';
  current = body;
  showClaims(body.signature);
  document.getElementById('join').disabled = false;
}

function decodeClaims(jwt) {
  const part = jwt.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
  const text = atob(part + '='.repeat((4 - part.length % 4) % 4));
  return JSON.parse(new TextDecoder().decode(Uint8Array.from(text, c => c.charCodeAt(0))));
}

function showClaims(jwt) {
  const table = document.getElementById('claims');
  table.replaceChildren();
  if (!jwt) return;
  const claims = decodeClaims(jwt);
  for (const [k, v] of Object.entries(claims)) {
    const tr = table.insertRow();
    tr.insertCell().textContent = k;
    let text = JSON.stringify(v);
    if (['iat', 'exp', 'tokenExp'].includes(k)) {
      const d = new Date(v * 1000);
      text += '  (' + d.toISOString() + (k !== 'iat' ? ', in ' + Math.round((d - Date.now()) / 60000) + ' min' : '') + ')';
    }
    tr.insertCell().textContent = text;
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
  document.getElementById('zmmtg-root').style.display = 'block';
  ZoomMtg.init({
    leaveUrl: current.leaveUrl || location.href,
    success: () => ZoomMtg.join({
      signature: current.signature,
      sdkKey: current.sdkKey,
      meetingNumber: current.meetingNumber,
      passWord: current.passWord || '',
      userName: current.userName || user(),
      zak: current.zak || '',
      success: () => {},
      error: e => { document.getElementById('status').textContent = 'join failed: ' + JSON.stringify(e); },
    }),
    error: e => { document.getElementById('status').textContent = 'init failed: ' + JSON.stringify(e); },
  });
}

document.getElementById('get-attendee').onclick = () => fetchConfig(0);
document.getElementById('get-host').onclick = () => fetchConfig(1);
document.getElementById('join').onclick = () => join().catch(e => {
  document.getElementById('status').textContent = String(e);
});
