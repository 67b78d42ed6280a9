package caddymodule

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/zoomsig/caddy-zoom-signature/caddymodule/session/sessiontest"
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/zoomapi/zoomtest"
)

// exampleApp stands in for the site's app behind the examples: it answers
// every join-config route they proxy to with a join config for the meeting
// (or session) in the path, the role of ?role=, and a relative leaveUrl.
func exampleApp(t *testing.T) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
		role := r.URL.Query().Get("role")
		if role == "" {
			role = "0"
		}
		w.Header().Set("Content-Type", "application/json")
		switch {
		case len(parts) == 4 && parts[1] == "meetings":
			fmt.Fprintf(w, `{"meetingNumber":%q,"role":%s,"userName":"Alice","leaveUrl":"/left"}`, parts[2], role)
		case len(parts) == 4 && parts[1] == "sessions":
			fmt.Fprintf(w, `{"sessionName":%q,"role":%s}`, parts[2], role)
		default:
			fmt.Fprintf(w, `{"meetingNumber":"85746065432","role":%s,"userName":"Alice","leaveUrl":"/left"}`, role)
		}
	}))
	t.Cleanup(s.Close)
	return s
}

var (
	siteLine   = regexp.MustCompile(`(?m)^(app\.example\.com|auth\.example\.com|:8080) \{$`)
	bcryptHash = regexp.MustCompile(`\$2a\$\d\d\$[./A-Za-z0-9]{53}`)
)

// runExample runs an example Caddyfile as `caddy run` would, with what a
// test cannot have swapped for what it can: the site address becomes a
// loopback port, the app (localhost:3000) and the session check
// (localhost:9000) test servers, the bcrypt placeholders the test
// password's hash, and fill the other literal replacements.
func runExample(t *testing.T, name string, fill map[string]string, env ...string) *instance {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "examples", name))
	if err != nil {
		t.Fatal(err)
	}
	text := siteLine.ReplaceAllString(string(raw), "{$$SITE_ADDRESS} {")
	text = bcryptHash.ReplaceAllLiteralString(text, passwordHash(t))
	text = strings.ReplaceAll(text, "localhost:3000", strings.TrimPrefix(exampleApp(t).URL, "http://"))
	for k, v := range fill {
		if !strings.Contains(text, k) {
			t.Fatalf("%s no longer has %q: update the test", name, k)
		}
		text = strings.ReplaceAll(text, k, v)
	}
	cfg := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return runCaddy(t, cfg, append([]string{"ZOOM_SDK_KEY=" + testKey, "ZOOM_SDK_SECRET=" + testSecret,
		"ZOOM_VIDEO_SDK_KEY=" + testKey, "ZOOM_VIDEO_SDK_SECRET=" + testSecret}, env...)...).instance(t)
}

// signedFor checks a 200 join config that carries a signature for role.
func signedFor(t *testing.T, r response, role float64) map[string]any {
	t.Helper()
	if r.status != 200 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	m := r.json(t)
	tok, _ := m["signature"].(string)
	if tok == "" || m["role"] != role {
		t.Fatalf("not signed for role %v: %s", role, r.body)
	}
	c := claimsOf(t, tok)
	if want := role; c["role"] != want && c["role_type"] != want {
		t.Fatalf("the token's role is not %v: %v", role, c)
	}
	return m
}

// preflight sends the browser's CORS preflight from origin, with no
// credentials, as a page on another origin (a dev server) does.
func preflight(t *testing.T, c *instance, path, origin string) response {
	t.Helper()
	return c.do("OPTIONS", path, "", "", "Origin", origin, "Access-Control-Request-Method", "POST",
		"Access-Control-Request-Headers", "content-type,authorization,ngrok-skip-browser-warning")
}

