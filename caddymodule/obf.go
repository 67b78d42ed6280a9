package caddymodule

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"path"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/zoomsig/caddy-zoom-signature/caddymodule/connect"
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/join"
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/problem"
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/state"
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/zoomapi"
)

// OBFConfig is the Zoom user OAuth app ("General app") through which site
// users connect their own Zoom accounts, and the step that writes an OBF
// token into joins to meetings outside the app's account. The same block
// configures the connect routes (mode connect) and the joins (inject and
// endpoint mode); put it in a snippet and import it in both.
type OBFConfig struct {
	// The user OAuth app's client ID, such as {env.ZOOM_OAUTH_CLIENT_ID}.
	ClientID string `json:"client_id,omitempty"`

	// The app's client secret, as {env.ZOOM_OAUTH_CLIENT_SECRET} or
	// {file.*}, resolved when the config loads, never logged.
	ClientSecret string `json:"client_secret,omitempty"`

	// The callback route's absolute URL, exactly as the app's Marketplace
	// page lists it, such as https://app.example.com/zoom/connect/callback.
	RedirectURI string `json:"redirect_uri,omitempty"`

	// Zoom's authorize page. Default https://zoom.us/oauth/authorize.
	AuthorizeURL string `json:"authorize_url,omitempty"`

	// Zoom's token endpoint. Default https://zoom.us/oauth/token; the
	// revoke endpoint is beside it (/oauth/revoke).
	OAuthURL string `json:"oauth_url,omitempty"`

	// Zoom's REST API base. Default https://api.zoom.us/v2.
	APIURL string `json:"api_url,omitempty"`

	// The scopes asked for, all of which must be granted. Default
	// user:read:token user:read:user.
	Scopes []string `json:"scopes,omitempty"`

	// Which attendee joins carry an OBF token: "external" (meetings
	// outside the account, from the zoom_api lookup; the default),
	// "always", or "backend" (when the join config has true at
	// backend_field).
	When string `json:"when,omitempty"`

	// With when backend: the join config's path that says a join needs an
	// OBF token. Default needsObf.
	BackendField string `json:"backend_field,omitempty"`

	// Where the OBF token is written in the join config. Default obfToken.
	Field string `json:"field,omitempty"`

	// Where users connect, named in refusals and in the Link header of
	// zoom_not_connected. Default /zoom/connect/start.
	ConnectURL string `json:"connect_url,omitempty"`

	// Where the callback sends the browser once connected: a path of this
	// site, or an absolute URL. Default /. Never taken from the request.
	DoneURL string `json:"done_url,omitempty"`

	// OBF tokens fetched per user and meeting in a minute, at most.
	// Default 6.
	PerMinute int `json:"per_minute,omitempty"`

	// How long one call to Zoom may take. Default 10s.
	Timeout caddy.Duration `json:"timeout,omitempty"`
}

// Words of the obf config.
const (
	obfExternal = "external"
	obfAlways   = "always"
	obfBackend  = "backend"

	connectCookie = "__Host-zoom_connect"
)

// serviceURLs are the block's URLs, redirect_uri first, for
// checkServiceURL.
func (o *OBFConfig) serviceURLs() []serviceURL {
	return []serviceURL{
		{"obf redirect_uri", o.RedirectURI, "https://app.example.com/zoom/connect/callback"},
		{"obf authorize_url", o.AuthorizeURL, "https://zoom.us/oauth/authorize"},
		{"obf oauth_url", o.OAuthURL, "https://zoom.us/oauth/token"},
		{"obf api_url", o.APIURL, "https://api.zoom.us/v2"},
	}
}

