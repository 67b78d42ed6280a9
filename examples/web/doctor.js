// The join doctor, shared by both demo pages: when join() fails, "why?"
// asks the site's zoom_doctor route about this user's join and shows its
// findings beside the SDK's code. Everything the route (or whatever stands
// in front of it) answers is shown as text, never parsed as HTML.
'use strict';

window.zsDoctor = (() => {
  const URL = '/zoom/doctor';
  const SEVERITIES = ['error', 'warn', 'info'];

  // ask POSTs the join that failed and resolves to {meeting, findings} or
  // {error}; it never throws. A refusal, an empty or non-JSON answer (a 401
  // from basic_auth, a 502 from a proxy) or a network error is an error.
  // authorization is the page's Authorization header, for Basic auth; a
  // session cookie goes along anyway.
  async function ask({ url = URL, meetingNumber, role, sdkCode, sdkVersion, authorization } = {}) {
    const headers = { 'Content-Type': 'application/json' };
    if (authorization) headers.Authorization = authorization;
    const body = JSON.stringify({
      meetingNumber: String(meetingNumber == null ? '' : meetingNumber),
      role: Number(role) || 0,
      sdkCode: Number(sdkCode) || 0,
      sdkVersion: sdkVersion ? String(sdkVersion) : '',
    });
    let res, text;
    try {
      res = await fetch(url, { method: 'POST', headers, body, credentials: 'include', cache: 'no-store' });
      text = await res.text();
    } catch (e) {
      return { error: 'The join doctor could not be reached: ' + e };
    }
    let answer = null;
    try { answer = JSON.parse(text); } catch { /* shown below as a bare status */ }
    if (res.ok && answer && Array.isArray(answer.findings)) {
      return { meeting: String(answer.meeting || ''), findings: answer.findings };
    }
    const err = (answer && Array.isArray(answer.errors) && answer.errors[0]) || {};
    let msg = 'The join doctor answered ' + res.status;
    if (err.code || err.reason) msg += ' ' + String(err.code || '') + ': ' + String(err.reason || '');
    else msg += text.trim() === '' ? ', with no body.' : ', and not with its JSON.';
    return { error: msg };
  }

  const el = (tag, cls, text) => {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = String(text);
    return e;
  };

  // render writes an answer of ask into box, replacing what was there.
  function render(box, answer) {
    box.replaceChildren();
    box.removeAttribute('aria-busy');
    if (answer.error) {
      box.append(el('p', 'error doctor-error', answer.error));
      return;
    }
    box.append(el('p', 'doctor-head', 'The join doctor, for meeting ' + answer.meeting + ':'));
    const list = el('ul', 'findings');
    for (const f of answer.findings) {
      const sev = SEVERITIES.includes(f.severity) ? f.severity : 'info';
      const li = el('li', 'finding ' + sev);
      const head = el('p');
      head.append(el('code', 'code', f.code), ' ', el('span', 'severity', sev));
      const codes = Array.isArray(f.sdkCodes) ? f.sdkCodes.map(Number).filter(Number.isFinite) : [];
      if (codes.length) head.append(el('span', 'sdk-codes', ' explains SDK ' + codes.join(', ')));
      li.append(head, el('p', 'cause', f.cause || ''));
      if (f.fix) li.append(el('p', 'fix', 'Fix: ' + f.fix));
      const evidence = el('ul', 'evidence');
      for (const line of Array.isArray(f.evidence) ? f.evidence : []) evidence.append(el('li', null, line));
      if (evidence.childElementCount) li.append(evidence);
      list.append(li);
    }
    box.append(list);
  }

  // whyButton is the "why?" control beside a failed join's code: it asks
  // for the join that failed and renders the findings into box.
  function whyButton(box, join) {
    const b = el('button', 'why', 'why?');
    b.type = 'button';
    b.id = 'why';
    b.onclick = async () => {
      b.disabled = true;
      box.setAttribute('aria-busy', 'true');
      box.replaceChildren(el('p', null, 'Asking the join doctor...'));
      render(box, await ask(join()));
      b.disabled = false;
    };
    return b;
  }

  return { ask, render, whyButton };
})();
