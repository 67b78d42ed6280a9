// Package join decides and mints a Zoom SDK join, as values and without
// Caddy. A request crosses it in one direction:
//
//	Principal (who asks, resolved once by the glue)
//	  × Ask    (what the backend's join config or the client's body asks: Format)
//	  → Policy (who may have which meeting and role: Grant, or a refusal)
//	  → the meeting's lookup (once, when a source NeedsMeeting: MeetingInfo)
//	  → CredentialSource (what the join carries besides the signature: Values)
//	  → Format.Mint (the signature)
//	  = Result
//
// Signer.Sign is that one path, for inject and endpoint mode and for all
// three formats (Meeting SDK, Video SDK, legacy Web SDK 1.x). Every refusal
// is a *problem.Error; the glue picks the HTTP status.
package join

import (
	"context"
	"time"

	"github.com/zoomsig/caddy-zoom-signature/caddymodule/joinconfig"
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/problem"
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/signature"
)

// Principal is who is asking, resolved once per request from the session
// token or the identity an earlier auth handler set.
type Principal struct {
	// ID names the user; empty when anonymous.
	ID string
	// Claims are the verified session token's claims (nil without
	// session_jwt).
	Claims map[string]any
	// HostValues are the values host_when looks at, for this user.
	HostValues []string
	// Meetings are the values of the meetings_claim, as the claim lists
	// them (each may itself be a comma-separated list).
	Meetings []string
	// ZoomUser is the Zoom user (ID or email) whose credentials a host
	// join carries.
	ZoomUser string
	// Registrant is who registers for a registration-only meeting: the
	// user's email and name, from the registrant placeholders.
	Registrant Registrant
}

// Source says where an Ask came from.
type Source uint8

// Sources.
const (
	// FromBackend: the site's backend wrote the join config (inject mode),
	// so it chose the meeting.
	FromBackend Source = iota + 1
	// FromClient: the client's request body named it (endpoint mode).
	FromClient
)

// Ask is what a join config or a request asks to be signed.
type Ask struct {
	From Source
	// Meeting is what the meetings scope is checked against: the
	// normalised meeting number, or the Video SDK session name.
	Meeting string
	// Role asked for: 0 (attendee) or 1 (host).
	Role int
	// ExpiresIn is the lifetime asked for in seconds; 0 when none was.
	ExpiresIn int64
	// HasZAK: the backend's join config carries a ZAK already.
	HasZAK bool
	// HasPasscode: the backend's join config carries a passcode.
	HasPasscode bool
	// WantsOBF: the backend says the join needs an OBF token.
	WantsOBF bool
	// Fixes are the edits that make a join config agree with what is
	// signed, such as the meeting number without its spaces: the frontend
	// passes it to join() too, and Zoom compares the two.
	Fixes []joinconfig.Edit

	meeting signature.Meeting
	video   signature.Video
}

// Grant is what the policy allows for an Ask.
type Grant struct {
	Role int
	// Downgraded: role 1 was asked and role 0 is granted.
	Downgraded bool
	// ExpiresIn is the token lifetime in seconds.
	ExpiresIn int64
	// NeedsZAK: a host join that must carry the host's ZAK.
	NeedsZAK bool
}

// Result is a minted join.
type Result struct {
	Token       string
	Grant       Grant
	Credentials Credentials
}

// Signer is the one path from an Ask to a signed join. It is safe for
// concurrent use once built.
type Signer struct {
	Format  Format
	Policy  Policy
	Keys    *signature.Signer
	Sources []CredentialSource
	// Backdate sets iat this far in the past, for clock skew.
	Backdate time.Duration
	Now      func() time.Time
}

// Sign decides, gathers credentials and mints.
func (s *Signer) Sign(ctx context.Context, p Principal, a Ask) (Result, *problem.Error) {
	g, err := s.Policy.Decide(p, a)
	if err != nil {
		return Result{}, err
	}
	res := Result{Grant: g}
	if res.Credentials, err = s.gather(ctx, p, a, g); err != nil {
		return Result{}, err
	}
	if err := s.Policy.Carries(a, g, res.Credentials); err != nil {
		return Result{}, err
	}
	iat := s.Now().Add(-s.Backdate).UnixMilli()
	if res.Token, err = s.Format.Mint(s.Keys, a, g, iat); err != nil {
		return Result{}, err
	}
	return res, nil
}

// gather asks every source, in order, and merges what they give. The
// meeting is looked up once per join, for the first source that
// NeedsMeeting, and that answer goes to every other source that needs it:
// the passcode and registrant step and the OBF step's "is it the
// account's?" ask one account (the zoom_api app), and with seal_keys each
// lookup reads and opens a record in the storage. The lookup waits for
// the first source that needs it, so a source before it (the ZAK step)
// that refuses the join spends none.
func (s *Signer) gather(ctx context.Context, p Principal, a Ask, g Grant) (Credentials, *problem.Error) {
	var c Credentials
	var info *MeetingInfo
	for _, src := range s.Sources {
		var m *MeetingInfo
		if l := src.NeedsMeeting(p, a, g); l != nil {
			if info == nil {
				v, err := l.Meeting(ForUser(ctx, p.ID), a.Meeting)
				if err != nil {
					return Credentials{}, err
				}
				info = &v
			}
			m = info
		}
		n, err := src.Credentials(ctx, p, a, g, m)
		if err != nil {
			return Credentials{}, err
		}
		if err := c.merge(n); err != nil {
			return Credentials{}, err
		}
	}
	return c, nil
}

// Refusal codes of the join core; the codes of request validation are
// package signature's, those of sessions package session's.
const (
	CodeUnauthenticated      = "unauthenticated"
	CodeHostNotAllowed       = "host_not_allowed"
	CodeMeetingNotAllowed    = "meeting_not_allowed"
	CodeExpirationNotAllowed = "expiration_not_allowed"
	CodeMeetingMissing       = signature.CodeMeetingNumberMissing
	CodeBackendMeeting       = "join_config_meeting_number"
	CodeBackendRole          = "join_config_role"
	CodeBackendSession       = "join_config_session_name"
	CodeBackendLink          = "join_config_join_url"
	CodeBackendPasscode      = "join_config_passcode"
	CodeSigningFailed        = "signing_failed"
	CodeZAKUserMissing       = "zak_user_missing"
	CodeZAKMissing           = "zak_missing"
	CodeCredentialsConflict  = "credentials_conflict"
	CodeRegistrantEmail      = "registrant_email_missing"
	CodeRegistrationApproval = "registration_needs_approval"
)
