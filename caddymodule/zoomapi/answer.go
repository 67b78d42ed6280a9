package zoomapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"

	"golang.org/x/oauth2"
)

// What Zoom answered, in words fit for a reason: its status and numeric
// code, never its text. Package connect (the users' grants) uses the same.

// ZoomCode names Zoom's answer for an error reason by its HTTP status and
// its numeric code ({"code":124,"message":...}). Zoom's message is left
// out: an API that echoes the request (a proxy in between, a Zoom bug)
// would put the access token in front of the user.
func ZoomCode(status int, body []byte) string {
	var e struct {
		Code int `json:"code"`
	}
	out := "HTTP " + strconv.Itoa(status)
	if json.Unmarshal(body, &e) == nil && e.Code != 0 {
		out += ", Zoom code " + strconv.Itoa(e.Code)
	}
	return out
}

// OAuthCode is the error code of a failed OAuth token call, when it is one
// of those RFC 6749 (section 5.2) defines; "" otherwise. The field is the
// server's text, so anything else is left out.
func OAuthCode(err error) string {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && slices.Contains(oauthErrorCodes, re.ErrorCode) {
		return re.ErrorCode
	}
	return ""
}

// OAuthCause names why an OAuth call failed without echoing anything the
// server might have reflected.
func OAuthCause(err error) string {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.Response != nil {
		cause := "HTTP " + strconv.Itoa(re.Response.StatusCode)
		if c := OAuthCode(err); c != "" {
			cause += ", " + c
		}
		return cause
	}
	return "unreachable"
}

var oauthErrorCodes = []string{"invalid_request", "invalid_client", "invalid_grant", "unauthorized_client", "unsupported_grant_type", "invalid_scope"}

// HookTransport is c's transport, telling hook (when not nil) of every
// call as kind, with an error for a failure or a non-2xx answer: the
// metrics of OAuth calls, which oauth2 makes out of sight.
func HookTransport(c *http.Client, kind string, hook func(kind string, err error)) http.RoundTripper {
	next := c.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	return hookTransport{next: next, kind: kind, hook: hook}
}

type hookTransport struct {
	next http.RoundTripper
	kind string
	hook func(string, error)
}

func (t hookTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(r)
	if t.hook != nil {
		ferr := err
		if err == nil && resp.StatusCode/100 != 2 {
			ferr = fmt.Errorf("status %d", resp.StatusCode)
		}
		t.hook(t.kind, ferr)
	}
	return resp, err
}
