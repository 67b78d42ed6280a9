package zoomapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/zoomsig/caddy-zoom-signature/caddymodule/problem"
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/state"
)

// Registrant is who registers for a meeting: the signed-in site user.
type Registrant struct {
	Email, FirstName, LastName string
}

// Registrant codes.
const (
	CodeRegistrationClosed     = "registration_closed"
	CodeRegistrationFull       = "registration_full"
	CodeRegistrationNotAllowed = "registration_not_allowed"
	CodeRegistrationGone       = "registration_meeting_not_found"
	CodeRegistrantRateLimited  = "registrant_rate_limited"
)

// Register registers r for the meeting or webinar (info from Meeting) and
// returns the registrant's tk, which a Web SDK join of a registration-only
// meeting needs. Zoom lets a registrant be added only a few times a day,
// so the tk is kept per meeting and email until the meeting ends (a day
// past its end; 30 days when Zoom gave no end), and reused: a second join
// by the same user registers nobody.
func (c *Client) Register(ctx context.Context, digits string, info MeetingInfo, r Registrant) (string, *problem.Error) {
	key := "registrant/" + digits + "/" + strings.ToLower(r.Email)
	v, err := c.cache.Load(ctx, key, func(ctx context.Context) ([]byte, time.Duration, error) {
		tk, perr := c.register(ctx, key, digits, info, r)
		if perr != nil {
			return nil, 0, perr
		}
		return []byte(tk), c.registrantTTL(info), nil
	})
	var held *state.HeldError
	switch {
	case errors.As(err, &held):
		return "", registrantRateLimited(held.Until.Sub(c.cfg.Now()))
	case err != nil:
		if pe := problem.As(err); pe != nil {
			return "", pe
		}
		return "", zoomError(CodeAPI, "the registration could not be made; try again shortly")
	}
	return string(v), nil
}

// registrantTTL keeps a tk until a day after the meeting ends.
func (c *Client) registrantTTL(info MeetingInfo) time.Duration {
	if info.Ends == 0 {
		return 30 * 24 * time.Hour
	}
	return max(time.Unix(info.Ends, 0).Sub(c.cfg.Now())+24*time.Hour, time.Hour)
}

func (c *Client) register(ctx context.Context, key, digits string, info MeetingInfo, r Registrant) (string, *problem.Error) {
	kind := "meetings"
	if info.Webinar {
		kind = "webinars"
	}
	first := r.FirstName
	if first == "" {
		// Zoom requires a first name; the email's local part is the one
		// name every user has.
		first, _, _ = strings.Cut(r.Email, "@")
	}
	body, _ := json.Marshal(map[string]string{"email": r.Email, "first_name": first, "last_name": r.LastName})
	status, answer, retryAfter, perr := c.call(ctx, "registrant", http.MethodPost, "/"+kind+"/"+url.PathEscape(digits)+"/registrants", body)
	if perr != nil {
		return "", perr
	}
	var out struct {
		Code    int    `json:"code"`
		JoinURL string `json:"join_url"`
	}
	_ = json.Unmarshal(answer, &out)
	switch {
	case status == http.StatusCreated || status == http.StatusOK:
		u, err := url.Parse(out.JoinURL)
		if err != nil || u.Query().Get("tk") == "" {
			return "", zoomError(CodeAPIAnswer, "Zoom registered the user but its answer has no join link with a tk; try again shortly")
		}
		return u.Query().Get("tk"), nil
	case status == http.StatusTooManyRequests:
		d := max(retryAfter, time.Second)
		c.cache.Hold(key, c.cfg.Now().Add(d))
		return "", registrantRateLimited(d)
	case out.Code == 3043:
		return "", problem.New(problem.Zoom, CodeRegistrationFull, "tk",
			"the meeting's registration is full ("+ZoomCode(status, answer)+"); raise its capacity at Zoom, or remove registrants")
	case out.Code == 3000:
		return "", problem.New(problem.Zoom, CodeRegistrationClosed, "tk",
			"Zoom does not take registrations for this meeting now ("+ZoomCode(status, answer)+"); open its registration at Zoom")
	case out.Code == 3003:
		return "", problem.New(problem.Config, CodeRegistrationNotAllowed, "tk",
			"Zoom does not let this app register users for the meeting ("+ZoomCode(status, answer)+"); check that the meeting is in the app's account and the app has meeting:write:registrant:admin")
	case out.Code == 3001:
		return "", problem.New(problem.Zoom, CodeRegistrationGone, "tk",
			"Zoom no longer has the meeting to register for ("+ZoomCode(status, answer)+"); check that it was not deleted")
	case out.Code == 300:
		return "", problem.New(problem.Client, CodeMeetingInvalid, "meetingNumber",
			"Zoom says the meeting number is not valid ("+ZoomCode(status, answer)+"); check the number the join names")
	default:
		return "", zoomError(CodeAPIAnswer, "Zoom's API did not register the user ("+ZoomCode(status, answer)+"); try again shortly, or check the app's scopes (meeting:write:registrant:admin)")
	}
}

func registrantRateLimited(d time.Duration) *problem.Error {
	return problem.New(problem.Zoom, CodeRegistrantRateLimited, "tk",
		"Zoom rate-limited registrations for this user and meeting; try again in "+max(d, time.Second).Round(time.Second).String())
}
