package join

import (
	"context"

	"github.com/zoomsig/caddy-zoom-signature/caddymodule/problem"
)

// Credentials are what a join carries besides the signature.
type Credentials struct {
	// ZAK is the host's Zoom Access Key, which starting a meeting needs.
	ZAK string
	// OBF is an "on behalf of" token, which a join to a meeting outside
	// the app's account needs when it has no ZAK.
	OBF string
	// Passcode is the meeting's passcode from Zoom, written when
	// SetPasscode (it may be "": a meeting without one).
	Passcode    string
	SetPasscode bool
	// RegistrantToken is the tk of the user's registration, and Email the
	// address it was made with, which the join must send as userEmail.
	RegistrantToken, Email string
	// Warnings are problems that did not stop the join, such as a host
	// join signed without a ZAK that Zoom would not give; the glue logs
	// them.
	Warnings []*problem.Error
}

// CredentialSource provides credentials for a grant. A new kind of
// credential is a new implementation, added to Signer.Sources. An error
// refuses the join; a problem that should not goes into Warnings.
type CredentialSource interface {
	Credentials(ctx context.Context, p Principal, a Ask, g Grant) (Credentials, *problem.Error)
}

// merge adds what one source gave. It is the one home of the rule that a
// join never carries both a ZAK and an OBF token: the Web SDK refuses a
// join with both, so it is a refusal here, never a guess at which to drop.
func (c *Credentials) merge(n Credentials) *problem.Error {
	if n.ZAK != "" {
		c.ZAK = n.ZAK
	}
	if n.OBF != "" {
		c.OBF = n.OBF
	}
	if n.SetPasscode {
		c.Passcode, c.SetPasscode = n.Passcode, true
	}
	if n.RegistrantToken != "" {
		c.RegistrantToken, c.Email = n.RegistrantToken, n.Email
	}
	c.Warnings = append(c.Warnings, n.Warnings...)
	if c.ZAK != "" && c.OBF != "" {
		return problem.New(problem.Config, CodeCredentialsConflict, "zak",
			"this join would carry both a ZAK and an OBF token, which the SDK refuses; a host join uses the ZAK, an external attendee join the OBF token, so check which steps apply to this route")
	}
	return nil
}

// ZAKFetcher gets a Zoom user's ZAK (zoomapi.Client).
type ZAKFetcher interface {
	ZAK(ctx context.Context, user string) (string, *problem.Error)
}

// ZAKSource gives host joins the host's ZAK. A failure refuses the join
// when the grant needs a ZAK (require_zak_for_host), and is a warning
// otherwise.
type ZAKSource struct {
	Fetcher ZAKFetcher
	// User names where Principal.ZoomUser comes from, for reasons.
	User string
}

// Credentials implements CredentialSource.
func (z ZAKSource) Credentials(ctx context.Context, p Principal, _ Ask, g Grant) (Credentials, *problem.Error) {
	if g.Role != 1 {
		return Credentials{}, nil
	}
	if p.ZoomUser == "" {
		if g.NeedsZAK {
			return Credentials{}, problem.New(problem.Config, CodeZAKUserMissing, "zak",
				"role 1 needs the host's ZAK, but the zak user "+z.User+" is empty for this user; map the user to a Zoom user ID or email")
		}
		return Credentials{}, nil
	}
	zak, err := z.Fetcher.ZAK(ctx, p.ZoomUser)
	switch {
	case err != nil && g.NeedsZAK:
		return Credentials{}, err
	case err != nil:
		return Credentials{Warnings: []*problem.Error{err}}, nil
	}
	return Credentials{ZAK: zak}, nil
}
