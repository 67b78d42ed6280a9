package connect

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/zoomsig/caddy-zoom-signature/caddymodule/problem"
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/state"
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/zoomapi"
)

// CookieTTL is how long a started connect may take to come back.
const CookieTTL = 10 * time.Minute

// MaxCookie bounds the connect cookie read back from a browser.
const MaxCookie = 2048

// cookieName is the seal's additional data of the connect cookie.
const cookieName = "zoom_signature/connect-cookie"

// pending is what the connect cookie carries, sealed: the state and the
// PKCE verifier of one connect, for one site user, until Expires. Any
// instance with the keys can take the callback.
type pending struct {
	State    string `json:"s"`
	Verifier string `json:"v"`
	SiteUser string `json:"u"`
	Expires  int64  `json:"e"` // Unix seconds
}

// Start begins a connect for siteUser: the URL of Zoom's authorize page
// to redirect to, and the sealed cookie value that the callback checks.
func (m *Manager) Start(siteUser string) (authorize, cookie string, err error) {
	if siteUser == "" {
		return "", "", errors.New("no site user")
	}
	p := pending{State: random(32), Verifier: oauth2.GenerateVerifier(), SiteUser: siteUser, Expires: m.cfg.Now().Add(CookieTTL).Unix()}
	plain, _ := json.Marshal(p)
	sealed, err := m.cfg.Sealer.Seal(cookieName, plain)
	if err != nil {
		return "", "", err
	}
	return m.oauth.AuthCodeURL(p.State, oauth2.S256ChallengeOption(p.Verifier)), base64.RawURLEncoding.EncodeToString(sealed), nil
}

// OpenCookie opens a connect cookie; it is the one parser of what the
// browser sends back, bounded in size.
func (m *Manager) OpenCookie(cookie string) (pending, error) {
	if cookie == "" {
		return pending{}, errors.New("no cookie")
	}
	if len(cookie) > MaxCookie {
		return pending{}, errors.New("the cookie is too long")
	}
	sealed, err := base64.RawURLEncoding.DecodeString(cookie)
	if err != nil {
		return pending{}, errors.New("the cookie is not base64url")
	}
	plain, err := m.cfg.Sealer.Open(cookieName, sealed)
	if err != nil {
		return pending{}, err
	}
	var p pending
	if json.Unmarshal(plain, &p) != nil || p.State == "" || p.Verifier == "" || p.SiteUser == "" {
		return pending{}, errors.New("the cookie is not a connect cookie")
	}
	return p, nil
}

// MaxParam bounds each callback parameter Zoom sends back.
const MaxParam = 2048

