package caddymodule

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"

	"github.com/zoomsig/caddy-zoom-signature/caddymodule/zoomapi/zoomtest"
)

// oauthApp is the zoom app's user OAuth app and seal keys, which every
// OBF test shares, pointed at the fake ({ZOOM}); the callback is this
// Caddy's ({PORT}).
const oauthApp = `oauth {
			client_id {env.ZS_OAUTH_CLIENT}
			client_secret {env.ZS_OAUTH_SECRET}
			redirect_uri http://127.0.0.1:{PORT}/zoom/connect/callback
			authorize_url {ZOOM}/oauth/authorize
			oauth_url {ZOOM}/oauth/token
			api_url {ZOOM}/v2
			timeout 2s
		}
		seal_keys {env.ZS_GRANT_KEY} {env.ZS_OLD_GRANT_KEY}`

// obfApp is the zoom app of the OBF tests: zoom_api and the user OAuth
// app, at the fake ({ZOOM}).
const obfApp = `zoom {
		` + zoomAPIBlock + `
		` + oauthApp + `
	}`

// obfStep is a handler's obf block, with when (or none).
func obfStep(when string) string {
	if when == "" {
		return "obf"
	}
	return "obf {\n\t\t\t\t" + when + "\n\t\t\t}"
}

var obfSite = `
	@site path /api/* /zoom/*
	basic_auth @site {
		alice {HASH}
		bob {HASH}
		host {HASH}
	}
	handle /zoom/connect/* {
		zoom_connect {
			done_url /joined
		}
	}
	handle /api/join-config {
		zoom_signature {
			sdk_key ` + testKey + `
			sdk_secret {env.ZS_TEST_SECRET}
			host_when {http.auth.user.id} host
			zak {
				user {http.auth.user.id}
			}
			` + obfStep("") + `
		}
		reverse_proxy {BACKEND}
	}
	handle /api/always {
		zoom_signature {
			sdk_key ` + testKey + `
			sdk_secret {env.ZS_TEST_SECRET}
			` + obfStep("when always") + `
		}
		reverse_proxy {BACKEND}
	}
	handle /api/signature {
		zoom_signature {
			mode endpoint
			sdk_key ` + testKey + `
			sdk_secret {env.ZS_TEST_SECRET}
			meetings any
			` + obfStep("") + `
		}
	}
`

// The fake's meetings: one of the account's, and an external one.
const (
	mtgObfOwn      = "85746065432"
	mtgObfExternal = "81111111111"
)

type obfEnv struct {
	c   *instance
	z   *zoomtest.Server
	dir string
	// password of the site users; testPassword when "".
	password string
}

func startOBF(t *testing.T) obfEnv {
	t.Helper()
	z := newZoomFake(t)
	z.AddMeeting(mtgObfOwn, zoomtest.Meeting{Passcode: "", Approval: 2})
	z.AddZoomUser(zoomtest.ZoomUser{ID: "zu-alice", Email: "alice@elsewhere.example"})
	z.AddZoomUser(zoomtest.ZoomUser{ID: "zu-bob", Email: "bob@elsewhere.example"})
	z.AddZoomUser(zoomtest.ZoomUser{ID: "zu-idle", Email: "idle@elsewhere.example", Inactive: true})
	t.Setenv("ZS_OAUTH_CLIENT", z.App.ClientID)
	t.Setenv("ZS_OAUTH_SECRET", z.App.ClientSecret)
	t.Setenv("ZS_GRANT_KEY", base64Std("0123456789abcdef0123456789abcdef"))
	t.Setenv("ZS_OLD_GRANT_KEY", base64Std("fedcba9876543210fedcba9876543210"))
	leakWatch.Lock()
	leakWatch.secrets = append(leakWatch.secrets, z.App.ClientSecret)
	leakWatch.Unlock()
	t.Cleanup(func() {
		// No access or refresh token may reach a response or a log; OBF
		// tokens only the join configs.
		leakWatch.Lock()
		defer leakWatch.Unlock()
		leakWatch.secrets = append(leakWatch.secrets, z.UserTokens()...)
		leakWatch.tokens = append(leakWatch.tokens, z.OBFTokens()...)
	})
	dir := t.TempDir()
	b := helpersBackend(t)
	// One site block: its {PORT} is the redirect_uri's.
	global := "storage file_system " + dir + "\n\t" + strings.ReplaceAll(obfApp, "{ZOOM}", z.URL)
	c := startCaddyWith(t, global, obfSite, "", b.URL)
	return obfEnv{c: c, z: z, dir: dir}
}