// provisionOBF builds the grant manager and, outside connect mode, the
// credential source that writes OBF tokens.
func (h *Handler) provisionOBF(ctx caddy.Context) ([]join.CredentialSource, error) {
	o := h.OBF
	if o == nil {
		return nil, nil
	}
	defaultString(&o.When, obfExternal)
	defaultString(&o.BackendField, "needsObf")
	defaultString(&o.Field, "obfToken")
	defaultString(&o.ConnectURL, "/zoom/connect/start")
	defaultString(&o.DoneURL, "/")
	warnLiteralSecret(h.logger, "obf client_secret", o.ClientSecret)
	repl := caddy.NewReplacer()
	urls, err := resolveServiceURLs(repl, o.serviceURLs())
	if err != nil {
		return nil, err
	}
	if urls[0] == "" {
		return nil, fmt.Errorf("obf redirect_uri %q resolved to an empty value; set it to the callback route's absolute URL", o.RedirectURI)
	}
	sealer, err := h.sealer()
	if err != nil {
		return nil, err
	}
	rec, err := h.records(ctx)
	if err != nil {
		return nil, err
	}
	lim, err := h.limiter(ctx)
	if err != nil {
		return nil, err
	}
	h.reportUnopened(ctx, rec)
	store := ctx.Storage()
	if !locksBlockOnce(store) {
		h.logger.Warn("the configured storage's lock does not block a second holder, so several Caddy instances may refresh one grant at once and lose its rotated refresh token; use file_system on a shared folder or a storage module with real locks",
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
		Front:        h.grantFront(ctx),
		OnEvent:      metricGrantEvent,
		ConnectURL:   o.ConnectURL,
		OBFPerMinute: o.PerMinute,
		HTTPClient:   zoomapi.NewClient(cmp.Or(time.Duration(o.Timeout), 10*time.Second)),
		OnFetch:      metricZoomAPI,
	})
	if err != nil {
		return nil, fmt.Errorf("obf: %w (placeholders resolved to empty values?)", err)
	}
	h.connect = m
	if h.mode == connectMode {
		return nil, nil
	}
	src := join.OBFSource{Fetcher: m, When: map[string]join.OBFWhen{obfExternal: join.OBFExternal, obfAlways: join.OBFAlways, obfBackend: join.OBFBackend}[o.When]}
	if src.When == join.OBFExternal {
		if h.zoom == nil {
			return nil, errors.New("obf when external needs zoom_api, the account's Server-to-Server app, to tell the account's meetings from others")
		}
		src.Lookup = h.zoom
	}
	return []join.CredentialSource{src}, nil
}

// grantFronts holds one connect.Front per storage and seal keys of a
// config load, shared by its handlers (the connect route and the join
// routes), so that a connect or a disconnect through one is seen by the
// others at once; it goes with the config load.
var grantFronts sync.Map // frontKey -> *connect.Front

type frontKey struct {
	storage any
	seal    string
}

// grantFront is the handler's share of grantFronts. A storage that cannot
// be told apart from another of its type (not comparable) gets a front of
// its own.
func (h *Handler) grantFront(ctx caddy.Context) *connect.Front {
	store := ctx.Storage()
	if v := reflect.ValueOf(store); !v.IsValid() || !v.Comparable() {
		return connect.NewFront()
	}
	key := frontKey{storage: store, seal: h.sealID}
	f, loaded := grantFronts.LoadOrStore(key, connect.NewFront())
	if !loaded {
		go func() {
			<-ctx.Done()
			grantFronts.Delete(key)
		}()
	}
	return f.(*connect.Front)
}

// lockProbes remembers locksBlock's answer per storage type for the
// process: a probe that blocks costs its 150 ms wait, and a typical config
// (the connect route and the join route) and each reload would pay it
// again for the same answer. The type is the key, not the value: whether a
// lock blocks is the storage module's design, and printing a storage's
// fields could race with its own use of them.
var lockProbes sync.Map // %T -> bool

func locksBlockOnce(s state.Storage) bool {
	key := fmt.Sprintf("%T", s)
	if v, ok := lockProbes.Load(key); ok {
		return v.(bool)
	}
	b := locksBlock(s)
	lockProbes.Store(key, b)
	return b
}

// locksBlock says whether the storage's lock keeps a second holder out:
// it takes a lock and tries to take it again for a moment.
func locksBlock(s state.Storage) bool {
	ctx := context.Background()
	name := "zoom_signature/lock_probe/" + fmt.Sprint(time.Now().UnixNano())
	if err := s.Lock(ctx, name); err != nil {
		return false
	}
	defer func() { _ = s.Unlock(ctx, name) }()
	try, cancel := context.WithTimeout(ctx, 150*time.Millisecond)
	defer cancel()
	if err := s.Lock(try, name); err == nil {
		_ = s.Unlock(ctx, name)
		return false
	}
	return true
}

