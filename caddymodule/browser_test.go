package caddymodule

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/golang-jwt/jwt/v5"

	"github.com/zoomsig/caddy-zoom-signature/caddymodule/signature"
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/zoomapi/zoomtest"
)

// The browser suite drives Debian's Chromium with the real Zoom Meeting SDK
// (from the npm registry, unpacked by "make sdk"). Zoom itself cannot be
// reached, so zoom.us resolves to standIn, which checks a signature the way
// Zoom's join endpoint does and answers in its shape; the SDK turns the
// answer into its own error codes (3712 for an invalid signature, 3705 for
// an expired one). Past the signature, it checks the meeting as Zoom does,
// against the meetings of the Zoom fake's account; an anonymous join of a
// meeting outside the account goes on to a stand-in meeting server (RWG),
// which refuses it, as Zoom's does.

// browserNeeds finds Chromium and the SDK. Without them the suite is
// skipped with the command that installs them, except under CI=true, where
// a missing piece is a failure.
func browserNeeds(t *testing.T) (chromium, sdkDir string) {
	t.Helper()
	missing := func(what string) {
		msg := what + " is missing; run `go run ./cmd/testall` from the repository root to fetch and install it"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	chromium = os.Getenv("ZS_CHROMIUM")
	if chromium == "" {
		if p, err := exec.LookPath("chromium"); err == nil {
			chromium = p
		} else {
			missing("Debian's chromium")
		}
	}
	sdkDir, _ = filepath.Abs("../.cache/meetingsdk/package/dist")
	if _, err := os.Stat(filepath.Join(sdkDir, "zoom-meeting-embedded-ES5.min.js")); err != nil {
		missing("the Zoom Meeting SDK (@zoom/meetingsdk)")
	}
	return chromium, sdkDir
}

// standIn plays zoom.us/api/v1/wc/info.
type standIn struct {
	*httptest.Server
	mu       sync.Mutex
	received []url2
	account  map[string]zoomtest.Meeting // the app's account, as addMeeting gave it to the Zoom fake
}

type url2 struct {
	signature, apiKey, meetingNumber, zak, verdict string
	passcode, userEmail, tk, obfToken              string
}

// The stand-in's verdicts. wc/info answers the first with Zoom's code 200,
// whose text the SDK maps, and registration with code 3099; it lets an
// anonymous join of an external meeting through to the meeting server,
// which refuses it with 13296.
const (
	standInAccepted     = "stand-in: signature accepted"
	standInRegistration = "stand-in: registration required"
	standInToRWG        = "stand-in: on to the meeting server"
	standInAnonymous    = "stand-in: anonymous join to an external meeting"
)

func newStandIn(t *testing.T, key, secret, sdkDir string) *standIn {
	s := &standIn{account: map[string]zoomtest.Meeting{}}
	s.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if origin := r.Header.Get("Origin"); origin != "" {
			w.Header().Set("Access-Control-Allow-Origin", origin)
			w.Header().Set("Access-Control-Allow-Credentials", "true")
		}
		if r.Method == http.MethodOptions {
			w.Header().Set("Access-Control-Allow-Headers", r.Header.Get("Access-Control-Request-Headers"))
			w.WriteHeader(http.StatusNoContent)
			return
		}
		if r.Host == "source.zoom.us" {
			// Zoom's CDN, for the Client View: the same npm package.
			p := strings.TrimPrefix(r.URL.Path, "/6.2.0")
			w.Header().Set("Cross-Origin-Resource-Policy", "cross-origin")
			http.ServeFile(w, r, filepath.Join(sdkDir, filepath.FromSlash(path.Clean(p))))
			return
		}
		switch {
		case strings.HasPrefix(r.URL.Path, "/wc/ping/"):
			// Zoom's RWC names the meeting server to connect to.
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"rwg":"zoom.us","rwcAuth":"stand-in-rwc-auth"}`)
			return
		case strings.HasPrefix(r.URL.Path, "/wc/api/"):
			s.rwg(w, r)
			return
		case r.URL.Path != "/api/v1/wc/info":
			http.NotFound(w, r)
			return
		}
		_ = r.ParseForm()
		got := url2{signature: r.PostForm.Get("signature"), apiKey: r.PostForm.Get("apiKey"),
			meetingNumber: r.PostForm.Get("meetingNumber"), zak: r.PostForm.Get("zsk"), // the SDK sends the ZAK as zsk
			userEmail: r.PostForm.Get("userEmail"), tk: r.PostForm.Get("tk")}
		// The Client View URI-encodes the OBF token too.
		got.obfToken, _ = url.QueryUnescape(r.PostForm.Get("obfToken"))
		// The SDK URI-encodes the passcode before the form encodes it
		// again; Zoom decodes both.
		got.passcode, _ = url.QueryUnescape(r.PostForm.Get("passWord"))
		code := 200
		got.verdict = judge(got, key, secret)
		s.mu.Lock()
		if got.verdict == standInAccepted {
			code, got.verdict = s.admit(got)
		}
		s.received = append(s.received, got)
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if got.verdict == standInToRWG {
			// What the SDK needs to find the meeting server: the RWC to
			// ask (encryptedRWC, a JSON object of host and token, as a
			// string) and the meeting's ids.
			rwc, _ := json.Marshal(map[string]string{"zoom.us": "stand-in-rwc-token"})
			_ = json.NewEncoder(w).Encode(map[string]any{"status": true, "errorCode": 0, "result": map[string]any{
				"mid": "stand-in-mid", "meetingNumber": got.meetingNumber, "userName": r.PostForm.Get("userName"),
				"ts": fmt.Sprint(time.Now().UnixMilli()), "auth": "stand-in-auth", "sign": "stand-in-sign",
				"encryptedRWC": string(rwc), "meetingOptions": "{}", "isWebinar": "0"}})
			return
		}
		fmt.Fprintf(w, `{"status":false,"errorCode":%d,"errorMessage":%q}`, code, got.verdict)
	}))
	t.Cleanup(s.Close)
	return s
}

// judge checks what Zoom checks, with golang-jwt rather than our own code:
// HS256 with the secret, appKey, mn against the meeting number sent, and
// the times. Its messages are Zoom's, which the SDK maps to its codes.
func judge(r url2, key, secret string) string {
	claims := jwt.MapClaims{}
	_, err := jwt.NewParser(jwt.WithValidMethods([]string{"HS256"}), jwt.WithoutClaimsValidation()).
		ParseWithClaims(r.signature, claims, func(*jwt.Token) (any, error) { return []byte(secret), nil })
	switch {
	case err != nil:
		return "Invalid signature."
	case claims["appKey"] != key:
		return "Invalid signature."
	}
	mn, _ := signature.ParseMeetingNumber(fmt.Sprint(claims["mn"]))
	if n, ok := claims["mn"].(float64); ok {
		mn, _ = signature.MeetingNumberFromFloat(n)
	}
	if mn.Digits == "" || mn.Digits != r.meetingNumber {
		return "The meeting number is wrong."
	}
	now := float64(time.Now().Unix())
	exp, _ := claims["exp"].(float64)
	iat, _ := claims["iat"].(float64)
	if exp <= now {
		return "The signature has expired."
	}
	if iat > now+5 || exp-iat < 1800 || exp-iat > 172800 {
		return "Invalid signature."
	}
	return standInAccepted
}

// addMeeting gives the app's account a meeting, at the Zoom fake's REST
// API and here, so that the two Zooms agree on it.
func (s *standIn) addMeeting(z *zoomtest.Server, id string, m zoomtest.Meeting) {
	z.AddMeeting(id, m)
	s.mu.Lock()
	s.account[id] = m
	s.mu.Unlock()
}

// admit checks what wc/info checks of a join whose signature holds. A
// meeting that requires registration needs the registrant's tk: server
// code 3099, which the 6.2.0 SDK shows as 3099. A meeting outside the
// account needs the host's ZAK or an OBF token since 2026-03-02, and
// the Component View sends the OBF token to the meeting server only, so a
// join that sent wc/info neither goes on to it (see rwg). s.mu is held.
func (s *standIn) admit(r url2) (code int, verdict string) {
	m, own := s.account[r.meetingNumber]
	switch {
	case own && m.Approval != 2 && r.tk == "" && r.zak == "":
		return 3099, standInRegistration
	case !own && r.zak == "" && r.obfToken == "":
		return 0, standInToRWG
	}
	return 200, standInAccepted
}

// rwg plays Zoom's meeting server (RWG), which the SDK reaches over a
// WebSocket once wc/info lets a join through and the RWC ping names it. It
// says READY (evt 0), reads the launch parameters (evt 4301), and answers
// the join (evt 4098) with res 13296, an anonymous join of another
// account's meeting, when they carry neither an OBF token nor a ZAK. The
// 6.2.0 SDK maps that code, as it does the RWG's others, to 4012; wc/info
// answering 13296 would be only a 200, "Fail to join". It plays no
// meeting: a join with credentials is left unanswered.
func (s *standIn) rwg(w http.ResponseWriter, r *http.Request) {
	ws, err := acceptWebSocket(w, r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	defer ws.Close()
	if err := ws.writeText(`{"evt":0,"body":{"status":"READY"},"seq":0}`); err != nil {
		return
	}
	for {
		msg, err := ws.readText()
		if err != nil {
			return
		}
		var m struct {
			Evt  int `json:"evt"`
			Body struct {
				OBFToken string `json:"obfToken"`
				ZAK      string `json:"zak"`
				TK       string `json:"tk"`
			} `json:"body"`
		}
		if json.Unmarshal(msg, &m) != nil || m.Evt != 4301 {
			continue
		}
		got := url2{meetingNumber: path.Base(r.URL.Path), obfToken: m.Body.OBFToken, zak: m.Body.ZAK, tk: m.Body.TK}
		if got.obfToken == "" && got.zak == "" {
			got.verdict = standInAnonymous
		}
		s.mu.Lock()
		s.received = append(s.received, got)
		s.mu.Unlock()
		if got.verdict == standInAnonymous {
			_ = ws.writeText(`{"evt":4098,"body":{"res":13296},"seq":1}`)
		}
	}
}

// webSocket is the server end of a WebSocket (RFC 6455), as much as the
// rwg stand-in needs: unfragmented text frames, no extensions.
type webSocket struct {
	net.Conn
	rw *bufio.ReadWriter
}

func acceptWebSocket(w http.ResponseWriter, r *http.Request) (*webSocket, error) {
	key := r.Header.Get("Sec-WebSocket-Key")
	if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") || key == "" {
		return nil, errors.New("not a WebSocket request")
	}
	conn, rw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return nil, err
	}
	sum := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	fmt.Fprintf(rw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
		base64.StdEncoding.EncodeToString(sum[:]))
	return &webSocket{conn, rw}, rw.Flush()
}

func (ws *webSocket) writeText(msg string) error {
	hdr := []byte{0x81} // FIN, text
	switch n := len(msg); {
	case n < 126:
		hdr = append(hdr, byte(n))
	case n < 1<<16:
		hdr = append(hdr, 126, byte(n>>8), byte(n))
	default:
		hdr = binary.BigEndian.AppendUint64(append(hdr, 127), uint64(n))
	}
	ws.rw.Write(hdr)
	ws.rw.WriteString(msg)
	return ws.rw.Flush()
}

// readText reads the next data frame, unmasked; a close frame or a broken
// connection is an error.
func (ws *webSocket) readText() ([]byte, error) {
	for {
		var h [2]byte
		if _, err := io.ReadFull(ws.rw, h[:]); err != nil {
			return nil, err
		}
		n := uint64(h[1] & 0x7f)
		switch n {
		case 126:
			var b [2]byte
			if _, err := io.ReadFull(ws.rw, b[:]); err != nil {
				return nil, err
			}
			n = uint64(binary.BigEndian.Uint16(b[:]))
		case 127:
			var b [8]byte
			if _, err := io.ReadFull(ws.rw, b[:]); err != nil {
				return nil, err
			}
			n = binary.BigEndian.Uint64(b[:])
		}
		if n > 1<<20 {
			return nil, fmt.Errorf("frame of %d bytes", n)
		}
		var mask [4]byte
		if h[1]&0x80 != 0 {
			if _, err := io.ReadFull(ws.rw, mask[:]); err != nil {
				return nil, err
			}
		}
		msg := make([]byte, n)
		if _, err := io.ReadFull(ws.rw, msg); err != nil {
			return nil, err
		}
		for i := range msg {
			msg[i] ^= mask[i%4]
		}
		switch h[0] & 0x0f {
		case 0x8:
			return nil, io.EOF
		case 0x1, 0x2:
			return msg, nil
		}
	}
}

// since returns what the stand-in received after its first n requests.
func (s *standIn) since(n int) []url2 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]url2(nil), s.received[min(n, len(s.received)):]...)
}

func (s *standIn) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.received)
}

func (s *standIn) last() url2 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.received) == 0 {
		return url2{}
	}
	return s.received[len(s.received)-1]
}

// badBackend hands out join configs signed wrongly, with no module in
// front, to show the browser test can fail.
func badBackend(t *testing.T, key, secret string) *httptest.Server {
	s, _ := signature.NewSigner(key, secret)
	wrong, _ := signature.NewSigner(key, "not-the-secret-of-this-app")
	mn := signature.MeetingNumber{Digits: "85746065432"}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var tok string
		switch {
		case strings.HasSuffix(r.URL.Path, "/expired"):
			tok, _ = s.Meeting(signature.Meeting{MeetingNumber: mn, IssuedAt: time.Now().Add(-3 * time.Hour).Unix(), ExpiresIn: 7200})
		default:
			tok, _ = wrong.Meeting(signature.Meeting{MeetingNumber: mn, IssuedAt: time.Now().Unix() - 30, ExpiresIn: 7200})
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"meetingNumber":"85746065432","role":0,"userName":"x","signature":%q,"sdkKey":%q}`, tok, key)
	}))
	t.Cleanup(srv.Close)
	return srv
}

