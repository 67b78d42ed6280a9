package zoomapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/zoomsig/caddy-zoom-signature/caddymodule/problem"
)

// The scopes the Server-to-Server app needs, per call (Zoom's granular
// admin scopes).
const (
	ScopeMeetingRead  = "meeting:read:meeting:admin" // GET /meetings/{id}
	ScopeWebinarRead  = "webinar:read:webinar:admin" // GET /webinars/{id}
	ScopeUserRead     = "user:read:user:admin"       // GET /users/{id}
	ScopeSettingsRead = "user:read:settings:admin"   // GET /users/{id}/settings
	ScopeZAK          = "user:read:zak:admin"        // GET /users/{id}/token?type=zak
)

// Doctor codes.
const (
	// CodeOAuthRefused: Zoom's OAuth server refused the Server-to-Server
	// app's credentials (a 4xx answer): the site's configuration, not an
	// outage.
	CodeOAuthRefused = "zoom_oauth_refused"
	// CodeUserRateLimited: Zoom rate-limited the user lookups.
	CodeUserRateLimited = "user_lookup_rate_limited"
)

// zoomScopeMissing is Zoom's code for an access token without the scope a
// call needs (HTTP 400, "does not contain scopes").
const zoomScopeMissing = 4711

// Details is what Zoom's API says of a meeting number, for the join
// doctor: the meeting or webinar with the settings that decide who may
// join, its host, and Zoom's clock. Its String leaves the passcode out.
type Details struct {
	// Found: a meeting or webinar of the app's account. False for a
	// meeting of another account, or of none; and when the lookup's scope
	// is missing (see MissingScopes).
	Found bool
	// Webinar: the number is a webinar's.
	Webinar bool
	// Status is Zoom's: "waiting", "started", ... ("" when not found).
	Status string
	// HostID and HostEmail name the meeting's host.
	HostID, HostEmail string
	// Passcode is the meeting's passcode: a secret, never logged.
	Passcode string
	// ApprovalType is settings.approval_type (0 and 1 require
	// registration, 2 does not); nil when Zoom gave none.
	ApprovalType *int
	// RegistrationType is settings.registration_type (1, 2 or 3).
	RegistrationType int
	// MeetingAuthentication: only signed-in users may join, of
	// AuthenticationDomains when that is set.
	MeetingAuthentication bool
	AuthenticationDomains string
	// EnforceLogin is a webinar's settings.enforce_login.
	EnforceLogin bool
	// JoinBeforeHost: participants may join before the host.
	JoinBeforeHost bool
	// EncryptionType is "enhanced_encryption" or "e2ee" (which the Web
	// SDK cannot join).
	EncryptionType string
	// AlternativeHosts are the alternative hosts, lower-cased emails or
	// IDs, split on ";" and ",".
	AlternativeHosts []string
	// Host is the host from GET /users/{host_id}; nil when it could not be
	// read (no such user, or ScopeUserRead missing).
	Host *User
	// HostOnlyAuthenticatedFromWeb is the host's setting
	// meeting_security.only_authenticated_can_join_from_webclient; false
	// when it could not be read.
	HostOnlyAuthenticatedFromWeb bool
	// MissingScopes lists the scopes Zoom said the app lacks (code 4711)
	// for the calls made; the lookups that needed them are left empty.
	MissingScopes []string
	// ZoomTime is the Date of Zoom's newest answer, and Sent and Received
	// our clock (Config.Now) around that call, so the caller can tell the
	// skew with the round trip as its uncertainty. Zero when no answer
	// carried a Date. A Date has whole seconds.
	ZoomTime, Sent, Received time.Time
}

// String is d with the passcode blanked, for %v in logs and tests.
func (d Details) String() string {
	type plain Details // no String method: no recursion
	p := plain(d)
	if p.Passcode != "" {
		p.Passcode = "[REDACTED]"
	}
	return fmt.Sprintf("%+v", p)
}

