// Component View: fetch the join config through Caddy, then join with the
// real Zoom Meeting SDK. window.zsJoin is also what the browser tests call.
'use strict';

let client = null;

// The SDK keeps a join's tk, ZAK and OBF token in sessionStorage and sends
// them with a later join that has none, even one of another meeting or
// another user signed in in the same tab (6.2.0: tk: tk ||
// sessionStorage.getItem("WEB_CLIENT_TK")). Each join sends only its own.
const SDK_JOIN_KEYS = ['WEB_CLIENT_TK', 'WEB_CLIENT_ZTK', 'WEB_CLIENT_ZSK', 'WEB-CLIENT_ZAK', 'WEB_CLIENT_OBF_TOKEN', 'WEB_CLIENT_RECORDING_TOKEN'];
const forgetLastJoin = () => SDK_JOIN_KEYS.forEach(k => sessionStorage.removeItem(k));

async function zsJoin({ config = '/api/join-config', user = 'attendee', password = 'demo', role = 0 } = {}) {
  const url = config + (role === 1 ? (config.includes('?') ? '&' : '?') + 'role=1' : '');
  const authorization = 'Basic ' + btoa(user + ':' + password);
  document.getElementById('doctor').replaceChildren();
  const res = await fetch(url, { headers: { Authorization: authorization }, cache: 'no-store' });
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
    forgetLastJoin();
    await client.join(opts);
    out.join = { ok: true };
  } catch (e) {
    out.join = { ok: false, reason: (e && e.reason) || String(e), errorCode: e && e.errorCode };
  }
  show(out);
  if (!out.join.ok) {
    // "why?" beside the SDK's code asks the join doctor about this join.
    document.getElementById('status').append(zsDoctor.whyButton(document.getElementById('doctor'), () => ({
      meetingNumber: body.meetingNumber, role: body.role, sdkCode: out.join.errorCode,
      sdkVersion: ZoomMtgEmbedded.VERSION, authorization,
    })));
  }
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
