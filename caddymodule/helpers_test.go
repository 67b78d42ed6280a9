package caddymodule

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/zoomsig/caddy-zoom-signature/caddymodule/zoomapi/zoomtest"
)

// helpersBackend is the stand-in backend of examples/join-helpers.Caddyfile:
// ?meeting=<number> answers a join config with an empty passcode, ?link=
// one with only the invite link.
func helpersBackend(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		user, _, _ := r.BasicAuth()
		var v map[string]any
		if link := q.Get("link"); link != "" {
			v = map[string]any{"joinUrl": link, "role": 0, "userName": user}
		} else {
			// ?stale: the backend has a passcode of its own (not in the
			// URL, which the access log keeps).
			pass := ""
			if q.Has("stale") {
				pass = "backend-passcode-R4nd"
			}
			role := 0
			if q.Get("role") == "1" {
				role = 1
			}
			v = map[string]any{"meetingNumber": q.Get("meeting"), "role": role, "passWord": pass, "userName": user}
			if q.Has("zak") {
				v["zak"] = "backend-zak-Z9x8c7v6"
			}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(v)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// zoomAPIBlock points the zoom app's zoom_api block at the fake ({ZOOM}),
// with the credentials newZoomFake puts in the environment.
const zoomAPIBlock = `zoom_api {
			account_id {env.ZS_ZOOM_ACCOUNT}
			client_id {env.ZS_ZOOM_CLIENT}
			client_secret {env.ZS_ZOOM_SECRET}
			oauth_url {ZOOM}/oauth/token
			api_url {ZOOM}/v2
			timeout 2s
		}`

// zoomBlock is the global zoom block (the zoom app) made of parts, for
// startCaddyWith's global options or a whole Caddyfile's.
func zoomBlock(parts ...string) string {
	return "zoom {\n\t\t" + strings.Join(parts, "\n\t\t") + "\n\t}"
}

// helpersApp is the zoom app of helpersSite: zoom_api at the fake ({ZOOM}
// is zoomURL) and, in seal, the seal_keys and state options.
func helpersApp(zoomURL, seal string) string {
	return strings.ReplaceAll(zoomBlock(zoomAPIBlock, seal), "{ZOOM}", zoomURL)
}

const helpersSite = `
	basic_auth /api/* {
		alice {HASH}
		bob {HASH}
	}
	handle /api/join-config {
		zoom_signature {
			sdk_key ` + testKey + `
			sdk_secret {env.ZS_TEST_SECRET}
			passcode fill
			registrant {
				email {http.auth.user.id}@example.com
			}
		}
		reverse_proxy {BACKEND}
	}
	handle /api/always {
		zoom_signature {
			sdk_key ` + testKey + `
			sdk_secret {env.ZS_TEST_SECRET}
			passcode always
		}
		reverse_proxy {BACKEND}
	}
`

// Meetings of the fake's account, and one outside it.
const (
	mtgOpen     = "85746065432"
	mtgReg      = "91234567890"
	mtgWebinar  = "93333333333"
	mtgApproval = "94444444444"
	mtgFull     = "95555555555"
	mtgExternal = "81111111111"
)

func startHelpers(t *testing.T, seal string) (*instance, *zoomtest.Server) {
	z := newZoomFake(t)
	z.AddMeeting(mtgOpen, zoomtest.Meeting{Passcode: "pc-open-7Hq2xZ9w", Approval: 2})
	z.AddMeeting(mtgReg, zoomtest.Meeting{Passcode: "pc-reg-Kd83mQ0p", Approval: 0, Start: time.Now().Add(time.Hour).UTC().Format(time.RFC3339), Duration: 60})
	z.AddMeeting(mtgWebinar, zoomtest.Meeting{Webinar: true, Passcode: "pc-web-L0o9Bb2c", Approval: 0})
	z.AddMeeting(mtgApproval, zoomtest.Meeting{Passcode: "pc-appr-Vv5tT6yY", Approval: 1})
	z.AddMeeting(mtgFull, zoomtest.Meeting{Passcode: "pc-full-Nn4mM3bB", Approval: 0, Capacity: 1})
	b := helpersBackend(t)
	return startCaddyWith(t, helpersApp(z.URL, seal), helpersSite, "", b.URL), z
}

func TestJoinHelpers(t *testing.T) {
	c, z := startHelpers(t, "")
	join := func(user, query string) response {
		t.Helper()
		return c.do("GET", "/api/join-config?"+query, user, "")
	}

	// An invite link only: the meeting number from its path, the passcode
	// from Zoom (never the link's pwd=), and a signature for that number.
	link := "https://us02web.zoom.us/j/" + mtgOpen + "?pwd=Zm9vYmFyYmF6cXV4.1"
	resp := join("alice", "link="+url.QueryEscape(link))
	m := resp.json(t)
	if resp.status != 200 || m["meetingNumber"] != mtgOpen || m["passWord"] != "pc-open-7Hq2xZ9w" || m["joinUrl"] != link {
		t.Fatalf("invite link: %d %s", resp.status, resp.body)
	}
	if cl := claimsOf(t, m["signature"].(string)); fmt.Sprint(cl["mn"]) != mtgOpen || cl["role"] != 0.0 {
		t.Fatalf("signed %v", cl)
	}
	if _, ok := m["tk"]; ok {
		t.Fatal("a meeting without registration got a tk")
	}

	// A registration-only meeting: tk and userEmail, the passcode too.
	resp = join("alice", "meeting="+mtgReg)
	m = resp.json(t)
	if resp.status != 200 || m["tk"] != z.Registrant(mtgReg, "alice@example.com") || m["tk"] == "" || m["userEmail"] != "alice@example.com" || m["passWord"] != "pc-reg-Kd83mQ0p" {
		t.Fatalf("registration: %d %s", resp.status, resp.body)
	}
	// The same user again makes no second registration; another user does.
	for range 3 {
		if again := join("alice", "meeting="+mtgReg).json(t); again["tk"] != m["tk"] {
			t.Fatalf("second join: %v", again)
		}
	}
	if n := z.RegistrantCalls(mtgReg, "alice@example.com"); n != 1 {
		t.Fatalf("%d registrations for alice", n)
	}
	if bob := join("bob", "meeting="+mtgReg).json(t); bob["tk"] == m["tk"] || bob["userEmail"] != "bob@example.com" {
		t.Fatalf("bob: %v", bob)
	}

	// A webinar registers at /webinars.
	resp = join("alice", "link="+url.QueryEscape("https://acme.zoom.us/w/"+mtgWebinar))
	if m = resp.json(t); resp.status != 200 || m["tk"] != z.Registrant(mtgWebinar, "alice@example.com") || m["passWord"] != "pc-web-L0o9Bb2c" {
		t.Fatalf("webinar: %d %s", resp.status, resp.body)
	}

	// The backend's own passcode stands with fill, and is replaced with
	// always.
	if m = join("alice", "meeting="+mtgOpen+"&stale").json(t); m["passWord"] != "backend-passcode-R4nd" {
		t.Fatalf("fill replaced the backend's passcode: %v", m)
	}
	if m = c.do("GET", "/api/always?meeting="+mtgOpen+"&stale", "alice", "").json(t); m["passWord"] != "pc-open-7Hq2xZ9w" {
		t.Fatalf("always kept the stale passcode: %v", m)
	}

	// A meeting outside the account: no passcode, no registration.
	resp = join("alice", "meeting="+mtgExternal)
	if m = resp.json(t); resp.status != 200 || m["passWord"] != "" || m["tk"] != nil || m["signature"] == nil {
		t.Fatalf("external: %d %s", resp.status, resp.body)
	}
	if z.RegistrantCalls(mtgExternal, "alice@example.com") != 0 {
		t.Fatal("registered for an external meeting")
	}

	// Refusals, with stable codes and no signature.
	for _, tc := range []struct {
		query, code string
		status      int
	}{
		{"meeting=" + mtgApproval, "registration_needs_approval", 409},
		{"link=" + url.QueryEscape("https://zoom.us.example/j/"+mtgOpen), "join_config_join_url", 502},
	} {
		resp = join("alice", tc.query)
		if resp.status != tc.status || resp.errorCode(t) != tc.code || strings.Contains(string(resp.body), "signature\"") {
			t.Errorf("%s: %d %s", tc.query, resp.status, resp.body)
		}
	}
	if resp = join("alice", "meeting="+mtgFull); resp.status != 200 {
		t.Fatalf("first registrant of a meeting of one: %d %s", resp.status, resp.body)
	}
	if resp = join("bob", "meeting="+mtgFull); resp.status != 409 || resp.errorCode(t) != "registration_full" || strings.Contains(string(resp.body), "maximum attendee") {
		t.Fatalf("full: %d %s", resp.status, resp.body)
	}
}

// TestJoinHelpersZoomTrouble: Zoom down, slow or rate-limiting refuses the
// join with a stable code, within a bounded time; nothing is guessed.
func TestJoinHelpersZoomTrouble(t *testing.T) {
	c, z := startHelpers(t, "")
	z.FailAPI(true)
	resp := c.do("GET", "/api/join-config?meeting="+mtgOpen, "alice", "")
	if resp.status != 502 || resp.errorCode(t) != "zoom_api_error" || strings.Contains(string(resp.body), "Internal server error") {
		t.Fatalf("Zoom answering 500: %d %s", resp.status, resp.body)
	}
	z.FailAPI(false)
	z.RateLimit(60)
	resp = c.do("GET", "/api/join-config?meeting="+mtgReg, "alice", "")
	if resp.status != 503 || resp.errorCode(t) != "meeting_lookup_rate_limited" {
		t.Fatalf("429: %d %s", resp.status, resp.body)
	}
	calls := z.MeetingCalls(mtgReg)
	c.do("GET", "/api/join-config?meeting="+mtgReg, "alice", "")
	if z.MeetingCalls(mtgReg) != calls {
		t.Fatal("Zoom was asked again inside its Retry-After")
	}
	z.RateLimit(0)
	// Zoom unreachable: the fake closed.
	z.Close()
	resp = c.do("GET", "/api/join-config?meeting="+mtgOpen, "alice", "")
	if resp.status != 503 || resp.errorCode(t) != "zoom_api_unavailable" {
		t.Fatalf("Zoom unreachable: %d %s", resp.status, resp.body)
	}
}

// TestJoinHelpersSlowZoom: a Zoom that hangs is given up on after the
// configured timeout (2s here), with a 503, not a hung request.
func TestJoinHelpersSlowZoom(t *testing.T) {
	c, z := startHelpers(t, "")
	z.Slow(time.Minute)
	start := time.Now()
	resp := c.do("GET", "/api/join-config?meeting="+mtgOpen, "alice", "")
	if resp.status != 503 || resp.errorCode(t) != "zoom_oauth_unavailable" || time.Since(start) > 30*time.Second {
		t.Fatalf("slow Zoom: %d %s after %s", resp.status, resp.body, time.Since(start))
	}
}

// TestJoinHelpersShared: with seal_keys, registrant tokens live sealed in
// Caddy's storage, where a second Caddy on the same storage finds them.
func TestJoinHelpersShared(t *testing.T) {
	dir := t.TempDir()
	key := "0123456789abcdef0123456789abcdef"
	t.Setenv("ZS_SEAL_KEY", base64Std(key))
	z := newZoomFake(t)
	z.AddMeeting(mtgReg, zoomtest.Meeting{Passcode: "pc-reg-Kd83mQ0p", Approval: 0})
	b := helpersBackend(t)
	global := "storage file_system " + dir + "\n\t" + helpersApp(z.URL, "seal_keys {env.ZS_SEAL_KEY}")
	site := helpersSite
	c1 := startCaddyWith(t, global, site, "", b.URL)
	m := c1.do("GET", "/api/join-config?meeting="+mtgReg, "alice", "").json(t)
	if m["tk"] == nil {
		t.Fatalf("no tk: %v", m)
	}
	c2 := startCaddyWith(t, global, site, "", b.URL)
	if m2 := c2.do("GET", "/api/join-config?meeting="+mtgReg, "alice", "").json(t); m2["tk"] != m["tk"] {
		t.Fatalf("the second instance: %v", m2)
	}
	if n := z.RegistrantCalls(mtgReg, "alice@example.com"); n != 1 {
		t.Fatalf("%d registrations across two instances", n)
	}
	// Nothing of it in plaintext in the storage folder.
	scanFolder(t, dir, m["tk"].(string), "pc-reg-Kd83mQ0p", "alice@example.com")
}

// scanFolder fails if any file under dir holds one of the values.
func scanFolder(t *testing.T, dir string, values ...string) {
	t.Helper()
	files := 0
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, _ := os.ReadFile(p)
		files++
		for _, v := range values {
			if strings.Contains(string(b), v) || strings.Contains(p, v) {
				t.Errorf("%s holds %q in plaintext", p, v)
			}
		}
		return nil
	})
	if files == 0 {
		t.Fatal("nothing was stored")
	}
}

