package caddymodule

import (
	"cmp"
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/zoomsig/caddy-zoom-signature/caddymodule/state"
)

// OAuthApp is the Zoom user OAuth app ("General app") through which site
// users connect their own Zoom accounts: the zoom app's oauth block,
// written once for the connect routes and every join route.
type OAuthApp struct {
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

	// Where users connect (the zoom_connect route's start), named in
	// refusals and in the Link header of zoom_not_connected. Default
	// /zoom/connect/start.
	ConnectURL string `json:"connect_url,omitempty"`

	// OBF tokens fetched per user and meeting in a minute, at most, for
	// the whole cluster. Between 1 and 600; default 6.
	PerMinute int `json:"per_minute,omitempty"`

	// How long one call to Zoom may take. Between 1s and 1m; default 10s.
	Timeout caddy.Duration `json:"timeout,omitempty"`
}

// check holds the oauth block's rules.
func (o *OAuthApp) check() error {
	if o.ClientID == "" || o.ClientSecret == "" || o.RedirectURI == "" {
		return errorAt("oauth", "oauth needs client_id, client_secret and redirect_uri of a Zoom user OAuth app")
	}
	if err := checkServiceURLs(o.serviceURLs()); err != nil {
		return err
	}
	if err := checkSitePath("oauth connect_url", o.ConnectURL); err != nil {
		return err
	}
	if o.PerMinute < 0 || o.PerMinute > 600 {
		return errorAt("oauth per_minute", fmt.Sprintf("oauth per_minute %d is out of range; choose between 1 and 600 (6 is the default)", o.PerMinute))
	}
	if o.Timeout != 0 && (time.Duration(o.Timeout) < time.Second || time.Duration(o.Timeout) > time.Minute) {
		return errorAt("oauth timeout", fmt.Sprintf("oauth timeout %s is out of range; choose between 1s and 1m (10s is the default)", time.Duration(o.Timeout)))
	}
	return nil
}

// connectURL is where users connect; "" without an oauth block.
func (o *OAuthApp) connectURL() string {
	if o == nil {
		return ""
	}
	return cmp.Or(o.ConnectURL, "/zoom/connect/start")
}

// OBFConfig writes OBF tokens, fetched with the user's connected Zoom
// account, into attendee joins of meetings outside the app's account. The
// user OAuth app is the zoom app's oauth.
type OBFConfig struct {
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
}

// check holds the obf block's rules.
func (o *OBFConfig) check() error {
	if o.When != "" && o.When != obfExternal && o.When != obfAlways && o.When != obfBackend {
		return errorAt("obf when", fmt.Sprintf("obf when %q is not known; use external, always or backend", o.When))
	}
	if o.BackendField != "" && o.When != obfBackend {
		return errorAt("obf backend_field", "obf backend_field is read only with when backend; remove it or set when backend")
	}
	return checkPaths([]struct{ name, path string }{{"obf field", o.Field}, {"obf backend_field", o.BackendField}})
}

// checkSitePath refuses a browser destination that could leave the site:
// a path of this site (/...) only, never one a browser reads as another
// host (//evil.example, /\evil.example), or an absolute https URL of an
// origin listed in origins (public_origin).
func checkSitePath(option, v string, origins ...string) error {
	if v == "" {
		return nil
	}
	if strings.HasPrefix(v, "/") {
		// Browsers read a backslash as a slash: /\evil.example is
		// //evil.example, another host.
		if strings.HasPrefix(v, "//") || strings.ContainsRune(v, '\\') {
			return errorAt(option, fmt.Sprintf("%s %q is read by browsers as another host (// or a backslash); write a path of this site, such as /done", option, v))
		}
		return nil
	}
	u, err := url.Parse(v)
	if err != nil || u.Scheme != "https" || u.Host == "" || strings.ContainsRune(v, '\\') {
		return errorAt(option, fmt.Sprintf("%s %q is neither a path of this site (/...) nor an absolute https URL", option, v))
	}
	if origins == nil {
		return nil
	}
	for _, o := range origins {
		if originMatches(o, u.Scheme+"://"+u.Host) {
			return nil
		}
	}
	return errorAt(option, fmt.Sprintf("%s %q leaves the site: its origin is not in public_origin; write a path of this site, such as /done, or list the origin in public_origin", option, v))
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
func (o *OAuthApp) serviceURLs() []serviceURL {
	return []serviceURL{
		{"oauth redirect_uri", o.RedirectURI, "https://app.example.com/zoom/connect/callback"},
		{"oauth authorize_url", o.AuthorizeURL, "https://zoom.us/oauth/authorize"},
		{"oauth oauth_url", o.OAuthURL, "https://zoom.us/oauth/token"},
		{"oauth api_url", o.APIURL, "https://api.zoom.us/v2"},
	}
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
