package caddymodule

import (
	"io"
	"net/http"
	"regexp"
	"strconv"
	"testing"
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
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindSubmatch(b)
	if m == nil {
		return 0
	}
	v, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
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
