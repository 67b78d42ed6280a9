package connect

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/zoomsig/caddy-zoom-signature/caddymodule/problem"
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/state"
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/zoomapi"
)

// Grant is a site user's connected Zoom account, as kept (sealed) in the
// storage.
type Grant struct {
	SiteUser     string    `json:"site_user"`
	ZoomUserID   string    `json:"zoom_user_id"`
	ZoomEmail    string    `json:"zoom_email,omitempty"`
	AccessToken  string    `json:"access_token"`
	RefreshToken string    `json:"refresh_token"`
	Expiry       time.Time `json:"expiry"`
	Scopes       []string  `json:"scopes"`
	ConnectedAt  time.Time `json:"connected_at"`
	RefreshedAt  time.Time `json:"refreshed_at,omitempty"`
	// HeldUntil is kept for records written before holds had their own
	// record; it is read, no longer written.
	HeldUntil time.Time `json:"held_until,omitempty"`
	// Gen numbers the grant's versions: each connect and each refresh
	// writes the next, and no writer replaces a record of a newer one.
	Gen uint64 `json:"gen,omitempty"`
	// Refreshing is when a refresh began (Unix ms), written before Zoom is
	// asked and cleared with the refreshed tokens: a record that still has
	// it when Zoom refuses its refresh token was lost to an instance that
	// stopped mid-refresh, not revoked by the user.
	Refreshing int64 `json:"refreshing,omitempty"`
	// Dead says why a grant is no longer usable ("refused", "lost"); such a
	// record (a tombstone) keeps the generation, so that an instance that
	// was frozen mid-refresh and holds the live successor can still store
	// it.
	Dead string `json:"dead,omitempty"`

	// Unopened (never stored): the user's record exists but no key of
	// seal_keys opens it.
	Unopened bool `json:"-"`
}

// MaxRecord bounds a sealed record read back from the storage.
const MaxRecord = 16 << 10

// errNoGrant: the user has not connected (or was disconnected).
var errNoGrant = errors.New("no grant")

// DecodeRecord opens and parses a sealed grant record stored under name.
// It is the one parser of what the storage holds, bounded in size, and
// refuses a record of another user (the name is the seal's additional
// data, and the record names its user) and a dead one.
func (m *Manager) DecodeRecord(name string, sealed []byte) (Grant, error) {
	g, err := m.decode(name, sealed)
	if err == nil && (g.Dead != "" || g.RefreshToken == "") {
		return Grant{}, errors.New("the grant record is not a live grant")
	}
	return g, err
}

func (m *Manager) decode(name string, sealed []byte) (Grant, error) {
	if len(sealed) > MaxRecord {
		return Grant{}, errors.New("the grant record is larger than 16 KiB")
	}
	plain, err := m.cfg.Sealer.Open(name, sealed)
	if err != nil {
		return Grant{}, err
	}
	var g Grant
	if err := json.Unmarshal(plain, &g); err != nil {
		return Grant{}, errors.New("the grant record is not JSON")
	}
	if g.SiteUser == "" || m.name(g.SiteUser) != name || (g.RefreshToken == "" && g.Dead == "") {
		return Grant{}, errors.New("the grant record is not a grant of this user")
	}
	return g, nil
}

// stored reads a site user's record as it is, tombstones included:
// errNoGrant for none, state.ErrUnsealable for one no key opens (counted
// and reported), or the storage's error.
func (m *Manager) stored(ctx context.Context, siteUser string) (Grant, error) {
	name := m.name(siteUser)
	sealed, err := m.rec.Raw(ctx, name)
	if errors.Is(err, state.ErrNotFound) {
		return Grant{}, errNoGrant
	}
	if err != nil {
		return Grant{}, err
	}
	g, err := m.decode(name, sealed)
	if errors.Is(err, state.ErrUnsealable) {
		m.rec.Unopened(name)
		return Grant{}, state.ErrUnsealable
	}
	if err != nil {
		return Grant{}, errNoGrant
	}
	return g, nil
}

// load reads a site user's live grant: a tombstone, or a record that is
// not a grant, is none (the user connects again).
func (m *Manager) load(ctx context.Context, siteUser string) (Grant, error) {
	g, err := m.stored(ctx, siteUser)
	if err == nil && g.Dead != "" {
		return Grant{}, errNoGrant
	}
	return g, err
}

