// Package inspect takes a Zoom SDK signature apart and names what is wrong
// with it. It knows the three formats of package signature (the Meeting SDK
// JWT, the Video SDK JWT and the legacy Web SDK 1.x signature) and the
// common causes of the SDK's bare "Signature is invalid" (3712), each as a
// finding with a stable code, a cause and a fix.
package inspect

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tidwall/gjson"

	"github.com/zoomsig/caddy-zoom-signature/caddymodule/internal/jsonstr"
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/signature"
)

// Formats.
const (
	FormatMeeting = "meeting"
	FormatVideo   = "video"
	FormatWebSDK1 = "websdk1"
	FormatUnknown = "unknown"
)

// Severities.
const (
	Error   = "error"
	Warning = "warning"
	Info    = "info"
)

// Options is what the join will use, to compare the token against. Zero
// values mean "not known".
type Options struct {
	Secret        string // checks the HMAC when set
	SDKKey        string
	MeetingNumber string
	Role          *int
	ZAKPresent    bool
	At            time.Time // when to judge the times; zero means now
	// SDK is the SDK the token is handed to, FormatMeeting or FormatVideo;
	// "" when not known. A token of the other format is an error.
	SDK string
	// Passcode is the Video SDK session passcode passed to join() beside
	// the token; nil when not known.
	Passcode *string
}

// Finding is one problem, or one notable fact, about a token.
type Finding struct {
	Severity string `json:"severity"`
	Code     string `json:"code"`
	Message  string `json:"message"`
}

// Report is the result of Inspect.
type Report struct {
	Format   string          `json:"format"`
	Header   json.RawMessage `json:"header,omitempty"`
	Claims   json.RawMessage `json:"claims,omitempty"`
	Findings []Finding       `json:"findings"`
}

// HasErrors reports whether any finding is an error.
func (r Report) HasErrors() bool {
	for _, f := range r.Findings {
		if f.Severity == Error {
			return true
		}
	}
	return false
}

// Has reports whether a finding with code exists.
func (r Report) Has(code string) bool {
	for _, f := range r.Findings {
		if f.Code == code {
			return true
		}
	}
	return false
}

func (r *Report) add(severity, code, format string, args ...any) {
	r.Findings = append(r.Findings, Finding{Severity: severity, Code: code, Message: fmt.Sprintf(format, args...)})
}

// Inspect decodes token and lists its findings. It never panics, whatever
// the input.
func Inspect(token string, o Options) Report {
	if o.At.IsZero() {
		o.At = time.Now()
	}
	token = strings.TrimSpace(token)
	r := Report{Format: FormatUnknown, Findings: []Finding{}}
	switch {
	case token == "":
		r.add(Error, "not_a_token", "the token is empty; the signer returned nothing, so check that its response was read (data.signature) and that the request reached it")
	case strings.HasPrefix(token, "{"):
		r.add(Error, "not_a_token", "the token is a JSON object, not a signature; pass the \"signature\" field of the signer's response to join(), not the whole response")
	case strings.Count(token, ".") == 2:
		inspectJWT(&r, token, o)
	default:
		if !inspectWebSDK1(&r, token, o) {
			r.add(Error, "not_a_token", "this is neither a JWT (three dot-separated base64url parts) nor a Web SDK 1.x signature; pass the signature string the signer returned, unmodified")
		}
	}
	return r
}

func inspectJWT(r *Report, token string, o Options) {
	parts := strings.Split(token, ".")
	header, herr := decodeSegment(parts[0])
	payload, perr := decodeSegment(parts[1])
	if herr != nil || perr != nil || !json.Valid(header) || !json.Valid(payload) ||
		!gjson.ParseBytes(header).IsObject() || !gjson.ParseBytes(payload).IsObject() {
		r.add(Error, "not_a_token", "the token has three parts but its header or payload is not base64url-encoded JSON; build it with a JWT library, not by hand")
		return
	}
	r.Header, r.Claims = compact(header), compact(payload)
	if strings.ContainsAny(token, "+/=") {
		r.add(Error, "not_a_token", "the token uses standard base64 (+, / or =); JWTs need unpadded base64url, so use a JWT library instead of btoa()")
	}
	h, c := gjson.ParseBytes(header), gjson.ParseBytes(payload)
	if alg := h.Get("alg"); alg.Str != "HS256" {
		r.add(Error, "alg_not_hs256", "the header's alg is %s, but Zoom only accepts HS256; sign with HMAC-SHA256 and the SDK secret", raw(alg))
	}
	if c.Get("app_key").Exists() || c.Get("tpc").Exists() {
		r.Format = FormatVideo
		checkVideo(r, c, o)
	} else {
		r.Format = FormatMeeting
		checkMeeting(r, c, o)
	}
	checkSDK(r, o)
	checkHMAC(r, o, []byte(token[:strings.LastIndexByte(token, '.')]), parts[2], base64.RawURLEncoding)
	checkTimes(r, c, o)
}

