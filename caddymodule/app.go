package caddymodule

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"go.uber.org/zap"

	"github.com/zoomsig/caddy-zoom-signature/caddymodule/connect"
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/problem"
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/state"
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/zoomapi"
)

func init() {
	caddy.RegisterModule(App{})
	httpcaddyfile.RegisterGlobalOption("zoom", parseGlobalZoom)
}

// Interface guards.
var (
	_ caddy.App          = (*App)(nil)
	_ caddy.Provisioner  = (*App)(nil)
	_ caddy.CleanerUpper = (*App)(nil)
)

// App is the zoom app: the Zoom apps a config uses, each written once,
// and the services built from them that every zoom_signature,
// zoom_connect and zoom_doctor handler of the config shares (one Zoom API
// client and its token, one grant manager, one storage seam). In a
// Caddyfile it is the global option block zoom { ... }.
//
// Handlers find it with ctx.App, as acme_server finds the pki app; a
// config without a zoom block gets an empty one, which is enough for
// handlers that carry their own sdk_key and sdk_secret.
type App struct {
	// The SDK app (Meeting SDK or Video SDK) that zoom_signature handlers
	// sign with when they name none: its key, its secret and the demo
	// switch.
	SDK *SDKApp `json:"sdk,omitempty"`

	// Further SDK apps by name, for a site that signs for more than one
	// (a Meeting SDK app and a Video SDK app); a handler picks one with
	// sdk_app <name>.
	SDKApps map[string]*SDKApp `json:"sdk_apps,omitempty"`

	// The account's Server-to-Server OAuth app: meeting lookups
	// (passcode, registration, whether a meeting is the account's),
	// registrations and host ZAKs, for every handler.
	ZoomAPI *ZoomAPIConfig `json:"zoom_api,omitempty"`

	// The user OAuth ("General") app through which site users connect
	// their own Zoom accounts (zoom_connect), and whose grants fetch the
	// OBF tokens of joins to meetings outside the account (obf).
	OAuth *OAuthApp `json:"oauth,omitempty"`

	// Keys (base64 of 32 bytes, as {env.*} or {file.*}) that seal what the
	// module keeps in Caddy's storage; anything written there needs them.
	// The first key seals and all open, so a new key goes first and an
	// old one stays until its records have expired (grants: until each
	// was refreshed once).
	SealKeys []string `json:"seal_keys,omitempty"`

	// Where meeting lookups and registrant tokens live (storage or
	// memory), how long a wait on Caddy's storage may take, and how many
	// new meeting numbers a user may look up in a minute.
	State *StateConfig `json:"state,omitempty"`

	ctx    caddy.Context
	logger *zap.Logger
	// The state block, resolved.
	lookupsShared    bool
	lockWait         time.Duration
	lookupsPerMinute int

	// Services, built on first use: a handler asks only after its own
	// config passed its checks, so a config about to be refused opens no
	// client, probes no lock and scans no storage.
	mu        *sync.Mutex
	seal      *state.Sealer
	rec       *state.Records
	lim       *state.Limiter
	client    *zoomapi.Client
	clientKey string // its key in clients, when pooled
	grants    *connect.Manager
}

// CaddyModule returns the Caddy module information.
func (App) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "zoom",
		New: func() caddy.Module { return new(App) },
	}
}

// Provision checks the app's config (nothing is built yet) and resolves
// the state block.
func (a *App) Provision(ctx caddy.Context) error {
	a.ctx, a.logger, a.mu = ctx, ctx.Logger(), new(sync.Mutex)
	if err := a.check(); err != nil {
		return err
	}
	s := cmp.Or(a.State, &StateConfig{})
	a.lookupsShared = s.Lookups == lookupsStorage || (s.Lookups == "" && len(a.SealKeys) > 0)
	a.lockWait = cmp.Or(time.Duration(s.LockTimeout), state.DefaultWait)
	a.lookupsPerMinute = cmp.Or(s.LookupsPerMinute, LookupsPerMinute)
	return nil
}

