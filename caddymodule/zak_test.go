package caddymodule

import (
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/zoomsig/caddy-zoom-signature/caddymodule/inspect"
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/zoomapi/zoomtest"
)

// zakApp is the zoom app of the ZAK tests: its zoom_api at the zoomtest
// fake ({ZOOM}), with the credentials newZoomFake puts in the
// environment.
const zakApp = `zoom {
		zoom_api {
			account_id {env.ZS_ZOOM_ACCOUNT}
			client_id {env.ZS_ZOOM_CLIENT}
			client_secret {env.ZS_ZOOM_SECRET}
			oauth_url {ZOOM}/oauth/token
			api_url {ZOOM}/v2
		}
	}`

// zakBlock is a handler's zak block that fetches the signed-in user's
// ZAK (the default user).
const zakBlock = `zak`

const zakSite = `
	@authed {
		path /z/*
		not method OPTIONS
	}
	basic_auth @authed {
		attendee {HASH}
		host {HASH}
		stranger {HASH}
	}
	handle /z/join/* {
		zoom_signature {
			sdk_key ` + testKey + `
			sdk_secret {env.ZS_TEST_SECRET}
			host_when {http.auth.user.id} host stranger
			zak {
				user {http.auth.user.id}
			}
			require_zak_for_host
		}
		reverse_proxy {BACKEND}
	}
	handle /z/lenient/* {
		zoom_signature {
			sdk_key ` + testKey + `
			sdk_secret {env.ZS_TEST_SECRET}
			host_when any
			` + zakBlock + `
		}
		reverse_proxy {BACKEND}
	}
	handle /z/nozak/* {
		zoom_signature {
			sdk_key ` + testKey + `
			sdk_secret {env.ZS_TEST_SECRET}
			host_when any
			require_zak_for_host
		}
		reverse_proxy {BACKEND}
	}
	handle /z/endpoint {
		zoom_signature {
			mode endpoint
			sdk_key ` + testKey + `
			sdk_secret {env.ZS_TEST_SECRET}
			meetings any
			host_when {http.auth.user.id} host
			` + zakBlock + `
			require_zak_for_host
		}
	}
`

// newZoomFake starts the fake Zoom with the Zoom user "host", puts its
// credentials where zakApp and zoomAPIBlock read them, and has the leak
// scan watch for its client secret.
func newZoomFake(t *testing.T) *zoomtest.Server {
	z := zoomtest.New("host")
	t.Cleanup(z.Close)
	t.Setenv("ZS_ZOOM_ACCOUNT", z.AccountID)
	t.Setenv("ZS_ZOOM_CLIENT", z.ClientID)
	t.Setenv("ZS_ZOOM_SECRET", z.ClientSecret)
	leakWatch.Lock()
	leakWatch.secrets = append(leakWatch.secrets, z.ClientSecret)
	leakWatch.Unlock()
	return z
}

func startZAK(t *testing.T) (*instance, *zoomtest.Server) {
	z := newZoomFake(t)
	b := newBackend(t)
	return startCaddyWith(t, strings.ReplaceAll(zakApp, "{ZOOM}", z.URL), zakSite, "", b.URL), z
}

func TestZAKHostJoin(t *testing.T) {
	c, z := startZAK(t)
	resp := c.do("GET", "/z/join/host", "host", "")
	if resp.status != 200 {
		t.Fatalf("host: %d %s", resp.status, resp.body)
	}
	m := resp.json(t)
	if m["zak"] == nil || m["zak"] != z.LastZAK("host") {
		t.Fatalf("join config zak %v, want the host's ZAK", m["zak"])
	}
	// inspect is satisfied by a host join config that carries a ZAK.
	r := inspect.Inspect(m["signature"].(string), inspect.Options{Secret: testSecret, ZAKPresent: m["zak"] != ""})
	if r.HasErrors() || r.Has("host_without_zak") {
		t.Fatalf("inspect: %+v", r.Findings)
	}
	// Attendees get no ZAK and cause no Zoom calls.
	calls := z.OAuthCalls.Load()
	resp = c.do("GET", "/z/join/join-config", "attendee", "")
	if _, ok := resp.json(t)["zak"]; ok || z.OAuthCalls.Load() != calls {
		t.Fatalf("attendee join config: %s", resp.body)
	}
	// Endpoint mode adds the ZAK to the sample's response for hosts.
	resp = c.do("POST", "/z/endpoint", "host", `{"meetingNumber":"85746065432","role":1}`)
	if resp.status != 200 || resp.json(t)["zak"] != z.LastZAK("host") {
		t.Fatalf("endpoint: %d %s", resp.status, resp.body)
	}
}

