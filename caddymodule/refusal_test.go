package caddymodule

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/zoomsig/caddy-zoom-signature/caddymodule/connect"
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/join"
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/problem"
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/session"
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/signature"
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/state"
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/zoomapi"
)

// TestStatusTable pins the HTTP status of every refusal code the project
// has, one by one, with the fault each is raised under: the table in
// refusal.go is the only place a status is chosen.
func TestStatusTable(t *testing.T) {
	for _, c := range []struct {
		code   string
		fault  problem.Fault
		status int
	}{
		{join.CodeUnauthenticated, problem.Client, 401},
		{session.CodeMissing, problem.Client, 401},
		{session.CodeMalformed, problem.Client, 401},
		{session.CodeBadSignature, problem.Client, 401},
		{session.CodeExpired, problem.Client, 401},
		{session.CodeNotYetValid, problem.Client, 401},
		{session.CodeWrongIssuer, problem.Client, 401},
		{session.CodeWrongAudience, problem.Client, 401},
		{session.CodeAlgorithm, problem.Client, 401},
		{session.CodeUnknownKey, problem.Client, 401},
		{session.CodeNoUser, problem.Client, 401},
		{session.CodeCrit, problem.Client, 401},
		{session.CodeJWKSDown, problem.Issuer, 503},
		{codeUpstreamUnreadable, problem.Backend, 502},
		{codeUpstreamDuplicate, problem.Backend, 502},
		{join.CodeHostNotAllowed, problem.Client, 403},
		{join.CodeMeetingNotAllowed, problem.Client, 403},
		{join.CodeExpirationNotAllowed, problem.Client, 403},
		{join.CodeZAKMissing, problem.Config, 403},
		{join.CodeZAKUserMissing, problem.Config, 403},
		{codeOriginNotAllowed, problem.Client, 403},
		{codeMethodNotAllowed, problem.Client, 405},
		{codeBodyTooLarge, problem.Client, 413},
		{join.CodeMeetingMissing, problem.Client, 400},
		{signature.CodeInvalidBody, problem.Client, 400},
		{signature.CodeMissingField, problem.Client, 400},
		{signature.CodeInvalidField, problem.Client, 400},
		{signature.CodeInvalidRole, problem.Client, 400},
		{signature.CodeInvalidMeetingNumber, problem.Client, 400},
		{signature.CodeInvalidExpiration, problem.Client, 400},
		{codeUpstreamInvalid, problem.Backend, 502},
		{codeUpstreamTooLarge, problem.Backend, 502},
		{codeUpstreamEncoded, problem.Backend, 502},
		{join.CodeBackendMeeting, problem.Backend, 502},
		{join.CodeBackendRole, problem.Backend, 502},
		{join.CodeBackendSession, problem.Backend, 502},
		{zoomapi.CodeOAuth, problem.Zoom, 503},
		{zoomapi.CodeRateLimited, problem.Zoom, 503},
		{zoomapi.CodeAPI, problem.Zoom, 503},
		{zoomapi.CodeAPIAnswer, problem.Zoom, 502},
		{zoomapi.CodeUserNotFound, problem.Zoom, 403},
		{join.CodeSigningFailed, problem.Config, 500},
		{join.CodeCredentialsConflict, problem.Config, 500},
		{zoomapi.CodeMeetingInvalid, problem.Client, 502},
		{zoomapi.CodeMeetingRateLimited, problem.Zoom, 503},
		{zoomapi.CodeRegistrationFull, problem.Zoom, 409},
		{zoomapi.CodeRegistrationClosed, problem.Zoom, 409},
		{zoomapi.CodeRegistrationGone, problem.Zoom, 409},
		{zoomapi.CodeRegistrationNotAllowed, problem.Config, 403},
		{zoomapi.CodeRegistrantRateLimited, problem.Zoom, 503},
		{join.CodeRegistrationApproval, problem.Config, 409},
		{join.CodeRegistrantEmail, problem.Config, 403},
		{join.CodeBackendLink, problem.Backend, 502},
		{connect.CodeNotConnected, problem.Client, 409},
		{connect.CodeGrantRevoked, problem.Client, 409},
		{connect.CodeOAuth, problem.Zoom, 503},
		{connect.CodeStore, problem.Config, 503},
		{connect.CodeOBFRateLimit, problem.Zoom, 503},
		{connect.CodeOBFTooMany, problem.Client, 429},
		{connect.CodeOBFMeeting, problem.Backend, 502},
		{connect.CodeOBFUnissued, problem.Zoom, 502},
		{connect.CodeStateMissing, problem.Client, 400},
		{connect.CodeStateInvalid, problem.Client, 400},
		{connect.CodeStateMismatch, problem.Client, 403},
		{connect.CodeStateReplayed, problem.Client, 403},
		{connect.CodeUserMismatch, problem.Client, 403},
		{connect.CodeDenied, problem.Client, 403},
		{connect.CodeCodeMissing, problem.Client, 400},
		{connect.CodeCodeInvalid, problem.Client, 400},
		{connect.CodeScopeMissing, problem.Client, 403},
		{connect.CodeUserInactive, problem.Client, 403},
		{connect.CodeUnauthorized, problem.Client, 401},
		{codeConnectRoute, problem.Client, 404},
		{zoomapi.CodeOAuthRefused, problem.Config, 503},
		{zoomapi.CodeUserRateLimited, problem.Zoom, 503},
		{codeDoctorInput, problem.Client, 400},
		{codeDoctorTooMany, problem.Client, 429},
		{codeDoctorHandler, problem.Config, 500},
		{codeDoctorJoin, problem.Client, 403},
		{signature.CodeInvalidSessionName, problem.Client, 400},
		{join.CodeBackendPasscode, problem.Backend, 502},
		{zoomapi.CodeMeetingTooMany, problem.Client, 429},
		{state.CodeLockTimeout, problem.Config, 503},
		{state.CodeUnavailable, problem.Config, 503},
	} {
		if got := status(problem.New(c.fault, c.code, "p", "r")); got != c.status {
			t.Errorf("%s: status %d, want %d", c.code, got, c.status)
		}
		if _, ok := statusOf[c.code]; !ok {
			t.Errorf("%s is not in the status table", c.code)
		}
	}
	// A code the table does not know falls back on its fault.
	for f, want := range map[problem.Fault]int{problem.Client: 400, problem.Backend: 502, problem.Zoom: 503, problem.Issuer: 503, problem.Config: 500, 0: 500} {
		if got := status(problem.New(f, "not_a_code", "p", "r")); got != want {
			t.Errorf("unknown code with fault %s: %d, want %d", f, got, want)
		}
	}
	if len(statusOf) != 84 {
		t.Errorf("the table has %d codes and this test 84: add the new code here", len(statusOf))
	}
}