func checkMeeting(r *Report, c gjson.Result, o Options) {
	appKey := c.Get("appKey")
	if !appKey.Exists() {
		if c.Get("apiKey").Exists() {
			r.add(Error, "app_key_missing", "the payload has apiKey (a retired JWT-app field) but no appKey; sign with the Meeting SDK app's client ID as appKey")
		} else {
			r.add(Error, "app_key_missing", "the payload has no appKey claim, which Meeting SDK 5.0 and later require; add appKey (and sdkKey) set to the SDK key")
		}
	}
	key := appKey
	if !key.Exists() {
		key = c.Get("sdkKey")
	}
	checkKey(r, key, o)
	mn := c.Get("mn")
	switch {
	case !mn.Exists() && c.Get("meetingNumber").Exists():
		r.add(Error, "meeting_number_missing", "the payload calls the meeting number meetingNumber; the claim must be named mn")
	case !mn.Exists():
		r.add(Error, "meeting_number_missing", "the payload has no mn claim, so this is a native-SDK init token; web joins need mn and role. Usually the signer never parsed the request body: send it as JSON with Content-Type: application/json")
	default:
		checkMeetingNumber(r, mn, o)
	}
	if checkRole(r, c.Get("role"), "role", o) == 1 && !o.ZAKPresent {
		// Only the Meeting SDK starts meetings with a ZAK; a Video SDK
		// host (role_type 1) needs none.
		r.add(Warning, "host_without_zak", "role 1 (host) without a ZAK: the SDK cannot start the meeting and waits for the host; fetch the host's ZAK (GET /users/{id}/token?type=zak) and pass it as zak")
	}
	if tokenExp, exp := c.Get("tokenExp"), c.Get("exp"); !tokenExp.Exists() {
		r.add(Warning, "token_exp_mismatch", "the payload has no tokenExp; Zoom's sample sets tokenExp equal to exp, so add it")
	} else if tokenExp.Raw != exp.Raw {
		r.add(Error, "token_exp_mismatch", "tokenExp (%s) differs from exp (%s); set both to the same expiry", tokenExp.Raw, exp.Raw)
	}
}

