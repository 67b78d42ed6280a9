package caddymodule

import (
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/join"

	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/zoomsig/caddy-zoom-signature/caddymodule/inspect"
)

// injectSite wraps the backend with basic_auth and zoom_signature in a few
// policy variants, chosen by path prefix.
const injectSite = `
	basic_auth /api/* {
		attendee {HASH}
		host {HASH}
	}
	handle /api/join/* {
		zoom_signature {
			sdk_key ` + testKey + `
			sdk_secret {env.ZS_TEST_SECRET}
			host_when {http.auth.user.id} host
		}
		log_append zoom_result {http.zoom_signature.result}
		log_append zoom_code {http.zoom_signature.code}
		log_append zoom_role {http.zoom_signature.role}
		log_append zoom_meeting {http.zoom_signature.meeting_number}
		reverse_proxy {BACKEND} {
			header_up X-Zoom-User {http.zoom_signature.user.id}
		}
	}
	handle /api/down/* {
		zoom_signature {
			sdk_key ` + testKey + `
			sdk_secret {env.ZS_TEST_SECRET}
			host_when {http.auth.user.id} host
			on_host_denied downgrade
		}
		reverse_proxy {BACKEND}
	}
	handle /api/nohost/* {
		zoom_signature {
			sdk_key ` + testKey + `
			sdk_secret {env.ZS_TEST_SECRET}
		}
		reverse_proxy {BACKEND}
	}
	handle /api/scoped/* {
		zoom_signature {
			sdk_key ` + testKey + `
			sdk_secret {env.ZS_TEST_SECRET}
			meetings 85746065432
			expires 1h
			signature_field auth.sig
			sdk_key_field
		}
		reverse_proxy {BACKEND}
	}
	handle /api/video/* {
		zoom_signature {
			sdk video
			sdk_key ` + testKey + `
			sdk_secret {env.ZS_TEST_SECRET}
		}
		reverse_proxy {BACKEND}
	}
	handle /api/legacy/* {
		zoom_signature {
			sdk websdk1
			sdk_key ` + testKey + `
			sdk_secret {env.ZS_TEST_SECRET}
		}
		reverse_proxy {BACKEND}
	}
	handle /open/* {
		zoom_signature {
			sdk_key ` + testKey + `
			sdk_secret {env.ZS_TEST_SECRET}
		}
		reverse_proxy {BACKEND}
	}
	handle /anon/* {
		zoom_signature {
			sdk_key ` + testKey + `
			sdk_secret {env.ZS_TEST_SECRET}
			allow_anonymous
		}
		reverse_proxy {BACKEND}
	}
`

func startInject(t *testing.T) (*instance, *backend) {
	b := newBackend(t)
	return startCaddy(t, injectSite, b.URL), b
}

// checkSigned inspects the token in a signed join config: it must verify
// with the secret and carry the expected meeting and role.
func checkSigned(t *testing.T, tok, meeting string, role int) {
	t.Helper()
	r := inspect.Inspect(tok, inspect.Options{Secret: testSecret, SDKKey: testKey, MeetingNumber: meeting, Role: &role, ZAKPresent: true})
	if r.Format != inspect.FormatMeeting || r.HasErrors() {
		t.Fatalf("signature does not pass inspect: %s %+v", r.Format, r.Findings)
	}
}