// claimsOf verifies a Meeting SDK signature with golang-jwt, not our code,
// and returns its claims.
func claimsOf(t *testing.T, tok string) jwt.MapClaims {
	t.Helper()
	cl := jwt.MapClaims{}
	if _, err := jwt.NewParser(jwt.WithValidMethods([]string{"HS256"})).ParseWithClaims(tok, cl, func(*jwt.Token) (any, error) { return []byte(testSecret), nil }); err != nil {
		t.Fatalf("signature %v", err)
	}
	return cl
}

func base64Std(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// TestJoinHelpersExample runs examples/join-helpers.Caddyfile, as a real
// caddy process, against the Zoom stand-in with the environment it
// documents: alice and bob with password demo, registrants as
// <user>@example.com, and its stand-in backend.
func TestJoinHelpersExample(t *testing.T) {
	z := newZoomFake(t)
	z.AddMeeting(mtgOpen, zoomtest.Meeting{Passcode: "pc-open-7Hq2xZ9w", Approval: 2})
	z.AddMeeting(mtgReg, zoomtest.Meeting{Passcode: "pc-reg-Kd83mQ0p", Approval: 0})
	cfg, _ := filepath.Abs("../examples/join-helpers.Caddyfile")
	p := runCaddy(t, cfg, "ZOOM_SDK_KEY="+testKey, "ZOOM_SDK_SECRET="+testSecret,
		"ZOOM_ACCOUNT_ID="+z.AccountID, "ZOOM_CLIENT_ID="+z.ClientID, "ZOOM_CLIENT_SECRET="+z.ClientSecret,
		"ZOOM_OAUTH_URL="+z.OAuthURL(), "ZOOM_API_URL="+z.APIURL())
	c := p.instance(t)
	c.password = "demo"
	do := func(user, query string) response {
		t.Helper()
		return c.do("GET", "/api/join-config?"+query, user, "")
	}
	link := "https://us02web.zoom.us/j/" + mtgOpen + "?pwd=Zm9vYmFy.1"
	resp := do("bob", "link="+url.QueryEscape(link))
	m := resp.json(t)
	if resp.status != 200 || m["meetingNumber"] != mtgOpen || m["passWord"] != "pc-open-7Hq2xZ9w" || m["userName"] != "bob" || m["signature"] == nil {
		t.Fatalf("link: %d %s", resp.status, resp.body)
	}
	resp = do("alice", "meeting="+mtgReg)
	m = resp.json(t)
	if resp.status != 200 || m["tk"] != z.Registrant(mtgReg, "alice@example.com") || m["userEmail"] != "alice@example.com" || m["passWord"] != "pc-reg-Kd83mQ0p" {
		t.Fatalf("registration: %d %s", resp.status, resp.body)
	}
	if resp = do("alice", "meeting="+mtgReg); z.RegistrantCalls(mtgReg, "alice@example.com") != 1 {
		t.Fatalf("registered twice: %s", resp.body)
	}
	if resp = do("mallory", "meeting="+mtgReg); resp.status != 401 {
		t.Fatalf("unknown user: %d", resp.status)
	}
}
