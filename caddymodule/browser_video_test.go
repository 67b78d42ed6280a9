package caddymodule

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/golang-jwt/jwt/v5"

	"github.com/zoomsig/caddy-zoom-signature/caddymodule/signature"
)

// The Video SDK's browser test runs the real @zoom/videosdk (from the npm
// registry, checked against its integrity hash and unpacked by cmd/testall)
// in Chromium. Its first network call is a form POST to
// https://zoom.us/wc/lsdk carrying the token as zlk and the topic and
// passcode base64url-encoded (examples/videosdk-notes.md); zoom.us resolves
// to videoStandIn, which checks the token as Zoom does and answers in
// Zoom's shape, so that the SDK shows its own error. A join it accepts goes
// on, as Zoom's does, to the RWC ping and the meeting server's WebSocket,
// where the SDK hands the token over again; there the stand-in stops: it
// plays no session, so the join() of an accepted token stays pending, and
// that, with the token seen twice, is the pass.

// Test credentials of the account's Video SDK app; testKey and testSecret
// are its Meeting SDK app's.
const (
	testVideoKey    = "vD4fG6hJ8kL0mN2pQ4rS6t"
	testVideoSecret = "Vv9Cv8Bn7Mm6Ll5Kk4Jj3Hh2Gg1Ff0Vs"
)

