package caddymodule

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
)

// TestDemoCaddyfile runs the root Caddyfile, the README's first command,
// on a free port: the page is served, the demo users sign in, and only
// "host" gets role 1.
func TestDemoCaddyfile(t *testing.T) {
	t.Chdir("..") // the Caddyfile serves examples/web relative to the repo root
	for _, k := range []string{"ZOOM_SDK_KEY", "ZOOM_SDK_SECRET", "ZOOM_MEETING_NUMBER"} {
		t.Setenv(k, "") // restores the variable afterwards
		os.Unsetenv(k)  // the demo defaults apply to unset variables only
	}
	data, err := os.ReadFile("Caddyfile")
	if err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	text := strings.ReplaceAll(string(data), "8080", fmt.Sprint(port))
	text = strings.Replace(text, "{\n", "{\n\tadmin off\n", 1)
	cfg, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(text), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := caddy.Load(cfg, true); err != nil {
		t.Fatal(err)
	}
	c := &instance{t: t, base: fmt.Sprintf("http://127.0.0.1:%d", port), client: http.DefaultClient}
	get := func(path, user string) response {
		req, _ := http.NewRequest("GET", c.base+path, nil)
		if user != "" {
			req.SetBasicAuth(user, "demo")
		}
		resp, err := c.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return response{status: resp.StatusCode, header: resp.Header, body: b}
	}

	if r := get("/", ""); r.status != 200 || !strings.Contains(string(r.body), "caddy-zoom-signature demo") {
		t.Fatalf("page: %d %.100s", r.status, r.body)
	}
	if r := get("/app.js", ""); r.status != 200 || !strings.Contains(string(r.body), "/api/join-config") {
		t.Fatalf("app.js: %d", r.status)
	}
	if r := get("/api/join-config", ""); r.status != 401 {
		t.Fatalf("anonymous: %d", r.status)
	}
	r := get("/api/join-config", "attendee")
	m := r.json(t)
	if r.status != 200 || m["sdkKey"] != "DEMOxNOTxAxREALxSDKxKEY" || m["meetingNumber"] != "85746065432" {
		t.Fatalf("attendee: %d %s", r.status, r.body)
	}
	if r = get("/api/join-config?role=1", "attendee"); r.status != 403 {
		t.Fatalf("attendee as host: %d %s", r.status, r.body)
	}
	if r = get("/api/join-config?role=1", "host"); r.status != 200 || r.json(t)["role"] != 1.0 {
		t.Fatalf("host: %d %s", r.status, r.body)
	}

	// The join doctor, behind the same sign-in: a wrong password gets the
	// page's JSON 401, a signed-in user the findings for their own join
	// (the demo key's signatures join nothing, and there is no zoom_api).
	ask := func(user, password string) response {
		req, _ := http.NewRequest("POST", c.base+"/zoom/doctor", strings.NewReader(`{"meetingNumber":"85746065432","role":0,"sdkCode":3712,"sdkVersion":"6.2.0"}`))
		req.Header.Set("Content-Type", "application/json")
		if user != "" {
			req.SetBasicAuth(user, password)
		}
		resp, err := c.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return response{status: resp.StatusCode, header: resp.Header, body: b}
	}
	for _, who := range [][2]string{{"", ""}, {"attendee", "wrong"}} {
		if r = ask(who[0], who[1]); r.status != 401 || r.errorCode(t) != "unauthenticated" || r.header.Get("Www-Authenticate") != "" {
			t.Fatalf("doctor as %q: %d %s", who[0], r.status, r.body)
		}
	}
	r = ask("attendee", "demo")
	var rep struct {
		Meeting  string
		Findings []struct{ Code, Severity string }
	}
	if err := json.Unmarshal(r.body, &rep); r.status != 200 || err != nil || rep.Meeting != "85746065432" || len(rep.Findings) == 0 ||
		rep.Findings[0].Code != "signature_invalid" || rep.Findings[0].Severity != "error" {
		t.Fatalf("doctor: %d %s", r.status, r.body)
	}
}

