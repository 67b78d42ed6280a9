package zoomtest

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The user OAuth app of the fake: a Zoom "General app" whose users
// authorize it with the authorization-code grant (and PKCE), for their
// own access tokens, /users/me and OBF tokens. It behaves as Zoom's does:
// codes are single use and live 5 minutes, the redirect URI must match
// exactly, every refresh replaces the refresh token (the old one answers
// invalid_grant), and a newer authorization of the same user kills the
// older tokens.

// ZoomUser is a user who can authorize the user app.
type ZoomUser struct {
	ID, Email string
	// Inactive users (status "inactive" at /users/me) cannot be used.
	Inactive bool
}

type authCode struct {
	user                string // ZoomUser.ID
	redirect, challenge string
	scopes              string
	issued              time.Time
	used                bool
}

type userGrant struct {
	user    string
	scopes  string
	refresh string
	dead    bool
}

type userAccess struct {
	grant   *userGrant
	expires time.Time
}

// OBFToken is an issued OBF token, with what it is bound to.
type OBFToken struct {
	User, Meeting string
}

// UserApp is the user OAuth app's credentials.
type UserApp struct{ ClientID, ClientSecret string }

func (s *Server) initUserOAuth() {
	s.App = UserApp{ClientID: "userapp-" + randHex(4), ClientSecret: "userapp-secret-" + randHex(8)}
	s.zoomUsers = map[string]ZoomUser{}
	s.codes = map[string]*authCode{}
	s.refreshes = map[string]*userGrant{}
	s.userTokens = map[string]userAccess{}
	s.obf = map[string]OBFToken{}
	s.grantScopes = "user:read:token user:read:user"
}

// AuthorizeURL is the authorize endpoint.
func (s *Server) AuthorizeURL() string { return s.URL + "/oauth/authorize" }

// AddZoomUser adds a user who can authorize the user app; the first one
// added is who authorizes until AuthorizeAs says otherwise.
func (s *Server) AddZoomUser(u ZoomUser) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.zoomUsers[u.ID] = u
	if s.authorizeAs == "" {
		s.authorizeAs = u.ID
	}
}

// AuthorizeAs makes user (an ID) the one signed in at Zoom's authorize
// page, who approves the app.
func (s *Server) AuthorizeAs(id string) { s.mu.Lock(); s.authorizeAs = id; s.mu.Unlock() }

// DenyAuthorize makes the user press "Decline" (error=access_denied).
func (s *Server) DenyAuthorize(deny bool) { s.mu.Lock(); s.deny = deny; s.mu.Unlock() }

// GrantScopes sets the scopes the user grants (default "user:read:token
// user:read:user"), as a user who unticks one would.
func (s *Server) GrantScopes(scopes string) { s.mu.Lock(); s.grantScopes = scopes; s.mu.Unlock() }

// AgeCodes makes every code issued so far older than its 5 minutes.
func (s *Server) AgeCodes() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.codes {
		c.issued = c.issued.Add(-6 * time.Minute)
	}
}

// ExpireUserTokens makes every user access token issued so far answer 401
// (code 124), as an early expiry does; refresh tokens stay good.
func (s *Server) ExpireUserTokens() { s.mu.Lock(); clear(s.userTokens); s.mu.Unlock() }

// RevokeUser kills every grant of the user (an ID), as removing the app in
// Zoom's Marketplace does.
func (s *Server) RevokeUser(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.killGrants(id)
}

// UserTokenLifetime sets expires_in of the user access tokens issued from
// now on (default 3599 s), so that a test can make a connected grant
// stale soon.
func (s *Server) UserTokenLifetime(seconds int) { s.mu.Lock(); s.userLifetime = seconds; s.mu.Unlock() }

// RefreshCalls counts refresh_token grants asked for, good or not.
func (s *Server) RefreshCalls() int64 { return s.refreshCalls.Load() }

// OBFCalls counts OBF token requests.
func (s *Server) OBFCalls() int64 { return s.obfCalls.Load() }

// OBF says what an issued OBF token is bound to.
func (s *Server) OBF(token string) (OBFToken, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.obf[token]
	return t, ok
}

// UserTokens are every user access and refresh token issued, and the
// app's client secret: none may leave the module.
func (s *Server) UserTokens() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string{s.App.ClientSecret}, s.userIssued...)
}

// OBFTokens are every OBF token issued: only a join may carry one.
func (s *Server) OBFTokens() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for t := range s.obf {
		out = append(out, t)
	}
	return out
}

// UserSecrets are UserTokens and OBFTokens, for leak scans.
func (s *Server) UserSecrets() []string { return append(s.UserTokens(), s.OBFTokens()...) }

// Revocations counts the tokens revoked at /oauth/revoke.
func (s *Server) Revocations() int { s.mu.Lock(); defer s.mu.Unlock(); return s.revoked }

