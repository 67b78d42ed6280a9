// Package zoomapi fetches ZAK tokens from Zoom's REST API with
// Server-to-Server OAuth, so a host's join config can carry the ZAK that
// starting a meeting needs.
//
// The access token comes from golang.org/x/oauth2/clientcredentials with
// grant_type=account_credentials, cached and refreshed before it expires,
// one fetch at a time. ZAKs are kept per user in a state.Cache until shortly
// before they expire, with one fetch per user however many requests wait
// for it. A 401 from the API refreshes the access token once and retries; a
// 429 holds that user in the cache until its Retry-After. Errors are
// *problem.Error with Zoom's fault; they carry Zoom's numeric code and the
// HTTP status it answered, never its text. The package imports nothing from
// Caddy.
package zoomapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/zoomsig/caddy-zoom-signature/caddymodule/join"
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/problem"
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/state"
)

// Defaults.
const (
	DefaultOAuthURL = "https://zoom.us/oauth/token"
	DefaultAPIURL   = "https://api.zoom.us/v2"
)

// Config configures a Client.
type Config struct {
	AccountID, ClientID, ClientSecret string

	OAuthURL string // default DefaultOAuthURL; ZoomGov: https://zoomgov.com/oauth/token
	APIURL   string // default DefaultAPIURL; ZoomGov: https://api.zoomgov.com/v2

	// How long a ZAK lives (Zoom: about 2h), and how long before its
	// expiry a cached ZAK or access token is replaced. Defaults 2h and 5m.
	ZAKLifetime time.Duration
	Margin      time.Duration

	HTTPClient *http.Client
	Now        func() time.Time
	// Cache keeps the ZAKs, the meeting lookups and the rate-limit holds;
	// default an in-memory one.
	Cache state.Cache
	// ZAKs keeps the ZAKs and their holds: each instance's own (a host's
	// start token is cheap to fetch and best not written down); default an
	// in-memory one.
	ZAKs state.Cache
	// LookupLimit, when set, is asked before a meeting lookup that the
	// cache cannot answer (one that would call Zoom and add a record),
	// with the user ForUser put in the context; a refusal stands. It keeps
	// one user (or every anonymous visitor together) from growing the
	// storage or spending the account's API limits.
	LookupLimit func(ctx context.Context, user string) *problem.Error
	// MeetingTTL is how long a meeting lookup is kept. Default
	// DefaultMeetingTTL.
	MeetingTTL time.Duration
	// OnFetch is told about every call to Zoom, kind "oauth", "zak" or
	// "meeting", for metrics. It never sees a token.
	OnFetch func(kind string, err error)
}

// Error codes.
const (
	CodeOAuth        = "zoom_oauth_unavailable"
	CodeUserNotFound = "zak_user_not_found"
	CodeRateLimited  = "zak_rate_limited"
	// CodeAPI: Zoom's API could not be reached.
	CodeAPI = "zoom_api_unavailable"
	// CodeAPIAnswer: Zoom's API answered, but not with what was asked.
	CodeAPIAnswer = "zoom_api_error"
)

// step is one kind of call to Zoom's API: kind names it to OnFetch (the
// metrics), and property is the property its refusals carry, the one the
// join (or the doctor's question) needed it for. Every refusal of a step,
// an OAuth failure included, carries the step's property: a meeting
// lookup that fails is no fault of "zak".
type step struct{ kind, property string }

// The steps.
var (
	stepZAK     = step{"zak", "zak"}
	stepMeeting = step{"meeting", "meetingNumber"}
	// The registration's refusals name the tk it was for, as the join
	// core's registration refusals do.
	stepRegistrant = step{"registrant", "tk"}
	// The doctor's questions: a meeting's details (with its host and the
	// host's settings), and a user of the account, which is the zak user
	// a host join would carry the ZAK of.
	stepDetails = step{"doctor", "meetingNumber"}
	stepUser    = step{"doctor", "zak"}
)

// refuse is Zoom's refusal in this step.
func (s step) refuse(code, reason string) *problem.Error {
	return problem.New(problem.Zoom, code, s.property, reason)
}

// Client fetches and caches ZAKs. It is safe for concurrent use.
type Client struct {
	cfg   Config
	cc    clientcredentials.Config
	ctx   context.Context // carries the HTTP client for oauth2
	cache state.Cache

	mu sync.Mutex
	ts oauth2.TokenSource
}

