package caddymodule

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/zoomsig/caddy-zoom-signature/caddymodule/zoomapi"
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/zoomapi/zoomtest"
)

// doctorConfig is one real `caddy run` with the handlers the doctor tests
// diagnose through, each with a doctor route of its own; the CLI loads the
// same file. {ZOOM} is the Zoom stand-in, {HASH} the users' password hash,
// {DIR} the storage folder.
const doctorConfig = `{
	storage file_system {DIR}
	zoom {
		zoom_api {
			account_id {env.ZS_ZOOM_ACCOUNT}
			client_id {env.ZS_ZOOM_CLIENT}
			client_secret {env.ZS_ZOOM_SECRET}
			oauth_url {ZOOM}/oauth/token
			api_url {ZOOM}/v2
			timeout 2s
		}
		oauth {
			client_id {env.ZS_OAUTH_CLIENT}
			client_secret {env.ZS_OAUTH_SECRET}
			redirect_uri {$SITE_ADDRESS}/zoom/connect/callback
			authorize_url {ZOOM}/oauth/authorize
			oauth_url {ZOOM}/oauth/token
			api_url {ZOOM}/v2
			timeout 2s
		}
		seal_keys {env.ZS_GRANT_KEY}
	}
}

{$SITE_ADDRESS} {
	@site path /api/* /zoom/*
	basic_auth @site {
		alice {HASH}
		bob {HASH}
		host {HASH}
		owner {HASH}
	}
	handle /zoom/connect/* {
		zoom_connect
	}
	handle /zoom/doctor/join {
		zoom_doctor {
			for join
			per_minute 600
		}
	}
	handle /zoom/doctor/bare {
		zoom_doctor {
			for bare
			per_minute 600
		}
	}
	handle /zoom/doctor/fill {
		zoom_doctor {
			for fill
			per_minute 600
		}
	}
	handle /zoom/doctor/legacy {
		zoom_doctor {
			for legacy
			per_minute 600
		}
	}
	handle /zoom/doctor/strict {
		zoom_doctor {
			for bare
			per_minute 2
		}
	}
	handle /zoom/doctor/nobody {
		zoom_doctor nobody
	}
	handle /api/join-config {
		zoom_signature {
			name join
			sdk_key ` + testKey + `
			sdk_secret {env.ZS_TEST_SECRET}
			host_when {http.auth.user.id} host
			zak {
				user {http.auth.user.id}
			}
			passcode always
			fill userEmail {http.auth.user.id}@example.com
			obf
		}
		respond ` + "`" + `{"meetingNumber":"{http.request.uri.query.meeting}","role":0}` + "`" + `
	}
	handle /api/bare {
		zoom_signature {
			name bare
			# Users may ask the doctor about any meeting: an explicit scope.
			meetings any
			sdk_key ` + testKey + `
			sdk_secret {env.ZS_TEST_SECRET}
		}
		respond ` + "`" + `{"meetingNumber":"{http.request.uri.query.meeting}","role":0}` + "`" + `
	}
	handle /api/fill {
		zoom_signature {
			name fill
			# Users may ask the doctor about any meeting: an explicit scope.
			meetings any
			sdk_key ` + testKey + `
			sdk_secret {env.ZS_TEST_SECRET}
			passcode fill
		}
		respond ` + "`" + `{"meetingNumber":"{http.request.uri.query.meeting}","role":0}` + "`" + `
	}
	handle /api/legacy {
		zoom_signature {
			name legacy
			# Users may ask the doctor about any meeting: an explicit scope.
			meetings any
			sdk websdk1
			sdk_key ` + testKey + `
			sdk_secret {env.ZS_TEST_SECRET}
		}
		respond ` + "`" + `{"meetingNumber":"{http.request.uri.query.meeting}","role":0}` + "`" + `
	}
	respond 404
}
`

// doctorEnv is the running site, its Zoom stand-in and the config file.
type doctorEnv struct {
	obfEnv
	cfg, home string
}

