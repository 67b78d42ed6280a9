package caddymodule

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/zoomsig/caddy-zoom-signature/caddymodule/zoomapi/zoomtest"
)

// clusterSite is one Caddyfile for every process of the cluster: the
// same storage folder, the same keys; each its own address
// ({$SITE_ADDRESS}) and admin (CADDY_ADMIN).
const clusterSite = `{
	auto_https off
	persist_config off
	storage file_system {STORAGE}
	log {
		format json
		level DEBUG
	}
	zoom {
		{ZOOMAPI}
		{OAUTH}
	}
}

{$SITE_ADDRESS} {
	@site path /api/* /zoom/*
	basic_auth @site {
		alice {HASH}
	}
	handle /zoom/connect/* {
		zoom_connect {
			done_url /joined
		}
	}
	handle /api/join-config {
		zoom_signature {
			sdk_key ` + testKey + `
			sdk_secret {env.ZS_TEST_SECRET}
			obf
		}
		reverse_proxy {BACKEND}
	}
}
`

// TestClusterOneRefresh runs two real caddy processes on one file_system
// storage folder: 50 concurrent joins for one user whose access token is
// stale, spread over both, cause exactly one refresh at Zoom, and both
// processes keep working after it.
func TestClusterOneRefresh(t *testing.T) {
	z := zoomtest.New("host")
	t.Cleanup(z.Close)
	z.AddZoomUser(zoomtest.ZoomUser{ID: "zu-alice", Email: "alice@elsewhere.example"})
	backend := helpersBackend(t)
	dir := t.TempDir()
	storage := filepath.Join(dir, "storage")
	oauth := strings.NewReplacer("http://127.0.0.1:{PORT}/zoom/connect/callback", "{$SITE_ADDRESS}/zoom/connect/callback", "{ZOOM}", z.URL).Replace(oauthApp)
	zoomAPI := strings.ReplaceAll(zoomAPIBlock, "{ZOOM}", z.URL)
	cfg := strings.NewReplacer("{STORAGE}", storage, "{HASH}", passwordHash(t), "{OAUTH}", oauth, "{ZOOMAPI}", zoomAPI, "{BACKEND}", backend.URL).Replace(clusterSite)
	cfgPath := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{
		"ZS_OAUTH_CLIENT=" + z.App.ClientID, "ZS_OAUTH_SECRET=" + z.App.ClientSecret,
		"ZS_GRANT_KEY=" + base64Std("0123456789abcdef0123456789abcdef"), "ZS_OLD_GRANT_KEY=" + base64Std("fedcba9876543210fedcba9876543210"),
		"ZS_ZOOM_ACCOUNT=" + z.AccountID, "ZS_ZOOM_CLIENT=" + z.ClientID, "ZS_ZOOM_SECRET=" + z.ClientSecret,
	}
	a, b := runCaddy(t, cfgPath, env...), runCaddy(t, cfgPath, env...)
	leakWatch.Lock()
	leakWatch.secrets = append(leakWatch.secrets, z.App.ClientSecret, z.ClientSecret)
	leakWatch.Unlock()

	// Connect alice through a, with an access token that is stale at once
	// (inside the 5-minute margin).
	z.UserTokenLifetime(10)
	e := obfEnv{c: a.instance(t), z: z}
	e.connect(t, "alice", "zu-alice")
	z.UserTokenLifetime(0)
	if n := z.RefreshCalls(); n != 0 {
		t.Fatalf("%d refreshes before any join", n)
	}

	var wg sync.WaitGroup
	var mu sync.Mutex
	var failed []string
	for i := range 50 {
		p := a
		if i%2 == 1 {
			p = b
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if r := clusterJoin(t, p, fmt.Sprint(81111111400+i)); r.status != 200 || !strings.Contains(string(r.body), `"obfToken":"`) {
				mu.Lock()
				failed = append(failed, fmt.Sprintf("%d %s", r.status, r.body))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(failed) > 0 {
		t.Fatalf("%d of 50 joins failed: %v", len(failed), failed[0])
	}
	if n := z.RefreshCalls(); n != 1 {
		t.Fatalf("50 concurrent joins on two processes caused %d refreshes, want 1", n)
	}
	// Both keep working on the rotated grant, with no more refreshes.
	for _, p := range []*process{a, b, a, b} {
		if r := clusterJoin(t, p, "81111111499"); r.status != 200 || !strings.Contains(string(r.body), `"obfToken":"`) {
			t.Fatalf("after the refresh: %d %s", r.status, r.body)
		}
	}
	if n := z.RefreshCalls(); n != 1 {
		t.Fatalf("%d refreshes after", n)
	}
	// The storage folder and the processes' logs hold no token or secret.
	scanFolder(t, storage, append(z.UserSecrets(), z.ClientSecret, "alice@elsewhere.example")...)
	for _, p := range []*process{a, b} {
		logs, _ := os.ReadFile(p.logPath)
		for _, s := range append(z.UserSecrets(), z.ClientSecret, testSecret) {
			if strings.Contains(string(logs), s) {
				t.Fatalf("a secret or token is in %s", p.logPath)
			}
		}
	}
}

func clusterJoin(t *testing.T, p *process, meeting string) response {
	req, _ := http.NewRequest("GET", p.base+"/api/join-config?meeting="+meeting, nil)
	req.SetBasicAuth("alice", testPassword)
	resp, err := p.client.Do(req)
	if err != nil {
		return response{body: []byte(err.Error())}
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	watchResponse(body, resp.Header)
	return response{status: resp.StatusCode, header: resp.Header, body: body}
}
