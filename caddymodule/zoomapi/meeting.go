package zoomapi

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"time"

	"github.com/zoomsig/caddy-zoom-signature/caddymodule/join"
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/problem"
)

// MeetingInfo is what Zoom's API says of a meeting number. The type is
// package join's, which uses it without importing an HTTP client; its JSON
// is the record the cache keeps.
type MeetingInfo = join.MeetingInfo

// Meeting lookup codes.
const (
	CodeMeetingInvalid     = "meeting_lookup_invalid"
	CodeMeetingRateLimited = "meeting_lookup_rate_limited"
	// CodeMeetingTooMany: the user looked up too many new meeting numbers
	// in a minute (Config.LookupLimit).
	CodeMeetingTooMany = "meeting_lookup_too_many"
)

// DefaultMeetingTTL is how long a lookup is kept.
const DefaultMeetingTTL = 10 * time.Minute

// InvalidTTL is how long Zoom's refusal of a meeting number (code 300) is
// kept, so that a visitor repeating a garbage number costs the account's
// API limits one lookup a minute, not one a request. It is short, so that
// a number mistyped into a backend and then fixed is not refused for long.
const InvalidTTL = time.Minute

// kept is what the cache holds for a meeting number: Zoom's answer, or
// that Zoom called the number invalid.
type kept struct {
	MeetingInfo
	Invalid bool `json:"invalid,omitempty"`
}

func invalidMeeting(status int, body []byte) *problem.Error {
	return problem.New(problem.Client, CodeMeetingInvalid, "meetingNumber",
		"Zoom says the meeting number is not valid ("+ZoomCode(status, body)+"); check the number the join names")
}

// Meeting looks a meeting number (digits) up: first as a meeting, then, if
// Zoom has no such meeting (3001), as a webinar; neither means a meeting
// outside the account. The answer is kept for Config.MeetingTTL, one
// lookup for all concurrent callers; Zoom's refusal of the number (code
// 300) is kept for InvalidTTL.
func (c *Client) Meeting(ctx context.Context, digits string) (MeetingInfo, *problem.Error) {
	key := "meeting/" + digits
	user := join.UserOf(ctx)
	v, err := c.cache.Load(ctx, key, func(ctx context.Context) ([]byte, time.Duration, error) {
		if c.cfg.LookupLimit != nil {
			if perr := c.cfg.LookupLimit(ctx, user); perr != nil {
				return nil, 0, perr
			}
		}
		info, perr := c.fetchMeeting(ctx, key, digits)
		if perr != nil && perr.Code() == CodeMeetingInvalid {
			// Kept as an answer, not as an error: the cache keeps no
			// errors, and the storage needs no word of Zoom's.
			b, err := json.Marshal(kept{Invalid: true})
			return b, InvalidTTL, err
		}
		if perr != nil {
			return nil, 0, perr
		}
		b, err := json.Marshal(kept{MeetingInfo: info})
		return b, c.cfg.MeetingTTL, err
	})
	if perr := c.kept(stepMeeting, err, meetingRateLimited, "the meeting could not be looked up; try again shortly"); perr != nil {
		return MeetingInfo{}, perr
	}
	var k kept
	if json.Unmarshal(v, &k) != nil {
		return MeetingInfo{}, stepMeeting.refuse(CodeAPIAnswer, "the meeting lookup kept in the cache cannot be read; try again")
	}
	if k.Invalid {
		return MeetingInfo{}, invalidMeeting(http.StatusBadRequest, []byte(`{"code":300}`))
	}
	return k.MeetingInfo, nil
}

func (c *Client) fetchMeeting(ctx context.Context, key, digits string) (MeetingInfo, *problem.Error) {
	for _, kind := range []string{"meetings", "webinars"} {
		status, body, retryAfter, perr := c.call(ctx, stepMeeting, http.MethodGet, "/"+kind+"/"+url.PathEscape(digits), nil)
		if perr != nil {
			return MeetingInfo{}, perr
		}
		var answer struct {
			Code      int    `json:"code"`
			Password  string `json:"password"`
			StartTime string `json:"start_time"`
			Duration  int64  `json:"duration"` // minutes
			Settings  struct {
				ApprovalType *int `json:"approval_type"`
			} `json:"settings"`
		}
		_ = json.Unmarshal(body, &answer)
		switch {
		case status == http.StatusOK:
			a := answer.Settings.ApprovalType
			info := MeetingInfo{
				InAccount:            true,
				Webinar:              kind == "webinars",
				Passcode:             answer.Password,
				RegistrationRequired: a != nil && (*a == 0 || *a == 1),
				ManualApproval:       a != nil && *a == 1,
			}
			if t, err := time.Parse(time.RFC3339, answer.StartTime); err == nil && answer.Duration > 0 && answer.Duration < 60*24*31 {
				info.Ends = t.Add(time.Duration(answer.Duration) * time.Minute).Unix()
			}
			return info, nil
		case status == http.StatusNotFound && answer.Code == 3001:
			continue // not a meeting of the account; perhaps a webinar
		case status == http.StatusBadRequest && answer.Code == 300:
			return MeetingInfo{}, invalidMeeting(status, body)
		case status == http.StatusTooManyRequests:
			d := max(retryAfter, time.Second)
			c.cache.Hold(key, c.cfg.Now().Add(d))
			return MeetingInfo{}, meetingRateLimited(d)
		default:
			return MeetingInfo{}, stepMeeting.refuse(CodeAPIAnswer, "Zoom's API did not answer the meeting lookup ("+ZoomCode(status, body)+"); try again shortly, or check the app's scopes (meeting:read:meeting:admin)")
		}
	}
	return MeetingInfo{InAccount: false}, nil
}

func meetingRateLimited(d time.Duration) *problem.Error {
	return stepMeeting.refuse(CodeMeetingRateLimited, "Zoom rate-limited meeting lookups; try again in "+max(d, time.Second).Round(time.Second).String())
}