func checkVideo(r *Report, c gjson.Result, o Options) {
	if !c.Get("app_key").Exists() {
		r.add(Error, "app_key_missing", "the payload has no app_key claim; set it to the Video SDK key")
	}
	checkKey(r, c.Get("app_key"), o)
	switch tpc := c.Get("tpc"); {
	case tpc.Type != gjson.String:
		r.add(Error, "session_name_missing", "the payload has no tpc (session name) string; set tpc to the session name passed to client.join()")
	case tpc.Str == "":
		r.add(Error, "session_name_missing", "tpc (the session name) is empty; the Video SDK joins a session by its name, so sign the name passed to client.join()")
	case jsonstr.UTF16Len(tpc.Str) > 200:
		r.add(Error, "session_name_too_long", "tpc is %d characters long; the Video SDK's join() takes a topic of at most 200 (5013, \"The maximum length of topic is 200\"), so use a shorter session name", jsonstr.UTF16Len(tpc.Str))
	case signature.SessionNameReason(tpc.Str) != "":
		r.add(Error, "session_name_invalid", "tpc: %s", signature.SessionNameReason(tpc.Str))
	case o.MeetingNumber != "" && strings.ToLower(tpc.Str) != strings.ToLower(o.MeetingNumber):
		// join() lower-cases the topic before it sends it, and Zoom
		// compares tpc without case, so only other differences count.
		r.add(Error, "meeting_number_mismatch", "tpc is %q but the join uses %q; Zoom refuses the join (the Video SDK shows \"Verify JWT failed\"), so sign for the session you join", tpc.Str, o.MeetingNumber)
	}
	switch role := c.Get("role_type"); {
	case !role.Exists():
		// The Video SDK shows Zoom's answer as 3010, "Role type error".
		r.add(Error, "role_missing", "the payload has no role_type, which the Video SDK requires since 1.3.0 (3010, \"Role type error\"); set it to the number 0 (participant) or 1 (host)")
	default:
		checkRole(r, role, "role_type", o)
	}
	if c.Get("version").Int() != 1 {
		r.add(Warning, "version_invalid", "version is %s; Zoom's Video SDK sample and docs set it to 1", raw(c.Get("version")))
	}
	if k := c.Get("session_key"); k.Exists() && jsonstr.UTF16Len(k.String()) > 36 {
		r.add(Error, "session_key_too_long", "session_key is %d characters long; Zoom refuses more than 36 (the Video SDK shows \"invalid session key\"), so shorten it", jsonstr.UTF16Len(k.String()))
	}
	if id := c.Get("user_identity"); id.Exists() && jsonstr.UTF16Len(id.String()) > 35 {
		r.add(Error, "user_identity_too_long", "user_identity is %d characters long; Zoom's sample refuses more than 35, so shorten it", jsonstr.UTF16Len(id.String()))
	}
	if o.Passcode != nil {
		if reason := signature.PasscodeReason(*o.Passcode); reason != "" {
			r.add(Error, "passcode_invalid", "%s", reason)
		}
	}
}

// checkSDK names a token handed to the other SDK: Zoom looks the key up
// among the account's apps of that SDK, and a Meeting SDK key is not a
// Video SDK app's ("This account does not exist or does not belong to
// you").
func checkSDK(r *Report, o Options) {
	switch {
	case o.SDK == FormatVideo && r.Format == FormatMeeting:
		r.add(Error, "wrong_sdk", "this is a Meeting SDK token (appKey, mn), but it goes to the Video SDK, where Zoom refuses it (\"This account does not exist or does not belong to you\"); sign with sdk video and the Video SDK app's key and secret")
	case o.SDK == FormatMeeting && r.Format == FormatVideo:
		r.add(Error, "wrong_sdk", "this is a Video SDK token (app_key, tpc), but it goes to the Meeting SDK, which refuses it; sign with sdk meeting and the Meeting SDK app's key and secret")
	}
}

func checkKey(r *Report, key gjson.Result, o Options) {
	if o.SDKKey != "" && key.Exists() && key.String() != o.SDKKey {
		r.add(Error, "sdk_key_mismatch", "the token was signed for SDK key %q, but the join uses %q; sign with the same app's key and secret the page passes to join()", key.String(), o.SDKKey)
	}
}

func checkMeetingNumber(r *Report, mn gjson.Result, o Options) {
	got, err := signature.MeetingNumberFrom([]byte(mn.Raw))
	switch {
	case err != nil:
		hint := "make sure the signer receives the meeting number"
		if mn.Str == "undefined" || mn.Str == "" || mn.Type == gjson.Null {
			hint = "the signer never received it: send the request body as JSON with Content-Type: application/json"
		}
		r.add(Error, "meeting_number_invalid", "mn is %s, not 9 to 11 digits; %s", mn.Raw, hint)
		return
	case mn.Type == gjson.String && mn.Str != got.Digits:
		r.add(Error, "meeting_number_invalid", "mn is %s, with spaces or dashes; Zoom compares digits only, so sign %q", mn.Raw, got.Digits)
	}
	if o.MeetingNumber == "" {
		return
	}
	want, err := signature.ParseMeetingNumber(o.MeetingNumber)
	if err != nil || want.Digits != got.Digits {
		r.add(Error, "meeting_number_mismatch", "the token is for meeting %s, but the join uses %q; sign for the meeting you join (a stale or cached token?)", got.Digits, o.MeetingNumber)
	}
}

