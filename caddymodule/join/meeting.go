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
	info, err := lookupOnce(zoomapi.ForUser(ctx, p.ID), m.Lookup, a.Meeting)
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

// lookups is how many of sources look meetings up.
func lookups(sources []CredentialSource) int {
	n := 0
	for _, src := range sources {
		switch s := src.(type) {
		case MeetingSource:
			n += btoi(s.Lookup != nil)
		case OBFSource:
			n += btoi(s.Lookup != nil && s.When == OBFExternal)
		}
	}
	return n
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// lookupMemo holds a join's one meeting lookup, when two of its sources
// would each ask (the passcode or registrant step and the OBF step's
// "is it the account's?"): with seal_keys, each ask reads and opens the
// record in the storage again. The sources of one Signer ask one account
// (the zoom_api app), so one answer serves them all.
type lookupMemo struct {
	digits string
	info   zoomapi.MeetingInfo
	err    *problem.Error
	done   bool
}

type memoKey struct{}

// lookupOnce asks l, or answers what l said earlier in the same join.
func lookupOnce(ctx context.Context, l MeetingLookup, digits string) (zoomapi.MeetingInfo, *problem.Error) {
	m, _ := ctx.Value(memoKey{}).(*lookupMemo)
	if m == nil {
		return l.Meeting(ctx, digits)
	}
	if m.done && m.digits == digits {
		return m.info, m.err
	}
	info, err := l.Meeting(ctx, digits)
	*m = lookupMemo{digits: digits, info: info, err: err, done: true}
	return info, err
}