// checkOBFConfig checks the obf block and connect mode.
func (h *Handler) checkOBFConfig(sdk join.SDK) error {
	o := h.OBF
	if h.Mode == modeConnect && o == nil {
		return errors.New("mode connect needs an obf block: the Zoom user OAuth app users connect with")
	}
	if o == nil {
		return nil
	}
	if sdk == join.Video {
		return errors.New("obf is for the Meeting SDK; Video SDK sessions take no OBF token")
	}
	if o.ClientID == "" || o.ClientSecret == "" || o.RedirectURI == "" {
		return errors.New("obf needs client_id, client_secret and redirect_uri of a Zoom user OAuth app")
	}
	if err := checkServiceURLs(o.serviceURLs()); err != nil {
		return err
	}
	if o.When != "" && o.When != obfExternal && o.When != obfAlways && o.When != obfBackend {
		return fmt.Errorf("obf when %q is not known; use external, always or backend", o.When)
	}
	if (o.When == obfExternal || o.When == "") && h.zoomApp() == nil && h.Mode != modeConnect {
		return errors.New("obf when external needs zoom_api, the account's Server-to-Server app, to tell the account's meetings from others (or use when always, or when backend)")
	}
	if err := checkPaths([]struct{ name, path string }{{"obf field", o.Field}, {"obf backend_field", o.BackendField}}); err != nil {
		return err
	}
	for _, u := range []struct{ name, v string }{{"obf connect_url", o.ConnectURL}, {"obf done_url", o.DoneURL}} {
		if u.v != "" && !strings.HasPrefix(u.v, "/") && checkServiceURL(u.name, u.v, "https://app.example.com/") != nil {
			return fmt.Errorf("%s %q is neither a path of this site (/...) nor an absolute https URL", u.name, u.v)
		}
		if strings.HasPrefix(u.v, "//") {
			return fmt.Errorf("%s %q starts with //, which browsers read as another host; write a path or a full URL", u.name, u.v)
		}
	}
	if o.PerMinute < 0 || o.PerMinute > 600 {
		return errors.New("obf per_minute must be between 1 and 600")
	}
	if len(h.SealKeys) == 0 {
		return errors.New("obf needs seal_keys, which seal the grants in Caddy's storage, e.g. seal_keys {env.ZOOM_GRANT_KEY}")
	}
	return nil
}

