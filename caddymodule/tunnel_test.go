package caddymodule

import (
	"strings"
	"testing"
)

// The app site trusts loopback peers (as tunnel agents connect from
// 127.0.0.1), and a second site plays the tunnel edge: it forwards to the
// app with the headers ngrok and cloudflared add.
const (
	trustLoopback = `
	servers {
		trusted_proxies static private_ranges
	}`
	trustNobodyHere = `
	servers {
		trusted_proxies static 10.0.0.0/8
	}`
	tunnelApp = `
	basic_auth /api/* {
		attendee {HASH}
	}
	zoom_signature /api/join/* {
		sdk_key ` + testKey + `
		sdk_secret {env.ZS_TEST_SECRET}
		public_origin https://*.ngrok-free.app
		url_fields leaveUrl
	}
	zoom_signature /api/fixed/* {
		sdk_key ` + testKey + `
		sdk_secret {env.ZS_TEST_SECRET}
		public_origin https://app.example.com
		url_fields leaveUrl
	}
	zoom_signature /api/inferred/* {
		sdk_key ` + testKey + `
		sdk_secret {env.ZS_TEST_SECRET}
		url_fields leaveUrl
	}
	zoom_signature /signature {
		mode endpoint
		sdk_key ` + testKey + `
		sdk_secret {env.ZS_TEST_SECRET}
		meetings any
		allow_anonymous
		public_origin https://*.ngrok-free.app
	}
	reverse_proxy /api/* {BACKEND}
`
	tunnelEdge = `
http://127.0.0.1:{EDGE} {
	reverse_proxy 127.0.0.1:{PORT} {
		header_up Host {upstream_hostport}
		header_up X-Forwarded-Host abc123.ngrok-free.app
		header_up X-Forwarded-Proto https
		header_up CF-Visitor "{\"scheme\":\"https\"}"
	}
}`
)

func TestTunnelPublicOrigin(t *testing.T) {
	b := newBackend(t)
	c := startCaddyWith(t, trustLoopback, tunnelApp, tunnelEdge, b.URL)
	through := &instance{t: t, base: c.edge, client: c.client}

	// Through the edge: leaveUrl comes back on the public origin.
	resp := through.do("GET", "/api/join/join-config", "attendee", "")
	if resp.status != 200 || resp.json(t)["leaveUrl"] != "https://abc123.ngrok-free.app/bye" {
		t.Fatalf("through the tunnel: %d %s", resp.status, resp.body)
	}
	checkSigned(t, resp.json(t)["signature"].(string), "85746065432", 0)
	if xff := b.header().Get("X-Forwarded-For"); !strings.Contains(xff, "127.0.0.1") {
		t.Fatalf("the backend saw X-Forwarded-For %q", xff)
	}
	// Inferred from the trusted forwarded headers, with no public_origin.
	if resp = through.do("GET", "/api/inferred/join-config", "attendee", ""); resp.json(t)["leaveUrl"] != "https://abc123.ngrok-free.app/bye" {
		t.Fatalf("inferred: %s", resp.body)
	}
	// An explicit public_origin wins over the headers.
	if resp = through.do("GET", "/api/fixed/join-config", "attendee", ""); resp.json(t)["leaveUrl"] != "https://app.example.com/bye" {
		t.Fatalf("explicit: %s", resp.body)
	}
	// A cross-origin preflight from the tunnel's public origin, with the
	// interstitial skip headers, is answered before authentication.
	resp = through.do("OPTIONS", "/signature", "", "", "Origin", "https://abc123.ngrok-free.app",
		"Access-Control-Request-Method", "POST",
		"Access-Control-Request-Headers", "content-type,ngrok-skip-browser-warning,skip_zrok_interstitial,bypass-tunnel-reminder")
	if resp.status != 204 || resp.header.Get("Access-Control-Allow-Origin") != "https://abc123.ngrok-free.app" ||
		!strings.Contains(resp.header.Get("Access-Control-Allow-Headers"), "ngrok-skip-browser-warning") {
		t.Fatalf("tunnel preflight: %d %v", resp.status, resp.header)
	}
	// Same-origin POST through the tunnel: Origin is the public origin.
	resp = through.do("POST", "/signature", "", `{"meetingNumber":"85746065432","role":0}`, "Origin", "https://abc123.ngrok-free.app")
	if resp.status != 200 {
		t.Fatalf("POST through the tunnel: %d %s", resp.status, resp.body)
	}
	if resp = through.do("POST", "/signature", "", `{"meetingNumber":"85746065432","role":0}`, "Origin", "https://evil.example"); resp.status != 403 {
		t.Fatalf("foreign origin through the tunnel: %d", resp.status)
	}
}

// TestForwardedHeadersFromUntrustedPeers: the same headers sent by a peer
// Caddy does not trust change nothing.
func TestForwardedHeadersFromUntrustedPeers(t *testing.T) {
	b := newBackend(t)
	c := startCaddyWith(t, trustNobodyHere, tunnelApp, "", b.URL)
	spoof := []string{"X-Forwarded-Host", "evil.example", "X-Forwarded-Proto", "https", "CF-Visitor", `{"scheme":"https"}`}
	resp := c.do("GET", "/api/inferred/join-config", "attendee", "", spoof...)
	if got := resp.json(t)["leaveUrl"]; got != c.base+"/bye" {
		t.Fatalf("leaveUrl %v, want the request's own origin %s", got, c.base)
	}
	// With a wildcard public_origin and no trusted headers, nothing matches:
	// the field is left alone rather than pointed at a guess.
	if resp = c.do("GET", "/api/join/join-config", "attendee", "", spoof...); resp.json(t)["leaveUrl"] != "/bye" {
		t.Fatalf("untrusted wildcard: %s", resp.body)
	}
	// And a spoofed public host does not make a foreign origin "same".
	if resp = c.do("POST", "/signature", "", `{"meetingNumber":"85746065432","role":0}`, append(spoof, "Origin", "https://evil.example")...); resp.status != 403 {
		t.Fatalf("spoofed same-origin: %d %s", resp.status, resp.body)
	}
}