// authorize answers GET /oauth/authorize: it checks the client and the
// PKCE parameters and redirects to redirect_uri with a code and the state,
// as Zoom does once the signed-in user approves.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	s.mu.Lock()
	defer s.mu.Unlock()
	if q.Get("client_id") != s.App.ClientID || q.Get("response_type") != "code" {
		http.Error(w, "Invalid client_id: "+q.Get("client_id"), http.StatusBadRequest)
		return
	}
	redirect, err := url.Parse(q.Get("redirect_uri"))
	if err != nil || redirect.Host == "" {
		http.Error(w, "Invalid redirect: "+q.Get("redirect_uri"), http.StatusBadRequest)
		return
	}
	back := redirect.Query()
	back.Set("state", q.Get("state"))
	switch {
	case s.deny:
		back.Set("error", "access_denied")
	case q.Get("code_challenge_method") != "S256" || len(q.Get("code_challenge")) < 43:
		back.Set("error", "invalid_request")
	default:
		code := "code_" + randHex(16)
		s.codes[code] = &authCode{user: s.authorizeAs, redirect: q.Get("redirect_uri"), challenge: q.Get("code_challenge"), scopes: s.grantScopes, issued: time.Now()}
		back.Set("code", code)
	}
	redirect.RawQuery = back.Encode()
	http.Redirect(w, r, redirect.String(), http.StatusFound)
}

// userGrantToken answers the authorization_code and refresh_token grants
// of POST /oauth/token for the user app. s.mu is held.
func (s *Server) userGrantToken(w http.ResponseWriter, r *http.Request) {
	invalid := func() {
		writeJSON(w, http.StatusBadRequest, map[string]any{"reason": "Invalid Token!", "error": "invalid_grant"})
	}
	var g *userGrant
	switch r.Form.Get("grant_type") {
	case "authorization_code":
		c, ok := s.codes[r.Form.Get("code")]
		switch {
		case !ok || c.used || time.Since(c.issued) > 5*time.Minute:
			if ok {
				c.used = true
			}
			writeJSON(w, http.StatusBadRequest, map[string]any{"reason": "Invalid authorization code " + r.Form.Get("code"), "error": "invalid_grant"})
			return
		case r.Form.Get("redirect_uri") != c.redirect:
			writeJSON(w, http.StatusBadRequest, map[string]any{"reason": "Redirect URI mismatch.", "error": "invalid_request"})
			return
		}
		c.used = true
		sum := sha256.Sum256([]byte(r.Form.Get("code_verifier")))
		if base64.RawURLEncoding.EncodeToString(sum[:]) != c.challenge {
			writeJSON(w, http.StatusBadRequest, map[string]any{"reason": "Invalid code verifier.", "error": "invalid_request"})
			return
		}
		// A newer authorization of the same user kills the older tokens.
		s.killGrants(c.user)
		g = &userGrant{user: c.user, scopes: c.scopes}
	case "refresh_token":
		s.refreshCalls.Add(1)
		old, ok := s.refreshes[r.Form.Get("refresh_token")]
		if !ok || old.dead {
			invalid()
			return
		}
		// Rotation: the old refresh token dies with this answer.
		old.dead = true
		delete(s.refreshes, old.refresh)
		g = &userGrant{user: old.user, scopes: old.scopes}
	default:
		writeJSON(w, http.StatusBadRequest, map[string]any{"reason": "Unsupported grant type", "error": "unsupported_grant_type"})
		return
	}
	g.refresh = "eyJyZWZyZXNoIjp0cnVlfQ." + randHex(24)
	s.refreshes[g.refresh] = g
	access := "eyJ1c2VyIjp0cnVlfQ." + randHex(24)
	life := s.userLifetime
	if life == 0 {
		life = 3599
	}
	s.userTokens[access] = userAccess{grant: g, expires: time.Now().Add(time.Duration(life) * time.Second)}
	s.userIssued = append(s.userIssued, access, g.refresh)
	writeJSON(w, http.StatusOK, map[string]any{"access_token": access, "token_type": "bearer", "refresh_token": g.refresh,
		"expires_in": life, "scope": g.scopes, "api_url": s.URL})
}

// killGrants ends every grant of user. s.mu is held.
func (s *Server) killGrants(user string) {
	for rt, g := range s.refreshes {
		if g.user == user {
			g.dead = true
			delete(s.refreshes, rt)
		}
	}
	for at, a := range s.userTokens {
		if a.grant.user == user {
			delete(s.userTokens, at)
		}
	}
}

// revoke answers POST /oauth/revoke?token=...: the grant of that access
// or refresh token ends.
func (s *Server) revoke(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, secret, ok := r.BasicAuth()
	if !ok || id != s.App.ClientID || secret != s.App.ClientSecret {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"reason": "Invalid client_id or client_secret", "error": "invalid_client"})
		return
	}
	_ = r.ParseForm()
	tok := r.Form.Get("token")
	var g *userGrant
	if a, ok := s.userTokens[tok]; ok {
		g = a.grant
	} else if rg, ok := s.refreshes[tok]; ok {
		g = rg
	}
	if g == nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"reason": "Invalid Token!", "error": "invalid_request"})
		return
	}
	s.revoked++
	g.dead = true
	delete(s.refreshes, g.refresh)
	for at, a := range s.userTokens {
		if a.grant == g {
			delete(s.userTokens, at)
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "success"})
}

