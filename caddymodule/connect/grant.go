package connect

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"net/http"
	"slices"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/zoomsig/caddy-zoom-signature/caddymodule/problem"
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
	// HeldUntil is Zoom's reset time after a 429 for this user's OBF
	// tokens, kept in the record so that every instance holds off.
	HeldUntil time.Time `json:"held_until,omitempty"`
}

// MaxRecord bounds a sealed record read back from the storage.
const MaxRecord = 16 << 10

// errNoGrant: the user has not connected (or was disconnected).
var errNoGrant = errors.New("no grant")

// DecodeRecord opens and parses a sealed grant record stored under name.
// It is the one parser of what the storage holds, bounded in size, and
// refuses a record of another user (the name is the seal's additional
// data, and the record names its user).
func (m *Manager) DecodeRecord(name string, sealed []byte) (Grant, error) {
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
	if g.SiteUser == "" || m.name(g.SiteUser) != name || g.RefreshToken == "" {
		return Grant{}, errors.New("the grant record is not a grant of this user")
	}
	return g, nil
}

// load reads a site user's grant. A record that no key opens, or that is
// not a grant, is treated as none: the user connects again.
func (m *Manager) load(ctx context.Context, siteUser string) (Grant, error) {
	name := m.name(siteUser)
	sealed, err := m.cfg.Storage.Load(ctx, name)
	if errors.Is(err, fs.ErrNotExist) {
		return Grant{}, errNoGrant
	}
	if err != nil {
		return Grant{}, err
	}
	g, err := m.DecodeRecord(name, sealed)
	if err != nil {
		return Grant{}, errNoGrant
	}
	return g, nil
}

func (m *Manager) store(ctx context.Context, g Grant) error {
	name := m.name(g.SiteUser)
	plain, err := json.Marshal(g)
	if err != nil {
		return err
	}
	sealed, err := m.cfg.Sealer.Seal(name, plain)
	if err != nil {
		return err
	}
	return m.cfg.Storage.Store(ctx, name, sealed)
}

func (m *Manager) fresh(g Grant) bool {
	return m.cfg.Now().Add(m.cfg.Margin).Before(g.Expiry)
}

// Status returns the site user's grant, if there is one, and whether it
// is live: Zoom answers /users/me with it, after a refresh if its access
// token is stale or refused. A grant Zoom refuses is deleted here, as a
// join would find. live is false when Zoom could not be asked; the grant
// is kept then.
func (m *Manager) Status(ctx context.Context, siteUser string) (g Grant, connected, live bool, perr *problem.Error) {
	g, err := m.load(ctx, siteUser)
	switch {
	case errors.Is(err, errNoGrant):
		return Grant{}, false, false, nil
	case err != nil:
		return Grant{}, false, false, storeDown()
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
	case CodeStore:
		return Grant{}, false, false, perr
	}
	return g, true, false, nil
}

// access returns a grant whose access token is fresh and is not stale
// (the one Zoom just refused, or "" for none). The refresh runs once per
// user in this process (singleflight) and once per user in the cluster:
// under the storage's lock, the record is read again and refreshed only
// if it is still stale, and the rotated refresh token is stored before
// the new access token is used. A dead grant is deleted.
func (m *Manager) access(ctx context.Context, siteUser, stale string) (Grant, *problem.Error) {
	g, err := m.load(ctx, siteUser)
	switch {
	case errors.Is(err, errNoGrant):
		return Grant{}, m.notConnected()
	case err != nil:
		return Grant{}, storeDown()
	case m.fresh(g) && g.AccessToken != stale:
		return g, nil
	}
	name := m.name(siteUser)
	v, _, _ := m.flight.Do(name+"\x00"+stale, func() (any, error) {
		ctx := context.WithoutCancel(ctx)
		if err := m.cfg.Storage.Lock(ctx, name); err != nil {
			return result{perr: storeDown()}, nil
		}
		defer func() { _ = m.cfg.Storage.Unlock(ctx, name) }()
		g, err := m.load(ctx, siteUser)
		switch {
		case errors.Is(err, errNoGrant):
			return result{perr: m.notConnected()}, nil
		case err != nil:
			return result{perr: storeDown()}, nil
		case m.fresh(g) && g.AccessToken != stale:
			return result{g: g}, nil // another instance refreshed meanwhile
		}
		g, perr := m.refresh(ctx, g)
		return result{g: g, perr: perr}, nil
	})
	r := v.(result)
	return r.g, r.perr
}

type result struct {
	g    Grant
	perr *problem.Error
}

// refresh trades the refresh token for new tokens and stores them. The
// lock is held.
func (m *Manager) refresh(ctx context.Context, g Grant) (Grant, *problem.Error) {
	ts := m.oauth.TokenSource(m.ctx, &oauth2.Token{RefreshToken: g.RefreshToken, Expiry: time.Unix(1, 0)})
	tok, err := ts.Token()
	if err != nil {
		if zoomapi.OAuthCode(err) == "invalid_grant" {
			// Revoked, replaced by a newer authorization, or unused for
			// too long: the grant is dead, and the user connects again.
			_ = m.cfg.Storage.Delete(ctx, m.name(g.SiteUser))
			return Grant{}, m.revoked("Zoom refused its refresh token")
		}
		return Grant{}, zoomDown(CodeOAuth, "Zoom's OAuth server did not refresh the connected account ("+zoomapi.OAuthCause(err)+"); try again shortly")
	}
	if scopes := grantedScopes(tok); scopes != nil {
		if missing := missingScopes(scopes, m.cfg.Scopes); len(missing) > 0 {
			_ = m.cfg.Storage.Delete(ctx, m.name(g.SiteUser))
			return Grant{}, m.revoked("it no longer grants " + strings.Join(missing, " "))
		}
		g.Scopes = scopes
	}
	g.AccessToken, g.Expiry, g.RefreshedAt = tok.AccessToken, tok.Expiry, m.cfg.Now()
	if tok.RefreshToken != "" {
		g.RefreshToken = tok.RefreshToken
	}
	// The old refresh token is dead at Zoom now: the new one must be in
	// the storage before anything uses the new access token, or a crash
	// here would lose the grant.
	if err := m.store(ctx, g); err != nil {
		return Grant{}, storeDown()
	}
	return g, nil
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

func storeDown() *problem.Error {
	return problem.New(problem.Config, CodeStore, "obfToken",
		"the connected Zoom accounts could not be read from or written to Caddy's storage; check the storage and its locks")
}
