// What the Zoom SDK's error codes mean on a site behind zoom_signature,
// and what to do about them; shared by both demo pages.
'use strict';

window.ZS_SDK_ERRORS = {
  3712: 'Signature is invalid: the token does not verify with the app\'s secret, or the page passed another meeting number or role than the config. With the demo key this is expected.',
  3705: 'The signature has expired: fetch a fresh join config rather than caching one.',
  3099: 'This meeting requires registration: the join needs the registrant\'s tk (a registrant step in the handler can register the user).',
  4011: 'The meeting is outside the app\'s account, and the app has not passed Zoom\'s review for external meetings.',
  4012: 'Anonymous joins are not allowed: the meeting is outside the app\'s account, so the join needs the host\'s ZAK or an OBF token of a signed-in Zoom user.',
  4014: 'The OBF token is invalid: fetch a new one for this join.',
  4015: 'The OBF token does not match the meeting: it was fetched for another meeting number.',
  4017: 'The user the OBF token belongs to is not in the meeting yet.',
  4019: 'The user the OBF token belongs to has left the meeting.',
};