// GoString is String, for %#v.
func (d Details) GoString() string { return d.String() }

// User is a user of the app's account.
type User struct {
	ID, Email string
	Active    bool
}

// Details asks Zoom afresh what it says of a meeting number (digits): GET
// /meetings/{digits}, then, if Zoom has no such meeting (3001),
// /webinars/{digits}; when found, the host at /users/{host_id} and its
// settings. A missing scope (4711) is listed in MissingScopes and the
// lookup goes on without it, except for the meeting's own lookup, which
// ends it. Nothing is cached: the caller keeps what it needs. Every call
// goes through the client's access token and OnFetch, as kind "doctor".
//
// An error means Zoom could not be asked or answered what no join
// explains: CodeOAuthRefused when the OAuth server refused the app's
// credentials, CodeOAuth or CodeAPI when Zoom is down, CodeAPIAnswer for
// anything else.
func (c *Client) Details(ctx context.Context, digits string) (Details, *problem.Error) {
	var d Details
lookup:
	for _, kind := range []struct {
		path, scope string
		webinar     bool
	}{{"/meetings/", ScopeMeetingRead, false}, {"/webinars/", ScopeWebinarRead, true}} {
		r, perr := c.ask(ctx, stepDetails, &d, kind.path+url.PathEscape(digits), kind.scope)
		if perr != nil {
			return Details{}, perr
		}
		switch {
		case r.denied:
			return d, nil // the caller names the missing scope
		case r.status == http.StatusOK:
			if !d.meeting(r.body) {
				return Details{}, stepDetails.refuse(CodeAPIAnswer, "Zoom's API answered the meeting lookup with something that is not a meeting; try again shortly")
			}
			d.Webinar = kind.webinar
			break lookup
		case r.status == http.StatusNotFound && r.code == 3001:
			continue // not a meeting of the account; perhaps a webinar
		case r.status == http.StatusBadRequest && r.code == 300:
			return Details{}, problem.New(problem.Client, CodeMeetingInvalid, "meetingNumber",
				"Zoom says the meeting number is not valid ("+ZoomCode(r.status, r.body)+"); check the number the join names")
		case r.status == http.StatusTooManyRequests:
			return Details{}, meetingRateLimited(max(r.retryAfter, time.Second))
		default:
			return Details{}, stepDetails.refuse(CodeAPIAnswer, "Zoom's API did not answer the meeting lookup ("+ZoomCode(r.status, r.body)+"); try again shortly")
		}
	}
	if !d.Found || d.HostID == "" {
		return d, nil
	}
	host, found, perr := c.user(ctx, stepDetails, &d, d.HostID)
	if perr != nil {
		return Details{}, perr
	}
	if found {
		d.Host = &host
	}
	if !found && !slices.Contains(d.MissingScopes, ScopeUserRead) {
		return d, nil // no such host: it has no settings either
	}
	if perr := c.hostSettings(ctx, &d); perr != nil {
		return Details{}, perr
	}
	return d, nil
}

// meeting reads a meeting's or webinar's object into d.
func (d *Details) meeting(body []byte) bool {
	var a struct {
		HostID    string `json:"host_id"`
		HostEmail string `json:"host_email"`
		Status    string `json:"status"`
		Password  string `json:"password"`
		Settings  struct {
			ApprovalType          *int   `json:"approval_type"`
			RegistrationType      int    `json:"registration_type"`
			MeetingAuthentication bool   `json:"meeting_authentication"`
			AuthenticationDomains string `json:"authentication_domains"`
			JoinBeforeHost        bool   `json:"join_before_host"`
			EncryptionType        string `json:"encryption_type"`
			AlternativeHosts      string `json:"alternative_hosts"`
			EnforceLogin          bool   `json:"enforce_login"`
		} `json:"settings"`
	}
	if json.Unmarshal(body, &a) != nil {
		return false
	}
	s := a.Settings
	d.Found = true
	d.Status, d.HostID, d.HostEmail, d.Passcode = a.Status, a.HostID, a.HostEmail, a.Password
	d.ApprovalType, d.RegistrationType = s.ApprovalType, s.RegistrationType
	d.MeetingAuthentication, d.AuthenticationDomains, d.EnforceLogin = s.MeetingAuthentication, s.AuthenticationDomains, s.EnforceLogin
	d.JoinBeforeHost, d.EncryptionType = s.JoinBeforeHost, s.EncryptionType
	// Zoom separates them with ";", and users type ",".
	for _, h := range strings.FieldsFunc(s.AlternativeHosts, func(r rune) bool { return r == ';' || r == ',' }) {
		if h = strings.ToLower(strings.TrimSpace(h)); h != "" {
			d.AlternativeHosts = append(d.AlternativeHosts, h)
		}
	}
	return true
}