// userAuthorized checks a user access token, answering 124 for one it did
// not issue, revoked or expired; it returns the user. s.mu is held.
func (s *Server) userAuthorized(w http.ResponseWriter, r *http.Request, scope string) (ZoomUser, bool) {
	auth, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	a, ok := s.userTokens[auth]
	if !ok || a.grant.dead || time.Now().After(a.expires) {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"code": 124, "message": "Invalid access token."})
		return ZoomUser{}, false
	}
	if !strings.Contains(" "+a.grant.scopes+" ", " "+scope+" ") {
		writeJSON(w, http.StatusBadRequest, map[string]any{"code": 4711, "message": "Invalid access token, does not contain scopes:[" + scope + "]."})
		return ZoomUser{}, false
	}
	return s.zoomUsers[a.grant.user], true
}

// me answers GET /users/me for a user access token.
func (s *Server) me(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.userAuthorized(w, r, "user:read:user")
	if !ok {
		return
	}
	status := "active"
	if u.Inactive {
		status = "inactive"
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": u.ID, "email": u.Email, "first_name": "Zoom", "last_name": "User",
		"type": 1, "status": status, "account_id": "other-" + u.ID})
}

// onBehalf answers GET /users/me/token?type=onbehalf&meeting_id=...: an
// OBF token bound to the user and the meeting, which may be any account's
// (a number not in the fake's account is another account's), or 3001 for
// one that Nonexistent says is nobody's. s.mu is held.
func (s *Server) onBehalf(w http.ResponseWriter, r *http.Request) {
	s.obfCalls.Add(1)
	u, ok := s.userAuthorized(w, r, "user:read:token")
	if !ok {
		return
	}
	if s.rateLimit > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(s.rateLimit))
		writeJSON(w, http.StatusTooManyRequests, map[string]any{"code": 429, "message": "You have reached the maximum per-second rate limit for this API. Try again later."})
		return
	}
	mid := r.URL.Query().Get("meeting_id")
	if _, err := strconv.ParseUint(mid, 10, 64); mid != "" && err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"code": 300, "message": "Invalid meeting_id."})
		return
	}
	if s.nonexistent[mid] {
		writeJSON(w, http.StatusNotFound, map[string]any{"code": 3001, "message": "Meeting does not exist: " + mid + "."})
		return
	}
	tok := "eyJvYmYiOnRydWV9." + base64.RawURLEncoding.EncodeToString([]byte(mid)) + "." + randHex(20)
	s.obf[tok] = OBFToken{User: u.ID, Meeting: mid}
	writeJSON(w, http.StatusOK, map[string]any{"token": tok})
}

// refreshHold holds the next refresh of the user app open.
type refreshHold struct {
	rotateFirst bool
	arrived     chan struct{}
	release     chan struct{}
}

// HoldNextRefresh holds the next refresh_token request of the user app
// open until release is called (or the fake closes): arrived is closed
// when it has come in. With rotateFirst, the fake rotates the refresh
// token at once and only delays its answer (Zoom did the refresh, and the
// caller may never hear of it); without, it does nothing until released
// (the request had not reached Zoom yet).
func (s *Server) HoldNextRefresh(rotateFirst bool) (arrived <-chan struct{}, release func()) {
	h := &refreshHold{rotateFirst: rotateFirst, arrived: make(chan struct{}), release: make(chan struct{})}
	s.mu.Lock()
	s.refreshHold = h
	s.mu.Unlock()
	var once sync.Once
	return h.arrived, func() { once.Do(func() { close(h.release) }) }
}

// holdRefresh serves a held refresh; it says whether it did.
func (s *Server) holdRefresh(w http.ResponseWriter, r *http.Request) bool {
	id, secret, ok := r.BasicAuth()
	if !ok || id != s.App.ClientID || secret != s.App.ClientSecret || r.Form.Get("grant_type") != "refresh_token" {
		return false
	}
	s.mu.Lock()
	h := s.refreshHold
	s.refreshHold = nil
	s.mu.Unlock()
	if h == nil {
		return false
	}
	if !h.rotateFirst {
		close(h.arrived)
		<-h.release
		s.mu.Lock()
		defer s.mu.Unlock()
		s.userGrantToken(w, r)
		return true
	}
	rec := httptest.NewRecorder()
	s.mu.Lock()
	s.userGrantToken(rec, r)
	s.mu.Unlock()
	close(h.arrived)
	<-h.release
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
	return true
}

// LiveRefreshTokens is how many refresh tokens of the user (an ID) Zoom
// would honour now: 1 for a connected user, whatever the refreshes.
func (s *Server) LiveRefreshTokens(id string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, g := range s.refreshes {
		if g.user == id && !g.dead {
			n++
		}
	}
	return n
}