// Start implements caddy.App: the services start on first use.
func (a *App) Start() error { return nil }

// Stop implements caddy.App.
func (a *App) Stop() error { return nil }

// Cleanup writes what the cluster limiter allowed and stops it (before
// Caddy's stop returns, so the last write lands), and lets go of the
// pooled Zoom API client.
func (a *App) Cleanup() error {
	if a.mu != nil {
		a.mu.Lock()
		lim := a.lim
		a.mu.Unlock()
		if lim != nil {
			_ = lim.Close()
		}
	}
	if a.clientKey != "" {
		_, _ = clients.Delete(a.clientKey)
	}
	return nil
}

// check holds the app's rules: one check per rule, the same for JSON and
// the Caddyfile, which calls it when the block closes.
func (a *App) check() error {
	if a.SDK != nil {
		if err := a.SDK.check("sdk_key", true); err != nil {
			return err
		}
	}
	for _, name := range slices.Sorted(maps.Keys(a.SDKApps)) {
		if err := a.SDKApps[name].check("sdk_app "+name, true); err != nil {
			return err
		}
	}
	if a.ZoomAPI != nil {
		if err := a.ZoomAPI.check(); err != nil {
			return err
		}
	}
	if o := a.OAuth; o != nil {
		if err := o.check(); err != nil {
			return err
		}
		if len(a.SealKeys) == 0 {
			return errorAt("seal_keys", "oauth needs seal_keys, which seal the grants in Caddy's storage, e.g. seal_keys {env.ZOOM_GRANT_KEY}")
		}
	}
	if len(a.SealKeys) > 8 {
		return errorAt("seal_keys", "seal_keys takes at most 8 keys")
	}
	return a.checkState()
}

// sdkApp is the SDK app a handler named ("" for the default one), or nil.
func (a *App) sdkApp(name string) *SDKApp {
	if name == "" {
		return a.SDK
	}
	return a.SDKApps[name]
}

