package caddymodule

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// metricValue reads one series from the admin /metrics endpoint.
func (c *instance) metricValue(t *testing.T, series string) float64 {
	t.Helper()
	resp, err := http.Get(c.admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	leakWatch.Lock()
	leakWatch.seen.Write(b)
	leakWatch.Unlock()
	// The series' labels must all be there; other labels (handler) are
	// summed over.
	name, want, _ := strings.Cut(strings.TrimSuffix(series, "}"), "{")
	total := 0.0
	for _, m := range regexp.MustCompile(`(?m)^(\w+)(?:\{(.*)\})? (\S+)$`).FindAllSubmatch(b, -1) {
		if string(m[1]) != name {
			continue
		}
		have := "," + string(m[2]) + ","
		match := true
		for _, l := range strings.Split(want, ",") {
			if l != "" && !strings.Contains(have, ","+l+",") {
				match = false
			}
		}
		if !match {
			continue
		}
		v, err := strconv.ParseFloat(string(m[3]), 64)
		if err != nil {
			t.Fatal(err)
		}
		total += v
	}
	return total
}

func TestMetrics(t *testing.T) {
	c, b := startInject(t)
	series := map[string]string{
		"signed0":  `caddy_zoom_signature_signatures_total{role="0",sdk="meeting"}`,
		"signed1":  `caddy_zoom_signature_signatures_total{role="1",sdk="meeting"}`,
		"host":     `caddy_zoom_signature_refusals_total{code="host_not_allowed"}`,
		"unauth":   `caddy_zoom_signature_refusals_total{code="unauthenticated"}`,
		"invalid":  `caddy_zoom_signature_refusals_total{code="join_config_invalid"}`,
		"unsign":   `caddy_zoom_signature_unsignable_total{code="join_config_invalid"}`,
		"status":   `caddy_zoom_signature_passthrough_total{reason="status"}`,
		"notjson":  `caddy_zoom_signature_passthrough_total{reason="not_json"}`,
		"head":     `caddy_zoom_signature_passthrough_total{reason="head"}`,
		"observed": `caddy_zoom_signature_handler_duration_seconds_count{mode="inject"}`,
	}
	before := map[string]float64{}
	for k, s := range series {
		before[k] = c.metricValue(t, s)
	}
	c.do("GET", "/api/join/join-config", "attendee", "")
	c.do("GET", "/api/join/join-config", "attendee", "")
	c.do("GET", "/api/join/host", "host", "")
	c.do("GET", "/api/join/host", "attendee", "")
	c.do("GET", "/open/join-config", "", "")
	c.do("GET", "/api/join/malformed", "attendee", "")
	c.do("GET", "/api/join/fail", "attendee", "")
	c.do("GET", "/api/join/html", "attendee", "")
	c.do("HEAD", "/api/join/join-config", "attendee", "")
	want := map[string]float64{"signed0": 2, "signed1": 1, "host": 1, "unauth": 1, "invalid": 1, "unsign": 1, "status": 1, "notjson": 1, "head": 1, "observed": 9}
	for k, d := range want {
		if got := c.metricValue(t, series[k]) - before[k]; got != d {
			t.Errorf("%s grew by %v, want %v", series[k], got, d)
		}
	}

	// A reload re-registers the same collectors into the new registry:
	// no panic, and the counters carry on from where they were.
	at := c.metricValue(t, series["signed0"])
	c2 := startCaddy(t, injectSite, b.URL)
	if got := c2.metricValue(t, series["signed0"]); got != at {
		t.Fatalf("after reload the counter reads %v, want %v", got, at)
	}
	c2.do("GET", "/api/join/join-config", "attendee", "")
	if got := c2.metricValue(t, series["signed0"]); got != at+1 {
		t.Fatalf("after reload and one signature the counter reads %v, want %v", got, at+1)
	}
}

// TestCaddySeesTheUser: a session_jwt user is the access log's user_id, as
// with Caddy's own authentication; a refusal's log line is at debug (a 5xx
// at error) and carries the request id the access log can append; a name
// tells handlers apart in the metrics.
func TestCaddySeesTheUser(t *testing.T) {
	j := newJWKSEndpoint(t)
	c, _ := startSessions(t, j, "1h")
	if r := c.do("GET", "/s/join/join-config", "", "", withCookie(hs(t, jwt.MapClaims{"sub": "carol"}))...); r.status != 200 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	if r := c.do("GET", "/s/join/host", "", "", withCookie(hs(t, jwt.MapClaims{"sub": "dave"}))...); r.status != 403 {
		t.Fatalf("host: %d %s", r.status, r.body)
	}
	var access map[string]any
	l := c.refusedLine(t, "host_not_allowed")
	for range 50 {
		data, _ := os.ReadFile(c.logPath)
		for _, line := range bytes.Split(data, []byte("\n")) {
			var m map[string]any
			if json.Unmarshal(line, &m) == nil && m["msg"] == "handled request" && m["user_id"] == "carol" {
				access = m
			}
		}
		if access != nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if access == nil {
		t.Fatal("no access log line with user_id carol")
	}
	if l["level"] != "debug" || l["request_id"] == "" || l["request_id"] == nil || l["user"] != "dave" {
		t.Fatalf("refusal line %v", l)
	}

	c2 := startCaddy(t, `
	basic_auth /* {
		attendee {HASH}
	}
	zoom_signature /a/* {
		name alpha
		sdk_key `+testKey+`
		sdk_secret {env.ZS_TEST_SECRET}
	}
	zoom_signature /b/* {
		name beta
		sdk_key `+testKey+`
		sdk_secret {env.ZS_TEST_SECRET}
	}
	reverse_proxy {BACKEND}
`, newBackend(t).URL)
	before := c2.metricValue(t, `caddy_zoom_signature_signatures_total{handler="beta"}`)
	c2.do("GET", "/b/join-config", "attendee", "")
	if d := c2.metricValue(t, `caddy_zoom_signature_signatures_total{handler="beta"}`) - before; d != 1 {
		t.Fatalf("beta signed %v", d)
	}
	if v := c2.metricValue(t, `caddy_zoom_signature_handler_duration_seconds_count{handler="alpha",mode="inject"}`); v != 0 {
		t.Fatalf("alpha counted beta's request: %v", v)
	}
}