var noFollow = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }, Timeout: 20 * time.Second}

// get sends a GET as user (basic auth) with the cookie, following nothing.
func (e obfEnv) get(t *testing.T, u, user, cookie string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	if user != "" {
		req.SetBasicAuth(user, cmp.Or(e.password, testPassword))
	}
	if cookie != "" {
		req.Header.Set("Cookie", connectCookie+"="+cookie)
	}
	resp, err := noFollow.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	watchResponse(b, resp.Header)
	resp.Body = io.NopCloser(strings.NewReader(string(b)))
	return resp
}

// begin starts a connect as user: the connect cookie and the callback URL
// Zoom's authorize page sends the browser to.
func (e obfEnv) begin(t *testing.T, user string) (cookie string, callback *url.URL) {
	t.Helper()
	resp := e.get(t, e.c.base+"/zoom/connect/start", user, "")
	if resp.StatusCode != http.StatusFound || !strings.HasPrefix(resp.Header.Get("Location"), e.z.URL+"/oauth/authorize?") {
		t.Fatalf("start: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	for _, c := range resp.Cookies() {
		if c.Name == connectCookie {
			if !c.HttpOnly || !c.Secure || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.MaxAge != 600 {
				t.Fatalf("cookie %+v", c)
			}
			cookie = c.Value
		}
	}
	auth := e.get(t, resp.Header.Get("Location"), "", "")
	callback, err := url.Parse(auth.Header.Get("Location"))
	if err != nil || auth.StatusCode != http.StatusFound || cookie == "" {
		t.Fatalf("authorize: %d %q, cookie %q", auth.StatusCode, auth.Header.Get("Location"), cookie)
	}
	return cookie, callback
}

// connect runs the whole flow for user, as user's Zoom account zoomUser.
func (e obfEnv) connect(t *testing.T, user, zoomUser string) {
	t.Helper()
	e.z.AuthorizeAs(zoomUser)
	cookie, callback := e.begin(t, user)
	resp := e.get(t, callback.String(), user, cookie)
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusFound || (loc != "/joined" && loc != "/") {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("callback: %d %s %s", resp.StatusCode, resp.Header.Get("Location"), b)
	}
}

func (e obfEnv) join(t *testing.T, user, meeting string, extra ...string) response {
	t.Helper()
	q := "meeting=" + meeting
	for _, x := range extra {
		q += "&" + x
	}
	return e.c.do("GET", "/api/join-config?"+q, user, "")
}

func TestOBFConnectAndJoin(t *testing.T) {
	e := startOBF(t)
	// Not connected: a clear refusal that names where to connect.
	resp := e.join(t, "alice", mtgObfExternal)
	if resp.status != 409 || resp.errorCode(t) != "zoom_not_connected" || !strings.Contains(string(resp.body), "/zoom/connect/start") ||
		resp.header.Get("Link") != `</zoom/connect/start>; rel="zoom-connect"` || strings.Contains(string(resp.body), "signature\"") {
		t.Fatalf("unconnected: %d %v %s", resp.status, resp.header, resp.body)
	}
	if st := e.c.do("GET", "/zoom/connect/status", "alice", "").json(t); st["connected"] != false {
		t.Fatalf("status %v", st)
	}

	e.connect(t, "alice", "zu-alice")
	st := e.c.do("GET", "/zoom/connect/status", "alice", "").json(t)
	if st["connected"] != true || st["zoomUserId"] != "zu-alice" || st["zoomEmail"] != "alice@elsewhere.example" {
		t.Fatalf("status %v", st)
	}

	// External meeting: an OBF token bound to it, fetched with alice's
	// own grant; no ZAK.
	resp = e.join(t, "alice", mtgObfExternal)
	m := resp.json(t)
	tok, _ := m["obfToken"].(string)
	info, ok := e.z.OBF(tok)
	if resp.status != 200 || !ok || info.Meeting != mtgObfExternal || info.User != "zu-alice" || m["zak"] != nil || m["signature"] == nil {
		t.Fatalf("external: %d %s (%+v)", resp.status, resp.body, info)
	}
	// The account's own meeting: neither.
	if m = e.join(t, "alice", mtgObfOwn).json(t); m["obfToken"] != nil || m["zak"] != nil || m["signature"] == nil {
		t.Fatalf("own meeting: %v", m)
	}
	// A host join of the external meeting uses the ZAK step, never both.
	resp = e.join(t, "host", mtgObfExternal, "role=1")
	if m = resp.json(t); resp.status != 200 || m["zak"] != e.z.LastZAK("host") || m["obfToken"] != nil {
		t.Fatalf("host: %d %s", resp.status, resp.body)
	}
	// A ZAK the backend already put in: no OBF token beside it.
	if m = e.join(t, "alice", mtgObfExternal, "zak").json(t); m["obfToken"] != nil || m["zak"] != "backend-zak-Z9x8c7v6" {
		t.Fatalf("backend zak: %v", m)
	}
	// when always: every attendee join, own meeting too.
	if m = e.c.do("GET", "/api/always?meeting="+mtgObfOwn, "alice", "").json(t); m["obfToken"] == nil {
		t.Fatalf("always: %v", m)
	}
	// Endpoint mode answers with obfToken too.
	resp = e.c.do("POST", "/api/signature", "alice", `{"meetingNumber":"`+mtgObfExternal+`","role":0}`)
	if m = resp.json(t); resp.status != 200 || m["obfToken"] == nil || m["signature"] == nil {
		t.Fatalf("endpoint: %d %s", resp.status, resp.body)
	}
	// Bob has not connected; alice's grant is hers alone.
	if resp = e.join(t, "bob", mtgObfExternal); resp.status != 409 || resp.errorCode(t) != "zoom_not_connected" {
		t.Fatalf("bob: %d %s", resp.status, resp.body)
	}

	// Disconnect: POST only, not from another site; revoked at Zoom.
	if r := e.c.do("GET", "/zoom/connect/disconnect", "alice", ""); r.status != 405 {
		t.Fatalf("GET disconnect: %d", r.status)
	}
	if r := e.c.do("POST", "/zoom/connect/disconnect", "alice", "", "Origin", "https://evil.example"); r.status != 403 || r.errorCode(t) != "origin_not_allowed" {
		t.Fatalf("cross-site disconnect: %d %s", r.status, r.body)
	}
	r := e.c.do("POST", "/zoom/connect/disconnect", "alice", "")
	if m = r.json(t); r.status != 200 || m["disconnected"] != true || e.z.Revocations() != 1 {
		t.Fatalf("disconnect: %d %s, %d revocations", r.status, r.body, e.z.Revocations())
	}
	if resp = e.join(t, "alice", mtgObfExternal); resp.status != 409 || resp.errorCode(t) != "zoom_not_connected" {
		t.Fatalf("after disconnect: %d %s", resp.status, resp.body)
	}
	// Unknown routes and anonymous users.
	if r := e.c.do("GET", "/zoom/connect/other", "alice", ""); r.status != 404 || r.errorCode(t) != "connect_route_unknown" {
		t.Fatalf("unknown route: %d %s", r.status, r.body)
	}
	scanFolder(t, e.dir, append(e.z.UserSecrets(), "alice@elsewhere.example", "zu-alice")...)
}

func TestOBFConnectRefusals(t *testing.T) {
	e := startOBF(t)
	callback := func(user, cookie string, cb *url.URL) response {
		t.Helper()
		resp := e.get(t, cb.String(), user, cookie)
		b, _ := io.ReadAll(resp.Body)
		return response{status: resp.StatusCode, header: resp.Header, body: b}
	}
	e.z.AuthorizeAs("zu-alice")
	cookie, cb := e.begin(t, "alice")
	_, cb2 := e.begin(t, "alice")
	bobCookie, _ := e.begin(t, "bob")
	for _, tc := range []struct {
		name, user, cookie string
		cb                 *url.URL
		status             int
		code               string
	}{
		{"wrong state", "alice", cookie, cb2, 403, "connect_state_mismatch"},
		{"other user's cookie", "alice", bobCookie, cb, 403, "connect_state_mismatch"},
		{"other site user", "bob", cookie, cb, 403, "connect_user_mismatch"},
		{"no cookie", "alice", "", cb, 400, "connect_state_missing"},
	} {
		if r := callback(tc.user, tc.cookie, tc.cb); r.status != tc.status || r.errorCode(t) != tc.code {
			t.Errorf("%s: %d %s", tc.name, r.status, r.body)
		}
	}
	// The right one works once; a replay is refused.
	if r := callback("alice", cookie, cb); r.status != 302 {
		t.Fatalf("callback: %d %s", r.status, r.body)
	}
	if r := callback("alice", cookie, cb); r.status != 403 || r.errorCode(t) != "connect_state_replayed" {
		t.Fatalf("replay: %d %s", r.status, r.body)
	}
	// A replayed code under a fresh state.
	cookie3, cb3 := e.begin(t, "alice")
	q := cb3.Query()
	q.Set("code", cb.Query().Get("code"))
	cb3.RawQuery = q.Encode()
	if r := callback("alice", cookie3, cb3); r.status != 400 || r.errorCode(t) != "connect_code_invalid" {
		t.Fatalf("replayed code: %d %s", r.status, r.body)
	}
	// An expired code.
	cookie4, cb4 := e.begin(t, "alice")
	e.z.AgeCodes()
	if r := callback("alice", cookie4, cb4); r.status != 400 || r.errorCode(t) != "connect_code_invalid" {
		t.Fatalf("expired code: %d %s", r.status, r.body)
	}
	// A scope left out, and an inactive user.
	e.z.GrantScopes("user:read:user")
	cookie5, cb5 := e.begin(t, "bob")
	e.z.GrantScopes("user:read:token user:read:user")
	if r := callback("bob", cookie5, cb5); r.status != 403 || r.errorCode(t) != "connect_scope_missing" {
		t.Fatalf("missing scope: %d %s", r.status, r.body)
	}
	e.z.AuthorizeAs("zu-idle")
	cookie6, cb6 := e.begin(t, "bob")
	if r := callback("bob", cookie6, cb6); r.status != 403 || r.errorCode(t) != "connect_user_inactive" {
		t.Fatalf("inactive: %d %s", r.status, r.body)
	}
	if st := e.c.do("GET", "/zoom/connect/status", "bob", "").json(t); st["connected"] != false {
		t.Fatalf("bob connected after refusals: %v", st)
	}
	// A callback that redirects nowhere but the configured page, whatever
	// the request says.
	e.z.AuthorizeAs("zu-bob")
	cookie7, cb7 := e.begin(t, "bob")
	q = cb7.Query()
	q.Set("next", "https://evil.example/")
	q.Set("redirect", "//evil.example")
	cb7.RawQuery = q.Encode()
	if r := callback("bob", cookie7, cb7); r.status != 302 || r.header.Get("Location") != "/joined" {
		t.Fatalf("redirect: %d %q", r.status, r.header.Get("Location"))
	}
}

// TestOBFGrantLifecycle: refresh rotation, 401 then retry, a dead grant,
// 429, Zoom down, over real HTTP.
func TestOBFGrantLifecycle(t *testing.T) {
	e := startOBF(t)
	e.z.UserTokenLifetime(10) // stale at once: inside the 5-minute margin
	e.connect(t, "alice", "zu-alice")
	e.z.UserTokenLifetime(0)

	// 20 concurrent joins of 20 meetings, one refresh.
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failed []string
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := e.join(t, "alice", fmt.Sprint(81111111200+i))
			if r.status != 200 || !strings.Contains(string(r.body), `"obfToken":"`) {
				mu.Lock()
				failed = append(failed, string(r.body))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(failed) > 0 || e.z.RefreshCalls() != 1 {
		t.Fatalf("%d refreshes; failures %v", e.z.RefreshCalls(), failed)
	}
	// Access tokens revoked early at Zoom: 401, refreshed once, retried.
	e.z.ExpireUserTokens()
	if r := e.join(t, "alice", mtgObfExternal); r.status != 200 || e.z.RefreshCalls() != 2 {
		t.Fatalf("401 retry: %d %s, %d refreshes", r.status, r.body, e.z.RefreshCalls())
	}
	// Zoom's 429: 503, and that user is held.
	// (The meeting was looked up already, so the 429 is the OBF call's.)
	e.z.RateLimit(2)
	if r := e.join(t, "alice", mtgObfExternal); r.status != 503 || r.errorCode(t) != "obf_rate_limited" {
		t.Fatalf("429: %d %s", r.status, r.body)
	}
	e.z.RateLimit(0)
	calls := e.z.OBFCalls()
	if r := e.join(t, "alice", "81111111200"); r.status != 503 || r.errorCode(t) != "obf_rate_limited" || e.z.OBFCalls() != calls {
		t.Fatalf("held: %d %s, %d calls", r.status, r.body, e.z.OBFCalls()-calls)
	}
	// The hold is in the grant, for every instance, until Zoom's reset
	// (2 s here).
	time.Sleep(2100 * time.Millisecond)
	// A too-eager script: the per-user-and-meeting limit.
	codes := map[string]int{}
	for range 8 {
		r := e.join(t, "alice", "81111111302")
		if r.status != 200 {
			codes[r.errorCode(t)]++
		}
	}
	if codes["obf_too_many"] != 2 {
		t.Fatalf("per-meeting limit: %v", codes)
	}
	// The user removed the app at Zoom: the grant is dead, deleted, and the
	// join says to connect again.
	e.z.RevokeUser("zu-alice")
	e.z.ExpireUserTokens()
	r := e.join(t, "alice", "81111111303")
	if r.status != 409 || r.errorCode(t) != "zoom_grant_revoked" || r.header.Get("Link") == "" {
		t.Fatalf("dead grant: %d %s", r.status, r.body)
	}
	if st := e.c.do("GET", "/zoom/connect/status", "alice", "").json(t); st["connected"] != false {
		t.Fatalf("a dead grant is still connected: %v", st)
	}
	// Zoom down: a stable code, within the configured timeout.
	e.connect(t, "alice", "zu-alice")
	e.z.Slow(time.Minute)
	start := time.Now()
	r = e.join(t, "alice", "81111111304")
	if r.status != 503 || time.Since(start) > 30*time.Second {
		t.Fatalf("slow Zoom: %d %s after %s", r.status, r.body, time.Since(start))
	}
	e.z.Slow(0)
	e.z.Close()
	if r = e.join(t, "alice", "81111111305"); r.status != 503 || r.errorCode(t) != "zoom_api_unavailable" {
		t.Fatalf("Zoom unreachable: %d %s", r.status, r.body)
	}
}

// TestOBFExample runs examples/obf.Caddyfile, as a real caddy process on
// http://localhost:<port>, against the Zoom stand-in with the environment
// it documents: alice connects, her external join carries an OBF token,
// bob's is refused with the connect URL, and the storage folder holds no
// token in plaintext.
func TestOBFExample(t *testing.T) {
	z := zoomtest.New()
	t.Cleanup(z.Close)
	z.AddMeeting(mtgObfOwn, zoomtest.Meeting{Approval: 2})
	z.AddZoomUser(zoomtest.ZoomUser{ID: "zu-alice", Email: "alice@elsewhere.example"})
	storage := t.TempDir()
	cfg, _ := filepath.Abs("../examples/obf.Caddyfile")
	p := runCaddy(t, cfg, "ZOOM_SDK_KEY="+testKey, "ZOOM_SDK_SECRET="+testSecret,
		"ZOOM_ACCOUNT_ID="+z.AccountID, "ZOOM_CLIENT_ID="+z.ClientID, "ZOOM_CLIENT_SECRET="+z.ClientSecret,
		"ZOOM_OAUTH_CLIENT_ID="+z.App.ClientID, "ZOOM_OAUTH_CLIENT_SECRET="+z.App.ClientSecret,
		"ZOOM_OAUTH_REDIRECT_URI={SITE}/zoom/connect/callback", "ZOOM_GRANT_KEY="+base64Std("0123456789abcdef0123456789abcdef"),
		"ZOOM_AUTHORIZE_URL="+z.AuthorizeURL(), "ZOOM_OAUTH_URL="+z.OAuthURL(), "ZOOM_API_URL="+z.APIURL(),
		"ZOOM_STORAGE_DIR="+storage)
	leakWatch.Lock()
	leakWatch.secrets = append(leakWatch.secrets, z.App.ClientSecret, z.ClientSecret)
	leakWatch.Unlock()
	e := obfEnv{c: p.instance(t), z: z, password: "demo"}
	join := func(user, meeting string) response {
		t.Helper()
		resp := e.get(t, p.base+"/api/join-config?meeting="+meeting, user, "")
		b, _ := io.ReadAll(resp.Body)
		return response{status: resp.StatusCode, header: resp.Header, body: b}
	}
	e.connect(t, "alice", "zu-alice")
	r := join("alice", mtgObfExternal)
	m := r.json(t)
	if info, ok := z.OBF(fmt.Sprint(m["obfToken"])); r.status != 200 || !ok || info.Meeting != mtgObfExternal || m["userName"] != "alice" {
		t.Fatalf("alice: %d %s", r.status, r.body)
	}
	if m = join("alice", mtgObfOwn).json(t); m["obfToken"] != nil || m["signature"] == nil {
		t.Fatalf("own meeting: %v", m)
	}
	if r = join("bob", mtgObfExternal); r.status != 409 || r.errorCode(t) != "zoom_not_connected" || r.header.Get("Link") == "" {
		t.Fatalf("bob: %d %s", r.status, r.body)
	}
	// The example's doctor route: bob's external join fails for want of a
	// connected account, alice's carries her OBF token.
	doc := p.instance(t)
	doc.password = "demo"
	for user, want := range map[string]string{"bob": `"code":"meeting_external","severity":"error"`, "alice": `"code":"meeting_external","severity":"info"`} {
		r := doc.do("POST", "/zoom/doctor", user, `{"meetingNumber":"`+mtgObfExternal+`","role":0,"sdkCode":4012}`)
		if r.status != 200 || !strings.Contains(string(r.body), want) {
			t.Fatalf("doctor for %s: %d %s", user, r.status, r.body)
		}
	}
	st := e.get(t, p.base+"/zoom/connect/status", "alice", "")
	if b, _ := io.ReadAll(st.Body); !strings.Contains(string(b), `"connected":true`) {
		t.Fatalf("status: %s", b)
	}
	scanFolder(t, storage, append(z.UserSecrets(), "alice@elsewhere.example")...)
	t.Cleanup(func() {
		leakWatch.Lock()
		defer leakWatch.Unlock()
		leakWatch.secrets = append(leakWatch.secrets, z.UserTokens()...)
		leakWatch.tokens = append(leakWatch.tokens, z.OBFTokens()...)
	})
}

// noLock is a storage whose Lock never waits, as a misconfigured cluster
// storage would behave.
type noLock struct{ *certmagic.FileStorage }

func (noLock) Lock(context.Context, string) error   { return nil }
func (noLock) Unlock(context.Context, string) error { return nil }

func TestLocksBlock(t *testing.T) {
	if !locksBlock(&certmagic.FileStorage{Path: t.TempDir()}) {
		t.Fatal("file_system's lock was taken twice")
	}
	if locksBlock(noLock{&certmagic.FileStorage{Path: t.TempDir()}}) {
		t.Fatal("a lock that never waits passed")
	}
}

// countingLocks counts the locks taken, to show the probe runs once per
// storage type.
type countingLocks struct {
	*certmagic.FileStorage
	n *atomic.Int64
}

func (c countingLocks) Lock(ctx context.Context, name string) error {
	c.n.Add(1)
	return c.FileStorage.Lock(ctx, name)
}

func TestLockProbeOncePerType(t *testing.T) {
	var n atomic.Int64
	for range 3 {
		if !locksBlockOnce(countingLocks{&certmagic.FileStorage{Path: t.TempDir()}, &n}) {
			t.Fatal("file_system's lock was taken twice")
		}
	}
	if n.Load() != 2 { // one probe: the lock, and the attempt to take it again
		t.Fatalf("%d locks taken for three handlers on one storage type", n.Load())
	}
	if locksBlockOnce(noLock{&certmagic.FileStorage{Path: t.TempDir()}}) || locksBlockOnce(noLock{&certmagic.FileStorage{Path: t.TempDir()}}) {
		t.Fatal("a lock that never waits passed")
	}
}
