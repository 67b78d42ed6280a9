package caddymodule

import (
	"bytes"
	"cmp"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	_ "github.com/caddyserver/caddy/v2/modules/standard"
	"golang.org/x/crypto/bcrypt"
)

// Test credentials. The secret must never show up in a response, a header
// or a log line; TestMain scans for it after every test has run.
const (
	testKey      = "aB3dE5gH7jK9mN1pQ3sT5v"
	testSecret   = "Zx9Cv8Bn7Mm6Ll5Kk4Jj3Hh2Gg1Ff0Dd"
	testPassword = "correct-horse-battery"
)

// leakWatch collects every response body and header the suite receives,
// and every signature minted, for the scan in TestMain.
var leakWatch struct {
	sync.Mutex
	seen    bytes.Buffer
	tokens  []string // must stay out of the logs
	secrets []string // must stay out of the logs and every response
	logs    []string
	started bool
}

var logDir string

func TestMain(m *testing.M) {
	var err error
	if logDir, err = os.MkdirTemp("", "zoom-signature-logs-"); err != nil {
		panic(err)
	}
	code := m.Run()
	if leakWatch.started {
		if err := scanForLeaks(); err != nil {
			fmt.Fprintln(os.Stderr, "leak scan:", err)
			code = 1
		}
	}
	_ = caddy.Stop()
	if os.Getenv("ZS_KEEP_LOGS") == "" {
		os.RemoveAll(logDir)
	} else {
		fmt.Fprintln(os.Stderr, "logs kept in", logDir)
	}
	os.Exit(code)
}

// scanForLeaks fails when the SDK secret appears in any response or log
// line, or when a minted signature or a credential appears in a log line.
func scanForLeaks() error {
	leakWatch.Lock()
	defer leakWatch.Unlock()
	if bytes.Contains(leakWatch.seen.Bytes(), []byte(testSecret)) {
		return fmt.Errorf("the SDK secret appeared in a response")
	}
	for i, s := range leakWatch.secrets {
		if bytes.Contains(leakWatch.seen.Bytes(), []byte(s)) {
			return fmt.Errorf("secret #%d appeared in a response", i)
		}
	}
	var logs bytes.Buffer
	for _, p := range leakWatch.logs {
		b, _ := os.ReadFile(p)
		logs.Write(b)
	}
	if logs.Len() == 0 {
		return fmt.Errorf("no log lines were captured, so nothing was scanned")
	}
	if !bytes.Contains(logs.Bytes(), []byte(`"refused"`)) {
		return fmt.Errorf("the logs hold no refusal line, so the scan saw the wrong logs")
	}
	forbidden := map[string]string{
		"the SDK secret":           testSecret,
		"a password":               testPassword,
		"a basic-auth credential":  base64.StdEncoding.EncodeToString([]byte("host:" + testPassword)),
		"a basic-auth credential2": base64.StdEncoding.EncodeToString([]byte("attendee:" + testPassword)),
	}
	for i, s := range leakWatch.secrets {
		forbidden[fmt.Sprintf("secret #%d", i)] = s
	}
	for i, tok := range leakWatch.tokens {
		forbidden[fmt.Sprintf("signature #%d", i)] = tok
		// The HMAC part alone is as good as the token for a replay check.
		forbidden[fmt.Sprintf("signature #%d's HMAC", i)] = tok[strings.LastIndexByte(tok, '.')+1:]
	}
	if what := findAny(logs.Bytes(), forbidden); what != "" {
		return fmt.Errorf("%s appeared in the logs", what)
	}
	return nil
}

// findAny returns the name of a pattern found in hay, or "". Thousands of
// signatures are minted per run, so one bytes.Contains per pattern over
// megabytes of logs was quadratic (minutes under -race -count=3); this
// looks up each 16-byte window of hay in a map of pattern prefixes instead.
func findAny(hay []byte, patterns map[string]string) string {
	const k = 16
	byPrefix := map[string][]string{}
	for what, s := range patterns {
		switch {
		case s == "":
		case len(s) < k:
			if bytes.Contains(hay, []byte(s)) {
				return what
			}
		default:
			byPrefix[s[:k]] = append(byPrefix[s[:k]], what)
		}
	}
	for i := 0; i+k <= len(hay); i++ {
		for _, what := range byPrefix[string(hay[i:i+k])] {
			if bytes.HasPrefix(hay[i:], []byte(patterns[what])) {
				return what
			}
		}
	}
	return ""
}

