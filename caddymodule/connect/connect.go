// Package connect keeps the Zoom accounts that site users connected: the
// user OAuth flow (authorization code with PKCE), the grants it yields
// (sealed records in Caddy's storage, one per site user), their refresh
// (under the storage's lock, so that a cluster refreshes each grant once
// and never loses a rotated refresh token), and the OBF tokens fetched with
// them for joins to meetings outside the app's account. It imports nothing
// from Caddy: the storage is state.Storage (what certmagic.Storage offers).
//
// No token leaves this package except the OBF token a join carries: access
// and refresh tokens are sealed at rest, and errors carry Zoom's status and
// numeric code, never its text.
package connect

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/sync/singleflight"

	"github.com/zoomsig/caddy-zoom-signature/caddymodule/problem"
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/state"
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/zoomapi"
)

// DefaultAuthorizeURL is Zoom's authorize page; the token endpoint and
// the API are zoomapi's defaults, and revocation is /revoke beside the
// token endpoint.
const DefaultAuthorizeURL = "https://zoom.us/oauth/authorize"

// DefaultScopes are asked for and required: OBF tokens and /users/me.
var DefaultScopes = []string{"user:read:token", "user:read:user"}

// Config configures a Manager.
type Config struct {
	ClientID, ClientSecret string
	// RedirectURL is the callback route's absolute URL, exactly as the
	// app's Marketplace page lists it.
	RedirectURL string

	AuthorizeURL, TokenURL, RevokeURL, APIURL string

	// Scopes are asked for, and must all be granted.
	Scopes []string

	// Storage keeps the grants (and the used connect states), sealed by
	// Sealer; Prefix names their folder, such as "zoom_signature/grants".
	Storage state.Storage
	Sealer  *state.Sealer
	Prefix  string

	// Records is the storage seam the grants go through (its deadline
	// bounds every lock wait and storage call); default one over Storage
	// and Sealer. Limiter counts OBF fetches for the whole cluster;
	// default one over Records, for this process.
	Records *state.Records
	Limiter *state.Limiter
	// Front keeps opened grants in memory for GrantRecheck (see Front).
	// Managers on the same storage and seal keys should share one, so that
	// a disconnect through one is seen by the others at once; default the
	// Manager's own.
	Front *Front

	// ConnectURL is where a user connects, named in refusals.
	ConnectURL string

	// OBFPerMinute bounds the OBF tokens fetched per user and meeting,
	// so that a script cannot burn them. Default 6.
	OBFPerMinute int

	// Margin: an access token is refreshed this long before it expires.
	// Default 5m.
	Margin time.Duration

	HTTPClient *http.Client
	Now        func() time.Time
	// OnFetch is told about every call to Zoom (kind "user_oauth",
	// "user_api", "obf", "revoke"), for metrics. It never sees a token.
	OnFetch func(kind string, err error)
	// OnEvent is told about what happens to grants, for metrics:
	// "grant_superseded" (a refresh found another instance's newer grant),
	// "grant_dropped_refused", "grant_dropped_lost" (Zoom refused the
	// newest stored refresh token; lost: while a refresh was unfinished),
	// "grant_dropped_scopes".
	OnEvent func(kind string)
}

// Manager runs the flow and keeps the grants. It is safe for concurrent
// use.
type Manager struct {
	cfg    Config
	oauth  oauth2.Config
	ctx    context.Context // carries the HTTP client for oauth2
	flight singleflight.Group
	rec    *state.Records
	lim    *state.Limiter
	front  *Front

	mu    sync.Mutex
	holds map[string]time.Time // user -> Zoom's 429 reset
	// nextSweep: when used-state markers may be swept again.
	nextSweep time.Time
}

