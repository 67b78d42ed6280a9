// Package zoomapi fetches ZAK tokens from Zoom's REST API with
// Server-to-Server OAuth, so a host's join config can carry the ZAK that
// starting a meeting needs.
//
// The access token comes from golang.org/x/oauth2/clientcredentials with
// grant_type=account_credentials, cached and refreshed before it expires,
// one fetch at a time. ZAKs are cached per user until shortly before they
// expire, with one fetch per user however many requests wait for it. A 401
// from the API refreshes the access token once and retries; a 429 is
// remembered until its Retry-After. The package imports nothing from Caddy.
package zoomapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
	"golang.org/x/sync/singleflight"
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
	// OnFetch is told about every call to Zoom, kind "oauth" or "zak", for
	// metrics. It never sees a token.
	OnFetch func(kind string, err error)
}

// Error is a failure to get a ZAK, with the status the handler answers
// with, a stable code and a reason that names the cause and the fix. It
// never contains a token or a secret.
type Error struct {
	Status int
	Code   string
	Reason string
}

func (e *Error) Error() string { return e.Code + ": " + e.Reason }

// Error codes.
const (
	CodeOAuth        = "zoom_oauth_unavailable"
	CodeUserNotFound = "zak_user_not_found"
	CodeRateLimited  = "zak_rate_limited"
	CodeAPI          = "zoom_api_unavailable"
)

// Client fetches and caches ZAKs. It is safe for concurrent use.
type Client struct {
	cfg    Config
	cc     clientcredentials.Config
	ctx    context.Context // carries the HTTP client for oauth2
	flight singleflight.Group

	mu    sync.Mutex
	ts    oauth2.TokenSource
	zaks  map[string]cachedZAK
	until map[string]time.Time // rate-limited users, until Retry-After
}

type cachedZAK struct {
	token   string
	expires time.Time
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
		c.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if c.Now == nil {
		c.Now = time.Now
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
		ctx:   context.WithValue(context.Background(), oauth2.HTTPClient, &http.Client{Timeout: c.HTTPClient.Timeout, Transport: countingTransport{next: transportOf(c.HTTPClient), hook: c.OnFetch}}),
		zaks:  map[string]cachedZAK{},
		until: map[string]time.Time{},
	}
	cl.ts = cl.newTokenSource()
	return cl, nil
}

func (c *Client) newTokenSource() oauth2.TokenSource {
	// ReuseTokenSource serialises fetches behind a mutex: one OAuth call at
	// a time, however many requests need a token.
	return oauth2.ReuseTokenSourceWithExpiry(nil, c.cc.TokenSource(c.ctx), c.cfg.Margin)
}

// ZAK returns the ZAK of the Zoom user (an ID or an email).
func (c *Client) ZAK(ctx context.Context, user string) (string, *Error) {
	now := c.cfg.Now()
	c.mu.Lock()
	z, ok := c.zaks[user]
	wait := c.until[user]
	c.mu.Unlock()
	if ok && now.Before(z.expires) {
		return z.token, nil
	}
	if now.Before(wait) {
		return "", rateLimited(wait.Sub(now))
	}
	// One fetch per user; the others wait for it. The fetch runs on its own
	// context so that one caller going away does not fail the rest.
	v, err, _ := c.flight.Do(user, func() (any, error) {
		tok, zerr := c.fetchZAK(context.WithoutCancel(ctx), user)
		if zerr != nil {
			return nil, zerr
		}
		c.mu.Lock()
		c.zaks[user] = cachedZAK{token: tok, expires: c.cfg.Now().Add(c.cfg.ZAKLifetime - c.cfg.Margin)}
		c.mu.Unlock()
		return tok, nil
	})
	if err != nil {
		return "", err.(*Error)
	}
	return v.(string), nil
}

