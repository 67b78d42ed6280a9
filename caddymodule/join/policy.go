package join

import (
	"cmp"
	"slices"
	"strings"

	"github.com/zoomsig/caddy-zoom-signature/caddymodule/problem"
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/signature"
)

// Policy is every rule on who may have which join. It is a value built
// once from the config; Admit and Decide are functions of their arguments.
type Policy struct {
	SDK SDK

	// AllowAnonymous signs for requests without a user.
	AllowAnonymous bool
	// Identity names where the user comes from, for the refusal's reason.
	Identity string

	// Host says who may have role 1; Downgrade gives role 0 instead of a
	// refusal to those who may not.
	Host      HostRule
	Downgrade bool

	// Meetings are the meetings (normalised meeting numbers, or session
	// names) that may be signed; AnyMeeting allows every one.
	// MeetingsClaim names the session claim whose values add to them for
	// each user. With neither, a backend's meeting is allowed and a
	// client's is not.
	Meetings      []string
	AnyMeeting    bool
	MeetingsClaim string

	// Lifetime is the token lifetime in seconds, and the most a client may
	// ask for.
	Lifetime int64

	// RequireZAKForHost refuses a Meeting SDK host join without a ZAK,
	// from a CredentialSource or at ZAKField in the backend's join config.
	RequireZAKForHost bool
	ZAKField          string
}

// HostRule allows role 1 when one of a user's HostValues is in Values, or
// for everyone (Any). Without Set, nobody gets role 1.
type HostRule struct {
	Set         bool
	Any         bool
	Placeholder string // what the values were read from, for reasons
	Values      []string
}

// Admit refuses a request without a user, unless anonymous signing is on.
// It runs before anything else, before the backend is called.
func (pol *Policy) Admit(p Principal) *problem.Error {
	if p.ID == "" && !pol.AllowAnonymous {
		return problem.New(problem.Client, CodeUnauthenticated, "session",
			"no signed-in user: this route needs an authenticated session (the identity "+pol.Identity+" is empty); sign in and try again")
	}
	return nil
}

// Decide turns what is asked into what is granted: the meetings scope
// first, then the host rule, then the lifetime.
func (pol *Policy) Decide(p Principal, a Ask) (Grant, *problem.Error) {
	if !pol.inScope(p, a) {
		what := "meeting"
		if pol.SDK == Video {
			what = "session"
		}
		return Grant{}, problem.New(problem.Client, CodeMeetingNotAllowed, "meetingNumber",
			"this "+what+" is not in the meetings this user may sign for; add it to meetings (or the user's "+cmp.Or(pol.MeetingsClaim, "meetings")+" claim) or ask for one that is")
	}
	g := Grant{Role: a.Role}
	if a.Role == 1 && !pol.hostAllowed(p) {
		if !pol.Downgrade {
			reason := "role 1 (host) is not allowed for this user; "
			if !pol.Host.Set {
				reason += "no host_when rule is configured, so nobody gets role 1 (add host_when <placeholder> <values...>, or host_when any to let the backend decide)"
			} else {
				reason += "the user does not match host_when " + pol.Host.Placeholder
			}
			return Grant{}, problem.New(problem.Client, CodeHostNotAllowed, "role", reason)
		}
		g.Role, g.Downgraded = 0, true
	}
	switch g.ExpiresIn = a.ExpiresIn; {
	case g.ExpiresIn == 0:
		g.ExpiresIn = pol.Lifetime
	case g.ExpiresIn > pol.Lifetime:
		return Grant{}, problem.New(problem.Client, CodeExpirationNotAllowed, "expirationSeconds",
			"expirationSeconds "+itoa(a.ExpiresIn)+" is longer than this route allows ("+itoa(pol.Lifetime)+"); ask for less or raise expires")
	}
	g.NeedsZAK = g.Role == 1 && pol.RequireZAKForHost && pol.SDK != Video
	return g, nil
}

// Carries refuses a grant whose join lacks a credential it needs: a host
// join that must start the meeting needs the host's ZAK, never a silent
// host join that cannot.
func (pol *Policy) Carries(a Ask, g Grant, c Credentials) *problem.Error {
	if _, zak := c.Get(NameZAK); g.NeedsZAK && !zak && !a.HasZAK {
		return problem.New(problem.Config, CodeZAKMissing, "zak",
			"role 1 needs the host's ZAK and none is configured or in the join config; add a zak block, or have the backend provide "+cmp.Or(pol.ZAKField, "zak"))
	}
	return nil
}

func (pol *Policy) hostAllowed(p Principal) bool {
	switch {
	case !pol.Host.Set:
		return false
	case pol.Host.Any:
		return true
	}
	for _, v := range p.HostValues {
		if slices.Contains(pol.Host.Values, v) {
			return true
		}
	}
	return false
}

func (pol *Policy) inScope(p Principal, a Ask) bool {
	if pol.AnyMeeting || slices.Contains(pol.Meetings, a.Meeting) {
		return true
	}
	if pol.MeetingsClaim == "" {
		// No list and no claim: the backend chose the meeting, and a
		// client may not choose one.
		return len(pol.Meetings) == 0 && a.From == FromBackend
	}
	for _, v := range p.Meetings {
		for m := range strings.SplitSeq(v, ",") {
			if m = strings.TrimSpace(m); m == a.Meeting {
				return true
			}
			if pol.SDK != Video {
				if mn, err := signature.ParseMeetingNumber(m); err == nil && mn.Digits == a.Meeting {
					return true
				}
			}
		}
	}
	return false
}

// ScopeKey normalises a configured meeting for Policy.Meetings: meeting
// numbers lose their spaces and dashes; session names stay as they are.
func (s SDK) ScopeKey(m string) string {
	if s != Video {
		if mn, err := signature.ParseMeetingNumber(m); err == nil {
			return mn.Digits
		}
	}
	return m
}