// New builds a Client. It contacts nobody until the first ZAK is needed.
func New(c Config) (*Client, error) {
	if c.AccountID == "" || c.ClientID == "" || c.ClientSecret == "" {
		return nil, errors.New("zak needs account_id, client_id and client_secret of a Server-to-Server OAuth app")
	}
	if c.OAuthURL == "" {
		c.OAuthURL = DefaultOAuthURL
	}
	if c.APIURL == "" {
		c.APIURL = DefaultAPIURL
	}
	if c.ZAKLifetime <= 0 {
		c.ZAKLifetime = 2 * time.Hour
	}
	if c.Margin <= 0 {
		c.Margin = 5 * time.Minute
	}
	if c.Margin >= c.ZAKLifetime {
		return nil, fmt.Errorf("the ZAK refresh margin %s must be shorter than its lifetime %s", c.Margin, c.ZAKLifetime)
	}
	if c.HTTPClient == nil {
		c.HTTPClient = NewClient(10 * time.Second)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.MeetingTTL <= 0 {
		c.MeetingTTL = DefaultMeetingTTL
	}
	if c.Cache == nil {
		c.Cache = state.NewMemory(c.Now, 0)
	}
	if c.ZAKs == nil {
		c.ZAKs = state.NewMemory(c.Now, 0)
	}
	cl := &Client{
		cfg: c,
		cc: clientcredentials.Config{
			ClientID:     c.ClientID,
			ClientSecret: c.ClientSecret,
			TokenURL:     c.OAuthURL,
			AuthStyle:    oauth2.AuthStyleInHeader,
			// Zoom's account credentials grant; clientcredentials lets
			// grant_type be overridden for exactly this kind of server.
			EndpointParams: url.Values{"grant_type": {"account_credentials"}, "account_id": {c.AccountID}},
		},
		ctx:   context.WithValue(context.Background(), oauth2.HTTPClient, &http.Client{Timeout: c.HTTPClient.Timeout, Transport: HookTransport(c.HTTPClient, "oauth", c.OnFetch)}),
		cache: c.Cache,
	}
	cl.ts = cl.newTokenSource()
	return cl, nil
}

// kept turns what the cache's Load answered in step s into a refusal: a
// hold is Zoom's rate limit (limited, with the time left), a refusal from
// the fetch stands, and anything else (the storage) is failed, in our
// words.
func (c *Client) kept(s step, err error, limited func(time.Duration) *problem.Error, failed string) *problem.Error {
	var held *state.HeldError
	var locked *state.LockError
	var store *state.StoreError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &held):
		return limited(held.Until.Sub(c.cfg.Now()))
	case problem.As(err) != nil:
		return problem.As(err)
	case errors.As(err, &locked):
		return problem.New(problem.Config, state.CodeLockTimeout, s.property,
			"the meeting's record in Caddy's storage is locked by another instance and the lock was not had within "+locked.Wait.String()+"; try again shortly (the site's log names the storage and the lock)")
	case errors.As(err, &store):
		return problem.New(problem.Config, state.CodeUnavailable, s.property,
			"Caddy's storage, where meeting lookups are shared, failed or did not answer in time; try again shortly, and check the storage")
	}
	return s.refuse(CodeAPI, failed)
}

func (c *Client) newTokenSource() oauth2.TokenSource {
	// ReuseTokenSource serialises fetches behind a mutex: one OAuth call at
	// a time, however many requests need a token.
	return oauth2.ReuseTokenSourceWithExpiry(nil, c.cc.TokenSource(c.ctx), c.cfg.Margin)
}

// ZAK returns the ZAK of the Zoom user (an ID or an email).
func (c *Client) ZAK(ctx context.Context, user string) (string, *problem.Error) {
	key := "zak/" + user
	v, err := c.cfg.ZAKs.Load(ctx, key, func(ctx context.Context) ([]byte, time.Duration, error) {
		tok, zerr := c.fetchZAK(ctx, key, user)
		if zerr != nil {
			return nil, 0, zerr
		}
		return []byte(tok), c.cfg.ZAKLifetime - c.cfg.Margin, nil
	})
	if perr := c.kept(stepZAK, err, rateLimited, "the host's ZAK could not be fetched; try again shortly"); perr != nil {
		return "", perr
	}
	return string(v), nil
}

func (c *Client) fetchZAK(ctx context.Context, key, user string) (string, *problem.Error) {
	status, body, retryAfter, perr := c.call(ctx, stepZAK, http.MethodGet, "/users/"+url.PathEscape(user)+"/token?type=zak", nil)
	if perr != nil {
		return "", perr
	}
	switch status {
	case http.StatusOK:
		var out struct {
			Token string `json:"token"`
		}
		if json.Unmarshal(body, &out) != nil || out.Token == "" {
			return "", stepZAK.refuse(CodeAPIAnswer, "Zoom's API answered without a token; try again shortly")
		}
		return out.Token, nil
	case http.StatusNotFound:
		return "", stepZAK.refuse(CodeUserNotFound, "Zoom has no user "+strconv.Quote(user)+" in this account ("+ZoomCode(status, body)+"); check the zak user mapping")
	case http.StatusTooManyRequests:
		d := max(retryAfter, time.Second)
		c.cfg.ZAKs.Hold(key, c.cfg.Now().Add(d))
		return "", rateLimited(d)
	default:
		return "", stepZAK.refuse(CodeAPIAnswer, "Zoom's API did not issue the ZAK ("+ZoomCode(status, body)+"); try again shortly, or check the app's scopes")
	}
}

func rateLimited(d time.Duration) *problem.Error {
	return stepZAK.refuse(CodeRateLimited, "Zoom rate-limited ZAK requests for this user; try again in "+max(d, time.Second).Round(time.Second).String())
}