func startDoctor(t *testing.T) doctorEnv {
	t.Helper()
	z := newZoomFake(t)
	z.AddZoomUser(zoomtest.ZoomUser{ID: "zu-alice", Email: "alice@elsewhere.example"})
	t.Setenv("ZS_OAUTH_CLIENT", z.App.ClientID)
	t.Setenv("ZS_OAUTH_SECRET", z.App.ClientSecret)
	t.Setenv("ZS_GRANT_KEY", base64Std("0123456789abcdef0123456789abcdef"))
	leakWatch.Lock()
	leakWatch.secrets = append(leakWatch.secrets, z.App.ClientSecret)
	leakWatch.Unlock()
	t.Cleanup(func() {
		leakWatch.Lock()
		defer leakWatch.Unlock()
		leakWatch.secrets = append(leakWatch.secrets, z.UserTokens()...)
		leakWatch.secrets = append(leakWatch.secrets, z.AccessTokens()...)
		// OBF tokens reach join configs, never a log line.
		leakWatch.tokens = append(leakWatch.tokens, z.OBFTokens()...)
	})
	dir := t.TempDir()
	cfg := filepath.Join(dir, "Caddyfile")
	text := strings.NewReplacer("{ZOOM}", z.URL, "{HASH}", passwordHash(t), "{DIR}", filepath.Join(dir, "storage")).Replace(doctorConfig)
	if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	p := runCaddy(t, cfg)
	return doctorEnv{obfEnv: obfEnv{c: p.instance(t), z: z, dir: dir}, cfg: cfg, home: t.TempDir()}
}

// ask posts a question to a doctor route as user.
func (e doctorEnv) ask(t *testing.T, route, user, body string) response {
	t.Helper()
	r := e.c.do("POST", "/zoom/doctor/"+route, user, body, "Content-Type", "application/json")
	for _, secret := range e.z.AccessTokens() {
		if strings.Contains(string(r.body), secret) {
			t.Fatalf("the doctor's answer holds an access token: %s", r.body)
		}
	}
	if strings.Contains(string(r.body), "dr-") {
		t.Fatalf("the doctor's answer holds a meeting's passcode: %s", r.body)
	}
	return r
}

