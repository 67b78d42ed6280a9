package caddymodule

import (
	"context"
	"fmt"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
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

// TestTunnelPublicOriginDecision: the public origin as a function of what the
// request says and what public_origin lists.
func TestTunnelPublicOriginDecision(t *testing.T) {
	for _, c := range []struct {
		name     string
		host     string
		trusted  bool
		hdr      []string
		patterns []string
		want     string
	}{
		{"no public_origin, untrusted", "app.test", false, []string{"X-Forwarded-Proto", "https", "X-Forwarded-Host", "evil.example"}, nil, "http://app.test"},
		{"no public_origin, trusted", "127.0.0.1:8080", true, []string{"X-Forwarded-Proto", "https", "X-Forwarded-Host", "abc.ngrok-free.app"}, nil, "https://abc.ngrok-free.app"},
		{"ngrok appends: the last value counts", "abc.ngrok-free.app", true, []string{"X-Forwarded-Proto", "http, https"}, nil, "https://abc.ngrok-free.app"},
		{"CF-Visitor beats cloudflared's own hop", "a-b.trycloudflare.com", true, []string{"X-Forwarded-Proto", "http", "Cf-Visitor", `{"scheme":"https"}`}, nil, "https://a-b.trycloudflare.com"},
		{"matching wildcard", "abc.ngrok-free.app", true, []string{"X-Forwarded-Proto", "https"}, []string{"https://*.ngrok-free.app"}, "https://abc.ngrok-free.app"},
		// The fix: the host matches and the scheme does not, as zrok (no
		// X-Forwarded-Proto) and frp behind a TLS front (http) deliver it.
		{"zrok: scheme from the entry", "abc.share.zrok.io", false, nil, []string{"https://*.share.zrok.io"}, "https://abc.share.zrok.io"},
		{"frp behind TLS: scheme from the entry", "127.0.0.1:8080", true, []string{"X-Forwarded-Proto", "http", "X-Forwarded-Host", "app.frp.example"}, []string{"https://*.frp.example"}, "https://app.frp.example"},
		{"exact entry, wrong scheme", "app.example.com", false, nil, []string{"https://app.example.com"}, "https://app.example.com"},
		{"another host: the first explicit entry", "127.0.0.1:8080", false, nil, []string{"https://*.ngrok-free.app", "https://app.example.com"}, "https://app.example.com"},
		{"another host, wildcards only: none", "127.0.0.1:8080", false, nil, []string{"https://*.ngrok-free.app"}, ""},
		{"a spoofed host from an untrusted peer matches nothing", "127.0.0.1:8080", false, []string{"X-Forwarded-Host", "abc.ngrok-free.app"}, []string{"https://*.ngrok-free.app"}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "http://"+c.host+"/api/join-config", nil)
			for i := 0; i+1 < len(c.hdr); i += 2 {
				r.Header.Set(c.hdr[i], c.hdr[i+1])
			}
			r = r.WithContext(context.WithValue(r.Context(), caddyhttp.VarsCtxKey, map[string]any{caddyhttp.TrustedProxyVarKey: c.trusted}))
			h := &Handler{Gate: Gate{PublicOrigin: c.patterns}}
			if got := h.publicOrigin(r); got != c.want {
				t.Errorf("publicOrigin = %q, want %q", got, c.want)
			}
		})
	}
}

// hostedFixture is a hosted tunnel's documented header set, replayed
// against real Caddy. These tunnels cannot run here (their edges are
// hosted services, and their code is not on the registries this machine
// reaches), so what they deliver is taken from their documentation and
// source, as cited; ../shared/reference/cluster-and-tunnels.md section 1.3
// and peers-and-tunnels.md section 3.1 collect them.
type hostedFixture struct {
	name, source string
	public       string // the origin the browser is on
	trust        string // the servers block's lines
	origins      string // the README's public_origin line
	skip         string // the interstitial bypass header the frontend sends
	// headers is what the tunnel's agent delivers to Caddy; Host first.
	headers func(caddyHostport string) []string
}

