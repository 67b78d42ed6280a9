package caddymodule

import (
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/join"

	"encoding/base64"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/zoomsig/caddy-zoom-signature/caddymodule/inspect"
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/internal/vectors"
)

// Preflights carry no credentials, so basic_auth must let OPTIONS through
// for zoom_signature to answer them; the README shows the same matcher.
const endpointSite = `
	@authed {
		path /ep/*
		not method OPTIONS
	}
	basic_auth @authed {
		attendee {HASH}
		host {HASH}
	}
	handle /ep/meeting {
		zoom_signature {
			mode endpoint
			sdk_key ` + testKey + `
			sdk_secret {env.ZS_TEST_SECRET}
			meetings 85746065432 123456789 "987-654-3210"
			host_when {http.auth.user.id} host
			cors_origins https://app.example.test
			expires 3h
		}
	}
	handle /ep/any {
		zoom_signature {
			mode endpoint
			sdk_key ` + testKey + `
			sdk_secret {env.ZS_TEST_SECRET}
			meetings any
			host_when any
		}
	}
	handle /ep/video {
		zoom_signature {
			mode endpoint
			sdk video
			sdk_key ` + testKey + `
			sdk_secret {env.ZS_TEST_SECRET}
			meetings "Cool Cars" s
		}
	}
	handle /ep/small {
		zoom_signature {
			mode endpoint
			sdk_key ` + testKey + `
			sdk_secret {env.ZS_TEST_SECRET}
			meetings any
			max_body 100B
		}
	}
`

// loadHTTPVectors indexes the sample endpoints' recorded exchanges by ID.
func loadHTTPVectors(t *testing.T) map[string]vectors.HTTP {
	t.Helper()
	out := map[string]vectors.HTTP{}
	for _, list := range vectors.Load(t).HTTP {
		for _, x := range list {
			out[x.ID] = x
		}
	}
	return out
}

func (c *instance) replay(path, user string, v vectors.HTTP) response {
	c.t.Helper()
	var hdr []string
	for k, val := range v.Input.Request.Headers {
		hdr = append(hdr, k, val)
	}
	body := ""
	if v.Input.Request.Body != nil {
		body = *v.Input.Request.Body
	}
	return c.do(v.Input.Request.Method, path, user, body, hdr...)
}

var timeClaims = regexp.MustCompile(`"(iat|exp|tokenExp)":\d+`)

// samePayload compares a token's payload with a vector's, times aside: the
// vectors ran on a pinned clock, the server on the real one.
func samePayload(t *testing.T, tok, want string) {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", tok)
	}
	p, _ := base64.RawURLEncoding.DecodeString(parts[1])
	if got, w := timeClaims.ReplaceAllString(string(p), `"$1":0`), timeClaims.ReplaceAllString(want, `"$1":0`); got != w {
		t.Fatalf("payload\n got %s\nwant %s", got, w)
	}
}

// TestEndpointMatchesSample replays the sample's recorded exchanges where
// we answer as it does: the same status and the same errors, in the same
// order, ahead of any of our stricter ones.
func TestEndpointMatchesSample(t *testing.T) {
	c := startCaddy(t, endpointSite, "")
	vs := loadHTTPVectors(t)
	for _, id := range []string{"http-msdk-pub-01", "http-msdk-pub-02", "http-msdk-pub-03", "http-msdk-pub-04",
		"http-msdk-pub-05", "http-msdk-pub-10", "http-msdk-pub-14", "http-vsdk-pub-01", "http-vsdk-pub-02",
		"http-vsdk-pub-03", "http-vsdk-pub-04"} {
		t.Run(id, func(t *testing.T) {
			v, ok := vs[id]
			if !ok {
				t.Fatal("vector missing")
			}
			path := "/ep/any"
			if strings.HasPrefix(id, "http-vsdk") {
				path = "/ep/video"
			}
			resp := c.replay(path, "attendee", v)
			if resp.status != v.Expected.Status {
				t.Fatalf("status %d, want %d: %s", resp.status, v.Expected.Status, resp.body)
			}
			resp.errorCode(t)
			var got struct {
				Errors []struct{ Code, Property, Reason string } `json:"errors"`
			}
			_ = json.Unmarshal(resp.body, &got)
			if len(got.Errors) < len(v.Expected.JSON.Errors) {
				t.Fatalf("got %s", resp.body)
			}
			for i, w := range v.Expected.JSON.Errors {
				if got.Errors[i].Property != w.Property || got.Errors[i].Reason != w.Reason {
					t.Errorf("error %d: %+v, want %+v", i, got.Errors[i], w)
				}
			}
		})
	}
	// A valid request gets the sample's response shape and payload.
	v := vs["http-msdk-pub-15"]
	resp := c.replay("/ep/meeting", "attendee", v)
	if resp.status != 200 {
		t.Fatalf("valid request: %d %s", resp.status, resp.body)
	}
	m := resp.json(t)
	if len(m) != 2 || m["sdkKey"] != testKey {
		t.Fatalf("response %s", resp.body)
	}
	samePayload(t, m["signature"].(string), v.Expected.Payload)
	if resp.header.Get("Access-Control-Allow-Origin") != "https://app.example.test" || resp.header.Get("Cache-Control") != "no-store, private" {
		t.Fatalf("headers %v", resp.header)
	}
}