func TestSampler(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	s := newSampler(func() time.Time { return now })
	for i := range samplePerCode {
		if ok, dropped := s.allow("a"); !ok || dropped != 0 {
			t.Fatalf("line %d: %v %d", i, ok, dropped)
		}
	}
	for range 25 {
		if ok, _ := s.allow("a"); ok {
			t.Fatal("a line past the per-code budget was let through")
		}
	}
	if ok, _ := s.allow("b"); !ok {
		t.Fatal("another code shares the budget")
	}
	now = now.Add(sampleWindow)
	if ok, dropped := s.allow("a"); !ok || dropped != 25 {
		t.Fatalf("next window: %v, %d dropped reported, want 25", ok, dropped)
	}
	if _, dropped := s.allow("a"); dropped != 0 {
		t.Fatalf("the count was reported twice: %d", dropped)
	}
}

// A flood of one refusal does not flood the log; every refusal is still
// counted.
func TestRefusalFloodSampled(t *testing.T) {
	c := startCaddy(t, endpointSite, "")
	series := `caddy_zoom_signature_refusals_total{code="body_too_large"}`
	before := c.metricValue(t, series)
	big := strings.Repeat("x", 200)
	const flood = 60
	for range flood {
		if r := c.do("POST", "/ep/small", "attendee", big); r.status != 413 {
			t.Fatalf("%d %s", r.status, r.body)
		}
	}
	if got := c.metricValue(t, series) - before; got != flood {
		t.Fatalf("counted %v refusals, want %d", got, flood)
	}
	lines := func() (n, suppressed int) {
		data, _ := os.ReadFile(c.logPath)
		for _, line := range bytes.Split(data, []byte("\n")) {
			var m map[string]any
			if json.Unmarshal(line, &m) == nil && m["msg"] == "refused" && m["code"] == "body_too_large" {
				n++
				if s, ok := m["suppressed"].(float64); ok {
					suppressed += int(s)
				}
			}
		}
		return n, suppressed
	}
	time.Sleep(sampleWindow) // into the next window
	c.do("POST", "/ep/small", "attendee", big)
	var n, suppressed int
	for range 50 { // the log file is written asynchronously
		if n, suppressed = lines(); n > 0 && n+suppressed == flood+1 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n >= flood || n+suppressed != flood+1 {
		t.Fatalf("%d lines and %d suppressed for %d refusals", n, suppressed, flood+1)
	}
}