// Answer is one answer of Zoom's API: its status, its body (at most 64
// KiB) and how long Zoom asks to wait.
type Answer struct {
	Status     int
	Body       []byte
	RetryAfter time.Duration
}

// Authorized is the one 401-refresh-retry: it sends with the access token
// that token gives (token("")), and when Zoom answers 401 (a token revoked
// or expired early) it asks token for a fresh one, naming the refused
// token, and sends once more. The answer returned is the last one, so a
// 401 from it means Zoom refused even a fresh token; an error of token or
// send ends it at once. The Server-to-Server client and the users' grants
// (package connect) both use it.
func Authorized(token func(stale string) (string, *problem.Error), send func(access string) (Answer, *problem.Error)) (Answer, *problem.Error) {
	access, perr := token("")
	if perr != nil {
		return Answer{}, perr
	}
	a, perr := send(access)
	if perr != nil || a.Status != http.StatusUnauthorized {
		return a, perr
	}
	if access, perr = token(access); perr != nil {
		return Answer{}, perr
	}
	return send(access)
}

// token is the account's access token for Authorized: a stale one (Zoom
// refused it) makes a new token source, once for all who saw it refused.
// failed names why no token could be had.
func (c *Client) token(failed func(error) *problem.Error) func(stale string) (string, *problem.Error) {
	var ts oauth2.TokenSource
	return func(stale string) (string, *problem.Error) {
		c.mu.Lock()
		if stale != "" && c.ts == ts {
			c.ts = c.newTokenSource()
		}
		ts = c.ts
		c.mu.Unlock()
		access, err := ts.Token()
		if err != nil {
			return "", failed(err)
		}
		return access.AccessToken, nil
	}
}

// call sends a request of step s to Zoom's API with the account's access
// token. A 401 (a token revoked or expired early) gets a fresh token and
// one retry; the status it returns is the answer's, for the caller to
// read, and an error only when no answer could be had.
func (c *Client) call(ctx context.Context, s step, method, path string, reqBody []byte) (int, []byte, time.Duration, *problem.Error) {
	a, perr := Authorized(c.token(func(err error) *problem.Error {
		return s.refuse(CodeOAuth, "Zoom's OAuth server did not issue an access token ("+OAuthCause(err)+"); check account_id, client_id and client_secret, and that the app is activated")
	}), func(access string) (Answer, *problem.Error) {
		status, body, retryAfter, err := c.send(ctx, s.kind, access, method, path, reqBody)
		if err != nil {
			return Answer{}, s.refuse(CodeAPI, "Zoom's API could not be reached; try again shortly")
		}
		return Answer{Status: status, Body: body, RetryAfter: retryAfter}, nil
	})
	switch {
	case perr != nil:
		return 0, nil, 0, perr
	case a.Status == http.StatusUnauthorized:
		return 0, nil, 0, s.refuse(CodeOAuth, "Zoom's API refused a fresh access token ("+ZoomCode(a.Status, a.Body)+"); check the app's scopes (user:read:token:admin, or user:read:zak; meeting:read:meeting:admin for meeting lookups)")
	}
	return a.Status, a.Body, a.RetryAfter, nil
}

func (c *Client) send(ctx context.Context, kind, access, method, path string, reqBody []byte) (int, []byte, time.Duration, error) {
	return Call(ctx, c.cfg.HTTPClient, c.cfg.OnFetch, kind, method, c.cfg.APIURL+path, access, reqBody, c.cfg.Now)
}

// MaxHold caps how long a rate-limited key is held: Zoom's daily limits
// reset within a day, and a Retry-After of 99999999999 would otherwise
// shut a user out for millennia.
const MaxHold = 24 * time.Hour

// RetryAfter reads how long Zoom asks to wait, in every form it sends:
// Retry-After in seconds or as an HTTP date (daily limits), or
// X-RateLimit-Reset as a Unix time (per-second limits). It is at least a
// second and at most MaxHold; 0 when Zoom gave no hint.
func RetryAfter(h http.Header, now time.Time) time.Duration {
	var d time.Duration
	if v := strings.TrimSpace(h.Get("Retry-After")); v != "" {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			d = seconds(n)
		} else if t, err := http.ParseTime(v); err == nil {
			d = t.Sub(now)
		}
	}
	if v := strings.TrimSpace(h.Get("X-RateLimit-Reset")); d <= 0 && v != "" {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			if n > 1e11 { // milliseconds, not seconds
				n /= 1000
			}
			d = time.Unix(n, 0).Sub(now)
		}
	}
	switch {
	case d <= 0:
		return 0
	case d < time.Second:
		return time.Second
	case d > MaxHold:
		return MaxHold
	}
	return d
}

func seconds(n int64) time.Duration {
	if n > int64(MaxHold/time.Second) {
		return MaxHold
	}
	return time.Duration(n) * time.Second
}

// ForUser names the site user a lookup is for ("" for an anonymous
// visitor), for Config.LookupLimit. It is join.ForUser: the join core
// names the user when it asks for a meeting.
func ForUser(ctx context.Context, user string) context.Context { return join.ForUser(ctx, user) }