// User asks Zoom afresh for a user of the account (an ID or an email):
// found is false when Zoom has no such user (1001), and missing names
// ScopeUserRead when the app lacks it.
func (c *Client) User(ctx context.Context, idOrEmail string) (u User, found bool, missing []string, perr *problem.Error) {
	var d Details
	u, found, perr = c.user(ctx, stepUser, &d, idOrEmail)
	return u, found, d.MissingScopes, perr
}

// user looks a user up in step s: the host of a meeting's details, or the
// user the doctor asks about.
func (c *Client) user(ctx context.Context, s step, d *Details, id string) (User, bool, *problem.Error) {
	r, perr := c.ask(ctx, s, d, "/users/"+url.PathEscape(id), ScopeUserRead)
	if perr != nil {
		return User{}, false, perr
	}
	switch {
	case r.denied || r.status == http.StatusNotFound:
		return User{}, false, nil
	case r.status == http.StatusOK:
		var a struct {
			ID     string `json:"id"`
			Email  string `json:"email"`
			Status string `json:"status"`
		}
		if json.Unmarshal(r.body, &a) != nil || a.ID == "" {
			return User{}, false, s.refuse(CodeAPIAnswer, "Zoom's API answered the user lookup with something that is not a user; try again shortly")
		}
		return User{ID: a.ID, Email: a.Email, Active: a.Status == "active"}, true, nil
	case r.status == http.StatusTooManyRequests:
		return User{}, false, userRateLimited(s, max(r.retryAfter, time.Second))
	}
	return User{}, false, s.refuse(CodeAPIAnswer, "Zoom's API did not answer the user lookup ("+ZoomCode(r.status, r.body)+"); try again shortly")
}

// hostSettings reads the host's settings that decide who may join.
func (c *Client) hostSettings(ctx context.Context, d *Details) *problem.Error {
	r, perr := c.ask(ctx, stepDetails, d, "/users/"+url.PathEscape(d.HostID)+"/settings", ScopeSettingsRead)
	if perr != nil {
		return perr
	}
	switch {
	case r.denied || r.status == http.StatusNotFound:
		return nil
	case r.status == http.StatusOK:
		var a struct {
			MeetingSecurity struct {
				OnlyAuthenticatedFromWeb bool `json:"only_authenticated_can_join_from_webclient"`
			} `json:"meeting_security"`
		}
		if json.Unmarshal(r.body, &a) != nil {
			return stepDetails.refuse(CodeAPIAnswer, "Zoom's API answered the host's settings with something that is not settings; try again shortly")
		}
		d.HostOnlyAuthenticatedFromWeb = a.MeetingSecurity.OnlyAuthenticatedFromWeb
		return nil
	case r.status == http.StatusTooManyRequests:
		return userRateLimited(stepDetails, max(r.retryAfter, time.Second))
	}
	return stepDetails.refuse(CodeAPIAnswer, "Zoom's API did not answer the host's settings ("+ZoomCode(r.status, r.body)+"); try again shortly")
}

func userRateLimited(s step, d time.Duration) *problem.Error {
	return s.refuse(CodeUserRateLimited, "Zoom rate-limited user lookups; try again in "+max(d, time.Second).Round(time.Second).String())
}

