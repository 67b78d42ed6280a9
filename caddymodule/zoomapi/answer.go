package zoomapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"time"

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

// Call sends one request to Zoom's REST API with a bearer token, and
// returns the answer's status, its body (at most 64 KiB) and how long Zoom
// asks to wait (RetryAfter at now()). hook, when set, is told of the call
// as kind. An error means no answer was had.
func Call(ctx context.Context, hc *http.Client, hook func(kind string, err error), kind, method, url, bearer string, body []byte, now func() time.Time) (int, []byte, time.Duration, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return 0, nil, 0, err
	}
	req.Header.Set("Authorization", "Bearer "+bearer)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := hc.Do(req)
	Report(hook, kind, resp, err)
	if err != nil {
		return 0, nil, 0, err
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return 0, nil, 0, err
	}
	return resp.StatusCode, answer, RetryAfter(resp.Header, now()), nil
}

// Report tells hook (when set) of one call: an error for a failure or a
// non-2xx answer. It never sees the request or the body.
func Report(hook func(kind string, err error), kind string, resp *http.Response, err error) {
	if hook == nil {
		return
	}
	if err == nil && resp.StatusCode/100 != 2 {
		err = fmt.Errorf("status %d", resp.StatusCode)
	}
	hook(kind, err)
}

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
	Report(t.hook, t.kind, resp, err)
	return resp, err
}