// videoSDKNeeds finds Chromium and the unpacked @zoom/videosdk, as
// browserNeeds does for the Meeting SDK.
func videoSDKNeeds(t *testing.T) (chromium, sdkDir string) {
	t.Helper()
	chromium, _ = browserNeeds(t)
	sdkDir, _ = filepath.Abs("../.cache/videosdk/package/dist")
	if _, err := os.Stat(filepath.Join(sdkDir, "index.umd.js")); err != nil {
		msg := "the Zoom Video SDK (@zoom/videosdk) is missing; run `go run ./cmd/testall sdk` from the repository root to fetch it"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return chromium, sdkDir
}

// videoJoin is what reached the stand-in: at wc/lsdk, or at the meeting
// server's WebSocket (where = "rwg").
type videoJoin struct {
	where                            string
	token, topic, passcode, userName string
	code                             int
	verdict                          string
}

// Verdicts. Zoom's texts where the SDK maps them (bundle: 3e3 "The role
// type error", 124 "The java web token is expired or more than 2 days or
// ineffective."); the stand-in's own where the SDK shows its own words
// whatever the text (300, and any other 124).
const (
	videoAccepted   = "stand-in: token accepted"
	videoNotOurKey  = "stand-in: app_key is not a Video SDK key of this account"
	videoBadHMAC    = "stand-in: the signature does not verify"
	videoExpired    = "The java web token is expired or more than 2 days or ineffective."
	videoRoleType   = "The role type error"
	videoTopic      = "stand-in: tpc is not the topic joined"
	videoSessionKey = "invalid session key"
	videoPasscode   = "Password max of 10 characters"
)

type videoStandIn struct {
	*httptest.Server
	apps     map[string]string // the account's Video SDK keys and secrets
	mu       sync.Mutex
	received []videoJoin
	paths    []string // every path asked, in order
}

func newVideoStandIn(t *testing.T, apps map[string]string) *videoStandIn {
	s := &videoStandIn{apps: apps}
	s.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.paths = append(s.paths, r.Method+" "+r.Host+r.URL.Path)
		s.mu.Unlock()
		if origin := r.Header.Get("Origin"); origin != "" {
			w.Header().Set("Access-Control-Allow-Origin", origin)
			w.Header().Set("Access-Control-Allow-Credentials", "true")
		}
		if r.Method == http.MethodOptions {
			w.Header().Set("Access-Control-Allow-Headers", r.Header.Get("Access-Control-Request-Headers"))
			w.WriteHeader(http.StatusNoContent)
			return
		}
		switch {
		case r.URL.Path == "/wc/lsdk" && r.Method == http.MethodPost:
			s.lsdk(w, r)
		case strings.HasPrefix(r.URL.Path, "/wc/ping/"):
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"rwg":"zoom.us","rwcAuth":"stand-in-rwc-auth"}`)
		case strings.HasPrefix(r.URL.Path, "/instantsdk/"):
			// The Video SDK's meeting server path: wss://{rwg}/instantsdk/{mn}.
			s.rwg(t, w, r)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(s.Close)
	return s
}

// lsdk plays Zoom's wc/lsdk: the SDK posts topic and password as
// base64url of their UTF-8 (the topic lower-cased first), the token as zlk.
func (s *videoStandIn) lsdk(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	topic, _ := base64.RawURLEncoding.DecodeString(r.PostForm.Get("topic"))
	pass, _ := base64.RawURLEncoding.DecodeString(r.PostForm.Get("password"))
	got := videoJoin{where: "wc/lsdk", token: r.PostForm.Get("zlk"), topic: string(topic), passcode: string(pass), userName: r.PostForm.Get("userName")}
	got.code, got.verdict = s.judge(got)
	s.mu.Lock()
	s.received = append(s.received, got)
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if got.verdict != videoAccepted {
		_ = json.NewEncoder(w).Encode(map[string]any{"status": false, "errorCode": got.code, "errorMessage": got.verdict})
		return
	}
	// What the SDK needs to find the meeting server: the RWC to ask (a
	// JSON object of host and token, as a string) and the session's ids.
	rwc, _ := json.Marshal(map[string]string{"zoom.us": "stand-in-rwc-token"})
	_ = json.NewEncoder(w).Encode(map[string]any{"status": true, "errorCode": 0, "result": map[string]any{
		"mid": "stand-in-mid", "mn": "9876543210", "ts": fmt.Sprint(time.Now().UnixMilli()), "auth": "stand-in-auth",
		"encryptedRWC": string(rwc), "meetingOptions": "{}"}})
}

// judge checks the token as Zoom does, with golang-jwt rather than our
// own code: the key is one of the account's Video SDK apps, HS256 with its
// secret, role_type a number, the lifetime, tpc against the topic joined
// (the SDK lower-cases the topic; Zoom compares without case), and the
// lengths Zoom's error texts name.
func (s *videoStandIn) judge(j videoJoin) (int, string) {
	claims := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(j.token, claims); err != nil {
		return 124, videoBadHMAC
	}
	key, _ := claims["app_key"].(string)
	secret, ok := s.apps[key]
	if !ok {
		return 300, videoNotOurKey
	}
	claims = jwt.MapClaims{}
	if _, err := jwt.NewParser(jwt.WithValidMethods([]string{"HS256"}), jwt.WithoutClaimsValidation()).
		ParseWithClaims(j.token, claims, func(*jwt.Token) (any, error) { return []byte(secret), nil }); err != nil {
		return 124, videoBadHMAC
	}
	if _, ok := claims["role_type"].(float64); !ok {
		return 3000, videoRoleType
	}
	now := float64(time.Now().Unix())
	iat, _ := claims["iat"].(float64)
	exp, _ := claims["exp"].(float64)
	if exp <= now || iat > now+5 || exp-iat < 1800 || exp-iat > 172800 {
		return 124, videoExpired
	}
	if tpc, _ := claims["tpc"].(string); strings.ToLower(tpc) != j.topic {
		return 124, videoTopic
	}
	if sk, ok := claims["session_key"].(string); ok && len([]rune(sk)) > 36 {
		return 3000, videoSessionKey
	}
	if len(j.passcode) > 10 {
		return 3000, videoPasscode
	}
	return 0, videoAccepted
}

// rwg plays the meeting server as far as the join's launch parameters:
// READY (evt 0), then the parameters (evt 4301), which carry the token
// again as zlkJwtToken and the passcode as mpwd. It answers nothing more.
func (s *videoStandIn) rwg(t *testing.T, w http.ResponseWriter, r *http.Request) {
	ws, err := acceptWebSocket(w, r)
	if err != nil {
		t.Errorf("rwg stand-in: %v", err)
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
				Token string `json:"zlkJwtToken"`
				Mpwd  string `json:"mpwd"`
			} `json:"body"`
		}
		if json.Unmarshal(msg, &m) != nil || m.Evt != 4301 {
			continue
		}
		pass, _ := base64.RawURLEncoding.DecodeString(m.Body.Mpwd)
		s.mu.Lock()
		topic, _ := base64.RawURLEncoding.DecodeString(r.URL.Query().Get("topic"))
		s.received = append(s.received, videoJoin{where: "rwg", token: m.Body.Token, passcode: string(pass), topic: string(topic)})
		s.mu.Unlock()
	}
}

func (s *videoStandIn) since(n int) []videoJoin {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]videoJoin(nil), s.received[min(n, len(s.received)):]...)
}

func (s *videoStandIn) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.received)
}

// videoSite is the test's own Caddy site: the root Caddyfile's Video SDK
// routes, with the stand-in backend's join configs.
const videoSite = `
	@vsignin path /api/video/*
	basic_auth @vsignin {
		attendee {HASH}
		host {HASH}
		carol {HASH}
	}
	@vjoin path /api/video/join-config
	zoom_signature @vjoin {
		sdk video
		sdk_key ` + testVideoKey + `
		sdk_secret {env.ZS_VIDEO_SECRET}
		host_when {http.auth.user.id} host
	}
	handle /api/video/join-config {
		{BACKEND}
	}
	handle /api/video/backend/join-config {
		{BACKEND}
	}
	zoom_signature /api/video/signature {
		mode endpoint
		sdk video
		sdk_key ` + testVideoKey + `
		sdk_secret {env.ZS_VIDEO_SECRET}
		meetings "Cool Cars"
		host_when {http.auth.user.id} host
	}
	handle_path /videosdk/* {
		root * {VSDK}
		file_server
	}
	handle {
		root * {WEB}
		file_server
	}
`

// videoBackend stands in for the backend's join configs; carol's passcode
// is one character over the Video SDK's limit.
const videoBackend = `header Content-Type application/json
		@carol vars {http.auth.user.id} carol
		respond @carol ` + "`" + `{"sessionName":"Cool Cars","role":0,"userName":"carol","passWord":"pc-7x-89012"}` + "`" + `
		respond ` + "`" + `{"sessionName":"Cool Cars","role":0,"userName":"{http.auth.user.id}","passWord":"pc-7x"}` + "`"

func TestBrowserVideo(t *testing.T) {
	chromium, sdkDir := videoSDKNeeds(t)
	start := time.Now()
	t.Setenv("ZS_VIDEO_SECRET", testVideoSecret)
	leakWatch.Lock()
	leakWatch.secrets = append(leakWatch.secrets, testVideoSecret)
	leakWatch.Unlock()
	stand := newVideoStandIn(t, map[string]string{testVideoKey: testVideoSecret})
	web, _ := filepath.Abs("../examples/web")
	site := strings.NewReplacer("{VSDK}", sdkDir, "{WEB}", web, "{BACKEND}", videoBackend).Replace(videoSite)
	c := startCaddy(t, site, "")

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
		chromedp.Flag("host-resolver-rules", fmt.Sprintf("MAP zoom.us 127.0.0.1:%d, MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1", standPort)),
		chromedp.UserDataDir(t.TempDir()),
	}
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	var mu sync.Mutex
	var console []string
	if err := chromedp.Listen(ctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch e := ev.(type) {
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
	dump := func() string {
		mu.Lock()
		defer mu.Unlock()
		stand.mu.Lock()
		defer stand.mu.Unlock()
		return "stand-in paths: " + strings.Join(stand.paths, ", ") + "\nconsole:\n" + strings.Join(console[max(0, len(console)-30):], "\n")
	}

	// Each join starts on a fresh page, with a fresh client.
	fresh := func(t *testing.T) {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.Navigate(c.base+"/video.html")); err != nil {
			t.Fatal(err)
		}
	}
	type page struct {
		Status, Cls, Backend, Config, Claims, Join, JoinCls string
		Signature, SessionName                              string
	}
	read := func(t *testing.T) page {
		t.Helper()
		p, err := chromedp.Run(ctx, chromedp.Evaluate[page](`(() => {
			const $ = id => document.getElementById(id);
			let cfg = {};
			try { cfg = JSON.parse($('config').textContent); } catch {}
			return {status: $('status').textContent, cls: $('status').className, backend: $('backend').textContent,
				config: $('config').textContent, claims: $('claims').textContent,
				join: $('join-status').textContent, joinCls: $('join-status').className,
				signature: cfg.signature || '', sessionName: cfg.sessionName || ''};
		})()`))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	signIn := func(t *testing.T, user, how string) page {
		t.Helper()
		fresh(t)
		js := fmt.Sprintf(`(async () => {
			const $ = id => document.getElementById(id);
			$('user').add(new Option(%[1]q)); $('user').value = %[1]q; $('password').value = %[2]q;
			await zsVideo.%[3]s;
		})()`, user, testPassword, how)
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[any](js, chromedp.EvalAwaitPromise)); err != nil {
			t.Fatal(err)
		}
		return read(t)
	}
	// join presses the page's join button and waits for the SDK's verdict
	// on the page, or for the stand-in to have seen want requests.
	join := func(t *testing.T, want int) (page, []videoJoin) {
		t.Helper()
		n := stand.count()
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[any](`document.getElementById('join').click()`)); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(60 * time.Second)
		for time.Now().Before(deadline) {
			p := read(t)
			if strings.HasPrefix(p.Join, "join() failed") || strings.HasPrefix(p.Join, "Joined") || stand.count()-n >= want {
				time.Sleep(300 * time.Millisecond) // anything that follows at once
				return read(t), stand.since(n)
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Fatalf("no verdict after 60s; the page says %q\n%s", read(t).Join, dump())
		return page{}, nil
	}
	// accepted checks a join that passes: the stand-in accepted the token
	// at wc/lsdk, the SDK carried it on to the meeting server, and the
	// page shows no error.
	accepted := func(t *testing.T, p page, got []videoJoin, token, passcode string) {
		t.Helper()
		if len(got) != 2 || got[0].where != "wc/lsdk" || got[0].verdict != videoAccepted || got[0].token != token ||
			got[0].topic != "cool cars" || got[0].passcode != passcode || got[1].where != "rwg" || got[1].token != token || got[1].passcode != passcode || got[1].topic != "cool cars" {
			t.Fatalf("stand-in received %+v; the page says %q\n%s", got, p.Join, dump())
		}
		if strings.Contains(p.Join, "failed") {
			t.Fatalf("the page says %q", p.Join)
		}
	}

	var good string // a correct token, from the endpoint
	t.Run("endpoint mode joins", func(t *testing.T) {
		p := signIn(t, "attendee", `signAtEndpoint({sessionName: 'Cool Cars', role: 0})`)
		good = p.Signature
		if p.Cls != "ok" || good == "" || !strings.Contains(p.Claims, `tpc"Cool Cars"`) ||
			!strings.Contains(p.Claims, "lifetime") || !strings.Contains(p.Backend, "POST /api/video/signature") {
			t.Fatalf("signed: %+v", p)
		}
		p, got := join(t, 2)
		accepted(t, p, got, good, "")
	})

	t.Run("inject mode joins", func(t *testing.T) {
		p := signIn(t, "attendee", `fetchConfig()`)
		if p.Cls != "ok" || p.Signature == "" || p.SessionName != "Cool Cars" || !strings.Contains(p.Backend, `"passWord": "pc-7x"`) ||
			strings.Contains(p.Backend, "signature") || !strings.Contains(p.Claims, "role_type0") {
			t.Fatalf("signed: %+v", p)
		}
		p, got := join(t, 2)
		accepted(t, p, got, p.Signature, "pc-7x")
		if dir := os.Getenv("ZS_SCREENSHOTS"); dir != "" {
			shot, _ := chromedp.Run(ctx, chromedp.FullScreenshot(100))
			_ = os.WriteFile(filepath.Join(dir, "video-joining.png"), shot, 0o644)
		}
	})

	// Tokens the module would not hand out, given to the page as a
	// backend without the module would give them; the SDK's own error must
	// show on the page.
	vs, _ := signature.NewSigner(testVideoKey, testVideoSecret)
	ms, _ := signature.NewSigner(testKey, testSecret)
	now := time.Now().Unix() - 30
	video := func(name string, iat int64) string {
		tok, err := vs.Video(signature.Video{SessionName: name, IssuedAt: iat, ExpiresIn: 7200})
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	meeting, _ := ms.Meeting(signature.Meeting{MeetingNumber: signature.MeetingNumber{Digits: "85746065432"}, IssuedAt: now, ExpiresIn: 7200})
	meetingKey, _ := ms.Video(signature.Video{SessionName: "Cool Cars", IssuedAt: now, ExpiresIn: 7200})
	for _, c := range []struct {
		name, token, topic, passcode string
		verdict                      string // "" for refused before any network call
		shown                        string
	}{
		{"wrong tpc", video("Other Session", now), "Cool Cars", "", videoTopic, "join() failed: 200 Verify JWT failed"},
		{"expired", video("Cool Cars", now-3*3600), "Cool Cars", "", videoExpired, "join() failed: 200 The token has expired, is over 2 days old, or is ineffective."},
		{"Meeting SDK token", meeting, "Cool Cars", "", videoNotOurKey, "join() failed: 200 This account does not exist or does not belong to you"},
		{"Meeting SDK key in a Video SDK token", meetingKey, "Cool Cars", "", videoNotOurKey, "join() failed: 200 This account does not exist or does not belong to you"},
		{"passcode over 10", good, "Cool Cars", "pc-7x-89012", "", "join() failed: 5013 The maximum length of password is 10"},
	} {
		t.Run(c.name, func(t *testing.T) {
			fresh(t)
			cfg, _ := json.Marshal(map[string]any{"sessionName": c.topic, "role": 0, "userName": "attendee", "passWord": c.passcode, "signature": c.token})
			if _, err := chromedp.Run(ctx, chromedp.Evaluate[any](`zsVideo.use(`+string(cfg)+`)`)); err != nil {
				t.Fatal(err)
			}
			want := 1
			if c.verdict == "" {
				want = 1 << 10 // nothing should come
			}
			p, got := join(t, want)
			if c.verdict == "" {
				if len(got) != 0 {
					t.Fatalf("the SDK sent %+v", got)
				}
			} else if len(got) != 1 || got[0].where != "wc/lsdk" || got[0].verdict != c.verdict || got[0].token != c.token {
				t.Fatalf("stand-in received %+v\n%s", got, dump())
			}
			if p.Join != c.shown || p.JoinCls != "error" {
				t.Fatalf("the page shows %q (%s), want %q\n%s", p.Join, p.JoinCls, c.shown, dump())
			}
			if dir := os.Getenv("ZS_SCREENSHOTS"); dir != "" {
				shot, _ := chromedp.Run(ctx, chromedp.FullScreenshot(100))
				_ = os.WriteFile(filepath.Join(dir, "video-"+strings.ReplaceAll(c.name, " ", "-")+".png"), shot, 0o644)
			}
		})
	}

	t.Run("the module refuses a passcode the SDK would", func(t *testing.T) {
		n := stand.count()
		p := signIn(t, "carol", `fetchConfig()`)
		if p.Cls != "error" || !strings.Contains(p.Status, "502 join_config_passcode") || !strings.Contains(p.Status, "10") || p.Signature != "" {
			t.Fatalf("refusal: %+v", p)
		}
		if stand.count() != n {
			t.Fatal("the stand-in was asked")
		}
	})
	t.Logf("Video SDK browser test took %s", time.Since(start).Round(time.Millisecond))
}