// TestZAKCaching proves the caching with 200 concurrent host requests: one
// OAuth fetch and one ZAK fetch for the user, in all.
func TestZAKCaching(t *testing.T) {
	c, z := startZAK(t)
	var wg sync.WaitGroup
	var mu sync.Mutex
	bad := 0
	for range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp := c.do("GET", "/z/join/host", "host", "")
			if resp.status != 200 || !strings.Contains(string(resp.body), `"zak":"`) {
				mu.Lock()
				bad++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if bad != 0 {
		t.Fatalf("%d of 200 host requests failed", bad)
	}
	if o, k := z.OAuthCalls.Load(), z.ZAKCalls("host"); o != 1 || k != 1 {
		t.Fatalf("200 concurrent host requests: %d OAuth and %d ZAK fetches", o, k)
	}
	if v := c.metricValue(t, `caddy_zoom_signature_zoom_api_requests_total{kind="zak",result="ok"}`); v < 1 {
		t.Fatalf("zak metric %v", v)
	}
}

func TestZAKFailures(t *testing.T) {
	c, z := startZAK(t)
	// A revoked access token: refreshed once, and the call retried.
	if resp := c.do("GET", "/z/join/host", "host", ""); resp.status != 200 {
		t.Fatal(resp.status)
	}
	z.ExpireTokens()
	// stranger may be host but is no Zoom user: 403 naming the mapping.
	resp := c.do("GET", "/z/join/host", "stranger", "")
	if resp.status != 403 || resp.errorCode(t) != "zak_user_not_found" || !strings.Contains(string(resp.body), "user mapping") {
		t.Fatalf("unknown Zoom user: %d %s", resp.status, resp.body)
	}
	if z.OAuthCalls.Load() != 2 {
		t.Fatalf("the revoked token was not refreshed exactly once: %d OAuth calls", z.OAuthCalls.Load())
	}
	// Rate-limited: 503, and Retry-After is honoured without calling Zoom again.
	z.RateLimit(3600)
	resp = c.do("GET", "/z/lenient/host", "attendee", "")
	if resp.status != 200 || strings.Contains(string(resp.body), `"zak"`) {
		t.Fatalf("lenient route, rate limited: %d %s", resp.status, resp.body)
	}
	calls := z.ZAKCalls("attendee")
	for range 3 {
		resp = c.do("GET", "/z/lenient/host", "attendee", "")
	}
	if z.ZAKCalls("attendee") != calls {
		t.Fatalf("Zoom was called %d more times inside Retry-After", z.ZAKCalls("attendee")-calls)
	}
	// OAuth down, with require_zak_for_host: never a host join without a ZAK.
	z.RateLimit(0)
	z.ExpireTokens()
	z.FailOAuth(true)
	c2, z2 := startZAK(t)
	z2.FailOAuth(true)
	resp = c2.do("GET", "/z/join/host", "host", "")
	if resp.status != http.StatusServiceUnavailable || resp.errorCode(t) != "zoom_oauth_unavailable" {
		t.Fatalf("OAuth down: %d %s", resp.status, resp.body)
	}
	if strings.Contains(string(resp.body), "signature") {
		t.Fatal("a refused host join carried a signature")
	}
	// No zak block but require_zak_for_host: refused, unless the backend
	// already put a ZAK in the join config.
	if resp = c2.do("GET", "/z/nozak/host", "attendee", ""); resp.status != 403 || resp.errorCode(t) != "zak_missing" {
		t.Fatalf("no zak configured: %d %s", resp.status, resp.body)
	}
	if resp = c2.do("GET", "/z/nozak/host-with-zak", "attendee", ""); resp.status != 200 || resp.json(t)["zak"] != "backend-provided-zak" {
		t.Fatalf("backend-provided zak: %d %s", resp.status, resp.body)
	}
}