// report reads a doctor's answer: its meeting and its findings' codes and
// severities, checking the shape every finding has.
func report(t *testing.T, body []byte) (meeting string, codes, severities []string) {
	t.Helper()
	var r struct {
		Meeting  string `json:"meeting"`
		Findings []struct {
			Code     string   `json:"code"`
			Severity string   `json:"severity"`
			SDKCodes []int    `json:"sdkCodes"`
			Cause    string   `json:"cause"`
			Fix      string   `json:"fix"`
			Evidence []string `json:"evidence"`
		} `json:"findings"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatalf("not a report: %v\n%s", err, body)
	}
	for _, f := range r.Findings {
		if f.Cause == "" || f.SDKCodes == nil || f.Evidence == nil || !slices.Contains([]string{"error", "warn", "info"}, f.Severity) {
			t.Fatalf("finding %s is missing a part: %s", f.Code, body)
		}
		codes = append(codes, f.Code)
		severities = append(severities, f.Severity)
	}
	return r.Meeting, codes, severities
}

// cli runs `caddy zoom-signature doctor --json` on the site's own config,
// in a process of its own (as a user runs it), and returns its exit status
// and report.
func (e doctorEnv) cli(t *testing.T, args ...string) (int, []byte) {
	t.Helper()
	cmd := exec.Command(buildCaddy(t), append([]string{"zoom-signature", "doctor", "--config", e.cfg, "--adapter", "caddyfile", "--json"}, args...)...)
	cmd.Env = append(os.Environ(), "ZS_TEST_SECRET="+testSecret, "HOME="+e.home, "XDG_DATA_HOME="+e.home, "XDG_CONFIG_HOME="+e.home,
		"SITE_ADDRESS="+e.c.base)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	watchResponse(out, nil)
	watchResponse([]byte(stderr.String()), nil)
	if code == 2 {
		t.Fatalf("doctor %v: usage error:\n%s", args, stderr.String())
	}
	return code, out
}

// TestDoctorFindings sets the Zoom stand-in to each condition the doctor
// knows, and asks the doctor over HTTP (the page's route) and on the
// command line (the operator's) about one join: each reports exactly the
// finding for that condition.
func TestDoctorFindings(t *testing.T) {
	e := startDoctor(t)
	z := e.z
	e.connect(t, "alice", "zu-alice")
	// Healthy meetings: started or joinable before the host, no
	// registration, not end-to-end encrypted, an active host.
	ok := func(m zoomtest.Meeting) zoomtest.Meeting {
		m.JoinBeforeHost, m.Approval = true, 2
		return m
	}
	// The meetings' passcode: in the join configs the site writes, never
	// in a doctor's answer.
	pass := "dr-" + randomHex(t, 6)
	z.AddAccountUser(zoomtest.AccountUser{ID: "gone-host", Email: "gone@example.com", Inactive: true})
	z.AddAccountUser(zoomtest.AccountUser{ID: "strict-host", Email: "strict@example.com", OnlyAuthenticatedFromWebclient: true})
	meetings := map[string]zoomtest.Meeting{
		"85700000001": ok(zoomtest.Meeting{Passcode: pass}),
		"85700000002": ok(zoomtest.Meeting{Passcode: pass, HostID: "host"}),
		"85700000003": {Passcode: pass, Approval: 0, JoinBeforeHost: true},
		"85700000004": {Passcode: pass, Approval: 1, JoinBeforeHost: true},
		"85700000005": ok(zoomtest.Meeting{Passcode: pass, MeetingAuthentication: true, AuthenticationDomains: "example.com"}),
		"85700000006": ok(zoomtest.Meeting{Passcode: pass, HostID: "strict-host"}),
		"85700000007": ok(zoomtest.Meeting{Webinar: true}),
		"85700000008": ok(zoomtest.Meeting{Webinar: true, Passcode: pass}),
		"85700000009": ok(zoomtest.Meeting{Passcode: pass}),
		"85700000010": {Passcode: pass, Approval: 2, Status: "waiting"},
		"85700000011": ok(zoomtest.Meeting{Passcode: pass, HostID: "gone-host"}),
		"85700000012": ok(zoomtest.Meeting{Passcode: pass, EncryptionType: "e2ee"}),
		"85700000013": ok(zoomtest.Meeting{Passcode: pass, AlternativeHosts: "carol@example.com;host"}),
		"85700000014": ok(zoomtest.Meeting{Passcode: pass}),
		"85700000015": ok(zoomtest.Meeting{Passcode: pass}),
		"85700000016": ok(zoomtest.Meeting{}),
		"85700000017": ok(zoomtest.Meeting{Passcode: pass}),
	}
	for id, m := range meetings {
		z.AddMeeting(id, m)
	}
	z.Nonexistent("81999999999")

	tests := []struct {
		name string
		// route and user of the HTTP question; the CLI gets --handler
		// route and --user user.
		route, user, meeting string
		role                 int
		sdkCode              int
		sdkVersion           string
		set, reset           func()
		want                 []string
		exit                 int
	}{
		{name: "healthy", route: "join", user: "alice", meeting: "85700000001", want: []string{"ok"}},
		{name: "healthy host", route: "join", user: "host", meeting: "85700000002", role: 1, want: []string{"ok"}},
		{name: "alternative host", route: "join", user: "host", meeting: "85700000013", role: 1, want: []string{"ok"}},
		{name: "legacy signature", route: "legacy", user: "alice", meeting: "85700000016", want: []string{"signature_invalid"}, exit: 1},
		{name: "clock ahead of Zoom's", route: "join", user: "alice", meeting: "85700000017", sdkCode: 3712,
			set: func() { z.ClockOffset(-3 * time.Minute) }, reset: func() { z.ClockOffset(0) }, want: []string{"clock_skew"}, exit: 1},
		{name: "credentials refused", route: "join", user: "alice", meeting: "85700000014",
			set: func() { z.RejectCredentials(true); z.ExpireTokens() }, reset: func() { z.RejectCredentials(false) }, want: []string{"zoom_api_credentials"}, exit: 1},
		{name: "scope missing", route: "join", user: "alice", meeting: "85700000015",
			set: func() { z.DenyScope(zoomapi.ScopeMeetingRead, true) }, reset: func() { z.DenyScope(zoomapi.ScopeMeetingRead, false) }, want: []string{"zoom_api_scope_missing"}, exit: 1},
		{name: "no such meeting", route: "join", user: "alice", meeting: "81999999999", sdkCode: 3707, want: []string{"meeting_not_found"}, exit: 1},
		{name: "external, not connected", route: "join", user: "bob", meeting: "81111111112", sdkCode: 4012, want: []string{"meeting_external"}, exit: 1},
		{name: "external, connected", route: "join", user: "alice", meeting: "81111111112", want: []string{"meeting_external", "ok"}},
		{name: "host of an external meeting", route: "join", user: "host", meeting: "81111111112", role: 1, want: []string{"host_external_meeting"}, exit: 1},
		{name: "registration", route: "join", user: "alice", meeting: "85700000003", sdkCode: 3099, want: []string{"registration_required"}, exit: 1},
		{name: "manual approval", route: "join", user: "alice", meeting: "85700000004", sdkCode: 3099, want: []string{"registration_needs_approval"}, exit: 1},
		{name: "authenticated only", route: "join", user: "alice", meeting: "85700000005", want: []string{"meeting_authenticated_only"}, exit: 1},
		{name: "host's web client setting", route: "join", user: "alice", meeting: "85700000006", want: []string{"meeting_authenticated_only"}, exit: 1},
		{name: "webinar without email", route: "bare", user: "alice", meeting: "85700000007", want: []string{"webinar_email_required"}},
		{name: "webinar with the host's email", route: "join", user: "owner", meeting: "85700000008", want: []string{"webinar_host_email"}, exit: 1},
		{name: "passcode not written", route: "bare", user: "alice", meeting: "85700000009", want: []string{"passcode_missing"}},
		{name: "passcode stale", route: "fill", user: "alice", meeting: "85700000009", sdkCode: 3004, want: []string{"passcode_mismatch"}},
		{name: "waiting for the host", route: "join", user: "alice", meeting: "85700000010", sdkCode: 3008, want: []string{"waiting_for_host"}},
		{name: "host inactive", route: "join", user: "alice", meeting: "85700000011", want: []string{"host_inactive"}, exit: 1},
		{name: "ZAK of another user", route: "join", user: "host", meeting: "85700000001", role: 1, want: []string{"zak_not_host"}, exit: 1},
		{name: "end-to-end encryption", route: "join", user: "alice", meeting: "85700000012", want: []string{"meeting_e2ee"}, exit: 1},
		{name: "old SDK", route: "join", user: "alice", meeting: "85700000001", sdkVersion: "3.13.2", want: []string{"sdk_too_old"}, exit: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.route == "join" {
				// The join handler has no meetings scope: the doctor answers
				// about the joins it was asked for, so the page asks first.
				e.join(t, tt.user, tt.meeting)
			}
			if tt.set != nil {
				tt.set()
				t.Cleanup(tt.reset)
			}
			body, _ := json.Marshal(map[string]any{"meetingNumber": tt.meeting, "role": tt.role, "sdkCode": tt.sdkCode, "sdkVersion": tt.sdkVersion})
			resp := e.ask(t, tt.route, tt.user, string(body))
			if resp.status != 200 || resp.header.Get("Cache-Control") != "no-store, private" {
				t.Fatalf("HTTP: %d %v %s", resp.status, resp.header, resp.body)
			}
			meeting, codes, _ := report(t, resp.body)
			if strings.Contains(string(resp.body), pass) {
				t.Fatalf("HTTP: the answer holds the meeting's passcode: %s", resp.body)
			}
			if meeting != tt.meeting || !slices.Equal(codes, tt.want) {
				t.Errorf("HTTP: meeting %s, findings %v, want %v\n%s", meeting, codes, tt.want, resp.body)
			}
			if tt.set != nil {
				// The stand-in's switch lasts for this case only: the
				// CLI's own process asks Zoom afresh.
				tt.set()
			}
			args := []string{"--handler", tt.route, "--user", tt.user, "--meeting", tt.meeting, "--role", fmt.Sprint(tt.role)}
			if tt.sdkCode != 0 {
				args = append(args, "--code", fmt.Sprint(tt.sdkCode))
			}
			if tt.sdkVersion != "" {
				args = append(args, "--sdk-version", tt.sdkVersion)
			}
			code, out := e.cli(t, args...)
			if strings.Contains(string(out), pass) {
				t.Fatalf("CLI: the answer holds the meeting's passcode: %s", out)
			}
			meeting, codes, _ = report(t, out)
			if code != tt.exit || meeting != tt.meeting || !slices.Equal(codes, tt.want) {
				t.Errorf("CLI: exit %d (want %d), meeting %s, findings %v, want %v\n%s", code, tt.exit, meeting, codes, tt.want, out)
			}
		})
	}

	// The command line also compares what the join sent.
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--handler", "join", "--user", "alice", "--meeting", "85700000001", "--passcode", ""}, "passcode_missing"},
		{[]string{"--handler", "join", "--user", "alice", "--meeting", "85700000001", "--passcode", "wrong-one"}, "passcode_mismatch"},
		{[]string{"--handler", "bare", "--user", "alice", "--meeting", "85700000007", "--email", ""}, "webinar_email_required"},
		{[]string{"--handler", "bare", "--user", "alice", "--meeting", "85700000007", "--email", "owner@example.com"}, "webinar_host_email"},
	} {
		code, out := e.cli(t, c.args...)
		if _, codes, _ := report(t, out); code != 1 || !slices.Equal(codes, []string{c.want}) {
			t.Errorf("CLI %v: exit %d, %v, want %s", c.args, code, codes, c.want)
		}
	}
}

// TestDoctorRoute holds the page's route to its promises: signed-in users
// only, their own join only, bounded, and nothing secret in its answers.
func TestDoctorRoute(t *testing.T) {
	e := startDoctor(t)
	z := e.z
	pass := "dr-" + randomHex(t, 6) // in join configs, never in the doctor's answers
	z.AddMeeting("85700000001", zoomtest.Meeting{Passcode: pass, Approval: 2, JoinBeforeHost: true})
	q := `{"meetingNumber":"85700000001","role":0,"sdkCode":3712,"sdkVersion":"6.2.0"}`

	t.Run("refusals", func(t *testing.T) {
		for _, c := range []struct {
			method, route, user, body string
			status                    int
			code                      string
		}{
			{"POST", "join", "", q, 401, ""},
			{"GET", "join", "alice", "", 405, "method_not_allowed"},
			{"POST", "join", "alice", `not json`, 400, "doctor_input_invalid"},
			{"POST", "join", "alice", `{"meetingNumber":"12","role":0}`, 400, "invalid_meeting_number"},
			{"POST", "join", "alice", `{"meetingNumber":"85700000001","role":0,"sdkCode":"x"}`, 400, "doctor_input_invalid"},
			{"POST", "join", "alice", `{"meetingNumber":"85700000001","role":0,"sdkVersion":7}`, 400, "doctor_input_invalid"},
			{"POST", "join", "alice", `{"meetingNumber":"85700000001","role":0,"pad":"` + strings.Repeat("x", 5000) + `"}`, 413, "body_too_large"},
			{"POST", "nobody", "alice", q, 500, "doctor_handler_unknown"},
		} {
			resp := e.c.do(c.method, "/zoom/doctor/"+c.route, c.user, c.body)
			if resp.status != c.status {
				t.Errorf("%s %s as %q: %d, want %d: %s", c.method, c.route, c.user, resp.status, c.status, resp.body)
				continue
			}
			if c.code != "" && resp.errorCode(t) != c.code {
				t.Errorf("%s %s: code %s, want %s", c.method, c.route, resp.errorCode(t), c.code)
			}
		}
		// A page of another site may not make the user's browser ask.
		resp := e.c.do("POST", "/zoom/doctor/join", "alice", q, "Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site")
		if resp.status != 403 || resp.errorCode(t) != "origin_not_allowed" {
			t.Errorf("cross-site: %d %s", resp.status, resp.body)
		}
	})

	t.Run("own joins only", func(t *testing.T) {
		// The join handler has no meetings scope, so the backend chooses
		// each user's meetings: a meeting alice was never given is not hers
		// to ask about, however it is written.
		for _, m := range []string{"85700000009", "857 0000 0009"} {
			resp := e.ask(t, "join", "alice", `{"meetingNumber":"`+m+`","role":0}`)
			if resp.status != 403 || resp.errorCode(t) != "doctor_join_unknown" {
				t.Fatalf("%s: %d %s", m, resp.status, resp.body)
			}
		}
		if n := z.MeetingCalls("85700000009"); n != 0 {
			t.Fatalf("Zoom was asked about it %d times", n)
		}
		e.join(t, "alice", "85700000009")
		if resp := e.ask(t, "join", "alice", `{"meetingNumber":"85700000009","role":0}`); resp.status != 200 {
			t.Fatalf("after her join: %d %s", resp.status, resp.body)
		}
		// bob never asked to join it.
		if resp := e.ask(t, "join", "bob", `{"meetingNumber":"85700000009","role":0}`); resp.status != 403 {
			t.Fatalf("bob: %d %s", resp.status, resp.body)
		}
	})

	t.Run("host for whom the policy refuses it", func(t *testing.T) {
		e.join(t, "alice", "85700000001")
		before := z.MeetingCalls("85700000001")
		resp := e.ask(t, "join", "alice", `{"meetingNumber":"85700000001","role":1}`)
		if _, codes, _ := report(t, resp.body); !slices.Equal(codes, []string{"site_refuses"}) {
			t.Fatalf("%s", resp.body)
		}
		if z.MeetingCalls("85700000001") != before {
			t.Error("a join the site refuses is not looked up at Zoom")
		}
	})

	t.Run("own connection only", func(t *testing.T) {
		e.connect(t, "alice", "zu-alice")
		e.join(t, "bob", "81111111113")
		e.join(t, "alice", "81111111113")
		resp := e.ask(t, "join", "bob", `{"meetingNumber":"81111111113","role":0}`)
		_, codes, _ := report(t, resp.body)
		if !slices.Equal(codes, []string{"meeting_external"}) || !strings.Contains(string(resp.body), "has not connected") ||
			strings.Contains(string(resp.body), "alice") {
			t.Fatalf("bob learns of nothing but his own connection: %s", resp.body)
		}
		resp = e.ask(t, "join", "alice", `{"meetingNumber":"81111111113","role":0}`)
		if !strings.Contains(string(resp.body), "has connected") {
			t.Fatalf("alice: %s", resp.body)
		}
	})

	t.Run("cached and limited", func(t *testing.T) {
		before := z.MeetingCalls("85700000001")
		for range 3 {
			if resp := e.ask(t, "strict", "alice", q); resp.status != 200 {
				t.Fatalf("%d %s", resp.status, resp.body)
			}
		}
		if n := z.MeetingCalls("85700000001") - before; n != 1 {
			t.Errorf("the same question thrice asked Zoom %d times, want once", n)
		}
		// per_minute 2: the second new question is answered, the third
		// refused, and another user keeps their own budget.
		if resp := e.ask(t, "strict", "alice", `{"meetingNumber":"85700000002","role":0}`); resp.status != 200 {
			t.Fatalf("second: %d %s", resp.status, resp.body)
		}
		resp := e.ask(t, "strict", "alice", `{"meetingNumber":"85700000003","role":0}`)
		if resp.status != 429 || resp.errorCode(t) != "doctor_too_many" {
			t.Fatalf("third: %d %s", resp.status, resp.body)
		}
		if resp := e.ask(t, "strict", "bob", `{"meetingNumber":"85700000003","role":0}`); resp.status != 200 {
			t.Fatalf("bob: %d %s", resp.status, resp.body)
		}
	})

	t.Run("refusals point at the doctor", func(t *testing.T) {
		resp := e.c.do("GET", "/api/join-config?meeting=81111111114", "bob", "")
		if resp.status != 409 || resp.errorCode(t) != "zoom_not_connected" {
			t.Fatalf("%d %s", resp.status, resp.body)
		}
		links := strings.Join(resp.header.Values("Link"), ", ")
		if !strings.Contains(links, `</zoom/doctor>; rel="zoom-doctor"`) || !strings.Contains(links, `rel="zoom-connect"`) {
			t.Fatalf("Link: %q", links)
		}
	})
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", b)
}

// TestDoctorConfig: each bad zoom_doctor config is refused with the fix,
// from a Caddyfile and (Validate) from JSON alike.
func TestDoctorConfig(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"zoom_doctor", "needs for, the name of the zoom_signature handler"},
		{"zoom_doctor join extra", "wrong argument count"},
		{"zoom_doctor join {\n\tper_minute x\n}", `per_minute "x" is not a whole number`},
		{"zoom_doctor join {\n\tper_minute 1000\n}", "per_minute 1000 is out of range; use 1 to 600"},
		{"zoom_doctor join {\n\tcache_for 1h\n}", "cache_for 1h0m0s is out of range; use up to 10m"},
		{"zoom_doctor join {\n\tcache_for soon\n}", `cache_for "soon" is not a duration`},
		{"zoom_doctor join {\n\tlinky /x\n}", `zoom_doctor has no option "linky"`},
		{"zoom_doctor join {\n\tfor\n}", "wrong argument count"},
	} {
		var d Doctor
		err := d.UnmarshalCaddyfile(caddyfile.NewTestDispenser(c.in))
		if err == nil {
			err = d.Validate()
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want %q", c.in, err, c.want)
		}
	}
	var d Doctor
	if err := json.Unmarshal([]byte(`{"for":"join","per_minute":-1}`), &d); err != nil || d.Validate() == nil {
		t.Error("JSON: a negative per_minute is refused")
	}
	d = Doctor{}
	if err := d.UnmarshalCaddyfile(caddyfile.NewTestDispenser("zoom_doctor {\n\tfor join\n\tper_minute 3\n\tcache_for 5s\n\tlink /why\n}")); err != nil || d.Validate() != nil ||
		d.For != "join" || d.PerMinute != 3 || time.Duration(d.CacheFor) != 5*time.Second || d.Link != "/why" {
		t.Errorf("a good config: %+v %v", d, err)
	}
}

// TestSameOrigin: the site's own page is the public origin, which
// public_origin may name, and it may ask the doctor or disconnect;
// another site's page may not, whatever its headers say.
func TestSameOrigin(t *testing.T) {
	h := &Handler{Gate: Gate{PublicOrigin: []string{"https://app.example.com"}}}
	for _, c := range []struct {
		origin, fetchSite string
		ok                bool
	}{
		{"", "", true},
		{"https://app.example.com", "same-origin", true},
		{"https://evil.example", "", false},
		{"http://app.example.com", "", false},
		{"", "cross-site", false},
		{"https://app.example.com", "cross-site", false},
	} {
		r := httptest.NewRequest("POST", "http://127.0.0.1:8080/zoom/doctor", nil)
		if c.origin != "" {
			r.Header.Set("Origin", c.origin)
		}
		if c.fetchSite != "" {
			r.Header.Set("Sec-Fetch-Site", c.fetchSite)
		}
		err := h.sameOrigin(r, "ask the join doctor")
		if (err == nil) != c.ok || err != nil && (err.Code() != "origin_not_allowed" || !strings.Contains(err.Reason(), "may not ask the join doctor")) {
			t.Errorf("%+v: %v", c, err)
		}
	}
}
