package caddymodule

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/zoomsig/caddy-zoom-signature/caddymodule/connect"
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/state"
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/zoomapi"
)

// StateConfig says where the module keeps what it remembers between
// requests, and bounds its use of Caddy's storage. Where state lives is
// decided here; how it is sealed is seal_keys, which anything written to
// the storage needs.
type StateConfig struct {
	// Where meeting lookups, registrant tokens and Zoom's holds on them
	// live: "storage" (sealed records in Caddy's storage, shared by every
	// instance on it, so a lookup costs the account one Zoom call per
	// cluster; needs seal_keys) or "memory" (each instance's own). Default
	// storage when seal_keys is set, memory otherwise. Grants, used connect
	// states and the OBF limits always live in the storage; ZAKs, the
	// session JWKS and the Server-to-Server token always in each
	// instance's memory.
	Lookups string `json:"lookups,omitempty"`

	// How long a lock wait, or one call to Caddy's storage, may take
	// before the join is refused with 503 state_lock_timeout or
	// state_store_unavailable instead of waiting. Between 1s and 5m;
	// default 15s, which is more than file_system's 10 s before a dead
	// holder's lock is stale plus its 1 s poll (shorter, a lock left by a
	// killed instance refuses joins until it goes stale).
	LockTimeout caddy.Duration `json:"lock_timeout,omitempty"`

	// How many new meeting numbers one user (or every anonymous visitor
	// together) may have looked up at Zoom in a minute; numbers already
	// kept do not count, and past it joins answer 429
	// meeting_lookup_too_many. It counts for the cluster when lookups live
	// in the storage, per instance when they live in memory. Between 1
	// and 6000; default 60.
	LookupsPerMinute int `json:"lookups_per_minute,omitempty"`
}

// Words of the state block.
const (
	lookupsStorage = "storage"
	lookupsMemory  = "memory"
)

// LookupsPerMinute is state lookups_per_minute's default. With lookup_ttl
// 10m, a user keeps at most 600 lookup records.
const LookupsPerMinute = 60

// checkState checks the state block: one check per rule, the same for
// JSON and the Caddyfile.
func (a *App) checkState() error {
	s := a.State
	if s == nil {
		return nil
	}
	if s.Lookups != "" && s.Lookups != lookupsStorage && s.Lookups != lookupsMemory {
		return errorAt("state lookups", fmt.Sprintf("state lookups %q is not known; use storage (shared by the instances on Caddy's storage) or memory (each instance's own)", s.Lookups))
	}
	if (s.Lookups != "" || s.LookupsPerMinute != 0) && a.ZoomAPI == nil {
		return errorAt("state lookups", "state lookups and lookups_per_minute are about meeting lookups, which need zoom_api; remove them or add zoom_api")
	}
	if s.Lookups == lookupsStorage && len(a.SealKeys) == 0 {
		return errorAt("state lookups", "state lookups storage needs seal_keys, which seal what is written to Caddy's storage, e.g. seal_keys {env.ZOOM_GRANT_KEY}")
	}
	if s.LockTimeout != 0 && (time.Duration(s.LockTimeout) < time.Second || time.Duration(s.LockTimeout) > 5*time.Minute) {
		return errorAt("state lock_timeout", fmt.Sprintf("state lock_timeout %s is out of range; choose between 1s and 5m (15s is the default)", time.Duration(s.LockTimeout)))
	}
	if s.LockTimeout != 0 && len(a.SealKeys) == 0 {
		return errorAt("state lock_timeout", "state lock_timeout bounds waits on Caddy's storage, which the module uses only with seal_keys; remove it or set seal_keys")
	}
	if s.LookupsPerMinute < 0 || s.LookupsPerMinute > 6000 {
		return errorAt("state lookups_per_minute", fmt.Sprintf("state lookups_per_minute %d is out of range; choose between 1 and 6000 (60 is the default)", s.LookupsPerMinute))
	}
	return nil
}

// stateCache is where the Zoom client keeps meeting lookups, registrant
// tokens and Zoom's holds, as state lookups says: sealed records in
// Caddy's storage, so that every instance sharing the storage shares them
// (and a lookup costs the account one Zoom call per cluster), or this
// process's memory. ZAKs, like the JWKS and the Server-to-Server token,
// stay in each instance's memory either way: they are cheap to fetch, and
// a host's start token is best not written down.
func (a *App) stateCacheLocked() (state.Cache, error) {
	if !a.lookupsShared {
		return state.NewMemory(nil, 0), nil
	}
	rec, err := a.recordsLocked()
	if err != nil {
		return nil, err
	}
	return state.NewSharedIn(rec, stateFolder), nil
}

// The folders of the module's records in Caddy's storage, under
// zoom_signature/.
const (
	stateFolder  = "state"  // meeting lookups, registrant tokens, holds (state.Shared)
	grantsFolder = "grants" // connected Zoom accounts (connect)
	holdsFolder  = "holds"  // Zoom's 429 for a user's OBF tokens
	limitsFolder = "limits" // each instance's share of the cluster's limits
)

