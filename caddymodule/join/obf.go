package join

import (
	"context"

	"github.com/zoomsig/caddy-zoom-signature/caddymodule/problem"
)

// OBFFetcher fetches an OBF token for a meeting with the site user's own
// connected Zoom account (connect.Manager).
type OBFFetcher interface {
	OBF(ctx context.Context, siteUser, meeting string) (string, *problem.Error)
}

// OBFWhen says which joins carry an OBF token.
type OBFWhen uint8

// When a join carries an OBF token.
const (
	// OBFExternal: joins to meetings outside the app's account, as the
	// account's meeting lookup says (the default).
	OBFExternal OBFWhen = iota
	// OBFBackend: joins whose join config says so (Fields.OBFFlag true).
	OBFBackend
	// OBFAlways: every attendee join.
	OBFAlways
)

// OBFSource gives attendee joins that need one an OBF token, fetched with
// the joining user's own Zoom grant. Hosts (role 1) carry the ZAK instead,
// and a join to the account's own meeting carries neither: the rule that
// a join never carries both is Credentials.merge's.
type OBFSource struct {
	Fetcher OBFFetcher
	When    OBFWhen
	// Lookup says whether a meeting is the account's (OBFExternal).
	Lookup MeetingLookup
}

// Writes implements CredentialSource.
func (OBFSource) Writes() []string { return []string{NameOBF} }

// attendee says whether this join may carry an OBF token at all: hosts
// (role 1) carry the ZAK, and a ZAK from the backend authenticates the
// join already, which the SDK refuses beside an OBF token.
func (o OBFSource) attendee(a Ask, g Grant) bool {
	return g.Role == 0 && a.meeting.MeetingNumber.Digits != "" && !a.HasZAK
}

// NeedsMeeting implements CredentialSource: OBFExternal asks whether the
// meeting is the account's.
func (o OBFSource) NeedsMeeting(_ Principal, a Ask, g Grant) MeetingLookup {
	if o.When == OBFExternal && o.attendee(a, g) {
		return o.Lookup
	}
	return nil
}

// Credentials implements CredentialSource.
func (o OBFSource) Credentials(ctx context.Context, p Principal, a Ask, g Grant, m *MeetingInfo) (Credentials, *problem.Error) {
	if !o.attendee(a, g) {
		return Credentials{}, nil
	}
	switch o.When {
	case OBFBackend:
		if !a.WantsOBF {
			return Credentials{}, nil
		}
	case OBFExternal:
		// m is nil only without a Lookup, which the config refuses.
		if m == nil || m.InAccount {
			return Credentials{}, nil
		}
	}
	tok, err := o.Fetcher.OBF(ctx, p.ID, a.Meeting)
	if err != nil || tok == "" {
		return Credentials{}, err
	}
	return Credentials{Values: []Value{{NameOBF, tok}}}, nil
}