func (m *Manager) store(ctx context.Context, g Grant) error {
	plain, err := json.Marshal(g)
	if err != nil {
		return err
	}
	return m.rec.Put(ctx, m.name(g.SiteUser), plain)
}

func (m *Manager) fresh(g Grant) bool {
	return m.cfg.Now().Add(m.cfg.Margin).Before(g.Expiry)
}

// usable: the access token has not expired yet (it may be inside the
// refresh margin).
func (m *Manager) usable(g Grant) bool {
	return m.cfg.Now().Before(g.Expiry)
}

// Status returns the site user's grant, if there is one, and whether it
// is live: Zoom answers /users/me with it, after a refresh if its access
// token is stale or refused. A grant Zoom refuses is dropped here, as a
// join would find. live is false when Zoom could not be asked; the grant
// is kept then. A record no key of seal_keys opens is not connected, and
// the returned Grant says so (Unopened).
func (m *Manager) Status(ctx context.Context, siteUser string) (g Grant, connected, live bool, perr *problem.Error) {
	g, err := m.load(ctx, siteUser)
	switch {
	case errors.Is(err, errNoGrant):
		return Grant{}, false, false, nil
	case errors.Is(err, state.ErrUnsealable):
		return Grant{Unopened: true}, false, false, nil
	case err != nil:
		return Grant{}, false, false, m.stateDown(err)
	}
	fresh, perr := m.access(ctx, siteUser, "")
	if perr == nil {
		status, _, _, err := m.get(ctx, "user_api", fresh.AccessToken, "/users/me")
		switch {
		case err == nil && status == http.StatusOK:
			return fresh, true, true, nil
		case err == nil && status == http.StatusUnauthorized:
			fresh, perr = m.access(ctx, siteUser, fresh.AccessToken)
			if perr == nil {
				return fresh, true, true, nil
			}
		default:
			return g, true, false, nil
		}
	}
	switch perr.Code() {
	case CodeNotConnected, CodeGrantRevoked:
		return Grant{}, false, false, nil
	case CodeStore, CodeLockTimeout:
		return Grant{}, false, false, perr
	}
	return g, true, false, nil
}

// access returns a grant whose access token is fresh and is not stale
// (the one Zoom just refused, or "" for none). The refresh runs once per
// user in this process (singleflight) and, without faults, once per user
// in the cluster: under the storage's lock (bounded by its deadline), the
// record is read again and refreshed only if it is still stale. The lock
// is advisory, so refresh tolerates a second holder (see refresh).
//
// A join with no stale token is served from the front when the grant was
// read less than GrantRecheck ago and is still fresh (see Front for how a
// cluster's changes are seen); a stale token (Zoom's 401) always reads the
// storage.
func (m *Manager) access(ctx context.Context, siteUser, stale string) (Grant, *problem.Error) {
	now := m.cfg.Now()
	if g, ok := m.front.get(siteUser, now); ok && stale == "" && m.fresh(g) {
		return g, nil
	}
	epoch := m.front.epoch()
	g, err := m.load(ctx, siteUser)
	switch {
	case errors.Is(err, errNoGrant):
		m.front.forget(siteUser)
		return Grant{}, m.notConnected()
	case errors.Is(err, state.ErrUnsealable):
		m.front.forget(siteUser)
		return Grant{}, m.unopened()
	case err != nil:
		return Grant{}, m.stateDown(err)
	case m.fresh(g) && g.AccessToken != stale:
		m.front.put(g, now, epoch)
		return g, nil
	}
	name := m.name(siteUser)
	v, _, _ := m.flight.Do(name+"\x00"+stale, func() (any, error) {
		ctx := context.WithoutCancel(ctx)
		unlock, err := m.rec.Lock(ctx, name)
		if err != nil {
			// The lock could not be had in time. An access token that
			// has not expired yet still serves; otherwise the join is
			// refused now rather than left waiting.
			if g.AccessToken != stale && m.usable(g) {
				return result{g: g}, nil
			}
			return result{perr: m.stateDown(err)}, nil
		}
		defer unlock()
		g, err := m.load(ctx, siteUser)
		switch {
		case errors.Is(err, errNoGrant):
			return result{perr: m.notConnected()}, nil
		case errors.Is(err, state.ErrUnsealable):
			return result{perr: m.unopened()}, nil
		case err != nil:
			return result{perr: m.stateDown(err)}, nil
		case m.fresh(g) && g.AccessToken != stale:
			return result{g: g}, nil // another instance refreshed meanwhile
		}
		g, perr := m.refresh(ctx, g)
		return result{g: g, perr: perr}, nil
	})
	r := v.(result)
	switch {
	case r.perr == nil:
		m.front.put(r.g, now, epoch)
	case r.perr.Code() == CodeNotConnected || r.perr.Code() == CodeGrantRevoked:
		m.front.forget(siteUser)
	}
	return r.g, r.perr
}

