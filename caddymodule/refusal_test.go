package caddymodule

import (
	"testing"

	"github.com/zoomsig/caddy-zoom-signature/caddymodule/join"
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/problem"
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/session"
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/signature"
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
	if len(statusOf) != 43 {
		t.Errorf("the table has %d codes and this test 43: add the new code here", len(statusOf))
	}
}