// TestEndpointDiffersFromSample covers our deliberate differences, one by
// one, as the README lists them.
func TestEndpointDiffersFromSample(t *testing.T) {
	c := startCaddy(t, endpointSite, "")
	vs := loadHTTPVectors(t)
	signedPayload := vs["http-msdk-pub-15"].Expected.Payload

	// The body is JSON whatever the Content-Type says: text/plain and
	// form-encoded bodies are signed for the meeting they name, where the
	// sample signed a native token without mn.
	for _, id := range []string{"http-msdk-pub-06", "http-msdk-pub-16"} {
		resp := c.replay("/ep/meeting", "attendee", vs[id])
		if resp.status != 200 {
			t.Fatalf("%s: %d %s", id, resp.status, resp.body)
		}
		samePayload(t, resp.json(t)["signature"].(string), signedPayload)
	}
	// Spaces are normalised, not signed verbatim.
	resp := c.replay("/ep/meeting", "attendee", vs["http-msdk-pub-08"])
	if resp.status != 200 {
		t.Fatalf("spaced: %d %s", resp.status, resp.body)
	}
	samePayload(t, resp.json(t)["signature"].(string), signedPayload)

	for _, tc := range []struct {
		id, path, code string
		status         int
	}{
		{"http-msdk-pub-07", "/ep/meeting", join.CodeMeetingMissing, 400}, // empty body: no native token
		{"http-msdk-pub-13", "/ep/meeting", join.CodeMeetingMissing, 400}, // no body at all
		{"http-msdk-pub-09", "/ep/meeting", "invalid_body", 400},          // malformed: JSON error, not HTML
		{"http-msdk-pub-12", "/ep/meeting", codeMethodNotAllowed, 405},
		{"http-msdk-pub-11", "/ep/meeting", codeOriginNotAllowed, 403}, // preflight from an origin not listed
	} {
		resp := c.replay(tc.path, "attendee", vs[tc.id])
		if resp.status != tc.status || resp.errorCode(t) != tc.code {
			t.Errorf("%s: %d %s; want %d %s", tc.id, resp.status, resp.body, tc.status, tc.code)
		}
	}
	// text/plain video body: parsed, and signed.
	resp = c.replay("/ep/video", "attendee", vs["http-vsdk-pub-05"])
	if resp.status != 200 || len(resp.json(t)) != 1 {
		t.Fatalf("video text/plain: %d %s", resp.status, resp.body)
	}
}