var browserSite = `{
	admin off
	auto_https off
	persist_config off
	log {
		output file {LOG}
		level DEBUG
		format json
	}
	servers {
		trusted_proxies static private_ranges
	}
	storage file_system {STORAGE}
	` + obfApp + `
}

(backend) {
	header Content-Type application/json
	@host query role=1
	@traveler vars {http.auth.user.id} traveler nomad
	respond @traveler ` + "`" + `{"meetingNumber":"811 1111 1111","role":0,"passWord":"","userName":"{http.auth.user.id}","leaveUrl":"/"}` + "`" + `
	respond @host ` + "`" + `{"meetingNumber":"857 4606 5432","role":1,"passWord":"","userName":"{http.auth.user.id}","leaveUrl":"/"}` + "`" + `
	respond ` + "`" + `{"meetingNumber":"857 4606 5432","role":0,"passWord":"","userName":"{http.auth.user.id}","leaveUrl":"/"}` + "`" + `
}

http://:{PORT} {
	basic_auth /api/join-config {
		attendee {HASH}
		host {HASH}
		traveler {HASH}
		nomad {HASH}
	}
	zoom_signature /api/join-config {
		sdk_key ` + testKey + `
		sdk_secret {env.ZS_TEST_SECRET}
		host_when {http.auth.user.id} host
		url_fields leaveUrl
		zak {
			field zak
		}
		require_zak_for_host
		` + obfStep("") + `
	}
	basic_auth /zoom/connect/* {
		traveler {HASH}
		nomad {HASH}
	}
	# In a handle of its own: zoom_connect ends the route, so it comes
	# after handle blocks, where the site's catch-all handle below would
	# serve its paths.
	handle /zoom/connect/* {
		zoom_connect {
			done_url /joined
		}
	}
	handle /api/join-config {
		import backend
	}
	basic_auth /api/helpers/join-config {
		attendee {HASH}
	}
	zoom_signature /api/helpers/join-config {
		sdk_key ` + testKey + `
		sdk_secret {env.ZS_TEST_SECRET}
		passcode fill
		registrant {
			email {http.auth.user.id}@example.com
		}
	}
	handle /api/helpers/join-config {
		header Content-Type application/json
		respond ` + "`" + `{"meetingNumber":"912 3456 7890","role":0,"passWord":"","userName":"{http.auth.user.id}"}` + "`" + `
	}
	# A handler the join doctor diagnoses, with no registrant step, and
	# OBF tokens only where its backend asks for them (it never does).
	@doctored path /api/doctored/join-config /zoom/doctor
	basic_auth @doctored {
		attendee {HASH}
		nomad {HASH}
	}
	zoom_signature /api/doctored/join-config {
		name doctored
		sdk_key ` + testKey + `
		sdk_secret {env.ZS_TEST_SECRET}
		` + obfStep("when backend") + `
	}
	handle /api/doctored/join-config {
		header Content-Type application/json
		@nomad vars {http.auth.user.id} nomad
		respond @nomad ` + "`" + `{"meetingNumber":"811 1111 1111","role":0,"passWord":"","userName":"{http.auth.user.id}"}` + "`" + `
		respond ` + "`" + `{"meetingNumber":"933 3333 3333","role":0,"passWord":"","userName":"{http.auth.user.id}"}` + "`" + `
	}
	handle /zoom/doctor {
		zoom_doctor doctored
	}
	basic_auth /api/backend/join-config {
		attendee {HASH}
		host {HASH}
		traveler {HASH}
		nomad {HASH}
	}
	handle /api/backend/join-config {
		import backend
	}
	handle_errors 401 {
		header -Www-Authenticate
		header Content-Type application/json
		respond ` + "`" + `{"errors":[{"code":"unauthenticated","property":"session","reason":"wrong user name or password"}]}` + "`" + ` 401
	}
	zoom_signature /api/signature {
		mode endpoint
		sdk_key ` + testKey + `
		sdk_secret {env.ZS_TEST_SECRET}
		meetings any
		allow_anonymous
		public_origin http://*.tunnel.test:{EDGE}
	}
	handle /bad/* {
		reverse_proxy {BAD}
	}
	handle_path /sdk/* {
		root * {SDK}
		file_server
	}
	@sdkpage path /component.html
	header @sdkpage {
		Cross-Origin-Opener-Policy same-origin
		Cross-Origin-Embedder-Policy require-corp
		Cross-Origin-Resource-Policy same-origin
	}
	handle {
		root * {WEB}
		file_server
	}
}

# The tunnel edge, as ngrok or cloudflared run it: the public host passes
# through, with X-Forwarded-For, -Proto and -Host added.
http://:{EDGE} {
	reverse_proxy 127.0.0.1:{PORT}
}
`

