package join

import (
	"context"

	"github.com/zoomsig/caddy-zoom-signature/caddymodule/problem"
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/zoomapi"
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

// Credentials implements CredentialSource.
func (o OBFSource) Credentials(ctx context.Context, p Principal, a Ask, g Grant) (Credentials, *problem.Error) {
	if g.Role != 0 || a.meeting.MeetingNumber.Digits == "" || a.HasZAK {
		// A ZAK from the backend authenticates the join already, and the
		// SDK refuses a join with both.
		return Credentials{}, nil
	}
	switch o.When {
	case OBFBackend:
		if !a.WantsOBF {
			return Credentials{}, nil
		}
	case OBFExternal:
		info, err := lookupOnce(zoomapi.ForUser(ctx, p.ID), o.Lookup, a.Meeting)
		if err != nil {
			return Credentials{}, err
		}
		if info.InAccount {
			return Credentials{}, nil
		}
	}
	tok, err := o.Fetcher.OBF(ctx, p.ID, a.Meeting)
	if err != nil {
		return Credentials{}, err
	}
	return Credentials{OBF: tok}, nil
}
