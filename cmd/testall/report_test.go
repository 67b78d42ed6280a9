package main

import (
	"bytes"
	"strings"
	"testing"
)

// A go test -json stream, shortened from a real one.
const stream = `{"Action":"start","Package":"github.com/zoomsig/caddy-zoom-signature/caddymodule/signature"}
{"Action":"run","Package":"github.com/zoomsig/caddy-zoom-signature/caddymodule/signature","Test":"TestSign"}
{"Action":"output","Package":"github.com/zoomsig/caddy-zoom-signature/caddymodule/signature","Test":"TestSign","Output":"=== RUN   TestSign\n"}
{"Action":"output","Package":"github.com/zoomsig/caddy-zoom-signature/caddymodule/signature","Test":"TestSign","Output":"--- PASS: TestSign (0.00s)\n"}
{"Action":"pass","Package":"github.com/zoomsig/caddy-zoom-signature/caddymodule/signature","Test":"TestSign"}
{"Action":"output","Package":"github.com/zoomsig/caddy-zoom-signature/caddymodule/signature","Output":"PASS\n"}
{"Action":"output","Package":"github.com/zoomsig/caddy-zoom-signature/caddymodule/signature","Output":"ok  \tgithub.com/zoomsig/caddy-zoom-signature/caddymodule/signature\t0.01s\n"}
{"Action":"pass","Package":"github.com/zoomsig/caddy-zoom-signature/caddymodule/signature"}
{"Action":"output","Package":"github.com/zoomsig/caddy-zoom-signature/caddymodule","Test":"TestInject","Output":"=== RUN   TestInject\n"}
{"Action":"output","Package":"github.com/zoomsig/caddy-zoom-signature/caddymodule","Test":"TestInject","Output":"    inject_test.go:9: quiet\n"}
{"Action":"pass","Package":"github.com/zoomsig/caddy-zoom-signature/caddymodule","Test":"TestInject"}
{"Action":"output","Package":"github.com/zoomsig/caddy-zoom-signature/caddymodule","Test":"TestBrowser","Output":"=== RUN   TestBrowser\n"}
{"Action":"output","Package":"github.com/zoomsig/caddy-zoom-signature/caddymodule","Test":"TestBrowser","Output":"--- FAIL: TestBrowser (1.00s)\n"}
{"Action":"fail","Package":"github.com/zoomsig/caddy-zoom-signature/caddymodule","Test":"TestBrowser"}
{"Action":"output","Package":"github.com/zoomsig/caddy-zoom-signature/caddymodule","Test":"TestTunnelFRP","Output":"=== RUN   TestTunnelFRP\n"}
{"Action":"output","Package":"github.com/zoomsig/caddy-zoom-signature/caddymodule","Test":"TestTunnelFRP/http-vhost","Output":"    tunnels_test.go:1: frp/http-vhost: Caddy got Host: staging.frp.test\n"}
{"Action":"pass","Package":"github.com/zoomsig/caddy-zoom-signature/caddymodule","Test":"TestTunnelFRP/http-vhost"}
{"Action":"pass","Package":"github.com/zoomsig/caddy-zoom-signature/caddymodule","Test":"TestTunnelFRP"}
{"Action":"output","Package":"github.com/zoomsig/caddy-zoom-signature/caddymodule","Test":"TestTunnelLocaltunnel","Output":"=== RUN   TestTunnelLocaltunnel\n"}
{"Action":"output","Package":"github.com/zoomsig/caddy-zoom-signature/caddymodule","Test":"TestTunnelLocaltunnel","Output":"    tunnels_test.go:2: the npm packages failed to install (npm ci: exit status 1); see above\n"}
{"Action":"output","Package":"github.com/zoomsig/caddy-zoom-signature/caddymodule","Test":"TestTunnelLocaltunnel","Output":"--- SKIP: TestTunnelLocaltunnel (0.00s)\n"}
{"Action":"skip","Package":"github.com/zoomsig/caddy-zoom-signature/caddymodule","Test":"TestTunnelLocaltunnel"}
{"Action":"output","Package":"github.com/zoomsig/caddy-zoom-signature/caddymodule","Test":"TestDifferential","Output":"    differential_test.go:142: no ../shared next to this checkout (open ../shared: no such file); the testdata copy is used\n"}
{"Action":"skip","Package":"github.com/zoomsig/caddy-zoom-signature/caddymodule","Test":"TestDifferential"}
{"Action":"output","Package":"github.com/zoomsig/caddy-zoom-signature/caddymodule","Output":"FAIL\n"}
{"Action":"fail","Package":"github.com/zoomsig/caddy-zoom-signature/caddymodule"}
`

func TestReport(t *testing.T) {
	var out bytes.Buffer
	r := newReport(&out, false)
	r.read(strings.NewReader(stream))
	got := out.String()
	for _, want := range []string{
		"ok  \tgithub.com/zoomsig/caddy-zoom-signature/caddymodule/signature",
		"--- FAIL: TestBrowser",              // failures in full
		"frp/http-vhost: Caddy got",          // the tunnel suites in full
		"the npm packages failed to install", // skips with their reason
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the output lacks %q:\n%s", want, got)
		}
	}
	for _, quiet := range []string{"PASS\n", "TestSign", "quiet"} {
		if strings.Contains(got, quiet) {
			t.Errorf("the output has %q, which only -v shows:\n%s", quiet, got)
		}
	}
	const want = "testall: ran unit, integration, browser [1 failed], tunnels (frp); " +
		"skipped: 1 of integration's tests (no ../shared next to this checkout (open ../shared: no such file)), " +
		"cluster (not selected), chisel (not selected), localtunnel (the npm packages failed to install (npm ci: exit status 1)), hosted fixtures (not selected)"
	if s := r.summary(); s != want {
		t.Errorf("summary\n got %s\nwant %s", s, want)
	}
}