// Finish takes the callback of a connect: it checks the state against the
// cookie and the same site user, refuses a state used before, trades the
// code (with the verifier) for tokens, checks the scopes and the Zoom
// user, and stores the grant.
func (m *Manager) Finish(ctx context.Context, siteUser, cookie string, q url.Values) (Grant, *problem.Error) {
	for k, v := range q {
		if len(k) > 64 || len(v) != 1 || len(v[0]) > MaxParam {
			return Grant{}, problem.New(problem.Client, CodeStateInvalid, "state",
				"the callback's parameters are not what Zoom sends (each once, at most 2048 bytes); start again at "+m.cfg.ConnectURL)
		}
	}
	if cookie == "" {
		return Grant{}, problem.New(problem.Client, CodeStateMissing, "state",
			"no connect is in progress in this browser (the connect cookie is missing: it lasts 10 minutes and needs https or localhost); start again at "+m.cfg.ConnectURL)
	}
	p, err := m.OpenCookie(cookie)
	if err != nil || m.cfg.Now().Unix() > p.Expires {
		return Grant{}, problem.New(problem.Client, CodeStateInvalid, "state",
			"the connect cookie is unreadable or older than 10 minutes; start again at "+m.cfg.ConnectURL)
	}
	if subtle.ConstantTimeCompare([]byte(p.State), []byte(q.Get("state"))) != 1 {
		return Grant{}, problem.New(problem.Client, CodeStateMismatch, "state",
			"the callback's state is not the one this browser started with, so it may come from someone else's link; start again at "+m.cfg.ConnectURL)
	}
	if p.SiteUser != siteUser {
		return Grant{}, problem.New(problem.Client, CodeUserMismatch, "state",
			"this connect was started by another site user; sign in as that user, or start again at "+m.cfg.ConnectURL)
	}
	if e := q.Get("error"); e != "" {
		return Grant{}, problem.New(problem.Client, CodeDenied, "code",
			"Zoom did not authorize the app ("+oauthErrorName(e)+"); approve it on Zoom's page, starting again at "+m.cfg.ConnectURL)
	}
	code := q.Get("code")
	if code == "" {
		return Grant{}, problem.New(problem.Client, CodeCodeMissing, "code", "the callback has no code; start again at "+m.cfg.ConnectURL)
	}
	if perr := m.useState(ctx, p.State); perr != nil {
		return Grant{}, perr
	}
	m.sweepUsed(ctx) // after useState has let go of its marker's lock
	tok, err := m.oauth.Exchange(m.ctx, code, oauth2.VerifierOption(p.Verifier))
	if err != nil {
		if c := zoomapi.OAuthCode(err); c == "invalid_grant" || c == "invalid_request" {
			return Grant{}, problem.New(problem.Client, CodeCodeInvalid, "code",
				"Zoom refused the code ("+zoomapi.OAuthCause(err)+"): codes are single use and last 5 minutes; start again at "+m.cfg.ConnectURL)
		}
		return Grant{}, zoomDown(CodeOAuth, "Zoom's OAuth server did not answer the connect ("+zoomapi.OAuthCause(err)+"); try again shortly")
	}
	scopes := grantedScopes(tok)
	if missing := missingScopes(scopes, m.cfg.Scopes); len(missing) > 0 {
		m.revokeToken(tok.RefreshToken)
		return Grant{}, problem.New(problem.Client, CodeScopeMissing, "scope",
			"the Zoom account was connected without "+strings.Join(missing, " ")+", which joins need; connect again and leave every permission ticked, or add the scopes to the app in Zoom's Marketplace")
	}
	me, perr := m.me(ctx, tok.AccessToken)
	if perr != nil {
		return Grant{}, perr
	}
	if me.Status != "active" {
		// Zoom's word for the status is not repeated: it is Zoom's text.
		m.revokeToken(tok.RefreshToken)
		return Grant{}, problem.New(problem.Client, CodeUserInactive, "code",
			"the Zoom user is not active (deactivated or pending); activate the account at Zoom, or connect another")
	}
	now := m.cfg.Now()
	g := Grant{SiteUser: siteUser, ZoomUserID: me.ID, ZoomEmail: me.Email, AccessToken: tok.AccessToken, RefreshToken: tok.RefreshToken,
		Expiry: tok.Expiry, Scopes: scopes, ConnectedAt: now, RefreshedAt: now}
	// The next generation of whatever the record holds: an instance still
	// refreshing the old grant will not overwrite this one.
	err = m.rec.Update(ctx, m.name(siteUser), func(plain []byte, found bool) ([]byte, error) {
		var cur Grant
		if found && json.Unmarshal(plain, &cur) == nil {
			g.Gen = cur.Gen + 1
		}
		return json.Marshal(g)
	})
	m.front.forget(siteUser) // whatever the front kept is older
	if err != nil {
		return Grant{}, m.stateDown(err)
	}
	return g, nil
}

// useState marks a state as used, once in the cluster: a second callback
// with the same state (a replay, or a double click) is refused before its
// code is tried. The mark is a sealed record of the seam, named by a hash
// of the state, that says until when it guards; under its lock it is read
// again, so of two instances taking one callback only one goes on.
func (m *Manager) useState(ctx context.Context, st string) *problem.Error {
	now := m.cfg.Now()
	err := m.rec.Update(ctx, m.rec.Name(m.usedFolder(), "state\x00"+st), func(plain []byte, found bool) ([]byte, error) {
		var u used
		if found && json.Unmarshal(plain, &u) == nil && now.UnixMilli() < u.Expires {
			return nil, errReplayed
		}
		return json.Marshal(used{Expires: now.Add(usedKeep).UnixMilli()})
	})
	switch {
	case errors.Is(err, errReplayed):
		return problem.New(problem.Client, CodeStateReplayed, "state",
			"this connect's callback was already used; start again at "+m.cfg.ConnectURL)
	case err != nil:
		return m.stateDown(err)
	}
	return nil
}

// used is a used state's mark, before sealing.
type used struct {
	Expires int64 `json:"e"` // Unix ms
}

var errReplayed = errors.New("the state was used")

// A used state's mark guards only while its cookie could still be
// accepted: it expires after usedKeep, and sweepUsed deletes the expired
// ones, so that the folder does not grow by a record per connect for ever.
// It runs at most every sweepEvery per Manager, on a callback (connects
// are rare, and the folder's listing is the cost), and only over storages
// that can list (every certmagic.Storage can); the glue's sweep of the
// seam's folders by age removes them too. The margin over the cookie's
// life allows for instances whose clocks differ.
const (
	usedKeep   = 2 * CookieTTL
	sweepEvery = time.Hour
)