// serveConnect serves the connect routes, chosen by the last segment of
// the path: start, callback, status and disconnect.
func (h *Handler) serveConnect(w http.ResponseWriter, r *http.Request) error {
	repl := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	route := path.Base(r.URL.Path)
	allowed := map[string]string{"start": http.MethodGet, "callback": http.MethodGet, "status": http.MethodGet, "disconnect": http.MethodPost}[route]
	switch {
	case allowed == "":
		return h.writeRefusal(w, r, join.Principal{}, problem.New(problem.Client, codeConnectRoute, "path",
			"there is no connect route "+route+"; the routes are start, callback, status and disconnect"))
	case r.Method != allowed && !(allowed == http.MethodGet && r.Method == http.MethodHead):
		w.Header().Set("Allow", allowed)
		return h.writeRefusal(w, r, join.Principal{}, problem.New(problem.Client, codeMethodNotAllowed, "method",
			r.Method+" is not allowed on "+route+"; use "+allowed))
	}
	p, err := h.authenticate(r, repl)
	if err == nil && p.ID == "" {
		err = problem.New(problem.Client, connect.CodeUnauthorized, "session",
			"connecting a Zoom account needs a signed-in site user; sign in and try again")
	}
	if err != nil {
		return h.writeRefusal(w, r, p, err)
	}
	switch route {
	case "start":
		authorize, cookie, serr := h.connect.Start(p.ID)
		if serr != nil {
			return h.writeRefusal(w, r, p, problem.New(problem.Config, connect.CodeStore, "state", "the connect could not be started; check seal_keys"))
		}
		http.SetCookie(w, &http.Cookie{Name: connectCookie, Value: cookie, Path: "/", MaxAge: int(connect.CookieTTL / time.Second),
			HttpOnly: true, Secure: true, SameSite: http.SameSiteLaxMode})
		setNoStore(w.Header(), "")
		http.Redirect(w, r, authorize, http.StatusFound)
		h.logger.Info("connect started", zap.String("user", p.ID))
		return nil
	case "callback":
		var cookie string
		if c, cerr := r.Cookie(connectCookie); cerr == nil {
			cookie = c.Value
		}
		// One connect, one callback: the cookie goes whatever happens.
		http.SetCookie(w, &http.Cookie{Name: connectCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: true, SameSite: http.SameSiteLaxMode})
		g, ferr := h.connect.Finish(r.Context(), p.ID, cookie, r.URL.Query())
		if ferr != nil {
			return h.writeRefusal(w, r, p, ferr)
		}
		h.logger.Info("zoom account connected", zap.String("user", p.ID), zap.String("zoom_user", g.ZoomUserID))
		setNoStore(w.Header(), "")
		http.Redirect(w, r, h.OBF.DoneURL, http.StatusFound)
		return nil
	case "status":
		g, ok, live, serr := h.connect.Status(r.Context(), p.ID)
		if serr != nil {
			return h.writeRefusal(w, r, p, serr)
		}
		// live: Zoom honours the grant now (false when Zoom could not be
		// asked; the grant stays).
		out := map[string]any{"connected": ok, "live": live, "connectUrl": h.OBF.ConnectURL}
		if g.Unopened {
			// The record is there, but no key of seal_keys opens it.
			out["unreadable"] = true
			out["reason"] = "your connected Zoom account's record cannot be opened with the site's current seal_keys (its key was rotated out); the site's operator can put the old key back, or you can connect again"
		}
		if ok {
			out["zoomUserId"], out["zoomEmail"], out["scopes"], out["connectedAt"] = g.ZoomUserID, g.ZoomEmail, g.Scopes, g.ConnectedAt.UTC().Format(time.RFC3339)
		}
		return writeJSON(w, out)
	default: // disconnect
		if perr := h.sameOrigin(r, "disconnect a Zoom account"); perr != nil {
			return h.writeRefusal(w, r, p, perr)
		}
		gone, derr := h.connect.Disconnect(r.Context(), p.ID)
		if derr != nil {
			return h.writeRefusal(w, r, p, derr)
		}
		if gone {
			h.logger.Info("zoom account disconnected", zap.String("user", p.ID))
		}
		return writeJSON(w, map[string]any{"connected": false, "disconnected": gone, "connectUrl": h.OBF.ConnectURL})
	}
}

// sameOrigin refuses a request that another site's page sent, to do what
// (such as "disconnect a Zoom account"): basic auth and cookies ride along
// on cross-site POSTs. The site's own origin is its public one, which
// public_origin may name (a tunnel's), not only the one Caddy sees.
func (h *Handler) sameOrigin(r *http.Request, what string) *problem.Error {
	if r.Header.Get("Sec-Fetch-Site") == "cross-site" {
		return problem.New(problem.Client, codeOriginNotAllowed, "origin", "another site's page may not "+what+"; do it from this site's own page")
	}
	if origin := r.Header.Get("Origin"); origin != "" && origin != h.publicOrigin(r) {
		return problem.New(problem.Client, codeOriginNotAllowed, "origin", "the origin "+origin+" may not "+what+"; do it from this site's own page")
	}
	return nil
}

func writeJSON(w http.ResponseWriter, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	setNoStore(w.Header(), "application/json; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, err = w.Write(b)
	return err
}

// connectLink is the Link header of a refusal that a connect cures.
func (h *Handler) connectLink(code string) string {
	if h.OBF == nil || (code != connect.CodeNotConnected && code != connect.CodeGrantRevoked) {
		return ""
	}
	return "<" + strings.ReplaceAll(h.OBF.ConnectURL, ">", "%3E") + `>; rel="zoom-connect"`
}
