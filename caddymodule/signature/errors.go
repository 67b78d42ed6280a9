package signature

import "strings"

// Problem is one validation failure. Property and Reason match the
// {"property","reason"} pairs of Zoom's sample endpoints, so clients written
// for the samples still parse them; Code is a stable name for the cause.
type Problem struct {
	Code     string `json:"code"`
	Property string `json:"property"`
	Reason   string `json:"reason"`
}

// Problem codes.
const (
	CodeInvalidBody          = "invalid_body"
	CodeMissingField         = "missing_field"
	CodeInvalidField         = "invalid_field"
	CodeInvalidRole          = "invalid_role"
	CodeInvalidMeetingNumber = "invalid_meeting_number"
	CodeInvalidExpiration    = "invalid_expiration"
)

// Errors lists every validation failure of one request, in the order Zoom's
// sample reports them, followed by this package's stricter checks.
type Errors []Problem

func (e Errors) Error() string {
	var b strings.Builder
	b.WriteString("invalid signature request: ")
	for i, p := range e {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(p.Property)
		b.WriteString(": ")
		b.WriteString(p.Reason)
	}
	return b.String()
}

func (e *Errors) add(code, property, reason string) {
	*e = append(*e, Problem{Code: code, Property: property, Reason: reason})
}

func (e Errors) err() error {
	if len(e) == 0 {
		return nil
	}
	return e
}