// usedFolder is the folder of used states in the seam: "used" beside the
// grants, so that the grants' own folder holds grants only.
func (m *Manager) usedFolder() string { return path.Base(m.cfg.Prefix) + "/used" }

func (m *Manager) sweepUsed(ctx context.Context) {
	now := m.cfg.Now()
	m.mu.Lock()
	due := !now.Before(m.nextSweep)
	if due {
		m.nextSweep = now.Add(sweepEvery)
	}
	m.mu.Unlock()
	if !due {
		return
	}
	keys, err := m.rec.List(ctx, m.usedFolder())
	if err != nil {
		return // the storage cannot list now: next time
	}
	for _, k := range keys {
		sealed, err := m.rec.Raw(ctx, k)
		if err != nil {
			continue
		}
		// Opened here, not through Records.Get: a mark no key opens (one
		// written before marks were sealed, a plain Unix time) is not a
		// record to warn about, only one to sweep once it is old.
		var u used
		if plain, err := m.rec.Sealer().Open(k, sealed); err == nil {
			if json.Unmarshal(plain, &u) != nil {
				continue
			}
		} else if t, err := strconv.ParseInt(string(sealed), 10, 64); err == nil {
			u.Expires = time.Unix(t, 0).Add(usedKeep).UnixMilli()
		} else {
			continue
		}
		if now.UnixMilli() >= u.Expires {
			_ = m.rec.Delete(ctx, k)
		}
	}
}

type zoomMe struct {
	ID     string `json:"id"`
	Email  string `json:"email"`
	Status string `json:"status"`
}

// me asks Zoom who the token's user is.
func (m *Manager) me(ctx context.Context, access string) (zoomMe, *problem.Error) {
	status, body, _, err := m.get(ctx, "user_api", access, "/users/me")
	if err != nil {
		return zoomMe{}, zoomDown(CodeOAuth, "Zoom's API could not be reached to name the connected user; try again shortly")
	}
	var me zoomMe
	if status != http.StatusOK || json.Unmarshal(body, &me) != nil || me.ID == "" {
		return zoomMe{}, problem.New(problem.Zoom, "zoom_api_error", "code",
			"Zoom's API did not name the connected user ("+zoomapi.ZoomCode(status, body)+"); check that the app has user:read:user")
	}
	return me, nil
}

// Disconnect revokes the site user's grant at Zoom and deletes it. The
// grant is deleted even when Zoom cannot be reached: the user asked for it
// to go, and a revoke that failed leaves a token that expires on its own.
func (m *Manager) Disconnect(ctx context.Context, siteUser string) (bool, *problem.Error) {
	name := m.name(siteUser)
	unlock, err := m.rec.Lock(ctx, name)
	if err != nil {
		return false, m.stateDown(err)
	}
	defer unlock()
	// Dropped after the record is gone, and before the lock is let go:
	// a read that began earlier is not kept (Front.put).
	defer m.front.forget(siteUser)
	g, err := m.load(ctx, siteUser)
	switch {
	case errors.Is(err, errNoGrant):
		_ = m.rec.Delete(ctx, name) // a tombstone goes too
		return false, nil
	case errors.Is(err, state.ErrUnsealable):
		// The user asked for it to go; what no key opens cannot be revoked.
	case err != nil:
		return false, m.stateDown(err)
	default:
		m.revokeToken(g.RefreshToken)
	}
	if err := m.rec.Delete(ctx, name); err != nil {
		return false, m.stateDown(err)
	}
	return true, nil
}

// revokeToken ends a grant at Zoom, as well as it can.
func (m *Manager) revokeToken(tok string) {
	if tok == "" {
		return
	}
	req, err := http.NewRequestWithContext(m.ctx, http.MethodPost, m.cfg.RevokeURL, strings.NewReader(url.Values{"token": {tok}}.Encode()))
	if err != nil {
		return
	}
	req.SetBasicAuth(url.QueryEscape(m.cfg.ClientID), url.QueryEscape(m.cfg.ClientSecret))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := m.cfg.HTTPClient.Do(req)
	zoomapi.Report(m.cfg.OnFetch, "revoke", resp, err)
	if err == nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
	}
}

func random(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// oauthErrorName passes only the error names RFC 6749 defines for the
// authorization endpoint; anything else is "an error".
func oauthErrorName(e string) string {
	switch e {
	case "access_denied", "invalid_request", "unauthorized_client", "unsupported_response_type", "invalid_scope", "server_error", "temporarily_unavailable":
		return e
	}
	return "an error"
}
