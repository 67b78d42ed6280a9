package caddymodule

// The reliability suite: each class of fault found by trying the module as
// an attacker and as an unlucky operator would, against a real Caddy over
// loopback. Every case asserts the JSON answer, the one log line, and that
// the process lives on to sign the next request. Three classes are held
// elsewhere, where they are cheaper to hold: the bounded caches by the pure
// packages' tests (session's verified-token cache, state.TestMemoryBounded),
// and the examples' matchers and read timeouts by TestEveryCaddyfileAdapts
// (checkExample, in caddyfile_test.go), which adapts every example.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"crypto/rsa"

	"github.com/golang-jwt/jwt/v5"
)

// refusedLine finds the "refused" log line with code in an instance's log.
func (c *instance) refusedLine(t *testing.T, code string) map[string]any {
	t.Helper()
	for range 50 { // the log file is written asynchronously
		data, err := os.ReadFile(c.logPath)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range bytes.Split(data, []byte("\n")) {
			var l map[string]any
			if json.Unmarshal(line, &l) == nil && l["msg"] == "refused" && l["code"] == code {
				return l
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no refused line with code %s in the log", code)
	return nil
}

// stillSigns checks that the process lives: a good request still gets a
// signature.
func (c *instance) stillSigns(t *testing.T, path, user string) {
	t.Helper()
	r := c.do("GET", path, user, "")
	if r.status != http.StatusOK || r.json(t)["signature"] == nil {
		t.Fatalf("after the fault: %d %s", r.status, r.body)
	}
}

// rawBackend answers each request with a canned byte stream chosen by its
// path, then closes the connection, with an RST for paths ending in
// "reset": the faults an HTTP server library will not produce.
func rawBackend(t *testing.T, answers map[string]string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				br := bufio.NewReader(conn)
				line, _ := br.ReadString('\n')
				for {
					h, err := br.ReadString('\n')
					if err != nil || h == "\r\n" {
						break
					}
				}
				parts := strings.Fields(line)
				if len(parts) < 2 {
					return
				}
				seg := parts[1][strings.LastIndexByte(parts[1], '/')+1:]
				io.WriteString(conn, answers[seg])
				if strings.HasSuffix(seg, "reset") {
					conn.(*net.TCPConn).SetLinger(0)
				}
			}()
		}
	}()
	return "http://" + l.Addr().String()
}

const goodConfig = `{"meetingNumber":"85746065432","role":0}`

func rawJSON(headers, body string) string {
	return "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" + headers + "\r\n" + body
}

// Backend faults answer the JSON 502, are logged and counted, instead of a
// dropped connection.
func TestReliabilityBackendFaults(t *testing.T) {
	backend := rawBackend(t, map[string]string{
		"good":        rawJSON(fmt.Sprintf("Content-Length: %d\r\n", len(goodConfig)), goodConfig),
		"short-body":  rawJSON("Content-Length: 500\r\n", goodConfig),
		"mid-reset":   rawJSON("Content-Length: 500\r\n", goodConfig[:20]),
		"bad-gzip":    rawJSON(fmt.Sprintf("Content-Encoding: gzip\r\nContent-Length: %d\r\n", len(goodConfig)), goodConfig),
		"duplicate":   rawJSON("Connection: close\r\n", `{"meetingNumber":"85746065432","role":0,"signature":"stale-1","signature":"stale-2"}`),
		"escaped-dup": rawJSON("Connection: close\r\n", `{"meetingNumber":"85746065432","meeting\u004eumber":"11111111111","role":0}`),
	})
	c := startCaddy(t, `
	basic_auth /r/* {
		attendee {HASH}
	}
	zoom_signature /r/* {
		sdk_key `+testKey+`
		sdk_secret {env.ZS_TEST_SECRET}
	}
	reverse_proxy {BACKEND}
`, backend)
	c.stillSigns(t, "/r/good", "attendee")
	for _, tc := range []struct{ path, code string }{
		{"/r/short-body", codeUpstreamUnreadable},
		{"/r/mid-reset", codeUpstreamUnreadable},
		{"/r/bad-gzip", codeUpstreamUnreadable},
		{"/r/duplicate", codeUpstreamDuplicate},
		{"/r/escaped-dup", codeUpstreamDuplicate},
	} {
		t.Run(tc.path, func(t *testing.T) {
			before := c.metricValue(t, `caddy_zoom_signature_unsignable_total{code="`+tc.code+`"}`)
			r := c.do("GET", tc.path, "attendee", "")
			if r.status != http.StatusBadGateway || r.errorCode(t) != tc.code || bytes.Contains(r.body, []byte("stale")) {
				t.Fatalf("%d %s", r.status, r.body)
			}
			if l := c.refusedLine(t, tc.code); l["status"] != 502.0 || l["fault"] != "backend" {
				t.Fatalf("log line %v", l)
			}
			if after := c.metricValue(t, `caddy_zoom_signature_unsignable_total{code="`+tc.code+`"}`); after != before+1 {
				t.Fatalf("counted %v, want %v", after, before+1)
			}
			c.stillSigns(t, "/r/good", "attendee")
		})
	}
}

