package join

import (
	"context"

	"github.com/zoomsig/caddy-zoom-signature/caddymodule/problem"
)

// MeetingInfo is what Zoom's API says of a meeting number, looked up with
// the account's Server-to-Server token (zoomapi.Client.Meeting). Its JSON
// is the record zoomapi keeps in its cache, which may be Caddy's storage
// shared by instances: a tag changed here is a record format changed.
type MeetingInfo struct {
	// InAccount: the meeting or webinar belongs to the app's account.
	// False when Zoom answered 3001 for both, a meeting elsewhere, whose
	// joins need the host's ZAK or an OBF token since 2026-03-02.
	InAccount bool `json:"in_account"`
	// Webinar: the number is a webinar's.
	Webinar bool `json:"webinar,omitempty"`
	// Passcode is the meeting's passcode: a secret of the meeting, never
	// logged, sealed when the cache writes it anywhere.
	Passcode string `json:"passcode,omitempty"`
	// RegistrationRequired: participants must register first (approval
	// type 0 or 1), and their join needs the registrant's tk.
	RegistrationRequired bool `json:"registration_required,omitempty"`
	// ManualApproval: registrants wait for the host's approval (approval
	// type 1), so a registration gives no usable tk at once.
	ManualApproval bool `json:"manual_approval,omitempty"`
	// Ends is when a scheduled meeting ends (start_time + duration), as a
	// Unix time; 0 when Zoom gave none (recurring meetings without a
	// fixed time, instant meetings).
	Ends int64 `json:"ends,omitempty"`
}

// Registrant is who registers for a meeting: the signed-in site user.
type Registrant struct {
	Email, FirstName, LastName string
}

// MeetingLookup says what Zoom knows of a meeting of the account
// (zoomapi.Client, which keeps lookups behind its state.Cache). The
// context names the site user it is for (ForUser), whose lookups the
// client may limit.
type MeetingLookup interface {
	Meeting(ctx context.Context, digits string) (MeetingInfo, *problem.Error)
}

type userKey struct{}

// ForUser names the site user a meeting lookup is for ("" for an
// anonymous visitor). It travels in the context because the lookup's
// limit is the client's business (zoomapi.Config.LookupLimit), not the
// MeetingLookup's signature.
func ForUser(ctx context.Context, user string) context.Context {
	return context.WithValue(ctx, userKey{}, user)
}

// UserOf is the site user ForUser named; "" when none.
func UserOf(ctx context.Context) string {
	u, _ := ctx.Value(userKey{}).(string)
	return u
}

// Registrar registers a user for a meeting and returns the tk
// (zoomapi.Client, which keeps it per meeting and email).
type Registrar interface {
	Register(ctx context.Context, digits string, info MeetingInfo, r Registrant) (string, *problem.Error)
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

// Writes implements CredentialSource.
func (m MeetingSource) Writes() []string {
	var names []string
	if m.Passcode != PasscodeOff {
		names = append(names, NamePasscode)
	}
	if m.Registrar != nil {
		names = append(names, NameRegistrantToken, NameEmail)
	}
	return names
}

// steps says what this join asks of the source: the passcode, a
// registration, or neither (then no lookup either).
func (m MeetingSource) steps(a Ask, g Grant) (pass, register bool) {
	if a.meeting.MeetingNumber.Digits == "" {
		return false, false
	}
	pass = m.Passcode == PasscodeAlways || (m.Passcode == PasscodeFill && !a.HasPasscode)
	return pass, m.Registrar != nil && g.Role == 0
}

// NeedsMeeting implements CredentialSource.
func (m MeetingSource) NeedsMeeting(_ Principal, a Ask, g Grant) MeetingLookup {
	if pass, register := m.steps(a, g); pass || register {
		return m.Lookup
	}
	return nil
}

// Credentials implements CredentialSource.
func (m MeetingSource) Credentials(ctx context.Context, p Principal, a Ask, g Grant, info *MeetingInfo) (Credentials, *problem.Error) {
	pass, register := m.steps(a, g)
	if info == nil || !info.InAccount {
		return Credentials{}, nil
	}
	var c Credentials
	if pass && (info.Passcode != "" || m.Passcode == PasscodeAlways) {
		c.Values = append(c.Values, Value{NamePasscode, info.Passcode})
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
	tk, err := m.Registrar.Register(ctx, a.Meeting, *info, p.Registrant)
	if err != nil {
		return Credentials{}, err
	}
	if tk != "" {
		c.Values = append(c.Values, Value{NameRegistrantToken, tk}, Value{NameEmail, p.Registrant.Email})
	}
	return c, nil
}