// serviceKey names a pooled service by the hash of what it is built from,
// so that a reload with the same apps gets the same service back and one
// with other credentials never does.
func serviceKey(parts ...any) string {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%v\x00", p)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// clients pools the Zoom API clients of the process across config loads:
// a reload keeps the Server-to-Server token, the ZAKs and, when lookups
// live in memory, the lookups. A client whose lookups live in Caddy's
// storage is the config load's own, for it holds that load's storage,
// and loses nothing it did not write there.
var clients = caddy.NewUsagePool()

type pooledClient struct{ *zoomapi.Client }

func (pooledClient) Destruct() error { return nil }

// zoomClient is the one Zoom API client of the config, or nil without a
// zoom_api block.
func (a *App) zoomClient() (*zoomapi.Client, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.client != nil || a.ZoomAPI == nil {
		return a.client, nil
	}
	z := a.ZoomAPI
	warnLiteralSecret(a.logger, "zoom_api client_secret", z.ClientSecret)
	repl := caddy.NewReplacer()
	urls, err := resolveServiceURLs(repl, z.serviceURLs())
	if err != nil {
		return nil, err
	}
	cfg := zoomapi.Config{
		AccountID:    repl.ReplaceAll(z.AccountID, ""),
		ClientID:     repl.ReplaceAll(z.ClientID, ""),
		ClientSecret: repl.ReplaceAll(z.ClientSecret, ""),
		OAuthURL:     urls[0],
		APIURL:       urls[1],
		MeetingTTL:   time.Duration(z.LookupTTL),
		ZAKLifetime:  time.Duration(z.ZAKLifetime),
		HTTPClient:   zoomapi.NewClient(cmp.Or(time.Duration(z.Timeout), 10*time.Second)),
		OnFetch:      metricZoomAPI,
	}
	// The lookup limit counts where the lookups live: for the cluster
	// when they are shared, per instance when each keeps its own.
	lim := state.NewLimiter(nil, "")
	if a.lookupsShared {
		if cfg.Cache, err = a.stateCacheLocked(); err != nil {
			return nil, err
		}
		if lim, err = a.limiterLocked(); err != nil {
			return nil, err
		}
	}
	perMinute := a.lookupsPerMinute
	cfg.LookupLimit = func(ctx context.Context, user string) *problem.Error {
		// Anonymous visitors share one budget ("" is no site user's ID).
		if ok, _ := lim.Allow(ctx, "lookup\x00"+user, perMinute, time.Minute); !ok {
			return problem.New(problem.Client, zoomapi.CodeMeetingTooMany, "meetingNumber",
				fmt.Sprintf("too many different meeting numbers looked up in a minute (at most %d per user); wait a minute, and join the meetings you were given", perMinute))
		}
		return nil
	}
	if a.lookupsShared {
		if a.client, err = zoomapi.New(cfg); err != nil {
			return nil, errorAt("zoom_api", "zoom_api: "+err.Error()+" (placeholders resolved to empty values?)")
		}
		return a.client, nil
	}
	key := serviceKey(cfg.AccountID, cfg.ClientID, cfg.ClientSecret, cfg.OAuthURL, cfg.APIURL, cfg.MeetingTTL, cfg.ZAKLifetime, z.Timeout, perMinute)
	v, _, err := clients.LoadOrNew(key, func() (caddy.Destructor, error) {
		c, err := zoomapi.New(cfg)
		if err != nil {
			return nil, errorAt("zoom_api", "zoom_api: "+err.Error()+" (placeholders resolved to empty values?)")
		}
		return pooledClient{c}, nil
	})
	if err != nil {
		return nil, err
	}
	a.client, a.clientKey = v.(pooledClient).Client, key
	return a.client, nil
}

// grantManager is the one manager of connected Zoom accounts of the
// config, or nil without an oauth block: the connect routes and every
// join route share it, its in-process front and its singleflight.
func (a *App) grantManager() (*connect.Manager, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.grants != nil || a.OAuth == nil {
		return a.grants, nil
	}
	o := a.OAuth
	warnLiteralSecret(a.logger, "oauth client_secret", o.ClientSecret)
	repl := caddy.NewReplacer()
	urls, err := resolveServiceURLs(repl, o.serviceURLs())
	if err != nil {
		return nil, err
	}
	if urls[0] == "" {
		return nil, errorAt("redirect_uri", fmt.Sprintf("oauth redirect_uri %q resolved to an empty value; set it to the callback route's absolute URL", o.RedirectURI))
	}
	sealer, err := a.sealerLocked()
	if err != nil {
		return nil, err
	}
	rec, err := a.recordsLocked()
	if err != nil {
		return nil, err
	}
	lim, err := a.limiterLocked()
	if err != nil {
		return nil, err
	}
	a.reportUnopened(rec)
	store := a.ctx.Storage()
	if !locksBlockOnce(store) {
		a.logger.Warn("the configured storage's lock does not block a second holder, so several Caddy instances may refresh one grant at once and lose its rotated refresh token; use file_system on a shared folder or a storage module with real locks",
			zap.String("storage", fmt.Sprintf("%T", store)))
	}
	m, err := connect.New(connect.Config{
		ClientID:     repl.ReplaceAll(o.ClientID, ""),
		ClientSecret: repl.ReplaceAll(o.ClientSecret, ""),
		RedirectURL:  urls[0],
		AuthorizeURL: urls[1],
		TokenURL:     urls[2],
		APIURL:       urls[3],
		Scopes:       o.Scopes,
		Storage:      store,
		Sealer:       sealer,
		Records:      rec,
		Limiter:      lim,
		Front:        connect.NewFront(),
		OnEvent:      metricGrantEvent,
		ConnectURL:   o.connectURL(),
		OBFPerMinute: o.PerMinute,
		HTTPClient:   zoomapi.NewClient(cmp.Or(time.Duration(o.Timeout), 10*time.Second)),
		OnFetch:      metricZoomAPI,
	})
	if err != nil {
		return nil, errorAt("oauth", "oauth: "+err.Error()+" (placeholders resolved to empty values?)")
	}
	a.grants = m
	return m, nil
}