func TestEndpointPolicy(t *testing.T) {
	c := startCaddy(t, endpointSite, "")
	post := func(path, user, body string, hdr ...string) response {
		return c.do("POST", path, user, body, append([]string{"Content-Type", "application/json"}, hdr...)...)
	}
	// Unauthenticated: 401, before the body is even read.
	if resp := post("/ep/meeting", "", `{"meetingNumber":"85746065432","role":0}`); resp.status != 401 {
		t.Fatalf("unauthenticated: %d", resp.status)
	}
	// Out of scope.
	resp := post("/ep/meeting", "attendee", `{"meetingNumber":"11111111111","role":0}`)
	if resp.status != 403 || resp.errorCode(t) != join.CodeMeetingNotAllowed {
		t.Fatalf("scope: %d %s", resp.status, resp.body)
	}
	// Scope entries are normalised like requests: "987-654-3210".
	if resp = post("/ep/meeting", "attendee", `{"meetingNumber":9876543210,"role":0}`); resp.status != 200 {
		t.Fatalf("normalised scope: %d %s", resp.status, resp.body)
	}
	// Host policy.
	if resp = post("/ep/meeting", "attendee", `{"meetingNumber":"85746065432","role":1}`); resp.status != 403 || resp.errorCode(t) != join.CodeHostNotAllowed {
		t.Fatalf("attendee host: %d %s", resp.status, resp.body)
	}
	resp = post("/ep/meeting", "host", `{"meetingNumber":"85746065432","role":1,"videoWebRtcMode":1}`)
	if resp.status != 200 {
		t.Fatalf("host: %d %s", resp.status, resp.body)
	}
	tok := resp.json(t)["signature"].(string)
	checkSigned(t, tok, "85746065432", 1)
	if r := inspect.Inspect(tok, inspect.Options{}); !strings.Contains(string(r.Claims), `"video_webrtc_mode":1`) {
		t.Fatalf("videoWebRtcMode lost: %s", r.Claims)
	}
	// expirationSeconds up to expires (3h) is honoured; beyond it, refused.
	resp = post("/ep/meeting", "attendee", `{"meetingNumber":"85746065432","role":0,"expirationSeconds":1800}`)
	r := inspect.Inspect(resp.json(t)["signature"].(string), inspect.Options{})
	if jsonInt(t, r.Claims, "exp")-jsonInt(t, r.Claims, "iat") != 1800 {
		t.Fatalf("expirationSeconds not honoured: %s", r.Claims)
	}
	if resp = post("/ep/meeting", "attendee", `{"meetingNumber":"85746065432","role":0,"expirationSeconds":86400}`); resp.status != 403 || resp.errorCode(t) != join.CodeExpirationNotAllowed {
		t.Fatalf("long expiry: %d %s", resp.status, resp.body)
	}
	// No expirationSeconds: the configured 3h.
	resp = post("/ep/meeting", "attendee", `{"meetingNumber":"85746065432","role":0}`)
	r = inspect.Inspect(resp.json(t)["signature"].(string), inspect.Options{})
	if jsonInt(t, r.Claims, "exp")-jsonInt(t, r.Claims, "iat") != 3*3600 {
		t.Fatalf("default lifetime: %s", r.Claims)
	}
	// host_when any: the client decides.
	if resp = post("/ep/any", "attendee", `{"meetingNumber":"12345678901","role":1}`); resp.status != 200 {
		t.Fatalf("host_when any: %d %s", resp.status, resp.body)
	}
	// Body cap.
	if resp = post("/ep/small", "attendee", `{"meetingNumber":"85746065432","role":0,"pad":"`+strings.Repeat("x", 200)+`"}`); resp.status != http.StatusRequestEntityTooLarge || resp.errorCode(t) != codeBodyTooLarge {
		t.Fatalf("body cap: %d %s", resp.status, resp.body)
	}
	// Video scope is by session name.
	if resp = post("/ep/video", "attendee", `{"sessionName":"Other","role":0}`); resp.status != 403 {
		t.Fatalf("video scope: %d %s", resp.status, resp.body)
	}
}

func TestEndpointCORS(t *testing.T) {
	c := startCaddy(t, endpointSite, "")
	// Preflight from an allowed origin: answered before auth, no credentials.
	resp := c.do("OPTIONS", "/ep/meeting", "", "", "Origin", "https://app.example.test",
		"Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "content-type, ngrok-skip-browser-warning")
	h := resp.header
	if resp.status != 204 || h.Get("Access-Control-Allow-Origin") != "https://app.example.test" ||
		h.Get("Access-Control-Allow-Credentials") != "true" || !strings.Contains(h.Get("Access-Control-Allow-Methods"), "POST") ||
		!strings.Contains(h.Get("Access-Control-Allow-Headers"), "ngrok-skip-browser-warning") {
		t.Fatalf("preflight: %d %v", resp.status, h)
	}
	// No wildcard: another origin is refused, preflight or not.
	resp = c.do("OPTIONS", "/ep/meeting", "", "", "Origin", "https://evil.example", "Access-Control-Request-Method", "POST")
	if resp.status != 403 || resp.header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("foreign preflight: %d %v", resp.status, resp.header)
	}
	resp = c.do("POST", "/ep/meeting", "attendee", `{"meetingNumber":"85746065432","role":0}`, "Origin", "https://evil.example")
	if resp.status != 403 || resp.errorCode(t) != codeOriginNotAllowed {
		t.Fatalf("foreign POST: %d %s", resp.status, resp.body)
	}
	// Every other OPTIONS is answered 204 with what is allowed, as the
	// sample's cors middleware answers: a plain one, a preflight without an
	// Origin (no browser sends one, so no CORS headers), and a preflight
	// from the endpoint's own origin.
	for name, hdr := range map[string][]string{
		"plain OPTIONS":             nil,
		"preflight without Origin":  {"Access-Control-Request-Method", "POST"},
		"preflight from own origin": {"Origin", c.base, "Access-Control-Request-Method", "POST"},
	} {
		resp = c.do("OPTIONS", "/ep/meeting", "", "", hdr...)
		if resp.status != 204 || resp.header.Get("Access-Control-Allow-Origin") != "" {
			t.Fatalf("%s: %d %v", name, resp.status, resp.header)
		}
		if name == "plain OPTIONS" && resp.header.Get("Allow") != "POST, OPTIONS" {
			t.Fatalf("%s: Allow %q", name, resp.header.Get("Allow"))
		}
	}
	// Same-origin requests carry an Origin too, and pass.
	resp = c.do("POST", "/ep/meeting", "attendee", `{"meetingNumber":"85746065432","role":0}`, "Origin", c.base)
	if resp.status != 200 {
		t.Fatalf("same-origin POST: %d %s", resp.status, resp.body)
	}
}