// TestDemoSecretsStayOutOfSavedConfig runs the demo as a user does, in a
// real caddy process that saves its config: a real secret and passcode
// set in the environment are read when the config loads and when a
// request is answered, and appear in neither the admin API's config nor
// the autosave file. Without them, the log says where to go and that the
// key is a fake.
func TestDemoSecretsStayOutOfSavedConfig(t *testing.T) {
	bin := buildCaddy(t)
	data, err := os.ReadFile("../Caddyfile")
	if err != nil {
		t.Fatal(err)
	}
	const secret, passcode = "real-looking-secret-0123456789abcdefXYZ", "pass-7731"
	for _, withEnv := range []bool{true, false} {
		t.Run(fmt.Sprint("env=", withEnv), func(t *testing.T) {
			dir := t.TempDir()
			port, admin := freePort(t), freePort(t)
			cfgPath := filepath.Join(dir, "Caddyfile")
			if err := os.WriteFile(cfgPath, []byte(strings.ReplaceAll(string(data), "8080", fmt.Sprint(port))), 0o600); err != nil {
				t.Fatal(err)
			}
			var stderr lockedBuffer
			cmd := exec.Command(bin, "run", "--config", cfgPath, "--adapter", "caddyfile")
			cmd.Dir = ".." // the demo serves examples/web from the repository root
			cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_CONFIG_HOME="+dir, "XDG_DATA_HOME="+dir,
				"CADDY_ADMIN=127.0.0.1:"+fmt.Sprint(admin), "ZOOM_SDK_KEY=", "ZOOM_SDK_SECRET=", "ZOOM_MEETING_PASSWORD=",
				"ZOOM_VIDEO_SDK_KEY=", "ZOOM_VIDEO_SDK_SECRET=")
			if withEnv {
				cmd.Env = append(cmd.Env, "ZOOM_SDK_KEY=RealLookingKey0123", "ZOOM_SDK_SECRET="+secret, "ZOOM_MEETING_PASSWORD="+passcode,
					"ZOOM_VIDEO_SDK_KEY=RealLookingVideoKey0123", "ZOOM_VIDEO_SDK_SECRET="+secret)
			}
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
			base := fmt.Sprintf("http://127.0.0.1:%d", port)
			var body []byte
			for range 200 {
				req, _ := http.NewRequest("GET", base+"/api/join-config", nil)
				req.SetBasicAuth("attendee", "demo")
				if resp, err := http.DefaultClient.Do(req); err == nil {
					body, _ = io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode == 200 {
						break
					}
				}
				time.Sleep(50 * time.Millisecond)
			}
			var m map[string]any
			_ = json.Unmarshal(body, &m)
			wantKey, wantPass := "DEMOxNOTxAxREALxSDKxKEY", ""
			if withEnv {
				wantKey, wantPass = "RealLookingKey0123", passcode
			}
			if m["sdkKey"] != wantKey || m["passWord"] != wantPass {
				t.Fatalf("join config %s (stderr %s)", body, stderr.String())
			}
			leakWatch.Lock()
			leakWatch.tokens = append(leakWatch.tokens, fmt.Sprint(m["signature"]))
			leakWatch.Unlock()

			resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/config/", admin))
			if err != nil {
				t.Fatal(err)
			}
			live, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			var saved []byte
			for range 100 { // autosave is written after the config is running
				if saved, err = os.ReadFile(filepath.Join(dir, "caddy", "autosave.json")); err == nil && len(saved) > 0 {
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			if len(live) == 0 || len(saved) == 0 || !bytes.Contains(saved, []byte("zoom_signature")) {
				t.Fatalf("no config to check: live %d bytes, autosave %d bytes (%v)", len(live), len(saved), err)
			}
			for where, b := range map[string][]byte{"GET /config/": live, "autosave.json": saved, "the log": stderr.Bytes()} {
				if bytes.Contains(b, []byte(secret)) || bytes.Contains(b, []byte(passcode)) {
					t.Errorf("the secret or the passcode is in %s", where)
				}
			}
			log := stderr.String()
			if demo := strings.Contains(log, "fake SDK key") && strings.Contains(log, "http://localhost:"+fmt.Sprint(port)); demo == withEnv {
				t.Errorf("demo notice shown = %v with env = %v: %s", demo, withEnv, log)
			}
			if strings.Contains(log, "is written into the config") {
				t.Errorf("the demo's {env.*} secret was taken for a literal one: %s", log)
			}
		})
	}
}

func TestPlaceholdersOnly(t *testing.T) {
	for v, want := range map[string]string{
		"{env.ZOOM_SDK_SECRET}":       "{env.ZOOM_SDK_SECRET}",
		"{file./run/secrets/zoom}":    "{file./run/secrets/zoom}",
		"a-literal-secret":            "[written into the config]",
		"{env.A}literal":              "[written into the config]",
		"{not a placeholder}":         "[written into the config]",
		"prefix{env.ZOOM_SDK_SECRET}": "[written into the config]",
	} {
		if got := placeholdersOnly(v); got != want {
			t.Errorf("placeholdersOnly(%q) = %q, want %q", v, got, want)
		}
	}
}

// A secret written literally, or resolved when the Caddyfile is read,
// lands in the saved config: the module says so at load.
func TestLiteralSecretWarns(t *testing.T) {
	core, logs := observer.New(zapcore.WarnLevel)
	for value, warn := range map[string]bool{"a-literal-secret": true, "{env.ZS_TEST_SECRET}": false, "{file./run/secrets/x}": false} {
		warnLiteralSecret(zap.New(core), "sdk_secret", value)
		got := logs.TakeAll()
		if (len(got) == 1) != warn {
			t.Errorf("%q: %d warnings, want %v", value, len(got), warn)
		}
		for _, e := range got {
			if strings.Contains(e.Message, value) || !strings.Contains(e.Message, "{env.NAME}") {
				t.Errorf("%q: %s", value, e.Message)
			}
		}
	}
}
