package connect

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"golang.org/x/time/rate"

	"github.com/zoomsig/caddy-zoom-signature/caddymodule/problem"
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/zoomapi"
)

// OBF fetches an OBF token for the meeting (digits) with the site user's
// own grant. OBF tokens are meant for one session, so none is kept: each
// join fetches its own, at most OBFPerMinute per user and meeting. A 401
// (code 124) refreshes the grant once and retries once; a 429 holds the
// user until Zoom's reset time.
func (m *Manager) OBF(ctx context.Context, siteUser, meeting string) (string, *problem.Error) {
	if siteUser == "" {
		return "", m.notConnected()
	}
	now := m.cfg.Now()
	m.mu.Lock()
	until, held := m.holds[siteUser]
	if held && !now.Before(until) {
		delete(m.holds, siteUser)
		held = false
	}
	key := siteUser + "\x00" + meeting
	lim := m.limits[key]
	if lim == nil {
		if len(m.limits) >= 100_000 {
			clear(m.limits) // bounded; a flood of keys resets the budget rather than the memory
		}
		lim = rate.NewLimiter(rate.Every(time.Minute/time.Duration(m.cfg.OBFPerMinute)), m.cfg.OBFPerMinute)
		m.limits[key] = lim
	}
	m.mu.Unlock()
	if held {
		return "", obfRateLimited(until.Sub(now))
	}
	if !lim.AllowN(now, 1) {
		return "", problem.New(problem.Client, CodeOBFTooMany, "obfToken",
			"too many joins of this meeting by this user in a minute (at most "+strconv.Itoa(m.cfg.OBFPerMinute)+"); wait a minute and join once")
	}
	g, perr := m.access(ctx, siteUser, "")
	if perr != nil {
		return "", perr
	}
	if now.Before(g.HeldUntil) {
		// Another instance met Zoom's 429.
		m.mu.Lock()
		m.holds[siteUser] = g.HeldUntil
		m.mu.Unlock()
		return "", obfRateLimited(g.HeldUntil.Sub(now))
	}
	path := "/users/me/token?" + url.Values{"type": {"onbehalf"}, "meeting_id": {meeting}}.Encode()
	for attempt := 0; ; attempt++ {
		status, body, retryAfter, err := m.get(ctx, "obf", g.AccessToken, path)
		if err != nil {
			return "", zoomDown(zoomapi.CodeAPI, "Zoom's API could not be reached for the OBF token; try again shortly")
		}
		var answer struct {
			Token string `json:"token"`
			Code  int    `json:"code"`
		}
		_ = json.Unmarshal(body, &answer)
		switch {
		case status == http.StatusOK && answer.Token != "":
			return answer.Token, nil
		case status == http.StatusUnauthorized && attempt == 0:
			// Expired early or revoked: reload the record (another
			// instance may have refreshed) and refresh if still needed.
			if g, perr = m.access(ctx, siteUser, g.AccessToken); perr != nil {
				return "", perr
			}
			continue
		case status == http.StatusUnauthorized:
			return "", m.dropGrant(ctx, siteUser, "Zoom refuses even a fresh access token")
		case status == http.StatusTooManyRequests:
			d := max(retryAfter, time.Second)
			until := m.cfg.Now().Add(d)
			m.mu.Lock()
			m.holds[siteUser] = until
			m.mu.Unlock()
			m.holdGrant(ctx, siteUser, until)
			return "", obfRateLimited(d)
		case status == http.StatusBadRequest && answer.Code == 4711:
			return "", m.dropGrant(ctx, siteUser, "its token no longer carries user:read:token")
		case status == http.StatusNotFound && answer.Code == 1001:
			return "", m.dropGrant(ctx, siteUser, "Zoom no longer has its user")
		case status == http.StatusBadRequest || (status == http.StatusNotFound && answer.Code == 3001):
			return "", problem.New(problem.Backend, CodeOBFMeeting, "meetingNumber",
				"Zoom would not issue an OBF token for this meeting ("+zoomapi.ZoomCode(status, body)+"); check the meeting number the join names")
		default:
			return "", problem.New(problem.Zoom, CodeOBFUnissued, "obfToken",
				"Zoom's API did not issue the OBF token ("+zoomapi.ZoomCode(status, body)+"); try again shortly")
		}
	}
}

// holdGrant writes Zoom's reset time into the grant, under its lock, so
// that the other instances hold off too. It is best effort: this
// instance's own hold stands either way.
func (m *Manager) holdGrant(ctx context.Context, siteUser string, until time.Time) {
	name := m.name(siteUser)
	ctx = context.WithoutCancel(ctx)
	if m.cfg.Storage.Lock(ctx, name) != nil {
		return
	}
	defer func() { _ = m.cfg.Storage.Unlock(ctx, name) }()
	if g, err := m.load(ctx, siteUser); err == nil {
		g.HeldUntil = until
		_ = m.store(ctx, g)
	}
}

// dropGrant deletes a grant Zoom will not honour, under its lock.
func (m *Manager) dropGrant(ctx context.Context, siteUser, why string) *problem.Error {
	name := m.name(siteUser)
	ctx = context.WithoutCancel(ctx)
	if m.cfg.Storage.Lock(ctx, name) == nil {
		_ = m.cfg.Storage.Delete(ctx, name)
		_ = m.cfg.Storage.Unlock(ctx, name)
	}
	return m.revoked(why)
}

func obfRateLimited(d time.Duration) *problem.Error {
	return zoomDown(CodeOBFRateLimit, "Zoom rate-limited OBF tokens for this user; try again in "+max(d, time.Second).Round(time.Second).String())
}

// get calls Zoom's API with a user's access token.
func (m *Manager) get(ctx context.Context, kind, access, path string) (int, []byte, time.Duration, error) {
	return zoomapi.Call(ctx, m.cfg.HTTPClient, m.cfg.OnFetch, kind, http.MethodGet, m.cfg.APIURL+path, access, nil, m.cfg.Now)
}