func TestInjectSignsJoinConfig(t *testing.T) {
	c, b := startInject(t)
	resp := c.do("GET", "/api/join/join-config", "attendee", "", "Accept-Encoding", "gzip", "Range", "bytes=0-10", "If-None-Match", `"v1"`, "If-Modified-Since", "Mon, 02 Jan 2006 15:04:05 GMT")
	if resp.status != http.StatusOK {
		t.Fatalf("status %d: %s", resp.status, resp.body)
	}
	// The backend saw none of the headers that would stop us signing.
	for _, k := range []string{"Range", "If-None-Match", "If-Modified-Since"} {
		if v := b.header().Get(k); v != "" {
			t.Errorf("backend received %s: %q", k, v)
		}
	}
	if ae := b.header().Get("Accept-Encoding"); ae != "" && ae != "gzip" {
		t.Errorf("backend received the client's Accept-Encoding %q", ae)
	}
	m := resp.json(t)
	tok, _ := m["signature"].(string)
	checkSigned(t, tok, "85746065432", 0)
	if m["sdkKey"] != testKey || m["meetingNumber"] != "85746065432" || m["passWord"] != "pw" {
		t.Fatalf("join config fields wrong: %v", m)
	}
	// Every byte the module does not own is left alone: the backend's text
	// with the spaced meeting number normalised, plus our two fields.
	want := strings.Replace(joinConfig, `"857 4606 5432"`, `"85746065432"`, 1)
	want = want[:len(want)-1] + `,"signature":"` + tok + `","sdkKey":"` + testKey + `"}`
	if string(resp.body) != want {
		t.Fatalf("body\n got %s\nwant %s", resp.body, want)
	}
	h := resp.header
	if h.Get("Content-Length") != itoa(len(resp.body)) {
		t.Errorf("Content-Length %s for %d bytes", h.Get("Content-Length"), len(resp.body))
	}
	for _, k := range []string{"Etag", "Last-Modified", "Accept-Ranges"} {
		if h.Get(k) != "" {
			t.Errorf("%s kept: %q", k, h.Get(k))
		}
	}
	if h.Get("Cache-Control") != "no-store, private" {
		t.Errorf("Cache-Control %q", h.Get("Cache-Control"))
	}
	if v := strings.Join(h.Values("Vary"), ","); !strings.Contains(v, "Cookie") || !strings.Contains(v, "Authorization") {
		t.Errorf("Vary %q", v)
	}
	if h.Get("X-Backend") != "yes" {
		t.Error("other backend headers were lost")
	}
}

// TestInjectLargeJoinConfig: a join config above the size that is written
// span by span comes out byte for byte as the small one does, with its
// Content-Length.
func TestInjectLargeJoinConfig(t *testing.T) {
	c, _ := startInject(t)
	for _, enc := range []string{"", "gzip"} {
		resp := c.do("GET", "/api/join/large", "attendee", "", "Accept-Encoding", enc)
		if resp.status != http.StatusOK {
			t.Fatalf("status %d: %s", resp.status, resp.body)
		}
		tok, _ := resp.json(t)["signature"].(string)
		checkSigned(t, tok, "85746065432", 0)
		want := strings.Replace(largeJoinConfig, `"857 4606 5432"`, `"85746065432"`, 1)
		want = want[:len(want)-1] + `,"signature":"` + tok + `","sdkKey":"` + testKey + `"}`
		if len(want) <= writeSpansAbove {
			t.Fatalf("the large join config is %d bytes, not above %d", len(want), writeSpansAbove)
		}
		if string(resp.body) != want {
			t.Fatalf("body differs: got %d bytes, want %d", len(resp.body), len(want))
		}
		if cl := resp.header.Get("Content-Length"); cl != itoa(len(want)) {
			t.Fatalf("Content-Length %q for %d bytes", cl, len(want))
		}
	}
}

func TestInjectGzipBackend(t *testing.T) {
	c, b := startInject(t)
	resp := c.do("GET", "/api/join/gzip", "attendee", "", "Accept-Encoding", "gzip, br")
	if resp.status != 200 || resp.header.Get("Content-Encoding") != "" {
		t.Fatalf("status %d, encoding %q: %s", resp.status, resp.header.Get("Content-Encoding"), resp.body)
	}
	checkSigned(t, resp.json(t)["signature"].(string), "85746065432", 0)
	if b.header().Get("Accept-Encoding") != "gzip" {
		t.Fatalf("backend Accept-Encoding %q; want the transport's own gzip", b.header().Get("Accept-Encoding"))
	}
	// A backend that compresses although nobody asked cannot be signed.
	resp = c.do("GET", "/api/join/forced-gzip", "attendee", "")
	if resp.status != http.StatusBadGateway || resp.errorCode(t) != codeUpstreamEncoded {
		t.Fatalf("forced encoding: %d %s", resp.status, resp.body)
	}
}

func TestInjectPassesThrough(t *testing.T) {
	c, _ := startInject(t)
	for _, tc := range []struct {
		path, method string
		status       int
		body         string
	}{
		{"/api/join/not-found", "GET", 404, `{"error":"no such meeting"}`},
		{"/api/join/fail", "GET", 500, `{"error":"backend down"}`},
		{"/api/join/html", "GET", 200, `<html>{"meetingNumber":"85746065432"}</html>`},
		{"/api/join/empty", "GET", 204, ``},
		{"/api/join/join-config", "HEAD", 200, ``},
	} {
		resp := c.do(tc.method, tc.path, "attendee", "")
		if resp.status != tc.status || string(resp.body) != tc.body {
			t.Errorf("%s %s: %d %q; want %d %q", tc.method, tc.path, resp.status, resp.body, tc.status, tc.body)
		}
		if strings.Contains(string(resp.body), "signature") {
			t.Errorf("%s was signed", tc.path)
		}
		if tc.status != 204 && resp.header.Get("Etag") != `"v1"` {
			t.Errorf("%s %s: pass-through lost the backend's headers", tc.method, tc.path)
		}
	}
}

