package caddymodule

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/certmagic"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/zoomsig/caddy-zoom-signature/caddymodule/state"
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/zoomapi/zoomtest"
)

// TestStateBlock: the state block decides where lookups live apart from
// seal_keys, with defaults that keep what seal_keys alone did, and its
// ranges are checked for JSON configs as for the Caddyfile.
func TestStateBlock(t *testing.T) {
	app := &ZoomAPIConfig{AccountID: "a", ClientID: "c", ClientSecret: "s"}
	keys := []string{"{env.ZS_KEY}"}
	for _, tc := range []struct {
		name   string
		h      Handler
		shared bool
		wait   time.Duration
		per    int
	}{
		{"no seal_keys", Handler{ZoomAPI: app}, false, state.DefaultWait, LookupsPerMinute},
		{"seal_keys", Handler{ZoomAPI: app, SealKeys: keys}, true, state.DefaultWait, LookupsPerMinute},
		{"memory with seal_keys", Handler{ZoomAPI: app, SealKeys: keys, State: &StateConfig{Lookups: "memory"}}, false, state.DefaultWait, LookupsPerMinute},
		{"storage", Handler{ZoomAPI: app, SealKeys: keys, State: &StateConfig{Lookups: "storage", LockTimeout: caddy.Duration(30 * time.Second), LookupsPerMinute: 5}}, true, 30 * time.Second, 5},
	} {
		h := tc.h
		h.SDKKey, h.SDKSecret = "k", "s"
		if err := h.checkConfig(); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		h.provisionState()
		if h.lookupsShared != tc.shared || h.lockWait != tc.wait || h.lookupsPerMinute != tc.per {
			t.Errorf("%s: shared %v, wait %s, per minute %d", tc.name, h.lookupsShared, h.lockWait, h.lookupsPerMinute)
		}
	}
	for _, tc := range []struct {
		name string
		s    StateConfig
		h    Handler
		want string
	}{
		{"unknown lookups", StateConfig{Lookups: "redis"}, Handler{ZoomAPI: app}, `state lookups "redis" is not known`},
		{"storage without keys", StateConfig{Lookups: "storage"}, Handler{ZoomAPI: app}, "needs seal_keys"},
		{"lookups without zoom_api", StateConfig{Lookups: "memory"}, Handler{}, "need zoom_api"},
		{"lock_timeout short", StateConfig{LockTimeout: caddy.Duration(time.Millisecond)}, Handler{SealKeys: keys}, "between 1s and 5m"},
		{"lock_timeout long", StateConfig{LockTimeout: caddy.Duration(time.Hour)}, Handler{SealKeys: keys}, "between 1s and 5m"},
		{"lock_timeout without keys", StateConfig{LockTimeout: caddy.Duration(time.Second)}, Handler{}, "only with seal_keys"},
		{"per minute", StateConfig{LookupsPerMinute: 6001}, Handler{ZoomAPI: app}, "between 1 and 6000"},
	} {
		h := tc.h
		h.SDKKey, h.SDKSecret, h.State = "k", "s", &tc.s
		if err := h.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

// TestUnopenedAtStart: a grant sealed with key A, read by a config whose
// ring is B alone, is counted and reported once with the fix; with B, A
// it is not.
func TestUnopenedAtStart(t *testing.T) {
	dir := t.TempDir()
	store := &certmagic.FileStorage{Path: dir}
	ring := func(keys ...string) *state.Records {
		var raw [][]byte
		for _, k := range keys {
			raw = append(raw, []byte(strings.Repeat(k, 32)))
		}
		s, err := state.NewSealer(raw...)
		if err != nil {
			t.Fatal(err)
		}
		return state.NewRecords(store, s, state.RecordsConfig{Prefix: "zoom_signature"})
	}
	a := ring("A")
	name := a.Name(grantsFolder, "alice") // any hash name in the grants folder
	if err := a.Put(context.Background(), name, []byte(`{"site_user":"alice"}`)); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		keys []string
		want int
	}{{[]string{"B"}, 1}, {[]string{"B", "A"}, 0}, {[]string{"A"}, 0}} {
		core, logs := observer.New(zapcore.WarnLevel)
		n := countUnopened(context.Background(), ring(tc.keys...), zap.New(core))
		warned := logs.FilterMessageSnippet("put the old key back in seal_keys after the new one").All()
		if n != tc.want || (len(warned) == 1) != (tc.want > 0) || len(logs.All()) != len(warned) {
			t.Fatalf("ring %v: %d unopened, %d warnings (%v); want %d", tc.keys, n, len(warned), logs.All(), tc.want)
		}
		var m dto.Metric
		if err := metricUnopened.Write(&m); err != nil || m.GetGauge().GetValue() != float64(tc.want) {
			g := m.GetGauge().GetValue()
			t.Fatalf("ring %v: the gauge says %v", tc.keys, g)
		}
		if tc.want > 0 && warned[0].ContextMap()["unopened"] != int64(tc.want) {
			t.Fatalf("ring %v: the warning counts %v", tc.keys, warned[0].ContextMap())
		}
	}
}

// TestJoinHelpersStateMemory: with seal_keys and state lookups memory,
// where the lookups live is no longer seal_keys' choice: each instance
// keeps its own, and nothing of them reaches the storage.
func TestJoinHelpersStateMemory(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("ZS_SEAL_KEY", base64Std("0123456789abcdef0123456789abcdef"))
	global := "storage file_system " + dir
	z := newZoomFake(t)
	z.AddMeeting(mtgReg, zoomtest.Meeting{Passcode: "pc-reg-Kd83mQ0p", Approval: 0})
	b := helpersBackend(t)
	site := strings.NewReplacer("{ZOOM}", z.URL, "{SEAL}", "seal_keys {env.ZS_SEAL_KEY}\n\t\t\tstate {\n\t\t\t\tlookups memory\n\t\t\t}").Replace(helpersSite)
	for range 2 {
		c := startCaddyWith(t, global, site, "", b.URL)
		if m := c.do("GET", "/api/join-config?meeting="+mtgReg, "alice", "").json(t); m["tk"] == nil {
			t.Fatalf("no tk: %v", m)
		}
	}
	if n := z.MeetingCalls(mtgReg); n != 2 {
		t.Fatalf("%d lookups for two instances that each keep their own, want 2", n)
	}
	if entries, err := os.ReadDir(filepath.Join(dir, "zoom_signature", "state")); err == nil || len(entries) > 0 {
		t.Fatalf("lookups reached the storage: %v %v", entries, err)
	}
}
