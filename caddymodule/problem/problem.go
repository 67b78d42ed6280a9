// Package problem is the one error type of caddy-zoom-signature: a refusal
// or a validation failure, as one or more problems (each with a stable code,
// the property at fault and a reason that names the cause and the fix) and
// whose fault it is. Every package returns it; only the Caddy glue turns it
// into an HTTP status, from one table keyed by code, so no leaf package
// ever picks a status.
//
// Property and Reason match the {"property","reason"} pairs of Zoom's
// sample endpoints, so clients written for the samples still parse them.
// A reason never holds a secret, a token, a signature, or text that an
// outside service (Zoom, a JWKS issuer) sent.
package problem

import "strings"

// Fault says whose fault a refusal is: who has to act to fix it.
type Fault uint8

// Faults.
const (
	// Client: the request itself (its body, its session, or what the
	// policy allows its user).
	Client Fault = iota + 1
	// Backend: the site's backend, whose join config cannot be signed.
	Backend
	// Zoom: Zoom's OAuth server or REST API failed or refused.
	Zoom
	// Issuer: the session token issuer's JWKS cannot be had.
	Issuer
	// Config: this module's configuration (or a bug in it).
	Config
)

var faultNames = [...]string{"unknown", "client", "backend", "zoom", "issuer", "config"}

func (f Fault) String() string {
	if int(f) < len(faultNames) {
		return faultNames[f]
	}
	return faultNames[0]
}

// Problem is one failure.
type Problem struct {
	Code     string `json:"code"`
	Property string `json:"property"`
	Reason   string `json:"reason"`
}

// Error is one or more problems and whose fault they are. The first
// problem is the one a refusal is known by (its code picks the status).
type Error struct {
	Fault    Fault
	Problems []Problem
}

// New returns an Error of one problem.
func New(f Fault, code, property, reason string) *Error {
	return &Error{Fault: f, Problems: []Problem{{Code: code, Property: property, Reason: reason}}}
}

// Code is the first problem's code.
func (e *Error) Code() string {
	if e == nil || len(e.Problems) == 0 {
		return ""
	}
	return e.Problems[0].Code
}

// Reason is the first problem's reason.
func (e *Error) Reason() string {
	if e == nil || len(e.Problems) == 0 {
		return ""
	}
	return e.Problems[0].Reason
}

// Recode gives the error to another party under another first code: a
// check that the client's request fails is the backend's fault when the
// backend wrote the value.
func (e *Error) Recode(f Fault, code string) *Error {
	out := &Error{Fault: f, Problems: append([]Problem(nil), e.Problems...)}
	out.Problems[0].Code = code
	return out
}

func (e *Error) Error() string {
	var b strings.Builder
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(p.Property)
		b.WriteString(": ")
		b.WriteString(p.Reason)
	}
	return b.String()
}

// As returns err as an *Error, or nil.
func As(err error) *Error {
	e, _ := err.(*Error)
	return e
}
