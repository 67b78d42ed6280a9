package join

import (
	"context"

	"github.com/zoomsig/caddy-zoom-signature/caddymodule/problem"
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/zoomapi"
)

// MeetingLookup says what Zoom knows of a meeting of the account
// (zoomapi.Client, which keeps lookups behind its state.Cache).
type MeetingLookup interface {
	Meeting(ctx context.Context, digits string) (zoomapi.MeetingInfo, *problem.Error)
}

// Registrar registers a user for a meeting and returns the tk
// (zoomapi.Client, which keeps it per meeting and email).
type Registrar interface {
	Register(ctx context.Context, digits string, info zoomapi.MeetingInfo, r zoomapi.Registrant) (string, *problem.Error)
}

// PasscodeMode says when a join config gets the passcode from Zoom.
type PasscodeMode uint8

// Passcode modes.
const (
	// PasscodeOff leaves the passcode to the backend.
	PasscodeOff PasscodeMode = iota
	// PasscodeFill writes Zoom's passcode when the backend left it empty.
	PasscodeFill
	// PasscodeAlways writes Zoom's passcode over the backend's, which may
	// be stale.
	PasscodeAlways
)

// MeetingSource completes a join with what the account's
// Server-to-Server app can look up: the meeting's passcode, and for a
// meeting that requires registration, the user's registrant token. It does
// nothing for a meeting outside the account (Zoom tells the account
// nothing of it), for a host join's registration (hosts do not register),
// or for the Video SDK.
type MeetingSource struct {
	Lookup   MeetingLookup
	Passcode PasscodeMode
	// Registrar registers attendees; nil for no registration.
	Registrar Registrar
	// EmailFrom names where the registrant's email comes from, for
	// reasons.
	EmailFrom string
}

// Credentials implements CredentialSource.
func (m MeetingSource) Credentials(ctx context.Context, p Principal, a Ask, g Grant) (Credentials, *problem.Error) {
	pass := m.Passcode == PasscodeAlways || (m.Passcode == PasscodeFill && !a.HasPasscode)
	register := m.Registrar != nil && g.Role == 0
	if a.meeting.MeetingNumber.Digits == "" || (!pass && !register) {
		return Credentials{}, nil
	}
	info, err := m.Lookup.Meeting(ctx, a.Meeting)
	if err != nil {
		return Credentials{}, err
	}
	var c Credentials
	if !info.InAccount {
		return c, nil
	}
	if pass && (info.Passcode != "" || m.Passcode == PasscodeAlways) {
		c.Passcode, c.SetPasscode = info.Passcode, true
	}
	if !register || !info.RegistrationRequired {
		return c, nil
	}
	if info.ManualApproval {
		return Credentials{}, problem.New(problem.Config, CodeRegistrationApproval, "tk",
			"this meeting's registrations wait for the host's approval, so a registration made now cannot join; set the meeting's registration to approve automatically at Zoom")
	}
	if p.Registrant.Email == "" {
		return Credentials{}, problem.New(problem.Config, CodeRegistrantEmail, "userEmail",
			"this meeting requires registration, and the registrant email "+m.EmailFrom+" is empty for this user; map the user to an email (registrant email <placeholder>)")
	}
	tk, err := m.Registrar.Register(ctx, a.Meeting, info, p.Registrant)
	if err != nil {
		return Credentials{}, err
	}
	c.RegistrantToken, c.Email = tk, p.Registrant.Email
	return c, nil
}
