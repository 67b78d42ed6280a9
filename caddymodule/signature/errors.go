package signature

import "github.com/zoomsig/caddy-zoom-signature/caddymodule/problem"

// Problem codes of request and claim validation.
const (
	CodeInvalidBody          = "invalid_body"
	CodeMissingField         = "missing_field"
	CodeInvalidField         = "invalid_field"
	CodeInvalidRole          = "invalid_role"
	CodeInvalidMeetingNumber = "invalid_meeting_number"
	CodeInvalidExpiration    = "invalid_expiration"
	CodeMeetingNumberMissing = "meeting_number_missing"
	// CodeInvalidSessionName: a session name (tpc) with a character the
	// Video SDK's session names do not take.
	CodeInvalidSessionName = "invalid_session_name"
	// CodeInvalidPasscode: a Video SDK session passcode that join()
	// refuses, or that Zoom does.
	CodeInvalidPasscode = "invalid_passcode"
)

// problems collects every validation failure of one request, in the order
// Zoom's sample reports them, followed by this package's stricter checks.
// Its error is a *problem.Error whose fault is the client's: the values
// came from a request (the glue gives them to the backend when the backend
// wrote them).
type problems []problem.Problem

func (e *problems) add(code, property, reason string) {
	*e = append(*e, problem.Problem{Code: code, Property: property, Reason: reason})
}

func (e problems) err() error {
	if len(e) == 0 {
		return nil
	}
	return &problem.Error{Fault: problem.Client, Problems: e}
}

func fail(p problem.Problem) error {
	return &problem.Error{Fault: problem.Client, Problems: []problem.Problem{p}}
}