// New builds a Manager; it contacts nobody.
func New(c Config) (*Manager, error) {
	if c.ClientID == "" || c.ClientSecret == "" || c.RedirectURL == "" {
		return nil, errors.New("the user OAuth app needs client_id, client_secret and redirect_uri")
	}
	if c.Storage == nil || c.Sealer == nil {
		return nil, errors.New("grants need a storage and seal keys")
	}
	if c.AuthorizeURL == "" {
		c.AuthorizeURL = DefaultAuthorizeURL
	}
	if c.TokenURL == "" {
		c.TokenURL = zoomapi.DefaultOAuthURL
	}
	if c.RevokeURL == "" {
		c.RevokeURL = strings.TrimSuffix(c.TokenURL, "/token") + "/revoke"
	}
	if c.APIURL == "" {
		c.APIURL = zoomapi.DefaultAPIURL
	}
	if len(c.Scopes) == 0 {
		c.Scopes = DefaultScopes
	}
	if c.Prefix == "" {
		c.Prefix = "zoom_signature/grants"
	}
	if c.OBFPerMinute <= 0 {
		c.OBFPerMinute = 6
	}
	if c.Margin <= 0 {
		c.Margin = 5 * time.Minute
	}
	if c.HTTPClient == nil {
		c.HTTPClient = zoomapi.NewClient(10 * time.Second)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	m := &Manager{
		cfg: c,
		oauth: oauth2.Config{
			ClientID: c.ClientID, ClientSecret: c.ClientSecret, RedirectURL: c.RedirectURL, Scopes: c.Scopes,
			Endpoint: oauth2.Endpoint{AuthURL: c.AuthorizeURL, TokenURL: c.TokenURL, AuthStyle: oauth2.AuthStyleInHeader},
		},
		holds: map[string]time.Time{},
		rec:   c.Records,
		lim:   c.Limiter,
		front: c.Front,
	}
	if m.front == nil {
		m.front = NewFront()
	}
	if m.rec == nil {
		m.rec = state.NewRecords(c.Storage, c.Sealer, state.RecordsConfig{Now: c.Now})
	}
	if m.lim == nil {
		m.lim = state.NewLimiter(m.rec, "local")
	}
	m.ctx = context.WithValue(context.Background(), oauth2.HTTPClient, &http.Client{
		Timeout: c.HTTPClient.Timeout, Transport: zoomapi.HookTransport(c.HTTPClient, "user_oauth", c.OnFetch),
	})
	return m, nil
}

// Refusal codes.
const (
	CodeNotConnected  = "zoom_not_connected"
	CodeGrantRevoked  = "zoom_grant_revoked"
	CodeOAuth         = "zoom_user_oauth_unavailable"
	CodeStore         = "grant_store_unavailable"
	CodeLockTimeout   = state.CodeLockTimeout
	CodeOBFRateLimit  = "obf_rate_limited"
	CodeOBFTooMany    = "obf_too_many"
	CodeOBFMeeting    = "obf_meeting_invalid"
	CodeOBFUnissued   = "obf_unavailable"
	CodeStateMissing  = "connect_state_missing"
	CodeStateInvalid  = "connect_state_invalid"
	CodeStateMismatch = "connect_state_mismatch"
	CodeStateReplayed = "connect_state_replayed"
	CodeUserMismatch  = "connect_user_mismatch"
	CodeDenied        = "connect_denied"
	CodeCodeMissing   = "connect_code_missing"
	CodeCodeInvalid   = "connect_code_invalid"
	CodeScopeMissing  = "connect_scope_missing"
	CodeUserInactive  = "connect_user_inactive"
	CodeUnauthorized  = "connect_unauthenticated"
)

// name is the storage key of a site user's grant: the SHA-256 of the user,
// so that no user name shows in a file name, and the additional data of
// its seal, so that a record moved to another user does not open.
func (m *Manager) name(siteUser string) string {
	sum := sha256.Sum256([]byte("grant\x00" + siteUser))
	return m.cfg.Prefix + "/" + hex.EncodeToString(sum[:])
}

func (m *Manager) notConnected() *problem.Error {
	return problem.New(problem.Client, CodeNotConnected, "obfToken",
		"this meeting is outside the app's Zoom account, so joining it needs your own Zoom account connected; connect it at "+m.cfg.ConnectURL+" and try again")
}

func (m *Manager) revoked(why string) *problem.Error {
	return problem.New(problem.Client, CodeGrantRevoked, "obfToken",
		"your connected Zoom account can no longer be used ("+why+"), so it was disconnected; connect it again at "+m.cfg.ConnectURL)
}

func zoomDown(code, what string) *problem.Error {
	return problem.New(problem.Zoom, code, "obfToken", what)
}
