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
	api := &ZoomAPIConfig{AccountID: "a", ClientID: "c", ClientSecret: "s"}
	keys := []string{"{env.ZS_KEY}"}
	for _, tc := range []struct {
		name   string
		a      App
		shared bool
		wait   time.Duration
		per    int
	}{
		{"no seal_keys", App{ZoomAPI: api}, false, state.DefaultWait, LookupsPerMinute},
		{"seal_keys", App{ZoomAPI: api, SealKeys: keys}, true, state.DefaultWait, LookupsPerMinute},
		{"memory with seal_keys", App{ZoomAPI: api, SealKeys: keys, State: &StateConfig{Lookups: "memory"}}, false, state.DefaultWait, LookupsPerMinute},
		{"storage", App{ZoomAPI: api, SealKeys: keys, State: &StateConfig{Lookups: "storage", LockTimeout: caddy.Duration(30 * time.Second), LookupsPerMinute: 5}}, true, 30 * time.Second, 5},
	} {
		ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
		a := tc.a
		if err := a.Provision(ctx); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		cancel()
		if a.lookupsShared != tc.shared || a.lockWait != tc.wait || a.lookupsPerMinute != tc.per {
			t.Errorf("%s: shared %v, wait %s, per minute %d", tc.name, a.lookupsShared, a.lockWait, a.lookupsPerMinute)
		}
	}
	for _, tc := range []struct {
		name string
		s    StateConfig
		a    App
		want string
	}{
		{"unknown lookups", StateConfig{Lookups: "redis"}, App{ZoomAPI: api}, `state lookups "redis" is not known`},
		{"storage without keys", StateConfig{Lookups: "storage"}, App{ZoomAPI: api}, "needs seal_keys"},
		{"lookups without zoom_api", StateConfig{Lookups: "memory"}, App{}, "need zoom_api"},
		{"lock_timeout short", StateConfig{LockTimeout: caddy.Duration(time.Millisecond)}, App{SealKeys: keys}, "between 1s and 5m"},
		{"lock_timeout long", StateConfig{LockTimeout: caddy.Duration(time.Hour)}, App{SealKeys: keys}, "between 1s and 5m"},
		{"lock_timeout without keys", StateConfig{LockTimeout: caddy.Duration(time.Second)}, App{}, "only with seal_keys"},
		{"per minute", StateConfig{LookupsPerMinute: 6001}, App{ZoomAPI: api}, "between 1 and 6000"},
	} {
		a := tc.a
		a.State = &tc.s
		if err := a.check(); err == nil || !strings.Contains(err.Error(), tc.want) {
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
	z := newZoomFake(t)
	z.AddMeeting(mtgReg, zoomtest.Meeting{Passcode: "pc-reg-Kd83mQ0p", Approval: 0})
	b := helpersBackend(t)
	global := "storage file_system " + dir + "\n\t" + helpersApp(z.URL, "seal_keys {env.ZS_SEAL_KEY}\n\t\tstate {\n\t\t\tlookups memory\n\t\t}")
	// Two instances in one process: a reload with the same zoom_api would
	// keep the first one's client and its lookups, so the second writes
	// another timeout, as a config of its own.
	for _, global := range []string{global, strings.Replace(global, "timeout 2s", "timeout 3s", 1)} {
		c := startCaddyWith(t, global, helpersSite, "", b.URL)
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