func TestInjectUnsignableJoinConfigs(t *testing.T) {
	c, _ := startInject(t)
	for path, code := range map[string]string{
		"malformed":   codeUpstreamInvalid,
		"array":       codeUpstreamInvalid,
		"no-meeting":  join.CodeBackendMeeting,
		"undefined":   join.CodeBackendMeeting,
		"short":       join.CodeBackendMeeting,
		"bad-role":    join.CodeBackendRole,
		"big":         codeUpstreamTooLarge,
		"big-chunked": codeUpstreamTooLarge,
	} {
		resp := c.do("GET", "/api/join/"+path, "attendee", "")
		if resp.status != http.StatusBadGateway {
			t.Errorf("%s: status %d, want 502: %.200s", path, resp.status, resp.body)
			continue
		}
		if got := resp.errorCode(t); got != code {
			t.Errorf("%s: code %s, want %s", path, got, code)
		}
		if resp.header.Get("Etag") != "" || resp.header.Get("Cache-Control") != "no-store, private" {
			t.Errorf("%s: refusal kept backend caching headers", path)
		}
	}
}

func TestInjectAuthentication(t *testing.T) {
	c, b := startInject(t)
	before := b.hits.Load()
	// No credentials: basic_auth answers 401 itself.
	if resp := c.do("GET", "/api/join/join-config", "", ""); resp.status != 401 {
		t.Fatalf("no credentials: %d", resp.status)
	}
	// Without an auth handler in front, no identity means our own 401, and
	// the backend is never called.
	resp := c.do("GET", "/open/join-config", "", "")
	if resp.status != 401 || resp.errorCode(t) != join.CodeUnauthenticated {
		t.Fatalf("no identity: %d %s", resp.status, resp.body)
	}
	if resp.header.Get("Www-Authenticate") == "" {
		t.Error("401 without WWW-Authenticate")
	}
	// A spoofed header is no identity either.
	if resp := c.do("GET", "/open/join-config", "", "", "X-Remote-User", "host"); resp.status != 401 {
		t.Fatalf("spoofed header: %d", resp.status)
	}
	if n := b.hits.Load() - before; n != 0 {
		t.Fatalf("backend called %d times for unauthenticated requests", n)
	}
	// allow_anonymous signs without an identity.
	resp = c.do("GET", "/anon/join-config", "", "")
	if resp.status != 200 {
		t.Fatalf("anonymous: %d %s", resp.status, resp.body)
	}
	checkSigned(t, resp.json(t)["signature"].(string), "85746065432", 0)
}

func TestInjectHostPolicy(t *testing.T) {
	c, _ := startInject(t)
	// host_when allows the host user.
	resp := c.do("GET", "/api/join/host", "host", "")
	if resp.status != 200 {
		t.Fatalf("host: %d %s", resp.status, resp.body)
	}
	checkSigned(t, resp.json(t)["signature"].(string), "85746065432", 1)
	if !strings.HasPrefix(string(resp.body), `{"meetingNumber":85746065432,"role":1,`) {
		t.Fatalf("numeric meeting number or role changed: %s", resp.body)
	}
	// Role "1" as a string is accepted too.
	resp = c.do("GET", "/api/join/host-string", "host", "")
	checkSigned(t, resp.json(t)["signature"].(string), "85746065432", 1)

	// An attendee asking for host: denied by default.
	resp = c.do("GET", "/api/join/host", "attendee", "")
	if resp.status != 403 || resp.errorCode(t) != join.CodeHostNotAllowed {
		t.Fatalf("attendee as host: %d %s", resp.status, resp.body)
	}
	// ... or downgraded, and the join config says role 0 too.
	resp = c.do("GET", "/api/down/host", "attendee", "")
	if resp.status != 200 {
		t.Fatalf("downgrade: %d %s", resp.status, resp.body)
	}
	m := resp.json(t)
	checkSigned(t, m["signature"].(string), "85746065432", 0)
	if m["role"] != 0.0 {
		t.Fatalf("downgraded join config still says role %v", m["role"])
	}
	// Without host_when nobody is host, and the reason says how to allow it.
	resp = c.do("GET", "/api/nohost/host", "host", "")
	if resp.status != 403 || !strings.Contains(string(resp.body), "host_when any") {
		t.Fatalf("no host_when: %d %s", resp.status, resp.body)
	}
}