type result struct {
	g    Grant
	perr *problem.Error
}

// refresh trades the refresh token for new tokens and stores them, as the
// next generation. The lock is held, but it is advisory: another instance
// may be refreshing too (this one was frozen past its lease, or the other
// was). Zoom rotates refresh tokens strictly, so of two refreshes with one
// token only the first succeeds; the other gets invalid_grant, and then
// takes the newest stored grant (and refreshes it, once, if it is stale).
// The grant is dropped only when Zoom refuses the newest stored refresh
// token.
func (m *Manager) refresh(ctx context.Context, g Grant) (Grant, *problem.Error) {
	unfinished := g.Refreshing != 0 // an earlier refresh began and never stored its tokens
	g.Refreshing = m.cfg.Now().UnixMilli()
	if err := m.store(ctx, g); err != nil {
		return Grant{}, m.stateDown(err)
	}
	tok, err := m.exchange(g.RefreshToken)
	if zoomapi.OAuthCode(err) == "invalid_grant" {
		cur, lerr := m.load(ctx, g.SiteUser)
		if lerr == nil && cur.Gen > g.Gen {
			// Another instance refreshed while this one waited on Zoom
			// (or was frozen): its grant is the newest.
			if m.fresh(cur) {
				m.event("grant_superseded")
				return cur, nil
			}
			g, unfinished = cur, cur.Refreshing != 0
			tok, err = m.exchange(g.RefreshToken)
		}
	}
	if err != nil {
		if zoomapi.OAuthCode(err) == "invalid_grant" {
			// Zoom refuses the newest stored refresh token: revoked,
			// replaced by a newer authorization, unused for too long, or
			// rotated by a refresh whose instance stopped before storing
			// the successor (the one loss no design prevents).
			cause := "refused"
			if unfinished {
				cause = "lost"
			}
			m.bury(ctx, g, cause, true)
			if cause == "lost" {
				return Grant{}, m.revoked("it was being refreshed by a Caddy instance that stopped before it could store Zoom's new token")
			}
			return Grant{}, m.revoked("Zoom refused its refresh token")
		}
		m.clearMark(ctx, g)
		return Grant{}, zoomDown(CodeOAuth, "Zoom's OAuth server did not refresh the connected account ("+zoomapi.OAuthCause(err)+"); try again shortly")
	}
	next := g
	if scopes := grantedScopes(tok); scopes != nil {
		if missing := missingScopes(scopes, m.cfg.Scopes); len(missing) > 0 {
			m.bury(ctx, g, "scopes", true)
			return Grant{}, m.revoked("it no longer grants " + strings.Join(missing, " "))
		}
		next.Scopes = scopes
	}
	next.Gen, next.Refreshing, next.HeldUntil = g.Gen+1, 0, time.Time{}
	next.AccessToken, next.Expiry, next.RefreshedAt = tok.AccessToken, tok.Expiry, m.cfg.Now()
	if tok.RefreshToken != "" {
		next.RefreshToken = tok.RefreshToken
	}
	// The old refresh token is dead at Zoom now: the new one must be in
	// the storage before anything uses the new access token, or a crash
	// here would lose the grant. Read once more first: a record of a newer
	// generation, or none (disconnected), is not overwritten; a tombstone
	// of this generation (another instance gave up on it while this one
	// was frozen) is, since this is its live successor.
	cur, err := m.stored(ctx, g.SiteUser)
	switch {
	case errors.Is(err, errNoGrant):
		m.revokeToken(next.RefreshToken)
		return Grant{}, m.notConnected()
	case err != nil && !errors.Is(err, state.ErrUnsealable):
		return Grant{}, m.stateDown(err)
	case err == nil && cur.Gen > g.Gen && cur.Dead == "":
		return cur, nil
	case err == nil && cur.Gen > g.Gen:
		return Grant{}, m.revoked("Zoom refused its refresh token")
	}
	if err := m.store(ctx, next); err != nil {
		return Grant{}, m.stateDown(err)
	}
	return next, nil
}

