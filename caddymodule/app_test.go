package caddymodule

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestAppSharedAcrossRoutesAndReloads: the zoom app's Zoom API client is
// one per config, whatever the number of routes that use it (one access
// token, one lookup per meeting for both routes), and a reload with the
// same zoom_api keeps it (no new token, lookups kept in memory), while a
// reload with another zoom_api gets a client of its own.
func TestAppSharedAcrossRoutesAndReloads(t *testing.T) {
	c, z := startHelpers(t, "")
	join := func(route string) {
		t.Helper()
		r := c.do(http.MethodGet, route+"?meeting="+mtgOpen, "alice", "")
		if r.status != http.StatusOK || r.json(t)["passWord"] != "pc-open-7Hq2xZ9w" {
			t.Fatalf("%s: %d %s", route, r.status, r.body)
		}
	}
	join("/api/join-config")
	join("/api/always")
	if n, tokens := z.MeetingCalls(mtgOpen), len(z.AccessTokens()); n != 1 || tokens != 1 {
		t.Fatalf("two routes cost %d meeting lookups and %d access tokens, want 1 and 1: they do not share the zoom app's client", n, tokens)
	}

	cfg := c.currentConfig(t)
	c.reload(t, cfg)
	join("/api/join-config")
	if n, tokens := z.MeetingCalls(mtgOpen), len(z.AccessTokens()); n != 1 || tokens != 1 {
		t.Fatalf("after a reload with the same zoom_api: %d meeting lookups and %d access tokens, want 1 and 1 (the client is kept)", n, tokens)
	}

	other := strings.Replace(cfg, `"timeout":2000000000`, `"timeout":3000000000`, 1)
	if other == cfg {
		t.Fatalf("the config has no zoom_api timeout to change:\n%s", cfg)
	}
	c.reload(t, other)
	join("/api/join-config")
	if n, tokens := z.MeetingCalls(mtgOpen), len(z.AccessTokens()); n != 2 || tokens != 2 {
		t.Fatalf("after a reload with another zoom_api: %d meeting lookups and %d access tokens, want 2 and 2 (a client of its own)", n, tokens)
	}
}

// TestConnectUnauthenticated: a connect route that no auth handler
// guards has no site user, and says so with its own code.
func TestConnectUnauthenticated(t *testing.T) {
	t.Setenv("ZS_GRANT_KEY", base64Std(strings.Repeat("g", 32)))
	global := zoomBlock(`oauth {
			client_id c
			client_secret s
			redirect_uri https://app.example.com/zoom/connect/callback
		}`, "seal_keys {env.ZS_GRANT_KEY}", "sdk_key "+testKey, "sdk_secret {env.ZS_TEST_SECRET}")
	c := startCaddyWith(t, "storage file_system "+t.TempDir()+"\n\t"+global, `
	basic_auth /signed-in/* {
		alice {HASH}
	}
	handle /zoom/connect/* {
		zoom_connect
	}
	handle_path /signed-in/* {
		zoom_connect
	}
`, "", "")
	r := c.do(http.MethodGet, "/zoom/connect/status", "", "")
	if r.status != http.StatusUnauthorized || r.errorCode(t) != "connect_unauthenticated" {
		t.Fatalf("unguarded connect route: %d %s", r.status, r.body)
	}
	r = c.do(http.MethodGet, "/signed-in/zoom/connect/status", "alice", "")
	if r.status != http.StatusOK || r.json(t)["connected"] != false || r.json(t)["connectUrl"] != "/zoom/connect/start" {
		t.Fatalf("signed-in status: %d %s", r.status, r.body)
	}
}

// currentConfig is the running config, from the admin API.
func (c *instance) currentConfig(t *testing.T) string {
	t.Helper()
	resp, err := http.Get(c.admin + "/config/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// reload loads cfg through the admin API, even when it is the running
// one (Caddy skips an unchanged config otherwise).
func (c *instance) reload(t *testing.T, cfg string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, c.admin+"/load", strings.NewReader(cfg))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Cache-Control", "must-revalidate")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("reload: %d %s", resp.StatusCode, b)
	}
	// The old config's server closes its idle connections.
	c.client.CloseIdleConnections()
}