// checkRole checks a role claim and returns it, or -1 when it is not 0 or
// 1.
func checkRole(r *Report, role gjson.Result, name string, o Options) int {
	switch {
	case !role.Exists():
		r.add(Error, "role_missing", "the payload has no %s; set it to 0 (attendee) or 1 (host)", name)
		return -1
	case role.Type == gjson.String:
		r.add(Error, "role_invalid", "%s is the string %s; Zoom needs the number 0 or 1", name, role.Raw)
		return -1
	case role.Type != gjson.Number || (role.Num != 0 && role.Num != 1):
		r.add(Error, "role_invalid", "%s is %s; it must be 0 (attendee) or 1 (host)", name, role.Raw)
		return -1
	}
	if o.Role != nil && int(role.Num) != *o.Role {
		r.add(Error, "role_mismatch", "the token carries %s %d, but the join uses role %d; sign with the role you join with", name, int(role.Num), *o.Role)
	}
	return int(role.Num)
}

func checkTimes(r *Report, c gjson.Result, o Options) {
	iat, exp := c.Get("iat"), c.Get("exp")
	for _, t := range []struct {
		name string
		v    gjson.Result
	}{{"iat", iat}, {"exp", exp}} {
		if t.v.Type != gjson.Number || t.v.Num != float64(int64(t.v.Num)) {
			r.add(Error, "times_invalid", "%s is %s; it must be a whole number of seconds since 1970", t.name, raw(t.v))
			return
		}
	}
	if iat.Num > 1e11 || exp.Num > 1e11 {
		r.add(Error, "times_in_milliseconds", "iat (%s) or exp (%s) is in milliseconds; divide Date.now() by 1000 and round down", iat.Raw, exp.Raw)
		return
	}
	at := o.At.Unix()
	if iat.Int() > at {
		r.add(Error, "issued_in_future", "iat is %s, %ds after %s: the signer's clock runs ahead; sync it with NTP and back-date iat by 30s or more", stamp(iat.Int()), iat.Int()-at, o.At.UTC().Format(time.RFC3339))
	}
	if exp.Int() <= at {
		r.add(Error, "expired", "the token expired at %s (%s ago); mint a fresh signature right before join() and don't cache it", stamp(exp.Int()), time.Duration(at-exp.Int())*time.Second)
	}
	switch life := exp.Int() - iat.Int(); {
	case life < signature.MinLifetime:
		r.add(Error, "lifetime_too_short", "exp - iat is %ds; Zoom needs at least 1800s, so set exp to iat + 1800 or more", life)
	case life > signature.MaxLifetime:
		r.add(Error, "lifetime_too_long", "exp - iat is %ds; Zoom allows at most 172800s (48h), so shorten it", life)
	}
}

func checkHMAC(r *Report, o Options, msg []byte, sig string, enc *base64.Encoding) {
	if o.Secret == "" {
		r.add(Info, "signature_not_checked", "no secret given, so the HMAC was not checked; pass --secret-file or set ZOOM_SDK_SECRET")
		return
	}
	if signature.SecretAmbiguous(o.Secret) {
		r.add(Warning, "secret_encoding_ambiguous", "the secret is hex-looking or not plain ASCII, so libraries disagree on its key bytes (jsrsasign hex-decodes hex strings and truncates non-ASCII); check that the secret was copied exactly")
	}
	got, err := enc.DecodeString(sig)
	if err != nil {
		r.add(Error, "bad_signature", "the signature part is not valid base64; the token was cut or altered after signing")
		return
	}
	if hmac.Equal(got, mac(signature.HMACKey(o.Secret), msg)) {
		return
	}
	switch {
	case hmac.Equal(got, mac(signature.SampleHMACKey(o.Secret), msg)):
		r.add(Error, "bad_signature", "the HMAC verifies only with jsrsasign's key bytes for this secret, not its UTF-8 bytes; Zoom keys with the UTF-8 bytes, so sign with a library that does")
	case o.Secret != strings.TrimSpace(o.Secret) && hmac.Equal(got, mac([]byte(strings.TrimSpace(o.Secret)), msg)):
		r.add(Error, "bad_signature", "the HMAC verifies with the secret trimmed, but not as given; remove the trailing white space or newline from the secret")
	default:
		r.add(Error, "bad_signature", "the HMAC does not verify with the given secret; the token was signed with another secret (another app, a regenerated secret, or a Video SDK/Meeting SDK mix-up)")
	}
}