// A document nested ten million levels deep, at the largest max_body,
// is refused and the process lives: the JSON validators recurse, and
// this used to overflow the stack, a fatal error for every site on the
// server.
func TestReliabilityDeepNesting(t *testing.T) {
	deep := strings.Repeat("[", 10_000_000) + strings.Repeat("]", 10_000_000)
	b := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if strings.HasSuffix(r.URL.Path, "/deep") {
			io.WriteString(w, deep)
			return
		}
		io.WriteString(w, goodConfig)
	}))
	t.Cleanup(b.Close)
	c := startCaddy(t, `
	basic_auth /* {
		attendee {HASH}
	}
	zoom_signature /r/* {
		sdk_key `+testKey+`
		sdk_secret {env.ZS_TEST_SECRET}
		max_body 1GiB
	}
	zoom_signature /sign {
		mode endpoint
		sdk_key `+testKey+`
		sdk_secret {env.ZS_TEST_SECRET}
		meetings any
		max_body 1GiB
	}
	reverse_proxy {BACKEND}
`, b.URL)
	r := c.do("GET", "/r/deep", "attendee", "")
	if r.status != http.StatusBadGateway || r.errorCode(t) != codeUpstreamInvalid || !bytes.Contains(r.body, []byte("deeper than 64 levels")) {
		t.Fatalf("inject: %d %.300s", r.status, r.body)
	}
	c.refusedLine(t, codeUpstreamInvalid)
	r = c.do("POST", "/sign", "attendee", deep)
	if r.status != http.StatusBadRequest || r.errorCode(t) != "invalid_body" || !bytes.Contains(r.body, []byte("deeper than 64 levels")) {
		t.Fatalf("endpoint: %d %.300s", r.status, r.body)
	}
	c.refusedLine(t, "invalid_body")
	c.stillSigns(t, "/r/good", "attendee")
}

// What Zoom says in an error stays out of the answer and the logs, even
// when it holds the request's own access token.
func TestReliabilityZoomTextStaysOut(t *testing.T) {
	z := newZoomFake(t)
	z.Echo(true)
	c := startCaddyWith(t, strings.ReplaceAll(zakApp, "{ZOOM}", z.URL), `
	basic_auth /z/* {
		nobody {HASH}
	}
	zoom_signature /z/* {
		sdk_key `+testKey+`
		sdk_secret {env.ZS_TEST_SECRET}
		host_when any
		`+zakBlock+`
		require_zak_for_host
	}
	reverse_proxy {BACKEND}
`, "", newBackend(t).URL)
	r := c.do("GET", "/z/host", "nobody", "")
	if r.status != http.StatusForbidden || r.errorCode(t) != "zak_user_not_found" {
		t.Fatalf("%d %s", r.status, r.body)
	}
	tokens := z.AccessTokens()
	if len(tokens) == 0 {
		t.Fatal("the fake issued no access token, so nothing was tested")
	}
	l := c.refusedLine(t, "zak_user_not_found")
	for _, where := range []string{string(r.body), fmt.Sprint(l)} {
		if strings.Contains(where, "does not exist") || strings.Contains(where, "Request:") || strings.Contains(where, tokens[0]) {
			t.Fatalf("Zoom's text got through: %s", where)
		}
		if !strings.Contains(where, "Zoom code 1001") {
			t.Fatalf("Zoom's code is missing: %s", where)
		}
	}
	leakWatch.Lock()
	leakWatch.secrets = append(leakWatch.secrets, tokens...)
	leakWatch.Unlock()
}

