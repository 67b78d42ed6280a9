package caddymodule

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

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
}
