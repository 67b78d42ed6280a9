package join

import (
	"context"
	"fmt"

	"github.com/zoomsig/caddy-zoom-signature/caddymodule/problem"
)

// The names of the values a join carries besides the signature. Each is
// the Web SDK's join() option of that name, so endpoint mode answers a
// value under its name, and inject mode writes it where the config puts
// that name (by default, the same key).
const (
	// NameZAK is the host's Zoom Access Key, which starting a meeting
	// needs.
	NameZAK = "zak"
	// NameOBF is an "on behalf of" token, which a join to a meeting
	// outside the app's account needs when it has no ZAK.
	NameOBF = "obfToken"
	// NamePasscode is the meeting's passcode from Zoom; it may be "" (a
	// meeting without one), which is still written.
	NamePasscode = "passWord"
	// NameRegistrantToken is the tk of the user's registration, and
	// NameEmail the address it was made with, which the join must send.
	NameRegistrantToken = "tk"
	NameEmail           = "userEmail"
)

// Value is one named credential of a join. Text is a secret (a ZAK, a
// token, a passcode): String and GoString name the value and leave it out,
// so a %v in a log or a test failure does not print it.
type Value struct {
	Name, Text string
}

func (v Value) String() string   { return v.Name + "=[redacted]" }
func (v Value) GoString() string { return v.String() }

// Credentials are what a join carries besides the signature.
type Credentials struct {
	// Values are the credentials, in the order the sources gave them, at
	// most one of each name.
	Values []Value
	// Warnings are problems that did not stop the join, such as a host
	// join signed without a ZAK that Zoom would not give; the glue logs
	// them.
	Warnings []*problem.Error
}

// Get returns the value of that name, and whether the join carries it.
func (c Credentials) Get(name string) (string, bool) {
	for _, v := range c.Values {
		if v.Name == name {
			return v.Text, true
		}
	}
	return "", false
}

// CredentialSource provides credentials for a grant. A new kind of
// credential is a new implementation, added to Signer.Sources; it touches
// at most four files: its source in this package (its Name constant, what
// it Writes, whether it NeedsMeeting, its Credentials), the caddymodule
// file of the config block that builds it, the handler's Provision (which
// adds the source, and its name's join-config path to the paths
// CheckWrites checks and inject mode writes to), and README.md. Nothing
// that writes the join config or the endpoint answer changes: both write
// every Value by its name.
type CredentialSource interface {
	// Writes names the values the source may give (the Name constants),
	// for CheckWrites.
	Writes() []string
	// NeedsMeeting says whether this join needs Zoom's word on its
	// meeting, and whom to ask: nil for no. Signer.Sign asks once per
	// join, for all its sources that need it.
	NeedsMeeting(p Principal, a Ask, g Grant) MeetingLookup
	// Credentials gives what the join carries. m is the meeting's lookup
	// when NeedsMeeting asked for one, and nil otherwise. An error refuses
	// the join; a problem that should not goes into Warnings.
	Credentials(ctx context.Context, p Principal, a Ask, g Grant, m *MeetingInfo) (Credentials, *problem.Error)
}

// CheckWrites checks the sources before any join: every name they may
// write has a place in paths (name -> join-config path), and no two write
// one name, so that a join's values never depend on the sources' order.
func CheckWrites(sources []CredentialSource, paths map[string]string) error {
	by := make(map[string]int, len(paths))
	for i, src := range sources {
		for _, name := range src.Writes() {
			if paths[name] == "" {
				return fmt.Errorf("credential source %d (%T) writes %s, which has no join-config path", i, src, name)
			}
			if j, dup := by[name]; dup {
				return fmt.Errorf("credential sources %d (%T) and %d (%T) both write %s", j, sources[j], i, src, name)
			}
			by[name] = i
		}
	}
	return nil
}

// merge adds what one source gave. It is the one home of the rule that a
// join never carries both a ZAK and an OBF token: the Web SDK refuses a
// join with both, so it is a refusal here, never a guess at which to drop.
func (c *Credentials) merge(n Credentials) *problem.Error {
	for _, v := range n.Values {
		c.set(v)
	}
	c.Warnings = append(c.Warnings, n.Warnings...)
	_, zak := c.Get(NameZAK)
	_, obf := c.Get(NameOBF)
	if zak && obf {
		return problem.New(problem.Config, CodeCredentialsConflict, "zak",
			"this join would carry both a ZAK and an OBF token, which the SDK refuses; a host join uses the ZAK, an external attendee join the OBF token, so check which steps apply to this route")
	}
	return nil
}

// set adds v, or replaces the value of its name (CheckWrites keeps two
// sources from writing one name; a later value wins, as it always has).
func (c *Credentials) set(v Value) {
	for i := range c.Values {
		if c.Values[i].Name == v.Name {
			c.Values[i] = v
			return
		}
	}
	c.Values = append(c.Values, v)
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

// Writes implements CredentialSource.
func (ZAKSource) Writes() []string { return []string{NameZAK} }

// NeedsMeeting implements CredentialSource: a ZAK is the user's, whatever
// the meeting.
func (ZAKSource) NeedsMeeting(Principal, Ask, Grant) MeetingLookup { return nil }

// Credentials implements CredentialSource.
func (z ZAKSource) Credentials(ctx context.Context, p Principal, _ Ask, g Grant, _ *MeetingInfo) (Credentials, *problem.Error) {
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
	case zak == "":
		return Credentials{}, nil
	}
	return Credentials{Values: []Value{{NameZAK, zak}}}, nil
}