// A session token with a crit header is refused (RFC 7515, 4.1.11).
func TestReliabilityCritSession(t *testing.T) {
	t.Setenv("ZS_SESSION_SECRET", "a-session-secret-of-enough-length-for-hs256")
	c := startCaddy(t, `
	zoom_signature /s/* {
		sdk_key `+testKey+`
		sdk_secret {env.ZS_TEST_SECRET}
		session_jwt {
			hmac_secret {env.ZS_SESSION_SECRET}
		}
	}
	reverse_proxy {BACKEND}
`, newBackend(t).URL)
	token := func(crit bool) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": "alice", "exp": time.Now().Add(time.Hour).Unix()})
		if crit {
			tok.Header["crit"] = []string{"b64"}
			tok.Header["b64"] = false
		}
		s, err := tok.SignedString([]byte("a-session-secret-of-enough-length-for-hs256"))
		if err != nil {
			t.Fatal(err)
		}
		leakWatch.Lock()
		leakWatch.secrets = append(leakWatch.secrets, s)
		leakWatch.Unlock()
		return s
	}
	r := c.do("GET", "/s/join-config", "", "", "Authorization", "Bearer "+token(true))
	if r.status != http.StatusUnauthorized || r.errorCode(t) != "session_crit_unsupported" {
		t.Fatalf("%d %s", r.status, r.body)
	}
	c.refusedLine(t, "session_crit_unsupported")
	if r := c.do("GET", "/s/join-config", "", "", "Authorization", "Bearer "+token(false)); r.status != http.StatusOK {
		t.Fatalf("without crit: %d %s", r.status, r.body)
	}
}

// A reload under bounded load loses no request.
func TestReliabilityReloadUnderLoad(t *testing.T) {
	c, _ := startInject(t)
	cfg, err := http.Get(c.admin + "/config/")
	if err != nil {
		t.Fatal(err)
	}
	current, _ := io.ReadAll(cfg.Body)
	cfg.Body.Close()

	var (
		sent, failed atomic.Int64
		stop         = make(chan struct{})
		wg           sync.WaitGroup
		firstFailure atomic.Value
	)
	client := &http.Client{Timeout: 10 * time.Second}
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 2000; i++ { // bounded, whatever happens to stop
				select {
				case <-stop:
					return
				default:
				}
				req, _ := http.NewRequest("GET", c.base+"/api/join/join-config", nil)
				req.SetBasicAuth("attendee", testPassword)
				resp, err := client.Do(req)
				sent.Add(1)
				if err != nil {
					failed.Add(1)
					firstFailure.CompareAndSwap(nil, err.Error())
					continue
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK || !bytes.Contains(b, []byte(`"signature":"`)) {
					failed.Add(1)
					firstFailure.CompareAndSwap(nil, fmt.Sprintf("%d %s", resp.StatusCode, b))
				}
			}
		}()
	}
	for i := range 3 {
		time.Sleep(100 * time.Millisecond)
		// The same config, changed enough that Caddy does not skip it.
		next := bytes.Replace(current, []byte(`"zoom_signature"`), []byte(fmt.Sprintf(`"zoom_signature","backdate":%d`, (31+i)*int(time.Second))), 1)
		resp, err := http.Post(c.admin+"/load", "application/json", bytes.NewReader(next))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("reload %d: %d %s", i, resp.StatusCode, body)
		}
	}
	time.Sleep(100 * time.Millisecond)
	close(stop)
	wg.Wait()
	if sent.Load() < 20 {
		t.Fatalf("only %d requests were sent, so the reloads were not under load", sent.Load())
	}
	if n := failed.Load(); n > 0 {
		t.Fatalf("%d of %d requests failed across 3 reloads; first: %v", n, sent.Load(), firstFailure.Load())
	}
}

// lockedBuffer collects a process's output while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) Bytes() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return bytes.Clone(l.b.Bytes())
}

func (l *lockedBuffer) String() string { return string(l.Bytes()) }

var (
	caddyBinOnce sync.Once
	caddyBin     string
	caddyBinErr  error
)

// buildCaddy builds cmd/caddy once per test run, for tests that need a
// real caddy process (signals, several instances).
func buildCaddy(t *testing.T) string {
	t.Helper()
	caddyBinOnce.Do(func() {
		dir, err := os.MkdirTemp("", "zs-caddy-bin-")
		if err != nil {
			caddyBinErr = err
			return
		}
		caddyBin = filepath.Join(dir, "caddy")
		out, err := exec.Command("go", "build", "-o", caddyBin, "../cmd/caddy").CombinedOutput()
		if err != nil {
			caddyBinErr = fmt.Errorf("go build ./cmd/caddy: %v\n%s", err, out)
		}
	})
	if caddyBinErr != nil {
		t.Fatal(caddyBinErr)
	}
	return caddyBin
}

