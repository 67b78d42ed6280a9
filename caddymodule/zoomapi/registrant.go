package zoomapi

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/zoomsig/caddy-zoom-signature/caddymodule/join"
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/problem"
)

// Registrant is who registers for a meeting: the signed-in site user. The
// type is package join's, which carries it in a Principal.
type Registrant = join.Registrant

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
	if perr := c.kept(stepRegistrant, err, registrantRateLimited, "the registration could not be made; try again shortly"); perr != nil {
		return "", perr
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
	status, answer, retryAfter, perr := c.call(ctx, stepRegistrant, http.MethodPost, "/"+kind+"/"+url.PathEscape(digits)+"/registrants", body)
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
			return "", stepRegistrant.refuse(CodeAPIAnswer, "Zoom registered the user but its answer has no join link with a tk; try again shortly")
		}
		return u.Query().Get("tk"), nil
	case status == http.StatusTooManyRequests:
		d := max(retryAfter, time.Second)
		c.cache.Hold(key, c.cfg.Now().Add(d))
		return "", registrantRateLimited(d)
	case registrationRefusals[out.Code].code != "":
		r := registrationRefusals[out.Code]
		return "", problem.New(r.fault, r.code, stepRegistrant.property, r.what+" ("+ZoomCode(status, answer)+"); "+r.fix)
	case out.Code == 300:
		return "", problem.New(problem.Client, CodeMeetingInvalid, "meetingNumber",
			"Zoom says the meeting number is not valid ("+ZoomCode(status, answer)+"); check the number the join names")
	default:
		return "", stepRegistrant.refuse(CodeAPIAnswer, "Zoom's API did not register the user ("+ZoomCode(status, answer)+"); try again shortly, or check the app's scopes (meeting:write:registrant:admin)")
	}
}

// registrationRefusals are Zoom's codes for a registration it will not
// make, in our words.
var registrationRefusals = map[int]struct {
	fault           problem.Fault
	code, what, fix string
}{
	3043: {problem.Zoom, CodeRegistrationFull, "the meeting's registration is full", "raise its capacity at Zoom, or remove registrants"},
	3000: {problem.Zoom, CodeRegistrationClosed, "Zoom does not take registrations for this meeting now", "open its registration at Zoom"},
	3003: {problem.Config, CodeRegistrationNotAllowed, "Zoom does not let this app register users for the meeting",
		"check that the meeting is in the app's account and the app has meeting:write:registrant:admin"},
	3001: {problem.Zoom, CodeRegistrationGone, "Zoom no longer has the meeting to register for", "check that it was not deleted"},
}

func registrantRateLimited(d time.Duration) *problem.Error {
	return stepRegistrant.refuse(CodeRegistrantRateLimited,
		"Zoom rate-limited registrations for this user and meeting; try again in "+max(d, time.Second).Round(time.Second).String())
}