// recordsLocked is the one seam to Caddy's storage of this config, built
// once (a.mu is held): every record expires (swept by the age of its folder, by
// an instance at most every state.SweepEvery), and every lock wait and
// storage call is bounded by state lock_timeout.
func (a *App) recordsLocked() (*state.Records, error) {
	if a.rec != nil {
		return a.rec, nil
	}
	sealer, err := a.sealerLocked()
	if err != nil {
		return nil, err
	}
	ctx := a.ctx
	store := ctx.Storage()
	lookupTTL := zoomapi.DefaultMeetingTTL
	if z := a.ZoomAPI; z != nil && z.LookupTTL > 0 {
		lookupTTL = time.Duration(z.LookupTTL)
	}
	a.rec = state.NewRecords(store, sealer, state.RecordsConfig{
		Prefix: "zoom_signature",
		MaxAge: map[string]time.Duration{
			// A lookup lives lookup_ttl (a hold on it, Zoom's Retry-After,
			// may go sooner: the next lookup asks Zoom, which holds again).
			stateFolder + "/meeting": lookupTTL + time.Minute,
			// A registrant's tk lives until a day after the meeting, at
			// most 30 days.
			stateFolder + "/registrant": 31 * 24 * time.Hour,
			// Zoom ends refresh tokens unused for 90 days: a grant not
			// refreshed for longer is dead, and a tombstone has done its job.
			grantsFolder: 100 * 24 * time.Hour,
			// A used connect state guards while its cookie lives (10 min),
			// with a margin for clocks; connect sweeps them too.
			grantsFolder + "/used": 2 * connect.CookieTTL,
			holdsFolder:            24 * time.Hour,
			limitsFolder:           10 * time.Minute,
			"instances":            time.Hour,
		},
		Modified: func(ctx context.Context, key string) (time.Time, error) {
			info, err := store.Stat(ctx, key)
			return info.Modified, err
		},
		Wait:   a.lockWait,
		Logger: a.logger,
	})
	rec := a.rec
	go func() {
		t := time.NewTicker(time.Minute)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if rec.SweepDue() {
					if n := rec.Sweep(ctx); n > 0 {
						a.logger.Info("swept expired records from Caddy's storage", zap.Int("records", n))
					}
				}
			}
		}
	}()
	return a.rec, nil
}

// limiterLocked counts per-user limits (OBF tokens per meeting, meeting
// lookups) across every instance of the storage, one per config.
func (a *App) limiterLocked() (*state.Limiter, error) {
	if a.lim != nil {
		return a.lim, nil
	}
	rec, err := a.recordsLocked()
	if err != nil {
		return nil, err
	}
	id, err := caddy.InstanceID()
	if err != nil {
		return nil, fmt.Errorf("this instance's ID, which names its share of the cluster's limits: %w", err)
	}
	a.lim = state.NewLimiter(rec, id.String())
	return a.lim, nil
}

// sealerLocked is the key ring from seal_keys (base64 of 32 bytes each,
// the first sealing and all opening), built once: the Zoom client's cache
// and the grants share it, and its warnings are logged once.
func (a *App) sealerLocked() (*state.Sealer, error) {
	if a.seal != nil {
		return a.seal, nil
	}
	repl := caddy.NewReplacer()
	if len(a.SealKeys) == 0 {
		return nil, errors.New("seal_keys is not set: what the module keeps in Caddy's storage (grants, lookups, registrant tokens) is sealed with it; set seal_keys {env.ZOOM_GRANT_KEY}")
	}
	keys := make([][]byte, 0, len(a.SealKeys))
	for i, k := range a.SealKeys {
		warnLiteralSecret(a.logger, "seal_keys", k)
		raw := strings.TrimSpace(repl.ReplaceAll(k, ""))
		if raw == "" && i > 0 {
			continue // an unset rotation slot, such as {env.ZOOM_GRANT_KEY_OLD}
		}
		b, err := base64.StdEncoding.DecodeString(raw)
		if err != nil {
			b, err = base64.RawURLEncoding.DecodeString(raw)
		}
		if err != nil || len(b) != 32 {
			return nil, fmt.Errorf("seal_keys: key %d (%s) is not the base64 of 32 bytes; make one with: head -c 32 /dev/urandom | base64", i+1, placeholdersOnly(k))
		}
		keys = append(keys, b)
	}
	var err error
	a.seal, err = state.NewSealer(keys...)
	return a.seal, err
}

// unopenedScan bounds the count, at start, of grant records no key of
// the ring opens: a storage with very many grants is counted in part.
const (
	unopenedScan    = time.Minute
	unopenedScanMax = 100_000
)

// reportUnopened counts, off the hot path, the grant records that no key
// of seal_keys opens, and warns once with the count and the fix; a
// rotation that dropped the old key too soon otherwise shows only as users
// who are suddenly not connected.
// It runs once per config load: the grant manager is the app's.
func (a *App) reportUnopened(rec *state.Records) {
	go func() {
		sctx, cancel := context.WithTimeout(a.ctx, unopenedScan)
		countUnopened(sctx, rec, a.logger)
		cancel()
	}()
}

// countUnopened is reportUnopened's count: it logs and sets the metric.
func countUnopened(ctx context.Context, rec *state.Records, log *zap.Logger) int {
	n, read, err := rec.CountUnopened(ctx, grantsFolder, unopenedScanMax)
	metricUnopened.Set(float64(n))
	if err != nil && read == 0 {
		log.Debug("the grant records could not be counted at start", zap.Error(err))
		return 0
	}
	if n > 0 {
		log.Warn("grant records in Caddy's storage cannot be opened with any key of seal_keys: they were sealed with a key that is no longer in the ring; their users show as not connected. Fix: put the old key back in seal_keys after the new one (seal_keys {env.NEW} {env.OLD}) and reload, and keep it until every grant was refreshed once",
			zap.Int("unopened", n), zap.Int("read", read), zap.Bool("complete", err == nil && read < unopenedScanMax))
	}
	return n
}