// TestExampleFlows runs each example's documented flow against the
// example itself, preflights included.
func TestExampleFlows(t *testing.T) {
	t.Run("basic-auth", func(t *testing.T) {
		secret := filepath.Join(t.TempDir(), "zoom_sdk_secret")
		if err := os.WriteFile(secret, []byte(testSecret), 0o600); err != nil {
			t.Fatal(err)
		}
		c := runExample(t, "basic-auth.Caddyfile", map[string]string{"/run/secrets/zoom_sdk_secret": secret})
		signedFor(t, c.do("GET", "/api/meetings/85746065432/join-config?role=1", "alice", ""), 1)
		signedFor(t, c.do("GET", "/api/meetings/85746065432/join-config", "bob", ""), 0)
		if r := c.do("GET", "/api/meetings/85746065432/join-config?role=1", "bob", ""); r.status != 403 || r.errorCode(t) != "host_not_allowed" {
			t.Fatalf("bob as host: %d %s", r.status, r.body)
		}
		if r := c.do("GET", "/api/meetings/85746065432/join-config", "", ""); r.status != 401 {
			t.Fatalf("nobody: %d", r.status)
		}
	})

	t.Run("forward-auth", func(t *testing.T) {
		check := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			user, pass, ok := r.BasicAuth()
			if !ok || pass != testPassword || r.URL.Path != "/auth/check" {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			w.Header().Set("Remote-User", user)
			if user == "alice" {
				w.Header().Set("Remote-Groups", "staff,zoom-hosts")
			}
		}))
		t.Cleanup(check.Close)
		c := runExample(t, "forward-auth.Caddyfile", map[string]string{"localhost:9000": strings.TrimPrefix(check.URL, "http://")})
		// alice is in two groups: Remote-Groups is a list, and host_when
		// matches any member.
		signedFor(t, c.do("GET", "/api/meetings/85746065432/join-config?role=1", "alice", ""), 1)
		if r := c.do("GET", "/api/meetings/85746065432/join-config?role=1", "bob", "", "Remote-Groups", "zoom-hosts"); r.status != 403 {
			t.Fatalf("bob, with a forged group header: %d %s", r.status, r.body)
		}
		if r := c.do("GET", "/api/meetings/85746065432/join-config", "", ""); r.status != 401 {
			t.Fatalf("nobody: %d", r.status)
		}
	})

	t.Run("session-cookie", func(t *testing.T) {
		key, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		jwks := sessiontest.NewJWKS(map[string]*rsa.PublicKey{"k1": &key.PublicKey})
		t.Cleanup(jwks.Close)
		// The zak block's app is never asked: the flow joins as an attendee.
		c := runExample(t, "session-cookie.Caddyfile", map[string]string{"https://id.example.com/.well-known/jwks.json": jwks.URL + "/jwks.json"},
			"ZOOM_ACCOUNT_ID=acct", "ZOOM_CLIENT_ID=client", "ZOOM_CLIENT_SECRET=not-asked")
		tok := sessionToken(t, jwt.SigningMethodRS256, key, "k1", jwt.MapClaims{"iss": "https://id.example.com/", "groups": []string{"staff"}})
		m := signedFor(t, c.do("GET", "/api/meetings/85746065432/join-config", "", "", "Cookie", "__session="+tok), 0)
		if m["userName"] != "Alice Example" || m["userEmail"] != "alice@example.com" {
			t.Fatalf("fill: %v", m)
		}
		if r := c.do("GET", "/api/meetings/85746065432/join-config", "", ""); r.status != 401 || r.errorCode(t) != "session_missing" {
			t.Fatalf("no session: %d %s", r.status, r.body)
		}
	})

	t.Run("endpoint", func(t *testing.T) {
		c := runExample(t, "endpoint.Caddyfile", nil)
		r := preflight(t, c, "/", "http://localhost:5173")
		if r.status != 204 || r.header.Get("Access-Control-Allow-Origin") != "http://localhost:5173" {
			t.Fatalf("preflight: %d %v", r.status, r.header)
		}
		r = c.do("POST", "/", "alice", `{"meetingNumber":"85746065432","role":1}`, "Origin", "http://localhost:5173", "Content-Type", "application/json")
		if r.status != 200 || r.header.Get("Access-Control-Allow-Origin") != "http://localhost:5173" || r.json(t)["signature"] == nil {
			t.Fatalf("sign: %d %v %s", r.status, r.header, r.body)
		}
		if r := c.do("POST", "/", "alice", `{"meetingNumber":"81111111111","role":0}`); r.status != 403 || r.errorCode(t) != "meeting_not_allowed" {
			t.Fatalf("another meeting: %d %s", r.status, r.body)
		}
		if r := preflight(t, c, "/", "https://evil.example"); r.header.Get("Access-Control-Allow-Origin") != "" {
			t.Fatalf("a foreign origin's preflight: %d %v", r.status, r.header)
		}
	})

	t.Run("tunnel", func(t *testing.T) {
		c := runExample(t, "tunnel.Caddyfile", nil)
		// The page through the tunnel: leaveUrl lands on the public host
		// the tunnel forwarded (loopback is a trusted proxy here).
		m := signedFor(t, c.do("GET", "/api/join-config", "alice", "", "X-Forwarded-Host", "abc123.ngrok-free.app", "X-Forwarded-Proto", "https"), 0)
		if m["leaveUrl"] != "https://abc123.ngrok-free.app/left" {
			t.Fatalf("leaveUrl: %v", m["leaveUrl"])
		}
		// A dev server on another origin calls the endpoint: the preflight
		// carries no credentials and must pass before basic_auth.
		r := preflight(t, c, "/api/signature", "http://localhost:5173")
		if r.status != 204 || r.header.Get("Access-Control-Allow-Origin") != "http://localhost:5173" ||
			!strings.Contains(strings.ToLower(r.header.Get("Access-Control-Allow-Headers")), "ngrok-skip-browser-warning") {
			t.Fatalf("preflight: %d %v %s", r.status, r.header, r.body)
		}
		r = c.do("POST", "/api/signature", "alice", `{"meetingNumber":"85746065432","role":0}`, "Origin", "http://localhost:5173",
			"Content-Type", "application/json", "ngrok-skip-browser-warning", "1")
		if r.status != 200 || r.header.Get("Access-Control-Allow-Origin") != "http://localhost:5173" || r.json(t)["signature"] == nil {
			t.Fatalf("sign: %d %v %s", r.status, r.header, r.body)
		}
		if r := c.do("POST", "/api/signature", "", `{"meetingNumber":"85746065432","role":0}`, "Origin", "http://localhost:5173"); r.status != 401 {
			t.Fatalf("no user: %d %s", r.status, r.body)
		}
		if r := c.do("GET", "/api/other", "", ""); r.status != 401 {
			t.Fatalf("the app's other routes still need a user: %d", r.status)
		}
	})

	t.Run("video", func(t *testing.T) {
		c := runExample(t, "video.Caddyfile", nil)
		m := signedFor(t, c.do("GET", "/api/sessions/"+url.PathEscape("Cool Cars")+"/join-config", "alice", ""), 0)
		if claimsOf(t, m["signature"].(string))["tpc"] != "Cool Cars" {
			t.Fatalf("tpc: %v", m)
		}
	})

	t.Run("isolation", func(t *testing.T) {
		c := runExample(t, "isolation.Caddyfile", nil)
		signedFor(t, c.do("GET", "/api/join-config", "alice", ""), 0)
		r := c.do("GET", "/meeting", "", "")
		if r.header.Get("Cross-Origin-Opener-Policy") != "same-origin" || r.header.Get("Cross-Origin-Embedder-Policy") != "require-corp" {
			t.Fatalf("the SDK page's isolation headers: %v", r.header)
		}
		if r := c.do("GET", "/sdk/lib.js", "", ""); r.header.Get("Cross-Origin-Resource-Policy") != "cross-origin" {
			t.Fatalf("the SDK assets: %v", r.header)
		}
	})
}