func TestBrowser(t *testing.T) {
	chromium, sdkDir := browserNeeds(t)
	start := time.Now()
	t.Setenv("ZS_TEST_SECRET", testSecret)
	z := newZoomFake(t)
	stand := newStandIn(t, testKey, testSecret, sdkDir)
	bad := badBackend(t, testKey, testSecret)
	web, _ := filepath.Abs("../examples/web")
	port, edge := freePort(t), freePort(t)
	logPath := filepath.Join(logDir, fmt.Sprintf("browser-%d.log", port))
	// The account's own meeting, and a traveller whose Zoom account lives
	// elsewhere, for the external meeting 811 1111 1111.
	stand.addMeeting(z, "85746065432", zoomtest.Meeting{Approval: 2})
	z.AddZoomUser(zoomtest.ZoomUser{ID: "zu-traveler", Email: "traveler@elsewhere.example"})
	t.Setenv("ZS_OAUTH_CLIENT", z.App.ClientID)
	t.Setenv("ZS_OAUTH_SECRET", z.App.ClientSecret)
	t.Setenv("ZS_GRANT_KEY", base64Std("0123456789abcdef0123456789abcdef"))
	cfg := strings.NewReplacer("{PORT}", fmt.Sprint(port), "{EDGE}", fmt.Sprint(edge), "{LOG}", logPath, "{HASH}", passwordHash(t),
		"{ZOOM}", z.URL, "{BAD}", bad.URL, "{SDK}", sdkDir, "{WEB}", web, "{STORAGE}", t.TempDir()).Replace(browserSite)
	loadCaddyfile(t, cfg, logPath)

	standPort := stand.Listener.Addr().(*net.TCPAddr).Port
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("ignore-certificate-errors", true), // the stand-in's self-signed certificate
		chromedp.Flag("host-resolver-rules", fmt.Sprintf("MAP zoom.us 127.0.0.1:%d, MAP source.zoom.us 127.0.0.1:%d, MAP *.tunnel.test 127.0.0.1, MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1", standPort, standPort)),
		chromedp.UserDataDir(t.TempDir()),
	}
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()

	// Every response the page receives is paused at the response stage
	// (Fetch domain), its body scanned for the secrets, and then let go. A
	// body read later from the Network domain is gone once the page navigates
	// away, so the scan has to happen while the response is held.
	var mu sync.Mutex
	var console []string
	scanned := map[string]int{} // path -> bodies scanned
	var scanErrs []string
	secrets := []string{testSecret, z.ClientSecret}
	scan := func(e *fetch.EventRequestPaused) {
		// The browser may already be gone at the end of the suite, so the
		// answers to these protocol calls are not checked.
		if e.ResponseErrorReason != "" || (e.ResponseStatusCode >= 300 && e.ResponseStatusCode < 400) {
			_, _ = chromedp.Call(ctx, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: e.RequestID})
			return // no body to read
		}
		body, err := chromedp.Call(ctx, fetch.GetResponseBody, fetch.GetResponseBodyParams{RequestID: e.RequestID})
		u, _ := url.Parse(e.Request.URL)
		mu.Lock()
		if err != nil {
			// A request the page cancelled (by navigating away) has no body
			// to read; any other unread body is kept from the page, so
			// nothing unscanned reaches it.
			console = append(console, fmt.Sprintf("unscanned, so failed: %s: %v", u.Path, err))
			mu.Unlock()
			_, _ = chromedp.Call(ctx, fetch.FailRequest, fetch.FailRequestParams{RequestID: e.RequestID, ErrorReason: network.ErrorReasonFailed})
			return
		}
		for _, secret := range secrets {
			if bytes.Contains(body.Body, []byte(secret)) {
				scanErrs = append(scanErrs, "the response body of "+u.Path+" held a secret")
			}
		}
		scanned[u.Host+u.Path]++
		mu.Unlock()
		_, _ = chromedp.Call(ctx, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: e.RequestID})
	}
	if err := chromedp.Listen(ctx, func(ev any) {
		switch e := ev.(type) {
		case *fetch.EventRequestPaused:
			go scan(e) // a listener must not block on a protocol call
			return
		}
		mu.Lock()
		defer mu.Unlock()
		switch e := ev.(type) {
		case *network.EventLoadingFailed:
			console = append(console, "load failed: "+e.ErrorText+" "+string(e.BlockedReason))
		case *runtime.EventConsoleAPICalled:
			line := string(e.Type) + ":"
			for _, a := range e.Args {
				line += " " + string(a.Value)
			}
			console = append(console, line)
		case *runtime.EventExceptionThrown:
			console = append(console, "exception: "+e.ExceptionDetails.Text+" "+e.ExceptionDetails.Exception.Description)
		}
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, fetch.Enable, fetch.EnableParams{
		Patterns: []*fetch.RequestPattern{{URLPattern: "*", RequestStage: fetch.RequestStageResponse}},
	}); err != nil {
		t.Fatal(err)
	}

	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	open := func(t *testing.T, u string) {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.Navigate(u)); err != nil {
			t.Fatalf("opening %s: %v", u, err)
		}
	}
	type joinResult struct {
		Status int            `json:"status"`
		Config map[string]any `json:"config"`
		Join   *struct {
			OK        bool   `json:"ok"`
			Reason    string `json:"reason"`
			ErrorCode int    `json:"errorCode"`
		} `json:"join"`
	}
	join := func(t *testing.T, args string) joinResult {
		t.Helper()
		jctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		res, err := chromedp.Run(jctx, chromedp.Evaluate[joinResult](`zsJoin(`+args+`)`, chromedp.EvalAwaitPromise))
		if err != nil {
			mu.Lock()
			lines := strings.Join(console, "\n")
			mu.Unlock()
			t.Fatalf("zsJoin(%s): %v\nconsole:\n%s", args, err, lines)
		}
		return res
	}

	t.Run("attendee joins with our signature", func(t *testing.T) {
		open(t, base+"/component.html")
		res := join(t, `{user: 'attendee', password: '`+testPassword+`'}`)
		if res.Status != 200 || res.Join == nil {
			t.Fatalf("%+v", res)
		}
		got := stand.last()
		if got.signature != res.Config["signature"] || got.verdict != standInAccepted || got.apiKey != testKey || got.meetingNumber != "85746065432" {
			t.Fatalf("stand-in received %+v; the page had %v", got, res.Config["signature"])
		}
		// The SDK reports the stand-in's non-signature verdict as a plain failure.
		if res.Join.OK || res.Join.ErrorCode == 3712 || res.Join.ErrorCode == 3705 {
			t.Fatalf("join %+v", res.Join)
		}
	})

	t.Run("bad signatures are reported by the SDK", func(t *testing.T) {
		for path, want := range map[string]struct {
			code   int
			reason string
		}{
			"/bad/expired": {3705, "The signature has expired."},
			"/bad/wrong":   {3712, "Signature is invalid."},
		} {
			res := join(t, `{config: '`+path+`'}`)
			if res.Join == nil || res.Join.ErrorCode != want.code || res.Join.Reason != want.reason {
				t.Errorf("%s: %+v", path, res.Join)
			}
		}
	})

	t.Run("host with ZAK, attendee refused", func(t *testing.T) {
		res := join(t, `{user: 'host', password: '`+testPassword+`', role: 1}`)
		if res.Status != 200 || res.Config["zak"] != z.LastZAK("host") {
			t.Fatalf("host: %+v", res)
		}
		if got := stand.last(); got.verdict != standInAccepted || got.zak != z.LastZAK("host") {
			t.Fatalf("stand-in received %+v", got)
		}
		res = join(t, `{user: 'attendee', password: '`+testPassword+`', role: 1}`)
		if res.Status != 403 || res.Join != nil {
			t.Fatalf("attendee as host: %+v", res)
		}
	})

	t.Run("passcode and registrant from Zoom reach the SDK", func(t *testing.T) {
		const passcode = "pc+Rg/7=x&1Q" // characters the SDK and the form both encode
		stand.addMeeting(z, "91234567890", zoomtest.Meeting{Passcode: passcode, Approval: 0})
		open(t, base+"/component.html")
		res := join(t, `{config: '/api/helpers/join-config', user: 'attendee', password: '`+testPassword+`'}`)
		tk := z.Registrant("91234567890", "attendee@example.com")
		if res.Status != 200 || res.Config["passWord"] != passcode || tk == "" || res.Config["tk"] != tk || res.Config["userEmail"] != "attendee@example.com" {
			t.Fatalf("join config %+v (the fake registered tk %q)", res, tk)
		}
		got := stand.last()
		if got.verdict != standInAccepted || got.meetingNumber != "91234567890" || got.passcode != passcode || got.tk != tk || got.userEmail != "attendee@example.com" {
			t.Fatalf("stand-in received %+v", got)
		}
	})

	t.Run("cross-origin isolation on the SDK page only", func(t *testing.T) {
		iso, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`self.crossOriginIsolated`))
		if err != nil || !iso {
			t.Fatalf("component.html: crossOriginIsolated %v %v", iso, err)
		}
		open(t, base+"/")
		if iso, err = chromedp.Run(ctx, chromedp.Evaluate[bool](`self.crossOriginIsolated`)); err != nil || iso {
			t.Fatalf("index.html: crossOriginIsolated %v %v", iso, err)
		}
	})

	t.Run("the demo page shows the module's work", func(t *testing.T) {
		open(t, base+"/")
		submit := func(user, password string, host bool) {
			t.Helper()
			button := "get-attendee"
			if host {
				button = "get-host"
			}
			js := fmt.Sprintf(`(async () => {
				const $ = id => document.getElementById(id);
				$('user').value = %q; $('password').value = %q; $('status').textContent = '';
				$(%q).click();
				for (let i = 0; i < 400 && $('status').textContent === ''; i++) await new Promise(r => setTimeout(r, 25));
				return $('status').textContent;
			})()`, user, password, button)
			if got, err := chromedp.Run(ctx, chromedp.Evaluate[string](js, chromedp.EvalAwaitPromise)); err != nil || got == "" {
				t.Fatalf("submit: %q %v", got, err)
			}
		}
		state := func() map[string]any {
			t.Helper()
			res, err := chromedp.Run(ctx, chromedp.Evaluate[map[string]any](`(() => {
				const vis = id => { const e = document.getElementById(id); const r = e.getBoundingClientRect();
					return r.width > 0 && r.height > 0 && getComputedStyle(e).visibility !== 'hidden' && !e.hidden; };
				return {status: document.getElementById('status').textContent, cls: document.getElementById('status').className,
					backend: document.getElementById('backend').textContent, config: document.getElementById('config').textContent,
					added: [...document.querySelectorAll('#config .added')].map(e => e.textContent.trim()).join(' '),
					changed: [...document.querySelectorAll('#config .changed')].map(e => e.textContent.trim()).join(' '),
					claims: document.getElementById('claims').textContent,
					visible: ['status', 'backend', 'config', 'claims', 'signin'].every(vis)};
			})()`))
			if err != nil {
				t.Fatal(err)
			}
			return res
		}
		// A wrong password: the page's own message, no browser prompt.
		submit("attendee", "wrong", false)
		if st := state(); st["cls"] != "error" || !strings.Contains(st["status"].(string), "wrong user name or password") {
			t.Fatalf("wrong password: %v", st)
		}
		if h, err := chromedp.Run(ctx, chromedp.Evaluate[any](`(async () => (await fetch('/api/join-config',
			{headers: {Authorization: 'Basic ' + btoa('attendee:wrong')}})).headers.get('www-authenticate'))()`, chromedp.EvalAwaitPromise)); err != nil || h != nil {
			t.Fatalf("a 401 asks the browser for credentials: %v %v", h, err)
		}
		// Signed: what the backend sent beside what the module wrote.
		submit("attendee", testPassword, false)
		st := state()
		if st["cls"] != "ok" || !strings.Contains(st["status"].(string), "Signed") || st["visible"] != true ||
			!strings.Contains(st["backend"].(string), `"857 4606 5432"`) || !strings.Contains(st["added"].(string), `"signature"`) ||
			!strings.Contains(st["changed"].(string), `"meetingNumber": "85746065432"`) ||
			!strings.Contains(st["claims"].(string), "lifetime") || !strings.Contains(st["claims"].(string), `{"alg":"HS256","typ":"JWT"}`) {
			t.Fatalf("signed: %v", st)
		}
		shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil || len(shot) < 10_000 {
			t.Fatalf("screenshot: %d bytes, %v", len(shot), err)
		}
		if dir := os.Getenv("ZS_SCREENSHOTS"); dir != "" {
			_ = os.WriteFile(filepath.Join(dir, "demo-signed.png"), shot, 0o644)
		}
		// A refusal, in the error style, with its code.
		submit("attendee", testPassword, true)
		if st := state(); st["cls"] != "error" || !strings.Contains(st["status"].(string), "host_not_allowed") {
			t.Fatalf("attendee as host: %v", st)
		}
		if dir := os.Getenv("ZS_SCREENSHOTS"); dir != "" {
			shot, _ = chromedp.Run(ctx, chromedp.FullScreenshot(100))
			_ = os.WriteFile(filepath.Join(dir, "demo-refused.png"), shot, 0o644)
		}
	})

	t.Run("external meeting: OBF through the Client View, or a clear refusal", func(t *testing.T) {
		// traveler connects a Zoom account of another account (the
		// connect flow over HTTP; its browser side is the integration
		// suite's); nomad does not.
		e := obfEnv{c: &instance{t: t, base: base, client: http.DefaultClient}, z: z}
		e.connect(t, "traveler", "zu-traveler")
		open(t, base+"/")
		signIn := func(user string) map[string]any {
			t.Helper()
			js := fmt.Sprintf(`(async () => {
				const $ = id => document.getElementById(id);
				if (![...$('user').options].some(o => o.value === %[1]q)) $('user').add(new Option(%[1]q));
				$('user').value = %[1]q; $('password').value = %[2]q; $('status').textContent = '';
				$('get-attendee').click();
				for (let i = 0; i < 400 && $('status').textContent === ''; i++) await new Promise(r => setTimeout(r, 25));
				const link = $('connect');
				const r = link ? link.getBoundingClientRect() : null;
				let config = {};
				try { config = JSON.parse($('config').textContent); } catch {}
				return {status: $('status').textContent, cls: $('status').className, config,
					link: link ? link.getAttribute('href') : '', linkVisible: !!r && r.width > 0 && r.height > 0};
			})()`, user, testPassword)
			res, err := chromedp.Run(ctx, chromedp.Evaluate[map[string]any](js, chromedp.EvalAwaitPromise))
			if err != nil {
				t.Fatal(err)
			}
			return res
		}
		st := signIn("nomad")
		if st["cls"] != "error" || !strings.Contains(st["status"].(string), "zoom_not_connected") || st["link"] != "/zoom/connect/start" || st["linkVisible"] != true {
			t.Fatalf("unconnected: %v", st)
		}
		if dir := os.Getenv("ZS_SCREENSHOTS"); dir != "" {
			shot, _ := chromedp.Run(ctx, chromedp.FullScreenshot(100))
			_ = os.WriteFile(filepath.Join(dir, "demo-connect.png"), shot, 0o644)
		}
		st = signIn("traveler")
		cfg, _ := st["config"].(map[string]any)
		tok, _ := cfg["obfToken"].(string)
		if info, ok := z.OBF(tok); st["cls"] != "ok" || !strings.Contains(st["status"].(string), "OBF token") || !ok || info.Meeting != "81111111111" || info.User != "zu-traveler" || cfg["zak"] != nil {
			t.Fatalf("connected: %v (%+v)", st, info)
		}
		// Join with Zoom's Client View, as the page does, from the
		// stand-in CDN: the wc/info stand-in sees the OBF token as the SDK
		// sends it.
		got, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(async () => {
			const $ = id => document.getElementById(id);
			$('join-status').textContent = '';
			$('join').click();
			for (let i = 0; i < 1200 && $('join-status').textContent === ''; i++) await new Promise(r => setTimeout(r, 25));
			return $('join-status').textContent;
		})()`, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatal(err)
		}
		last := stand.last()
		if last.obfToken != tok || last.meetingNumber != "81111111111" || last.verdict != standInAccepted || last.zak != "" {
			mu.Lock()
			lines := strings.Join(console, "\n")
			mu.Unlock()
			t.Fatalf("stand-in received %+v; the page says %q; console:\n%s", last, got, lines)
		}
	})

	t.Run("the join doctor explains a failed join", func(t *testing.T) {
		// 93333333333 is the account's and requires registration, which
		// the handler does not do; 81111111111 is another account's, and
		// nomad has no Zoom account connected for an OBF token.
		stand.addMeeting(z, "93333333333", zoomtest.Meeting{Approval: 0})
		open(t, base+"/component.html")
		type finding struct {
			Code, Severity, SDKCodes, Cause, Fix string
			Evidence                             []string
		}
		type page struct {
			Status   string    `json:"status"`
			Why      bool      `json:"why"`
			Error    string    `json:"error"`
			Findings []finding `json:"findings"`
		}
		for _, c := range []struct {
			user, meeting string
			verdicts      []string // wc/info's, then the meeting server's
			sdkCode       int
			finding       string
		}{
			{"attendee", "93333333333", []string{standInRegistration}, 3099, "registration_required"},
			{"nomad", "81111111111", []string{standInToRWG, standInAnonymous}, 4012, "meeting_external"},
		} {
			n := stand.count()
			res := join(t, `{config: '/api/doctored/join-config', user: '`+c.user+`', password: '`+testPassword+`'}`)
			got := stand.since(n)
			ok := res.Status == 200 && len(got) == len(c.verdicts) && got[0].signature == res.Config["signature"]
			for i := 0; ok && i < len(got); i++ {
				ok = got[i].meetingNumber == c.meeting && got[i].verdict == c.verdicts[i] && got[i].tk == "" && got[i].obfToken == "" && got[i].zak == ""
			}
			if !ok {
				t.Fatalf("%s: stand-in received %+v; the page had %+v", c.user, got, res)
			}
			if res.Join == nil || res.Join.OK || res.Join.ErrorCode != c.sdkCode {
				t.Fatalf("%s: the SDK reported %+v, want %d", c.user, res.Join, c.sdkCode)
			}
			// "why?" beside the SDK's code; the findings are read back
			// from the DOM as the page shows them.
			st, err := chromedp.Run(ctx, chromedp.Evaluate[page](`(async () => {
				const $ = id => document.getElementById(id);
				const why = $('status').querySelector('button.why');
				if (!why) return {status: $('status').textContent, why: false};
				why.click();
				const done = () => $('doctor').childElementCount > 0 && !$('doctor').hasAttribute('aria-busy');
				for (let i = 0; i < 600 && !done(); i++) await new Promise(r => setTimeout(r, 25));
				const text = (li, sel) => { const e = li.querySelector(sel); return e ? e.textContent : ''; };
				return {status: $('status').textContent, why: true,
					error: [...$('doctor').querySelectorAll('.doctor-error')].map(e => e.textContent).join(' '),
					findings: [...$('doctor').querySelectorAll('li.finding')].map(li => ({
						code: text(li, '.code'), severity: text(li, '.severity'), sdkCodes: text(li, '.sdk-codes'),
						cause: text(li, '.cause'), fix: text(li, '.fix'),
						evidence: [...li.querySelectorAll('.evidence li')].map(e => e.textContent)}))};
			})()`, chromedp.EvalAwaitPromise))
			if err != nil {
				t.Fatal(err)
			}
			if !st.Why || !strings.Contains(st.Status, fmt.Sprintf("join() failed: %d", c.sdkCode)) || st.Error != "" || len(st.Findings) == 0 {
				t.Fatalf("%s: the page shows %+v", c.user, st)
			}
			// The finding that explains the SDK's code comes first.
			if f := st.Findings[0]; f.Code != c.finding || f.Severity != "error" || !strings.Contains(f.SDKCodes, fmt.Sprint(c.sdkCode)) ||
				f.Cause == "" || !strings.HasPrefix(f.Fix, "Fix: ") || len(f.Evidence) == 0 {
				t.Fatalf("%s: first finding %+v; all %+v", c.user, f, st.Findings)
			}
			if dir := os.Getenv("ZS_SCREENSHOTS"); dir != "" {
				shot, _ := chromedp.Run(ctx, chromedp.FullScreenshot(100))
				_ = os.WriteFile(filepath.Join(dir, fmt.Sprintf("doctor-%d.png", c.sdkCode)), shot, 0o644)
			}
		}
		// Answers that are not the doctor's: basic_auth's 401 (JSON here,
		// as handle_errors writes it) and a 405 with no body are shown as
		// errors, not thrown.
		errs, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`(async () => {
			const box = document.createElement('div');
			const out = [];
			for (const ask of [{authorization: 'Basic ' + btoa('attendee:wrong')}, {url: '/sdk/no-such-file'}]) {
				zsDoctor.render(box, await zsDoctor.ask(Object.assign({meetingNumber: '93333333333', sdkCode: 3099}, ask)));
				out.push(box.textContent);
			}
			return out;
		})()`, chromedp.EvalAwaitPromise))
		if err != nil || len(errs) != 2 || !strings.Contains(errs[0], "401 unauthenticated") || !strings.Contains(errs[1], "with no body") {
			t.Fatalf("the page's answers to failures: %q %v", errs, err)
		}
	})

	t.Run("through a tunnel", func(t *testing.T) {
		// .app is HSTS-preloaded in Chromium, so the stand-in tunnel domain is
		// a reserved .test name served over plain HTTP.
		public := fmt.Sprintf("http://abc123.tunnel.test:%d", edge)
		open(t, public+"/")
		res, err := chromedp.Run(ctx, chromedp.Evaluate[map[string]any](`(async () => {
			const auth = {Authorization: 'Basic ' + btoa('attendee:`+testPassword+`')};
			const cfg = await (await fetch('/api/join-config', {headers: auth})).json();
			const r = await fetch('`+base+`/api/signature', {method: 'POST',
				headers: {'Content-Type': 'application/json', 'ngrok-skip-browser-warning': '1'},
				body: JSON.stringify({meetingNumber: '85746065432', role: 0})});
			return {leaveUrl: cfg.leaveUrl, status: r.status, signed: !!(await r.json()).signature};
		})()`, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatal(err)
		}
		if res["leaveUrl"] != public+"/" {
			t.Errorf("leaveUrl %v, want %s/", res["leaveUrl"], public)
		}
		if res["status"] != 200.0 || res["signed"] != true {
			t.Errorf("cross-origin fetch with ngrok-skip-browser-warning: %v", res)
		}
	})

	t.Run("the page never received the secret", func(t *testing.T) {
		mu.Lock()
		defer mu.Unlock()
		for _, e := range scanErrs {
			t.Error(e)
		}
		// Every kind of response the suite caused must have been scanned:
		// pages, scripts, the SDK, join configs, the endpoint and Zoom's
		// join endpoint (the stand-in).
		host := fmt.Sprintf("127.0.0.1:%d", port)
		for _, p := range []string{
			host + "/component.html", host + "/component.js", host + "/", host + "/app.js",
			host + "/api/join-config", host + "/api/signature", host + "/bad/expired", host + "/api/helpers/join-config",
			host + "/api/doctored/join-config", host + "/zoom/doctor", host + "/doctor.js",
			fmt.Sprintf("abc123.tunnel.test:%d/api/join-config", edge),
			"zoom.us/api/v1/wc/info",
		} {
			if scanned[p] == 0 {
				t.Errorf("no response body of %s was scanned", p)
			}
		}
		sdk := 0
		for p, n := range scanned {
			if strings.Contains(p, "/sdk/") {
				sdk += n
			}
		}
		if sdk == 0 {
			t.Errorf("no SDK file was scanned; scanned: %v", scanned)
		}
	})
	t.Logf("browser suite took %s", time.Since(start).Round(time.Millisecond))
}
