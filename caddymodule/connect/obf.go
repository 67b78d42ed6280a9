package connect

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/zoomsig/caddy-zoom-signature/caddymodule/problem"
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/zoomapi"
)

// OBF fetches an OBF token for the meeting (digits) with the site user's
// own grant. OBF tokens are meant for one session, so none is kept: each
// join fetches its own, at most OBFPerMinute per user and meeting in the
// whole cluster (state.Limiter). A 401 (code 124) refreshes the grant once
// and retries once; a 429 holds the user, in every instance, until Zoom's
// reset time.
func (m *Manager) OBF(ctx context.Context, siteUser, meeting string) (string, *problem.Error) {
	if siteUser == "" {
		return "", m.notConnected()
	}
	now := m.cfg.Now()
	if until, held := m.held(ctx, siteUser, now); held {
		return "", obfRateLimited(until.Sub(now))
	}
	// A failed share read or write leaves the answer to this instance's
	// own count: the limit is then per instance until the storage is back.
	if ok, _ := m.lim.Allow(ctx, "obf\x00"+siteUser+"\x00"+meeting, m.cfg.OBFPerMinute, time.Minute); !ok {
		return "", problem.New(problem.Client, CodeOBFTooMany, "obfToken",
			"too many joins of this meeting by this user in a minute (at most "+strconv.Itoa(m.cfg.OBFPerMinute)+"); wait a minute and join once")
	}
	g, perr := m.access(ctx, siteUser, "")
	if perr != nil {
		return "", perr
	}
	if now.Before(g.HeldUntil) {
		return "", obfRateLimited(g.HeldUntil.Sub(now))
	}
	path := "/users/me/token?" + url.Values{"type": {"onbehalf"}, "meeting_id": {meeting}}.Encode()
	a, perr := zoomapi.Authorized(func(stale string) (string, *problem.Error) {
		if stale != "" {
			// Expired early or revoked: reload the record (another
			// instance may have refreshed) and refresh if still needed.
			var perr *problem.Error
			if g, perr = m.access(ctx, siteUser, stale); perr != nil {
				return "", perr
			}
		}
		return g.AccessToken, nil
	}, func(access string) (zoomapi.Answer, *problem.Error) {
		status, body, retryAfter, err := m.get(ctx, "obf", access, path)
		if err != nil {
			return zoomapi.Answer{}, zoomDown(zoomapi.CodeAPI, "Zoom's API could not be reached for the OBF token; try again shortly")
		}
		return zoomapi.Answer{Status: status, Body: body, RetryAfter: retryAfter}, nil
	})
	if perr != nil {
		return "", perr
	}
	status, body := a.Status, a.Body
	var answer struct {
		Token string `json:"token"`
		Code  int    `json:"code"`
	}
	_ = json.Unmarshal(body, &answer)
	switch {
	case status == http.StatusOK && answer.Token != "":
		return answer.Token, nil
	case status == http.StatusUnauthorized:
		return "", m.dropGrant(ctx, g, "Zoom refuses even a fresh access token")
	case status == http.StatusTooManyRequests:
		d := max(a.RetryAfter, time.Second)
		m.hold(ctx, siteUser, m.cfg.Now().Add(d))
		return "", obfRateLimited(d)
	case status == http.StatusBadRequest && answer.Code == 4711:
		return "", m.dropGrant(ctx, g, "its token no longer carries user:read:token")
	case status == http.StatusNotFound && answer.Code == 1001:
		return "", m.dropGrant(ctx, g, "Zoom no longer has its user")
	case status == http.StatusBadRequest || (status == http.StatusNotFound && answer.Code == 3001):
		return "", problem.New(problem.Backend, CodeOBFMeeting, "meetingNumber",
			"Zoom would not issue an OBF token for this meeting ("+zoomapi.ZoomCode(status, body)+"); check the meeting number the join names")
	default:
		return "", problem.New(problem.Zoom, CodeOBFUnissued, "obfToken",
			"Zoom's API did not issue the OBF token ("+zoomapi.ZoomCode(status, body)+"); try again shortly")
	}
}

// hold keeps Zoom's reset time after a 429, in this process and in the
// user's hold record, so that every instance holds off. The record is
// written without a lock (the latest reset time wins, which is Zoom's
// latest answer) and expires with the hold.
func (m *Manager) hold(ctx context.Context, siteUser string, until time.Time) {
	m.mu.Lock()
	if len(m.holds) >= 100_000 {
		clear(m.holds)
	}
	m.holds[siteUser] = until
	m.mu.Unlock()
	_ = m.rec.Put(ctx, m.rec.Name("holds", siteUser), []byte(strconv.FormatInt(until.UnixMilli(), 10)))
}

// held says whether the user is held, by this process or (from the hold
// record) by another instance.
func (m *Manager) held(ctx context.Context, siteUser string, now time.Time) (time.Time, bool) {
	m.mu.Lock()
	until, ok := m.holds[siteUser]
	if ok && !now.Before(until) {
		delete(m.holds, siteUser)
		ok = false
	}
	m.mu.Unlock()
	if ok {
		return until, true
	}
	b, err := m.rec.Get(ctx, m.rec.Name("holds", siteUser))
	if err != nil {
		return time.Time{}, false
	}
	ms, _ := strconv.ParseInt(string(b), 10, 64)
	if until := time.UnixMilli(ms); now.Before(until) {
		m.mu.Lock()
		m.holds[siteUser] = until
		m.mu.Unlock()
		return until, true
	}
	return time.Time{}, false
}

// dropGrant buries a grant Zoom will not honour (under its lock, unless a
// newer generation was stored meanwhile).
func (m *Manager) dropGrant(ctx context.Context, g Grant, why string) *problem.Error {
	m.bury(ctx, g, "refused", false)
	return m.revoked(why)
}

func obfRateLimited(d time.Duration) *problem.Error {
	return zoomDown(CodeOBFRateLimit, "Zoom rate-limited OBF tokens for this user; try again in "+max(d, time.Second).Round(time.Second).String())
}

// get calls Zoom's API with a user's access token.
func (m *Manager) get(ctx context.Context, kind, access, path string) (int, []byte, time.Duration, error) {
	return zoomapi.Call(ctx, m.cfg.HTTPClient, m.cfg.OnFetch, kind, http.MethodGet, m.cfg.APIURL+path, access, nil, m.cfg.Now)
}