func (c *Client) fetchZAK(ctx context.Context, user string) (string, *Error) {
	for attempt := 0; ; attempt++ {
		c.mu.Lock()
		ts := c.ts
		c.mu.Unlock()
		access, err := ts.Token()
		if err != nil {
			return "", &Error{Status: http.StatusServiceUnavailable, Code: CodeOAuth, Reason: "Zoom's OAuth server did not issue an access token (" + oauthCause(err) + "); check account_id, client_id and client_secret, and that the app is activated"}
		}
		status, body, retryAfter, err := c.get(ctx, access.AccessToken, user)
		if err != nil {
			return "", &Error{Status: http.StatusServiceUnavailable, Code: CodeAPI, Reason: "Zoom's API could not be reached; try again shortly"}
		}
		switch status {
		case http.StatusOK:
			var out struct {
				Token string `json:"token"`
			}
			if json.Unmarshal(body, &out) != nil || out.Token == "" {
				return "", &Error{Status: http.StatusBadGateway, Code: CodeAPI, Reason: "Zoom's API answered without a token"}
			}
			return out.Token, nil
		case http.StatusUnauthorized:
			if attempt == 0 {
				// The access token was revoked or expired early: get a new
				// one, once, and retry.
				c.mu.Lock()
				if c.ts == ts {
					c.ts = c.newTokenSource()
				}
				c.mu.Unlock()
				continue
			}
			return "", &Error{Status: http.StatusServiceUnavailable, Code: CodeOAuth, Reason: "Zoom's API refused a fresh access token (" + zoomMessage(body) + "); check the app's scopes (user:read:token:admin, or user:read:zak)"}
		case http.StatusNotFound:
			return "", &Error{Status: http.StatusForbidden, Code: CodeUserNotFound, Reason: "Zoom has no user " + strconv.Quote(user) + " in this account (" + zoomMessage(body) + "); check the zak user mapping"}
		case http.StatusTooManyRequests:
			d := retryAfter
			if d <= 0 {
				d = time.Second
			}
			c.mu.Lock()
			c.until[user] = c.cfg.Now().Add(d)
			c.mu.Unlock()
			return "", rateLimited(d)
		default:
			return "", &Error{Status: http.StatusBadGateway, Code: CodeAPI, Reason: "Zoom's API answered " + strconv.Itoa(status) + " (" + zoomMessage(body) + ")"}
		}
	}
}

func rateLimited(d time.Duration) *Error {
	return &Error{Status: http.StatusServiceUnavailable, Code: CodeRateLimited, Reason: "Zoom rate-limited ZAK requests for this user; try again in " + d.Round(time.Second).String()}
}

func (c *Client) get(ctx context.Context, access, user string) (int, []byte, time.Duration, error) {
	u := c.cfg.APIURL + "/users/" + url.PathEscape(user) + "/token?type=zak"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, nil, 0, err
	}
	req.Header.Set("Authorization", "Bearer "+access)
	req.Header.Set("Accept", "application/json")
	resp, err := c.cfg.HTTPClient.Do(req)
	if c.cfg.OnFetch != nil {
		ferr := err
		if err == nil && resp.StatusCode != http.StatusOK {
			ferr = fmt.Errorf("status %d", resp.StatusCode)
		}
		c.cfg.OnFetch("zak", ferr)
	}
	if err != nil {
		return 0, nil, 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return 0, nil, 0, err
	}
	var retry time.Duration
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
		retry = time.Duration(s) * time.Second
	}
	return resp.StatusCode, body, retry, nil
}

// zoomMessage extracts Zoom's {"code","message"} for an error reason.
func zoomMessage(body []byte) string {
	var e struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &e) != nil || e.Message == "" {
		return "no message"
	}
	return "Zoom code " + strconv.Itoa(e.Code) + ": " + e.Message
}

// oauthCause names why the OAuth call failed without echoing anything the
// server might have reflected.
func oauthCause(err error) string {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.Response != nil {
		cause := "HTTP " + strconv.Itoa(re.Response.StatusCode)
		if re.ErrorCode != "" {
			cause += ", " + re.ErrorCode
		}
		return cause
	}
	return "unreachable"
}

// countingTransport reports each OAuth call to a hook.
type countingTransport struct {
	next http.RoundTripper
	hook func(string, error)
}

func (t countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(r)
	if t.hook != nil {
		ferr := err
		if err == nil && resp.StatusCode != http.StatusOK {
			ferr = fmt.Errorf("status %d", resp.StatusCode)
		}
		t.hook("oauth", ferr)
	}
	return resp, err
}

func transportOf(c *http.Client) http.RoundTripper {
	if c.Transport != nil {
		return c.Transport
	}
	return http.DefaultTransport
}