func TestInjectFieldsAndScope(t *testing.T) {
	c, _ := startInject(t)
	resp := c.do("GET", "/api/scoped/numeric", "attendee", "")
	if resp.status != 200 {
		t.Fatalf("scoped: %d %s", resp.status, resp.body)
	}
	m := resp.json(t)
	if _, ok := m["sdkKey"]; ok {
		t.Error("sdk_key_field with no argument still wrote the key")
	}
	auth, _ := m["auth"].(map[string]any)
	tok, _ := auth["sig"].(string)
	checkSigned(t, tok, "85746065432", 0)
	// The exponent form is written back as digits, still a JSON number.
	if !strings.HasPrefix(string(resp.body), `{"meetingNumber":85746065432,`) {
		t.Fatalf("numeric meeting number not normalised: %s", resp.body)
	}
	// expires 1h.
	r := inspect.Inspect(tok, inspect.Options{At: time.Now()})
	exp, iat := jsonInt(t, r.Claims, "exp"), jsonInt(t, r.Claims, "iat")
	if exp-iat != 3600 {
		t.Fatalf("lifetime %d, want 3600", exp-iat)
	}
	if now := time.Now().Unix(); iat > now-29 || iat < now-40 {
		t.Fatalf("iat %d is not back-dated by about 30s from %d", iat, now)
	}
	resp = c.do("GET", "/api/scoped/other-meeting", "attendee", "")
	if resp.status != 403 || resp.errorCode(t) != join.CodeMeetingNotAllowed {
		t.Fatalf("out of scope: %d %s", resp.status, resp.body)
	}
}

func TestInjectVideoAndLegacy(t *testing.T) {
	c, _ := startInject(t)
	resp := c.do("GET", "/api/video/video", "attendee", "")
	if resp.status != 200 {
		t.Fatalf("video: %d %s", resp.status, resp.body)
	}
	m := resp.json(t)
	if _, ok := m["sdkKey"]; ok {
		t.Error("video join config got sdkKey")
	}
	r := inspect.Inspect(m["signature"].(string), inspect.Options{Secret: testSecret, MeetingNumber: "Cool Cars"})
	if r.Format != inspect.FormatVideo || r.HasErrors() || !strings.Contains(string(r.Claims), `"user_identity":"user123"`) {
		t.Fatalf("video token: %s %s %+v", r.Format, r.Claims, r.Findings)
	}

	resp = c.do("GET", "/api/legacy/join-config", "attendee", "")
	m = resp.json(t)
	r = inspect.Inspect(m["signature"].(string), inspect.Options{Secret: testSecret, MeetingNumber: "85746065432"})
	if r.Format != inspect.FormatWebSDK1 || m["apiKey"] != testKey {
		t.Fatalf("legacy: %s %v", r.Format, m)
	}
	for _, f := range r.Findings {
		if f.Severity == inspect.Error && f.Code != "legacy_format" {
			t.Fatalf("legacy token finding: %+v", f)
		}
	}
}

// TestPlaceholders shows the placeholders reaching the backend (header_up)
// and the access log (log_append).
func TestPlaceholders(t *testing.T) {
	c, b := startInject(t)
	c.do("GET", "/api/join/host", "host", "")
	if got := b.header().Get("X-Zoom-User"); got != "host" {
		t.Fatalf("backend got X-Zoom-User %q", got)
	}
	c.do("GET", "/api/join/host", "attendee", "")
	c.do("GET", "/api/join/html", "attendee", "")
	logs, err := os.ReadFile(c.logPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`"uri":"/api/join/host","headers":`,
		`"zoom_result":"signed"`, `"zoom_role":"1"`, `"zoom_meeting":"85746065432"`,
		`"zoom_result":"refused"`, `"zoom_code":"host_not_allowed"`,
		`"zoom_result":"passed"`, `"zoom_code":"not_json"`,
	} {
		if !strings.Contains(string(logs), want) {
			t.Errorf("access log lacks %s", want)
		}
	}
}