// instance is one in-process Caddy, loaded from a Caddyfile.
type instance struct {
	t       *testing.T
	base    string
	admin   string
	edge    string
	logPath string
	client  *http.Client
	// password of the site users; testPassword when "".
	password string
}

// freePort returns a port nothing listens on, and never the same one twice
// in a test run: the kernel may hand a closed port out again at once, and
// Caddy listens with SO_REUSEPORT, so two of its servers given the same
// port would share it quietly (the admin API answering the site's
// requests with "404 page not found").
func freePort(t *testing.T) int {
	t.Helper()
	usedPorts.Lock()
	defer usedPorts.Unlock()
	for {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if !usedPorts.m[port] {
			usedPorts.m[port] = true
			return port
		}
	}
}

var usedPorts = struct {
	sync.Mutex
	m map[int]bool
}{m: map[int]bool{}}

var hashes sync.Map

func passwordHash(t *testing.T) string {
	if h, ok := hashes.Load(testPassword); ok {
		return h.(string)
	}
	b, err := bcrypt.GenerateFromPassword([]byte(testPassword), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	hashes.Store(testPassword, string(b))
	return string(b)
}

// startCaddy loads site (a Caddyfile site body) behind global options that
// keep everything on loopback and send every log line, at debug level, to
// a file the leak scan reads. {BACKEND}, {HASH} and {PORT} are filled in.
func startCaddy(t *testing.T, site string, backend string) *instance {
	t.Helper()
	return startCaddyWith(t, "", site, "", backend)
}

// startCaddyWith adds global options and more site blocks; {EDGE} in them
// is a second free port, served over plain HTTP.
func startCaddyWith(t *testing.T, global, site, extraSites, backend string) *instance {
	t.Helper()
	t.Setenv("ZS_TEST_SECRET", testSecret)
	port, adminPort, edgePort := freePort(t), freePort(t), freePort(t)
	// Not t.TempDir: the leak scan in TestMain reads the logs after every
	// test has finished.
	logPath := filepath.Join(logDir, fmt.Sprintf("caddy-%d.log", port))
	fill := strings.NewReplacer("{BACKEND}", backend, "{HASH}", passwordHash(t), "{PORT}", fmt.Sprint(port), "{EDGE}", fmt.Sprint(edgePort))
	site, global, extraSites = fill.Replace(site), fill.Replace(global), fill.Replace(extraSites)
	cfgText := fmt.Sprintf(`{
	admin 127.0.0.1:%d
	http_port %d
	auto_https off
	persist_config off
	log {
		output file %s
		level DEBUG
		format json
	}
	metrics
%s
}

http://127.0.0.1:%d {
	log
%s
}
%s
`, adminPort, port, logPath, global, port, site, extraSites)
	loadCaddyfile(t, cfgText, logPath)
	return &instance{
		t: t, base: fmt.Sprintf("http://127.0.0.1:%d", port), admin: fmt.Sprintf("http://127.0.0.1:%d", adminPort),
		edge:    fmt.Sprintf("http://127.0.0.1:%d", edgePort),
		logPath: logPath, client: &http.Client{Transport: &http.Transport{DisableCompression: true}},
	}
}

// loadCaddyfile adapts and loads a whole Caddyfile, whose logs go to
// logPath, and registers the logs for the leak scan.
func loadCaddyfile(t *testing.T, cfgText, logPath string) {
	t.Helper()
	cfg, warnings, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(cfgText), nil)
	if err != nil {
		t.Fatalf("adapting: %v\n%s", err, cfgText)
	}
	for _, w := range warnings {
		if !strings.Contains(w.Message, "not formatted") {
			t.Logf("adapt warning: %s", w)
		}
	}
	if err := caddy.Load(cfg, true); err != nil {
		t.Fatalf("loading: %v", err)
	}
	leakWatch.Lock()
	leakWatch.logs = append(leakWatch.logs, logPath)
	leakWatch.started = true
	leakWatch.Unlock()
}