var hostedFixtures = []hostedFixture{{
	name: "ngrok",
	// ngrok's upstream headers and host header docs: the public Host is
	// kept; X-Forwarded-For and -Proto are appended to what the client
	// sent (here a client's own X-Forwarded-Proto: http comes first).
	source: "ngrok's upstream headers (https://ngrok-docs-git-shaquil-doc-144-restructure-uni-fa8887-ngrok-dev.vercel.app/docs/universal-gateway/http-s/upstream-headers) and https://ngrok.com/docs/using-ngrok-with/virtualHosts",
	public: "https://abc123.ngrok-free.app", skip: "ngrok-skip-browser-warning",
	trust:   "trusted_proxies static private_ranges\n\t\ttrusted_proxies_strict",
	origins: "public_origin https://*.ngrok-free.app",
	headers: func(string) []string {
		return []string{"Host", "abc123.ngrok-free.app", "X-Forwarded-For", "198.51.100.9, 203.0.113.7",
			"X-Forwarded-Host", "abc123.ngrok-free.app", "X-Forwarded-Proto", "http, https", "Accept-Encoding", "gzip"}
	},
}, {
	name: "cloudflared",
	// cloudflared ingress/origin_proxy.go @081e2e8 and Cloudflare's
	// request headers: Host kept, X-Forwarded-Proto is the edge's hop to
	// the origin (http here, cloudflared#1245), CF-Visitor the browser's.
	source:  "cloudflared ingress/origin_proxy.go @081e2e8; cloudflare-docs content/fundamentals/get-started/reference/http-request-headers.md; cloudflared#1245",
	public:  "https://quiet-river-1234.trycloudflare.com",
	trust:   "trusted_proxies static private_ranges\n\t\tclient_ip_headers CF-Connecting-IP",
	origins: "public_origin https://*.trycloudflare.com",
	headers: func(string) []string {
		return []string{"Host", "quiet-river-1234.trycloudflare.com", "X-Forwarded-For", "203.0.113.7", "X-Forwarded-Proto", "http",
			"Cf-Visitor", `{"scheme":"https"}`, "Cf-Connecting-Ip", "203.0.113.7", "Cf-Ray", "8e6f1c2b3a4d5e6f-AMS",
			"Cf-Warp-Tag-Id", "3c0b8f3e-5d1a-4b8e-9f2c-7a6d5e4c3b2a", "Accept-Encoding", "gzip, br"}
	},
}, {
	name: "tailscale-funnel",
	// tailscale ipn/ipnlocal/serve.go @000403c (addProxyForwardedHeaders):
	// X-Forwarded-For set to the source, -Proto https, -Host the inbound
	// Host; Funnel traffic is marked Tailscale-Funnel-Request: ?1.
	source:  "tailscale ipn/ipnlocal/serve.go @000403c",
	public:  "https://laptop.tail1234.ts.net",
	trust:   "trusted_proxies static private_ranges",
	origins: "public_origin https://*.ts.net",
	headers: func(string) []string {
		return []string{"Host", "laptop.tail1234.ts.net", "X-Forwarded-For", "203.0.113.7", "X-Forwarded-Proto", "https",
			"X-Forwarded-Host", "laptop.tail1234.ts.net", "Tailscale-Funnel-Request", "?1"}
	},
}, {
	name: "zrok",
	// zrok endpoints/publicProxy/http.go and endpoints/proxy/backend.go
	// @6ff9203: Director-mode reverse proxies, Host kept, X-Forwarded-For
	// appended at the frontend and at the share, X-Proxy: zrok, and no
	// X-Forwarded-Proto or -Host at all.
	source: "zrok endpoints/publicProxy/http.go and endpoints/proxy/backend.go @6ff9203",
	public: "https://k3x9q2w7.share.zrok.io", skip: "skip_zrok_interstitial",
	origins: "public_origin https://*.share.zrok.io",
	headers: func(string) []string {
		return []string{"Host", "k3x9q2w7.share.zrok.io", "X-Forwarded-For", "203.0.113.7, 198.51.100.20", "X-Proxy", "zrok"}
	},
}, {
	name: "expose",
	// beyondcode/expose app/Server/Http/Controllers/TunnelMessageController.php
	// @473e420 (prepareRequest): Host rewritten to the shared local site,
	// X-Forwarded-Host and X-Original-Host the public host, -Proto from the
	// Expose server's TLS.
	source:  "expose app/Server/Http/Controllers/TunnelMessageController.php @473e420",
	public:  "https://demo42.sharedwithexpose.com",
	trust:   "trusted_proxies static private_ranges",
	origins: "public_origin https://*.sharedwithexpose.com",
	headers: func(local string) []string {
		return []string{"Host", local, "X-Forwarded-Proto", "https", "X-Forwarded-Host", "demo42.sharedwithexpose.com",
			"X-Original-Host", "demo42.sharedwithexpose.com", "X-Expose-Request-Id", "6750a1b2c3d4e", "X-Exposed-By", "Expose",
			"Upgrade-Insecure-Requests", "1"}
	},
}, {
	name: "pinggy",
	// Pinggy's advanced options: in its default reverse-proxy mode it adds
	// X-Forwarded-For, -Proto, -Host and Forwarded.
	source:  "https://pinggy.io/docs/advanced/advanced_options/",
	public:  "https://rnabc-203-0-113-7.a.free.pinggy.link",
	trust:   "trusted_proxies static private_ranges",
	origins: "public_origin https://*.pinggy.link",
	headers: func(string) []string {
		return []string{"Host", "rnabc-203-0-113-7.a.free.pinggy.link", "X-Forwarded-For", "203.0.113.7", "X-Forwarded-Proto", "https",
			"X-Forwarded-Host", "rnabc-203-0-113-7.a.free.pinggy.link",
			"Forwarded", "for=203.0.113.7;host=rnabc-203-0-113-7.a.free.pinggy.link;proto=https"}
	},
}}