// SIGTERM with requests in flight: every one is answered, signed, and the
// process exits cleanly.
func TestReliabilitySIGTERMInFlight(t *testing.T) {
	bin := buildCaddy(t)
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(800 * time.Millisecond)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, goodConfig)
	}))
	t.Cleanup(slow.Close)
	port, admin := freePort(t), freePort(t)
	dir := t.TempDir()
	cfg := fmt.Sprintf(`{
	admin 127.0.0.1:%d
	auto_https off
	persist_config off
	storage file_system %s
}

http://127.0.0.1:%d {
	basic_auth {
		attendee %s
	}
	zoom_signature {
		sdk_key %s
		sdk_secret {env.ZS_TEST_SECRET}
	}
	reverse_proxy %s
}
`, admin, filepath.Join(dir, "data"), port, passwordHash(t), testKey, slow.URL)
	cfgPath := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	var stderr lockedBuffer
	cmd := exec.Command(bin, "run", "--config", cfgPath, "--adapter", "caddyfile")
	cmd.Env = append(os.Environ(), "ZS_TEST_SECRET="+testSecret, "HOME="+dir, "XDG_DATA_HOME="+dir, "XDG_CONFIG_HOME="+dir)
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	up := false
	for range 200 {
		if resp, err := http.Get(base); err == nil {
			resp.Body.Close()
			up = true
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !up {
		t.Fatalf("caddy did not start: %s", stderr.String())
	}

	const inFlight = 8
	results := make(chan string, inFlight)
	for range inFlight {
		go func() {
			req, _ := http.NewRequest("GET", base+"/join-config", nil)
			req.SetBasicAuth("attendee", testPassword)
			resp, err := (&http.Client{Timeout: 20 * time.Second}).Do(req)
			if err != nil {
				results <- err.Error()
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || !bytes.Contains(b, []byte(`"signature":"`)) {
				results <- fmt.Sprintf("%d %s", resp.StatusCode, b)
				return
			}
			results <- ""
		}()
	}
	time.Sleep(300 * time.Millisecond) // all of them inside the slow backend
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for range inFlight {
		if r := <-results; r != "" {
			t.Errorf("an in-flight request was lost: %s", r)
		}
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("caddy exited with %v: %s", err, stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("caddy did not exit after SIGTERM: %s", stderr.String())
	}
	if bytes.Contains(stderr.Bytes(), []byte(testSecret)) {
		t.Fatal("the SDK secret is in caddy's output")
	}
}

// Zoom's rate-limit headers in each form it sends, and absurd ones capped:
// the refusal says how long, and Zoom is not asked again meanwhile.
func TestReliabilityZoomRateLimits(t *testing.T) {
	z := newZoomFake(t)
	site := `
	basic_auth /z/* {
		host {HASH}
	}
	zoom_signature /z/* {
		sdk_key ` + testKey + `
		sdk_secret {env.ZS_TEST_SECRET}
		host_when any
		` + zakBlock + `
		require_zak_for_host
	}
	reverse_proxy {BACKEND}
`
	// A reload with the same zoom_api keeps its client, and with it the
	// hold on "host"; each case's config writes its own zoom_api (another
	// timeout), whose client starts from nothing.
	app := func(i int) string {
		timeout := fmt.Sprintf("\n\t\t\ttimeout %ds\n\t\t}", 10+i)
		return strings.ReplaceAll(strings.Replace(zakApp, "\n\t\t}", timeout, 1), "{ZOOM}", z.URL)
	}
	backend := newBackend(t).URL
	c := startCaddyWith(t, app(0), site, "", backend)
	for i, tc := range []struct {
		name string
		h    http.Header
		want []string // what the reason may say: the wait, give or take the clock
	}{
		{"daily limit, Retry-After as a date", http.Header{"Retry-After": {time.Now().Add(3 * time.Hour).UTC().Format(http.TimeFormat)}}, []string{"in 3h0m0s", "in 2h59m59s", "in 2h59m58s"}},
		{"per-second limit, X-RateLimit-Reset", http.Header{"X-Ratelimit-Reset": {fmt.Sprint(time.Now().Add(90 * time.Second).Unix())}}, []string{"in 1m30s", "in 1m29s", "in 1m28s", "in 1m31s"}},
		{"absurd Retry-After is capped at a day", http.Header{"Retry-After": {"99999999999"}}, []string{"in 24h0m0s"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			user := "host"
			z.RateLimitWith(tc.h)
			defer z.RateLimitWith(nil)
			r := c.do("GET", "/z/host", user, "")
			if r.status != http.StatusServiceUnavailable || r.errorCode(t) != "zak_rate_limited" {
				t.Fatalf("%d %s", r.status, r.body)
			}
			ok := false
			for _, w := range tc.want {
				ok = ok || bytes.Contains(r.body, []byte(w))
			}
			if !ok {
				t.Fatalf("the reason does not say %v: %s", tc.want, r.body)
			}
			calls := z.ZAKCalls(user)
			if r := c.do("GET", "/z/host", user, ""); r.status != http.StatusServiceUnavailable || z.ZAKCalls(user) != calls {
				t.Fatalf("held: %d, %d more calls to Zoom", r.status, z.ZAKCalls(user)-calls)
			}
		})
		// Each case holds "host" for hours; a config with another
		// zoom_api starts with an empty cache, so the next case starts
		// from nothing.
		c = startCaddyWith(t, app(i+1), site, "", backend)
	}
}

// The issuer's JWKS going empty or oversized keeps the last good keys;
// without any, the 503 names the state.
func TestReliabilityJWKS(t *testing.T) {
	jwks := newJWKSEndpoint(t)
	jwks.Set(false, map[string]*rsa.PublicKey{"k1": &sessionRSA.PublicKey})
	c, _ := startSessions(t, jwks, "1ms") // every unknown kid refetches
	bearer := func(kid, jti string) []string {
		tok := sessionToken(t, jwt.SigningMethodRS256, sessionRSA, kid, jwt.MapClaims{"jti": jti})
		return []string{"Authorization", "Bearer " + tok}
	}
	if r := c.do("GET", "/j/join/join-config", "", "", bearer("k1", "before")...); r.status != http.StatusOK {
		t.Fatalf("before: %d %s", r.status, r.body)
	}
	for i, breakIt := range []func(){
		func() { jwks.Set(false, map[string]*rsa.PublicKey{}) }, // an empty key set
		func() { jwks.Pad(2 << 20) },                            // over 1 MiB
	} {
		breakIt()
		hits := jwks.Hits.Load()
		time.Sleep(5 * time.Millisecond) // past the refetch minimum
		_ = c.do("GET", "/j/join/join-config", "", "", bearer("unknown", fmt.Sprint(i))...)
		if jwks.Hits.Load() == hits {
			t.Fatal("the unknown kid did not make the module refetch, so nothing was tested")
		}
		if r := c.do("GET", "/j/join/join-config", "", "", bearer("k1", fmt.Sprint("after", i))...); r.status != http.StatusOK {
			t.Fatalf("case %d: after the issuer broke, the last good keys must stay: %d %s", i, r.status, r.body)
		}
	}

	c.stillSignsAs(t, "/j/join/join-config", bearer("k1", "last"))

	// One Caddy per process: this replaces the instance above.
	empty := newJWKSEndpoint(t)
	c2, _ := startSessions(t, empty, "1h")
	r := c2.do("GET", "/j/join/join-config", "", "", bearer("k1", "none")...)
	if r.status != http.StatusServiceUnavailable || r.errorCode(t) != "jwks_unavailable" || !bytes.Contains(r.body, []byte("holds no keys")) {
		t.Fatalf("empty JWKS: %d %s", r.status, r.body)
	}
	if l := c2.refusedLine(t, "jwks_unavailable"); l["fault"] != "issuer" {
		t.Fatalf("log line %v", l)
	}
}

// stillSignsAs is stillSigns with headers instead of a basic-auth user.
func (c *instance) stillSignsAs(t *testing.T, path string, hdr []string) {
	t.Helper()
	r := c.do("GET", path, "", "", hdr...)
	if r.status != http.StatusOK || r.json(t)["signature"] == nil {
		t.Fatalf("after the fault: %d %s", r.status, r.body)
	}
}

// A config that cannot work is refused when it is loaded, with the fix,
// and the running config keeps serving.
func TestReliabilityBadConfigRefusedAtLoad(t *testing.T) {
	c, _ := startInject(t)
	bad := `{
	"apps": {
		"zoom": {"zoom_api": {"account_id": "a", "client_id": "b", "client_secret": "c", "oauth_url": "::bad"}},
		"http": {"servers": {"x": {"listen": ["127.0.0.1:0"], "routes": [{"handle": [{
			"handler": "zoom_signature", "sdk_key": "k", "sdk_secret": "s", "zak": {}
		}]}]}}}
	}
}`
	resp, err := http.Post(c.admin+"/load", "application/json", strings.NewReader(bad))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode == http.StatusOK || !bytes.Contains(body, []byte(`oauth_url \"::bad\" is not an absolute https URL`)) {
		t.Fatalf("bad config: %d %s", resp.StatusCode, body)
	}
	c.stillSigns(t, "/api/join/join-config", "attendee")
}