// reply is one answer of Zoom's API to the doctor.
type reply struct {
	status     int
	code       int // Zoom's numeric code, 0 for none
	body       []byte
	retryAfter time.Duration
	denied     bool // 4711: the app lacks the call's scope
}

// ask is call for the doctor: one GET of step s with the account's access
// token (a 401 gets a fresh token and one retry). It notes the
// answer's Date and our clock around it in d, and scope in
// d.MissingScopes when Zoom says the app lacks it. Unlike call, it tells a
// refusal of the app's credentials from an OAuth server that is down.
func (c *Client) ask(ctx context.Context, s step, d *Details, path, scope string) (reply, *problem.Error) {
	a, perr := Authorized(c.token(tokenFailed(s)), func(access string) (Answer, *problem.Error) {
		// A copy of the client whose transport keeps the answer's Date:
		// Call returns no headers, and its signature stays.
		var date string
		hc := *c.cfg.HTTPClient
		hc.Transport = dateTransport{next: transport(c.cfg.HTTPClient), date: &date}
		sent := c.cfg.Now()
		status, body, retryAfter, err := Call(ctx, &hc, c.cfg.OnFetch, s.kind, http.MethodGet, c.cfg.APIURL+path, access, nil, c.cfg.Now)
		received := c.cfg.Now()
		if err != nil {
			return Answer{}, s.refuse(CodeAPI, "Zoom's API could not be reached; try again shortly")
		}
		if t, err := http.ParseTime(date); err == nil {
			d.ZoomTime, d.Sent, d.Received = t, sent, received
		}
		return Answer{Status: status, Body: body, RetryAfter: retryAfter}, nil
	})
	switch {
	case perr != nil:
		return reply{}, perr
	case a.Status == http.StatusUnauthorized:
		return reply{}, s.refuse(CodeOAuth, "Zoom's API refused a fresh access token ("+ZoomCode(a.Status, a.Body)+"); check that the Server-to-Server app is activated")
	}
	r := reply{status: a.Status, body: a.Body, retryAfter: a.RetryAfter}
	var e struct {
		Code int `json:"code"`
	}
	if a.Status/100 != 2 && json.Unmarshal(a.Body, &e) == nil {
		r.code = e.Code
	}
	// Zoom's text names the scope too; the one this call needs is
	// known, and Zoom's text is not read.
	if r.code == zoomScopeMissing {
		r.denied = true
		if !slices.Contains(d.MissingScopes, scope) {
			d.MissingScopes = append(d.MissingScopes, scope)
		}
	}
	return r, nil
}

// tokenFailed names why step s had no access token: a 4xx from the
// OAuth server refuses the app's credentials (the site's configuration);
// no answer, a 5xx or a 429 is Zoom's trouble.
func tokenFailed(s step) func(error) *problem.Error {
	return func(err error) *problem.Error {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.Response != nil {
			if st := re.Response.StatusCode; st/100 == 4 && st != http.StatusTooManyRequests && st != http.StatusRequestTimeout {
				// The configuration's fault: the property names the
				// block to fix.
				return problem.New(problem.Config, CodeOAuthRefused, "zoom_api",
					"Zoom's OAuth server refused the Server-to-Server app ("+OAuthCause(err)+"); check account_id, client_id and client_secret, and that the app is activated")
			}
		}
		return s.refuse(CodeOAuth, "Zoom's OAuth server did not issue an access token ("+OAuthCause(err)+"); try again shortly")
	}
}

func transport(c *http.Client) http.RoundTripper {
	if c.Transport != nil {
		return c.Transport
	}
	return http.DefaultTransport
}

// dateTransport keeps the Date header of the last answer.
type dateTransport struct {
	next http.RoundTripper
	date *string
}

func (t dateTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(r)
	if err == nil {
		*t.date = resp.Header.Get("Date")
	}
	return resp, err
}