// response is what a test request got back.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body is not JSON (%v): %s", err, r.body)
	}
	return m
}

// errorCode returns the first error code of a refusal, checking the shape.
func (r response) errorCode(t *testing.T) string {
	t.Helper()
	var e struct {
		Errors []struct{ Code, Property, Reason string } `json:"errors"`
	}
	if err := json.Unmarshal(r.body, &e); err != nil || len(e.Errors) == 0 {
		t.Fatalf("not an error body (%v): %s", err, r.body)
	}
	for _, p := range e.Errors {
		if p.Code == "" || p.Property == "" || p.Reason == "" {
			t.Fatalf("incomplete error: %+v", p)
		}
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("error Content-Type %q", ct)
	}
	return e.Errors[0].Code
}

// do sends a request as user (empty for none) and records what came back
// for the leak scan.
func (c *instance) do(method, path, user string, body string, hdr ...string) response {
	c.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if user != "" {
		req.SetBasicAuth(user, cmp.Or(c.password, testPassword))
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.client.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	watchResponse(b, resp.Header)
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// watchResponse records what a test received for the leak scan: no body or
// header may hold a secret, and no signature or ZAK in it may reach a log.
func watchResponse(body []byte, hdr http.Header) {
	leakWatch.Lock()
	defer leakWatch.Unlock()
	leakWatch.seen.Write(body)
	_ = hdr.Write(&leakWatch.seen)
	var sig struct {
		Signature string `json:"signature"`
		ZAK       string `json:"zak"`
		OBF       string `json:"obfToken"`
		Passcode  string `json:"passWord"`
		TK        string `json:"tk"`
	}
	if json.Unmarshal(body, &sig) == nil {
		for _, tok := range []string{sig.Signature, sig.ZAK, sig.OBF, sig.Passcode, sig.TK} {
			// Short values (a test's "x") would match by chance.
			if len(tok) >= 8 {
				leakWatch.tokens = append(leakWatch.tokens, tok)
			}
		}
	}
}

// backend is a real HTTP server standing in for the site's app. Its
// routes are chosen by the last path segment, so any Caddy prefix reaches
// them.
type backend struct {
	*httptest.Server
	hits       atomic.Int64
	mu         sync.Mutex
	lastHeader http.Header
}

const joinConfig = `{"meetingNumber": "857 4606 5432", "role": 0, "passWord": "pw", "userName": "Alice <a&b>", "leaveUrl": "/bye"}`

// largeJoinConfig is over 8 KiB, so the module writes it span by span:
// the meeting number to normalise stands between two stretches of a
// participants array.
var largeJoinConfig = `{"participants":[` + strings.Repeat(`{"id":"u1","name":"User \u00e9","tags":["a"]},`, 400) +
	`{}],"meetingNumber": "857 4606 5432","more":[` + strings.Repeat(`1.5,`, 2000) + `0],"role": 0}`

func newBackend(t *testing.T) *backend {
	b := &backend{}
	b.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.hits.Add(1)
		b.mu.Lock()
		b.lastHeader = r.Header.Clone()
		b.mu.Unlock()
		seg := r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:]
		h := w.Header()
		h.Set("Content-Type", "application/json; charset=utf-8")
		h.Set("Etag", `"v1"`)
		h.Set("Last-Modified", "Mon, 02 Jan 2006 15:04:05 GMT")
		h.Set("Accept-Ranges", "bytes")
		h.Set("Cache-Control", "public, max-age=3600")
		h.Set("X-Backend", "yes")
		switch seg {
		case "join-config":
			io.WriteString(w, joinConfig)
		case "host":
			io.WriteString(w, `{"meetingNumber":85746065432,"role":1}`)
		case "host-with-zak":
			io.WriteString(w, `{"meetingNumber":85746065432,"role":1,"zak":"backend-provided-zak"}`)
		case "host-string":
			io.WriteString(w, `{"meetingNumber":"85746065432","role":"1"}`)
		case "numeric":
			io.WriteString(w, `{"meetingNumber":8.5746065432e10,"role":0}`)
		case "other-meeting":
			io.WriteString(w, `{"meetingNumber":"99999999999","role":0}`)
		case "gzip":
			if !strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
				io.WriteString(w, `{"error":"the test expects the proxy to ask for gzip"}`)
				return
			}
			h.Set("Content-Encoding", "gzip")
			zw := gzip.NewWriter(w)
			io.WriteString(zw, joinConfig)
			zw.Close()
		case "forced-gzip":
			h.Set("Content-Encoding", "br")
			io.WriteString(w, "\x00\x01binary")
		case "not-found":
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"error":"no such meeting"}`)
		case "fail":
			w.WriteHeader(http.StatusInternalServerError)
			io.WriteString(w, `{"error":"backend down"}`)
		case "html":
			h.Set("Content-Type", "text/html; charset=utf-8")
			io.WriteString(w, `<html>{"meetingNumber":"85746065432"}</html>`)
		case "large":
			io.WriteString(w, largeJoinConfig)
		case "big":
			io.WriteString(w, `{"meetingNumber":"85746065432","role":0,"pad":"`+strings.Repeat("x", 70<<10)+`"}`)
		case "big-chunked":
			h.Del("Content-Length")
			io.WriteString(w, `{"meetingNumber":"85746065432","role":0,"pad":"`)
			w.(http.Flusher).Flush()
			for range 80 {
				io.WriteString(w, strings.Repeat("y", 1<<10))
			}
			io.WriteString(w, `"}`)
		case "malformed":
			io.WriteString(w, `{"meetingNumber":"85746065432",`)
		case "array":
			io.WriteString(w, `[{"meetingNumber":"85746065432"}]`)
		case "no-meeting":
			io.WriteString(w, `{"role":0,"passWord":"pw"}`)
		case "undefined":
			io.WriteString(w, `{"meetingNumber":"undefined","role":0}`)
		case "short":
			io.WriteString(w, `{"meetingNumber":"12345","role":0}`)
		case "bad-role":
			io.WriteString(w, `{"meetingNumber":"85746065432","role":2}`)
		case "empty":
			w.WriteHeader(http.StatusNoContent)
		case "video":
			io.WriteString(w, `{"sessionName":"Cool Cars","role":0,"userIdentity":"user123"}`)
		default:
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"error":"unknown route"}`)
		}
	}))
	t.Cleanup(b.Close)
	return b
}

func (b *backend) header() http.Header {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.lastHeader
}

func TestFindAny(t *testing.T) {
	tok := "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLXBhcnQtb2YtYS1qd3Q"
	pats := map[string]string{
		"token":  tok,
		"hmac":   tok[strings.LastIndexByte(tok, '.')+1:],
		"short":  "pw-42",
		"shared": tok[:20] + "different-tail", // same 16-byte prefix as the token
		"empty":  "",
	}
	for _, c := range []struct{ hay, want string }{
		{`{"msg":"ok"}`, ""},
		{`{"reason":"x pw-42 y"}`, "short"},
		{`{"sig":"` + tok[strings.LastIndexByte(tok, '.')+1:] + `"}`, "hmac"},
		{tok[:20] + "different-tail", "shared"},
		{tok[:len(tok)-1], ""}, // a prefix of a pattern is not a leak
		{"c2lnbmF0dXJlLXBhcnQtb2YtYS1qd3", ""},
	} {
		got := findAny([]byte(c.hay), pats)
		if got != c.want && !(c.want == "hmac" && got == "token") {
			t.Errorf("findAny(%q) = %q, want %q", c.hay, got, c.want)
		}
	}
	if got := findAny([]byte("log "+tok), pats); got != "token" && got != "hmac" {
		t.Errorf("a whole token at the end of the logs: %q", got)
	}
}