// TestTunnelHostedFixtures replays each hosted tunnel's documented header
// set against real Caddy with the README's lines for it: FIXTURES, not the
// tunnels themselves. The page's join config, the endpoint's CORS answers
// to the frontend (a Vite dev server, as in examples/tunnel.Caddyfile) and
// to a foreign origin, the session cookie and the SDK page's isolation
// headers must come out as through the real thing.
func TestTunnelHostedFixtures(t *testing.T) {
	token := tunnelSession(t)
	port := freePort(t)
	caddy := fmt.Sprintf("http://127.0.0.1:%d", port)
	client := tunnelClient(nil, nil)
	const frontend = "http://localhost:5173"
	cookie := sessionCookie + "=" + token
	body := `{"meetingNumber":"85746065432","role":0}`
	for _, f := range hostedFixtures {
		t.Run(f.name, func(t *testing.T) {
			loadTunnelSite(t, port, tunnelCase{trust: f.trust, origins: f.origins, cors: "cors_origins " + frontend, public: f.public}, "")
			hdr := f.headers(fmt.Sprintf("127.0.0.1:%d", port))
			with := func(more ...string) []string { return append(slices.Clone(hdr), more...) }
			cfg := tunnelDo(t, client, "GET", caddy+"/api/join-config", "", with("Cookie", cookie)...)
			acrh := "content-type"
			if f.skip != "" {
				acrh += "," + f.skip
			}
			pre := tunnelDo(t, client, "OPTIONS", caddy+"/api/signature", "", with("Origin", frontend,
				"Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", acrh)...)
			cross := tunnelDo(t, client, "POST", caddy+"/api/signature", body, with("Origin", frontend, "Cookie", cookie)...)
			same := tunnelDo(t, client, "POST", caddy+"/api/signature", body, with("Origin", f.public, "Cookie", cookie)...)
			evil := tunnelDo(t, client, "POST", caddy+"/api/signature", body, with("Origin", "https://evil.example", "Cookie", cookie)...)
			page := tunnelDo(t, client, "GET", caddy+"/meeting.html", "", hdr...)

			var replayed []string
			for i := 0; i+1 < len(hdr); i += 2 {
				replayed = append(replayed, hdr[i]+": "+hdr[i+1])
			}
			leave := cfg.json(t)["leaveUrl"]
			t.Logf("%s FIXTURE (replayed from %s, not a real %s): Caddy got %s", f.name, f.source, f.name, strings.Join(replayed, " | "))
			t.Logf("%s FIXTURE: with %q: the module chose the public origin %s (leaveUrl %v); preflight from %s %d (Access-Control-Allow-Origin %q, -Headers %q); POST from there %d, from the public origin %d, from https://evil.example %d %s",
				f.name, f.origins, strings.TrimSuffix(fmt.Sprint(leave), "/bye"), leave, frontend, pre.status, pre.header.Get("Access-Control-Allow-Origin"),
				pre.header.Get("Access-Control-Allow-Headers"), cross.status, same.status, evil.status, errorCodeOf(evil))

			if cfg.status != 200 || leave != f.public+"/bye" || cfg.json(t)["userName"] != "Alice Example" {
				t.Errorf("join config %d: leaveUrl %v, userName %v; want %s/bye for the session's user", cfg.status, leave, cfg.json(t)["userName"], f.public)
			}
			if pre.status != 204 || pre.header.Get("Access-Control-Allow-Origin") != frontend || pre.header.Get("Access-Control-Allow-Credentials") != "true" ||
				(f.skip != "" && !strings.Contains(pre.header.Get("Access-Control-Allow-Headers"), f.skip)) {
				t.Errorf("preflight from %s: %d %v", frontend, pre.status, pre.header)
			}
			if cross.status != 200 || cross.header.Get("Access-Control-Allow-Origin") != frontend || cross.json(t)["signature"] == nil {
				t.Errorf("the frontend's POST: %d %v %s", cross.status, cross.header, cross.body)
			}
			if same.status != 200 {
				t.Errorf("the page's own POST from %s: %d %s", f.public, same.status, same.body)
			}
			if evil.status != 403 || evil.errorCode(t) != codeOriginNotAllowed {
				t.Errorf("a foreign origin: %d %s", evil.status, evil.body)
			}
			if page.header.Get("Cross-Origin-Opener-Policy") != "same-origin" || page.header.Get("Cross-Origin-Embedder-Policy") != "require-corp" {
				t.Errorf("the SDK page's isolation headers: %v", page.header)
			}
		})
	}
}
