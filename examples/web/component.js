// Component View: fetch the join config through Caddy, then join with the
// real Zoom Meeting SDK. window.zsJoin is also what the browser tests call.
'use strict';

let client = null;

async function zsJoin({ config = '/api/join-config', user = 'attendee', password = 'demo', role = 0 } = {}) {
  const url = config + (role === 1 ? (config.includes('?') ? '&' : '?') + 'role=1' : '');
  const res = await fetch(url, { headers: { Authorization: 'Basic ' + btoa(user + ':' + password) }, cache: 'no-store' });
  const body = await res.json();
  const out = { status: res.status, config: body, join: null };
  show(out);
  if (!res.ok) return out;
  if (!client) {
    client = ZoomMtgEmbedded.createClient();
    await client.init({
      zoomAppRoot: document.getElementById('meetingSDKElement'),
      language: 'en-US',
      assetPath: location.origin + '/sdk/lib/av',
      patchJsMedia: true,
    });
  }
  try {
    const opts = {
      signature: body.signature,
      meetingNumber: body.meetingNumber,
      password: body.passWord || '',
      userName: body.userName || user,
      userEmail: body.userEmail || '',
      tk: body.tk || '',
    };
    // A join carries a ZAK or an OBF token, never both: the SDK refuses
    // the pair.
    if (body.zak) opts.zak = body.zak;
    else if (body.obfToken) opts.obfToken = body.obfToken;
    await client.join(opts);
    out.join = { ok: true };
  } catch (e) {
    out.join = { ok: false, reason: (e && e.reason) || String(e), errorCode: e && e.errorCode };
  }
  show(out);
  return out;
}

function show(out) {
  document.getElementById('config').textContent = JSON.stringify(out.config, null, 2);
  const status = document.getElementById('status');
  if (out.status !== 200) {
    const err = ((out.config || {}).errors || [])[0] || {};
    status.textContent = out.status + ' ' + (err.code || '') + ': ' + (err.reason || '');
    status.className = 'error';
  } else if (out.join) {
    const why = (window.ZS_SDK_ERRORS || {})[out.join.errorCode];
    status.textContent = out.join.ok ? 'Joined.' : 'join() failed: ' + out.join.errorCode + ' ' + out.join.reason + (why ? ' ' + why : '');
    status.className = out.join.ok ? 'ok' : 'error';
  } else {
    status.textContent = 'Signed; joining...';
    status.className = 'ok';
  }
}

window.zsJoin = zsJoin;
const pick = () => document.querySelector('input[name=user]:checked').value;
document.getElementById('join').onclick = () => zsJoin({ user: pick(), password: document.getElementById('password').value });
document.getElementById('join-host').onclick = () => zsJoin({ user: pick(), password: document.getElementById('password').value, role: 1 });