func mac(key, msg []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(msg)
	return m.Sum(nil)
}

// inspectWebSDK1 recognises base64(key.mn.ts.role.hash); it reports false
// when token is not one.
func inspectWebSDK1(r *Report, token string, o Options) bool {
	var plain []byte
	urlSafe := false
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(token); err == nil {
			plain, urlSafe = b, enc == base64.URLEncoding || enc == base64.RawURLEncoding
			break
		}
	}
	fields := bytes.Split(plain, []byte("."))
	if len(fields) != 5 {
		return false
	}
	key, mn, ts, role, hash := string(fields[0]), string(fields[1]), string(fields[2]), string(fields[3]), string(fields[4])
	r.Format = FormatWebSDK1
	claims, _ := json.Marshal(struct {
		APIKey        string `json:"apiKey"`
		MeetingNumber string `json:"meetingNumber"`
		Timestamp     string `json:"timestamp"`
		Role          string `json:"role"`
		Encoding      string `json:"encoding"`
	}{key, mn, ts, role, map[bool]string{false: "base64", true: "base64url"}[urlSafe]})
	r.Claims = claims
	r.add(Error, "legacy_format", "this is a Web SDK 1.x signature (JWT-app API key and secret); Web SDK 2.7 and later refuse it and JWT apps are retired, so create a Meeting SDK app and sign a JWT (caddy zoom-signature sign --sdk meeting)")
	checkKey(r, gjson.Parse(strconv.Quote(key)), o)
	if mn == "undefined" || role == "undefined" {
		r.add(Error, "meeting_number_invalid", "the signature contains the text \"undefined\": the signer never parsed the request body; send it as JSON with Content-Type: application/json")
	} else {
		checkMeetingNumber(r, gjson.Parse(strconv.Quote(mn)), o)
	}
	if role != "0" && role != "1" {
		r.add(Error, "role_invalid", "role is %q; it must be 0 (attendee) or 1 (host)", role)
	} else if n := int(role[0] - '0'); o.Role != nil && n != *o.Role {
		r.add(Error, "role_mismatch", "the signature carries role %d, but the join uses role %d", n, *o.Role)
	}
	if ms, err := strconv.ParseInt(ts, 10, 64); err != nil || ms < 1e11 {
		r.add(Error, "times_invalid", "the timestamp %q is not Unix milliseconds; Web SDK 1.x signatures use Date.now() - 30000", ts)
	} else if ms/1000 > o.At.Unix() {
		r.add(Error, "issued_in_future", "the timestamp is %s, after %s: the signer's clock runs ahead", stamp(ms/1000), o.At.UTC().Format(time.RFC3339))
	}
	msg := base64.StdEncoding.EncodeToString([]byte(key + mn + ts + role))
	checkHMAC(r, o, []byte(msg), hash, base64.StdEncoding)
	return true
}

func decodeSegment(s string) ([]byte, error) {
	if b, err := base64.RawURLEncoding.DecodeString(s); err == nil {
		return b, nil
	}
	// Tolerate padded or standard base64 to say more than "not a token";
	// the finding about the encoding is added by the caller.
	return base64.StdEncoding.DecodeString(strings.TrimRight(strings.NewReplacer("-", "+", "_", "/").Replace(s), "=") + strings.Repeat("=", (4-len(strings.TrimRight(s, "="))%4)%4))
}

func compact(b []byte) json.RawMessage {
	var out bytes.Buffer
	if json.Compact(&out, b) != nil {
		return nil
	}
	return out.Bytes()
}

func raw(r gjson.Result) string {
	if !r.Exists() {
		return "missing"
	}
	return r.Raw
}

func stamp(sec int64) string {
	return strconv.FormatInt(sec, 10) + " (" + time.Unix(sec, 0).UTC().Format(time.RFC3339) + ")"
}