// TestDropInRecipe runs the README's "Drop it in front of your site" as
// it stands: its commands in a shell, its Caddyfile with only what it asks
// the reader to fill in (the hash, the app's address and the site's
// port), against a tiny app that asks for host for alice, and the Zoom
// stand-in for the ZAK of alice@example.com.
func TestDropInRecipe(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(readme), "<!-- TestDropInRecipe runs the blocks below as they stand -->")
	if !ok {
		t.Fatal("the README has no drop-in recipe marker")
	}
	block := func(lang string) string {
		t.Helper()
		var b string
		if _, rest, ok = strings.Cut(rest, "```"+lang+"\n"); ok {
			b, rest, ok = strings.Cut(rest, "```")
		}
		if !ok {
			t.Fatalf("the recipe lost its %s block", lang)
		}
		return b
	}
	prepare, caddyfile, run := block("sh"), block("caddyfile"), block("sh")

	bin := buildCaddy(t)
	dir := t.TempDir()
	z := zoomtest.New("alice@example.com")
	t.Cleanup(z.Close)
	leakWatch.Lock()
	leakWatch.secrets = append(leakWatch.secrets, z.ClientSecret)
	leakWatch.Unlock()
	port := freePort(t)
	env := append(os.Environ(), "PATH="+filepath.Dir(bin)+":"+os.Getenv("PATH"), "HOME="+dir, "XDG_DATA_HOME="+dir, "XDG_CONFIG_HOME="+dir,
		"ZOOM_SDK_KEY="+testKey, "ZOOM_SDK_SECRET="+testSecret, "ZOOM_ACCOUNT_ID="+z.AccountID, "ZOOM_CLIENT_ID="+z.ClientID,
		"ZOOM_CLIENT_SECRET="+z.ClientSecret, "ZOOM_OAUTH_URL="+z.OAuthURL(), "ZOOM_API_URL="+z.APIURL(),
		fmt.Sprintf("CADDY_ADMIN=127.0.0.1:%d", freePort(t)))
	sh := func(script string) string {
		t.Helper()
		cmd := exec.Command("bash", "-euo", "pipefail", "-c", script)
		cmd.Dir, cmd.Env = dir, env
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s: %v\n%s", script, err, out)
		}
		return string(out)
	}
	hash := strings.TrimSpace(sh(prepare))
	if !strings.HasPrefix(hash, "$2a$") {
		t.Fatalf("caddy hash-password printed %q", hash)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "zoom_sdk_secret")); err != nil || string(b) != testSecret {
		t.Fatalf("the secret file: %q %v", b, err)
	}
	// The app: alice is a host of hers, everyone else attends.
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		role := 0
		if r.Header.Get("X-Zoom-User") == "alice" {
			role = 1
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"meetingNumber":"85746065432","role":%d,"userName":%q}`, role, r.Header.Get("X-Zoom-User"))
	}))
	t.Cleanup(app.Close)
	fill := strings.NewReplacer("<the hash from caddy hash-password>", hash, "localhost:3000", strings.TrimPrefix(app.URL, "http://"),
		"http://localhost:8080", fmt.Sprintf("http://localhost:%d", port))
	if err := os.WriteFile(filepath.Join(dir, "Caddyfile"), []byte(fill.Replace(caddyfile)), 0o600); err != nil {
		t.Fatal(err)
	}
	start, curl, ok := strings.Cut(strings.TrimSpace(run), "\n")
	if !ok || !strings.HasPrefix(start, "caddy run") || !strings.HasPrefix(curl, "curl ") {
		t.Fatalf("the recipe's last block is no longer `caddy run` and a curl:\n%s", run)
	}
	logPath := filepath.Join(logDir, fmt.Sprintf("dropin-%d.log", port))
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", "-c", "exec "+start)
	cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = dir, env, logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	leakWatch.Lock()
	leakWatch.logs = append(leakWatch.logs, logPath)
	leakWatch.started = true
	leakWatch.Unlock()
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait(); logFile.Close() })
	base := fmt.Sprintf("http://localhost:%d", port)
	for i := 0; ; i++ {
		if resp, err := http.Get(base); err == nil {
			resp.Body.Close()
			break
		}
		if i == 300 {
			b, _ := os.ReadFile(logPath)
			t.Fatalf("caddy run did not start:\n%s", b)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The README's curl, as written but for the port.
	out := sh(fill.Replace(curl))
	watchResponse([]byte(out), nil)
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("the curl printed %s", out)
	}
	if m["signature"] == nil || m["sdkKey"] != testKey || m["role"] != float64(1) || m["zak"] != z.LastZAK("alice@example.com") || m["zak"] == "" {
		t.Fatalf("alice, a host: %s", out)
	}
	c := &instance{t: t, base: base, logPath: logPath, client: http.DefaultClient, password: "choose-a-password"}
	if r := c.do("GET", "/api/meetings/85746065432/join-config", "", ""); r.status != 401 {
		t.Fatalf("nobody: %d %s", r.status, r.body)
	}
}