func (m *Manager) exchange(refresh string) (*oauth2.Token, error) {
	return m.oauth.TokenSource(m.ctx, &oauth2.Token{RefreshToken: refresh, Expiry: time.Unix(1, 0)}).Token()
}

// bury replaces a dead grant with a tombstone of its generation (kept
// until swept), unless the record moved on meanwhile, and counts it.
// locked: the caller holds the record's lock (locks are not reentrant).
func (m *Manager) bury(ctx context.Context, g Grant, cause string, locked bool) {
	m.event("grant_dropped_" + cause)
	defer m.front.forget(g.SiteUser)
	tomb := func(cur Grant) ([]byte, error) {
		if cur.Gen > g.Gen || cur.Dead != "" {
			return nil, nil
		}
		return json.Marshal(Grant{SiteUser: g.SiteUser, ZoomUserID: g.ZoomUserID, Gen: g.Gen, Dead: cause, ConnectedAt: g.ConnectedAt})
	}
	if locked {
		cur, err := m.stored(ctx, g.SiteUser)
		if err != nil {
			return
		}
		if b, _ := tomb(cur); b != nil {
			_ = m.rec.Put(ctx, m.name(g.SiteUser), b)
		}
		return
	}
	_ = m.rec.Update(ctx, m.name(g.SiteUser), func(plain []byte, found bool) ([]byte, error) {
		var cur Grant
		if !found || json.Unmarshal(plain, &cur) != nil {
			return nil, nil
		}
		return tomb(cur)
	})
}

// clearMark takes back a refresh's mark after Zoom failed to answer, so
// that a later refusal is not mistaken for a lost grant. Best effort.
func (m *Manager) clearMark(ctx context.Context, g Grant) {
	g.Refreshing = 0
	if cur, err := m.stored(ctx, g.SiteUser); err == nil && cur.Gen == g.Gen && cur.Dead == "" {
		_ = m.store(ctx, g)
	}
}

func (m *Manager) event(kind string) {
	if m.cfg.OnEvent != nil {
		m.cfg.OnEvent(kind)
	}
}

func grantedScopes(tok *oauth2.Token) []string {
	s, ok := tok.Extra("scope").(string)
	if !ok {
		return nil
	}
	return strings.Fields(s)
}

func missingScopes(granted, required []string) []string {
	var missing []string
	for _, r := range required {
		if !slices.Contains(granted, r) {
			missing = append(missing, r)
		}
	}
	return missing
}

// stateDown is the refusal for a storage that failed: a lock not had in
// time (state_lock_timeout) or a storage error (grant_store_unavailable);
// the storage and the lock are in the log line Records wrote.
func (m *Manager) stateDown(err error) *problem.Error {
	var le *state.LockError
	if errors.As(err, &le) {
		return problem.New(problem.Config, CodeLockTimeout, "obfToken",
			"the connected Zoom account is locked in Caddy's storage by another instance and the lock was not had within "+le.Wait.String()+"; try again shortly (the site's log names the storage and the lock)")
	}
	return storeDown()
}

func storeDown() *problem.Error {
	return problem.New(problem.Config, CodeStore, "obfToken",
		"the connected Zoom accounts could not be read from or written to Caddy's storage; check the storage and its locks")
}

// unopened is the refusal for a grant record that no key of seal_keys
// opens.
func (m *Manager) unopened() *problem.Error {
	return problem.New(problem.Config, CodeNotConnected, "obfToken",
		"your connected Zoom account's record cannot be opened with the configured seal_keys (the key it was sealed with was removed from the ring); the site's operator can put the old key back after the new one, or you can connect again at "+m.cfg.ConnectURL)
}
