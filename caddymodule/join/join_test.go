package join

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/zoomsig/caddy-zoom-signature/caddymodule/joinconfig"
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/problem"
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/signature"
)

var (
	alice = Principal{ID: "alice", HostValues: []string{"alice"}}
	bob   = Principal{ID: "bob", HostValues: []string{"bob"}}
)

func ask(from Source, meeting string, role int) Ask {
	return Ask{From: from, Meeting: meeting, Role: role}
}

func TestAdmit(t *testing.T) {
	for _, c := range []struct {
		name string
		pol  Policy
		p    Principal
		code string
	}{
		{"a user", Policy{}, alice, ""},
		{"nobody", Policy{Identity: "{http.auth.user.id}"}, Principal{}, CodeUnauthenticated},
		{"nobody, anonymous allowed", Policy{AllowAnonymous: true}, Principal{}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := c.pol.Admit(c.p)
			if err.Code() != c.code {
				t.Fatalf("code = %q, want %q", err.Code(), c.code)
			}
			if err != nil && (err.Fault != problem.Client || !strings.Contains(err.Reason(), "{http.auth.user.id}")) {
				t.Fatalf("fault %s, reason %q", err.Fault, err.Reason())
			}
		})
	}
}

func TestDecide(t *testing.T) {
	hostAlice := HostRule{Set: true, Placeholder: "{http.auth.user.id}", Values: []string{"alice"}}
	const mn = "85746065432"
	for _, c := range []struct {
		name string
		pol  Policy
		p    Principal
		a    Ask
		code string
		want Grant // when code is ""
	}{
		// The meetings scope.
		{"backend meeting, no scope", Policy{Lifetime: 7200}, alice, ask(FromBackend, mn, 0), "", Grant{ExpiresIn: 7200}},
		{"client meeting, no scope", Policy{Lifetime: 7200}, alice, ask(FromClient, mn, 0), CodeMeetingNotAllowed, Grant{}},
		{"client meeting, any", Policy{AnyMeeting: true, Lifetime: 7200}, alice, ask(FromClient, mn, 0), "", Grant{ExpiresIn: 7200}},
		{"listed", Policy{Meetings: []string{"123456789", mn}, Lifetime: 7200}, alice, ask(FromClient, mn, 0), "", Grant{ExpiresIn: 7200}},
		{"not listed", Policy{Meetings: []string{"123456789"}, Lifetime: 7200}, alice, ask(FromClient, mn, 0), CodeMeetingNotAllowed, Grant{}},
		{"backend meeting outside a list", Policy{Meetings: []string{"123456789"}, Lifetime: 7200}, alice, ask(FromBackend, mn, 0), CodeMeetingNotAllowed, Grant{}},
		{"in the claim, formatted", Policy{MeetingsClaim: "meetings", Lifetime: 7200}, Principal{ID: "a", Meetings: []string{"111111111, 857 4606 5432"}}, ask(FromClient, mn, 0), "", Grant{ExpiresIn: 7200}},
		{"claim element", Policy{MeetingsClaim: "meetings", Lifetime: 7200}, Principal{ID: "a", Meetings: []string{"111111111", mn}}, ask(FromClient, mn, 0), "", Grant{ExpiresIn: 7200}},
		{"not in the claim", Policy{MeetingsClaim: "meetings", Lifetime: 7200}, Principal{ID: "a", Meetings: []string{"111111111"}}, ask(FromClient, mn, 0), CodeMeetingNotAllowed, Grant{}},
		{"no claim, backend meeting", Policy{MeetingsClaim: "meetings", Lifetime: 7200}, alice, ask(FromBackend, mn, 0), CodeMeetingNotAllowed, Grant{}},
		{"claim adds to the list", Policy{Meetings: []string{"123456789"}, MeetingsClaim: "m", Lifetime: 7200}, Principal{ID: "a", Meetings: []string{mn}}, ask(FromClient, mn, 0), "", Grant{ExpiresIn: 7200}},
		{"video session names are not meeting numbers", Policy{SDK: Video, MeetingsClaim: "m", Lifetime: 7200}, Principal{ID: "a", Meetings: []string{"857 4606 5432"}}, ask(FromClient, mn, 0), CodeMeetingNotAllowed, Grant{}},
		{"video session in claim", Policy{SDK: Video, MeetingsClaim: "m", Lifetime: 7200}, Principal{ID: "a", Meetings: []string{"Team Sync"}}, ask(FromClient, "Team Sync", 0), "", Grant{ExpiresIn: 7200}},

		// The host rule.
		{"no host rule", Policy{Lifetime: 7200}, alice, ask(FromBackend, mn, 1), CodeHostNotAllowed, Grant{}},
		{"host rule matches", Policy{Host: hostAlice, Lifetime: 7200}, alice, ask(FromBackend, mn, 1), "", Grant{Role: 1, ExpiresIn: 7200}},
		{"host rule misses", Policy{Host: hostAlice, Lifetime: 7200}, bob, ask(FromBackend, mn, 1), CodeHostNotAllowed, Grant{}},
		{"host rule misses, downgrade", Policy{Host: hostAlice, Downgrade: true, Lifetime: 7200}, bob, ask(FromBackend, mn, 1), "", Grant{Downgraded: true, ExpiresIn: 7200}},
		{"no host rule, downgrade", Policy{Downgrade: true, Lifetime: 7200}, alice, ask(FromBackend, mn, 1), "", Grant{Downgraded: true, ExpiresIn: 7200}},
		{"host any", Policy{Host: HostRule{Set: true, Any: true}, Lifetime: 7200}, bob, ask(FromBackend, mn, 1), "", Grant{Role: 1, ExpiresIn: 7200}},
		{"attendee needs no rule", Policy{Lifetime: 7200}, bob, ask(FromBackend, mn, 0), "", Grant{ExpiresIn: 7200}},
		{"array claim element matches", Policy{Host: HostRule{Set: true, Values: []string{"teacher"}}, Lifetime: 7200}, Principal{ID: "c", HostValues: []string{"student", "teacher"}}, ask(FromBackend, mn, 1), "", Grant{Role: 1, ExpiresIn: 7200}},
		{"scope before host", Policy{Meetings: []string{"123456789"}, Lifetime: 7200}, alice, ask(FromClient, mn, 1), CodeMeetingNotAllowed, Grant{}},

		// The lifetime.
		{"shorter lifetime asked", Policy{AnyMeeting: true, Lifetime: 7200}, alice, Ask{From: FromClient, Meeting: mn, ExpiresIn: 1800}, "", Grant{ExpiresIn: 1800}},
		{"exact lifetime asked", Policy{AnyMeeting: true, Lifetime: 7200}, alice, Ask{From: FromClient, Meeting: mn, ExpiresIn: 7200}, "", Grant{ExpiresIn: 7200}},
		{"longer lifetime asked", Policy{AnyMeeting: true, Lifetime: 7200}, alice, Ask{From: FromClient, Meeting: mn, ExpiresIn: 7201}, CodeExpirationNotAllowed, Grant{}},

		// require_zak_for_host.
		{"host needs a ZAK", Policy{Host: hostAlice, RequireZAKForHost: true, Lifetime: 7200}, alice, ask(FromBackend, mn, 1), "", Grant{Role: 1, ExpiresIn: 7200, NeedsZAK: true}},
		{"attendee needs no ZAK", Policy{RequireZAKForHost: true, Lifetime: 7200}, alice, ask(FromBackend, mn, 0), "", Grant{ExpiresIn: 7200}},
		{"downgraded host needs no ZAK", Policy{Downgrade: true, RequireZAKForHost: true, Lifetime: 7200}, bob, ask(FromBackend, mn, 1), "", Grant{Downgraded: true, ExpiresIn: 7200}},
		{"video hosts have no ZAK", Policy{SDK: Video, Host: hostAlice, RequireZAKForHost: true, Lifetime: 7200}, alice, ask(FromBackend, "s", 1), "", Grant{Role: 1, ExpiresIn: 7200}},
	} {
		t.Run(c.name, func(t *testing.T) {
			g, err := c.pol.Decide(c.p, c.a)
			if err.Code() != c.code {
				t.Fatalf("code = %q (%s), want %q", err.Code(), err.Reason(), c.code)
			}
			if err != nil {
				if err.Fault != problem.Client || err.Reason() == "" {
					t.Fatalf("fault %s, reason %q", err.Fault, err.Reason())
				}
				return
			}
			if g != c.want {
				t.Fatalf("grant = %+v, want %+v", g, c.want)
			}
		})
	}
}

func TestRefusalReasons(t *testing.T) {
	_, err := (&Policy{SDK: Video, Lifetime: 7200}).Decide(alice, ask(FromClient, "s", 0))
	if !strings.Contains(err.Reason(), "this session is not") || !strings.Contains(err.Reason(), "meetings claim") {
		t.Errorf("video scope reason: %q", err.Reason())
	}
	_, err = (&Policy{MeetingsClaim: "rooms", Lifetime: 7200}).Decide(alice, ask(FromClient, "123456789", 0))
	if !strings.Contains(err.Reason(), "this meeting is not") || !strings.Contains(err.Reason(), "rooms claim") {
		t.Errorf("claim scope reason: %q", err.Reason())
	}
	_, err = (&Policy{Lifetime: 7200}).Decide(alice, ask(FromBackend, "123456789", 1))
	if !strings.Contains(err.Reason(), "no host_when rule") {
		t.Errorf("host reason: %q", err.Reason())
	}
	_, err = (&Policy{Host: HostRule{Set: true, Placeholder: "{x}", Values: []string{"z"}}, Lifetime: 7200}).Decide(alice, ask(FromBackend, "123456789", 1))
	if !strings.Contains(err.Reason(), "host_when {x}") {
		t.Errorf("host rule reason: %q", err.Reason())
	}
	_, err = (&Policy{AnyMeeting: true, Lifetime: 7200}).Decide(alice, Ask{From: FromClient, Meeting: "123456789", ExpiresIn: 9000})
	if !strings.Contains(err.Reason(), "9000") || !strings.Contains(err.Reason(), "7200") {
		t.Errorf("lifetime reason: %q", err.Reason())
	}
}

func TestCarries(t *testing.T) {
	pol := Policy{ZAKField: "hostZak"}
	need := Grant{Role: 1, NeedsZAK: true}
	for _, c := range []struct {
		name string
		a    Ask
		g    Grant
		c    Credentials
		code string
	}{
		{"needed, none", Ask{}, need, Credentials{}, CodeZAKMissing},
		{"needed, fetched", Ask{}, need, Credentials{Values: []Value{{NameZAK, "z"}}}, ""},
		{"needed, from the backend", Ask{HasZAK: true}, need, Credentials{}, ""},
		{"not needed", Ask{}, Grant{Role: 1}, Credentials{}, ""},
	} {
		err := pol.Carries(c.a, c.g, c.c)
		if err.Code() != c.code {
			t.Errorf("%s: code = %q, want %q", c.name, err.Code(), c.code)
		}
		if err != nil && !strings.Contains(err.Reason(), "hostZak") {
			t.Errorf("%s: reason %q does not name the field", c.name, err.Reason())
		}
	}
}

func TestFromConfig(t *testing.T) {
	fields := Fields{MeetingNumber: "meetingNumber", Role: "role", SessionName: "sessionName", UserIdentity: "userIdentity", SessionKey: "sessionKey"}
	withZAK := fields
	withZAK.ZAK = "zak"
	for _, c := range []struct {
		name    string
		sdk     SDK
		f       Fields
		doc     string
		code    string
		meeting string
		role    int
		hasZAK  bool
		fixed   string // the document after Fixes
	}{
		{"meeting as string", Meeting, fields, `{"meetingNumber":"85746065432","role":0}`, "", "85746065432", 0, false, `{"meetingNumber":"85746065432","role":0}`},
		{"spaces are fixed", Meeting, fields, `{"meetingNumber":"857 4606 5432","role":"1"}`, "", "85746065432", 1, false, `{"meetingNumber":"85746065432","role":"1"}`},
		{"number keeps its type", Meeting, fields, `{"meetingNumber":8.5746065432e10}`, "", "85746065432", 0, false, `{"meetingNumber":85746065432}`},
		{"no meeting number", Meeting, fields, `{"role":0}`, CodeBackendMeeting, "", 0, false, ""},
		{"undefined", Meeting, fields, `{"meetingNumber":"undefined"}`, CodeBackendMeeting, "", 0, false, ""},
		{"bad role", Meeting, fields, `{"meetingNumber":"85746065432","role":"host"}`, CodeBackendRole, "", 0, false, ""},
		{"zak present", Meeting, withZAK, `{"meetingNumber":"85746065432","role":1,"zak":"z"}`, "", "85746065432", 1, true, ""},
		{"zak empty", Meeting, withZAK, `{"meetingNumber":"85746065432","role":1,"zak":""}`, "", "85746065432", 1, false, ""},
		{"zak not looked at", Meeting, fields, `{"meetingNumber":"85746065432","role":1,"zak":"z"}`, "", "85746065432", 1, false, ""},
		{"websdk1 reads like meeting", WebSDK1, fields, `{"meetingNumber":"857-4606-5432"}`, "", "85746065432", 0, false, `{"meetingNumber":"85746065432"}`},
		{"video", Video, fields, `{"sessionName":"Team Sync","role":1,"userIdentity":"u1"}`, "", "Team Sync", 1, false, ""},
		{"video, no session", Video, fields, `{"role":1}`, CodeBackendSession, "", 0, false, ""},
		{"video, empty session", Video, fields, `{"sessionName":""}`, CodeBackendSession, "", 0, false, ""},
		{"video, identity too long", Video, fields, `{"sessionName":"s","userIdentity":"` + strings.Repeat("x", 36) + `"}`, CodeBackendSession, "", 0, false, ""},
		{"video, bad role", Video, fields, `{"sessionName":"s","role":2}`, CodeBackendRole, "", 0, false, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			a, err := c.sdk.Format().FromConfig(parsed(t, c.doc), c.f)
			if err.Code() != c.code {
				t.Fatalf("code = %q (%v), want %q", err.Code(), err, c.code)
			}
			if err != nil {
				if err.Fault != problem.Backend {
					t.Fatalf("fault = %s, want backend", err.Fault)
				}
				return
			}
			if a.From != FromBackend || a.Meeting != c.meeting || a.Role != c.role || a.HasZAK != c.hasZAK {
				t.Fatalf("ask = %+v", a)
			}
			if c.fixed != "" {
				var d joinconfig.Doc
				var s joinconfig.Spliced
				if err := joinconfig.Parse([]byte(c.doc), &d); err != nil {
					t.Fatal(err)
				}
				aerr := d.Splice(&s, nil, a.Fixes...)
				if out := s.AppendTo(nil); aerr != nil || string(out) != c.fixed {
					t.Fatalf("fixed = %s, %v; want %s", out, aerr, c.fixed)
				}
			}
		})
	}
}

func TestFromRequest(t *testing.T) {
	for _, c := range []struct {
		sdk     SDK
		body    string
		code    string
		meeting string
		expires int64
	}{
		{Meeting, `{"meetingNumber":"857 4606 5432","role":0,"expirationSeconds":1800}`, "", "85746065432", 1800},
		{Meeting, `{}`, CodeMeetingMissing, "", 0},
		{Meeting, ``, CodeMeetingMissing, "", 0},
		{Meeting, `{"meetingNumber":"85746065432","role":3}`, signature.CodeInvalidRole, "", 0},
		{Meeting, `{"meetingNumber":"85746065432"}`, signature.CodeMissingField, "", 0},
		{Meeting, `not json`, signature.CodeInvalidBody, "", 0},
		{WebSDK1, `{"meetingNumber":"85746065432","role":1}`, "", "85746065432", 0},
		{Video, `{"sessionName":"Team Sync","role":0}`, "", "Team Sync", 0},
		{Video, `{"sessionName":"Team Sync"}`, signature.CodeMissingField, "", 0},
	} {
		a, err := c.sdk.Format().FromRequest([]byte(c.body))
		if err.Code() != c.code {
			t.Errorf("%s %s: code = %q (%v), want %q", c.sdk, c.body, err.Code(), err, c.code)
			continue
		}
		if err != nil {
			if err.Fault != problem.Client {
				t.Errorf("%s %s: fault %s", c.sdk, c.body, err.Fault)
			}
			continue
		}
		if a.From != FromClient || a.Meeting != c.meeting || a.ExpiresIn != c.expires {
			t.Errorf("%s %s: ask = %+v", c.sdk, c.body, a)
		}
	}
}

// fakeZAK is a ZAKFetcher.
type fakeZAK struct {
	zak   string
	err   *problem.Error
	users []string
}

func (f *fakeZAK) ZAK(_ context.Context, user string) (string, *problem.Error) {
	f.users = append(f.users, user)
	return f.zak, f.err
}

// fixed is a CredentialSource that always gives the same values.
type fixed []Value

func (f fixed) Writes() []string {
	var names []string
	for _, v := range f {
		names = append(names, v.Name)
	}
	return names
}

func (fixed) NeedsMeeting(Principal, Ask, Grant) MeetingLookup { return nil }

func (f fixed) Credentials(context.Context, Principal, Ask, Grant, *MeetingInfo) (Credentials, *problem.Error) {
	return Credentials{Values: f}, nil
}

// texts are values as a test failure may print them: the tests' values
// are no secrets, and Value's own String leaves them out.
func texts(vs []Value) []string {
	var out []string
	for _, v := range vs {
		out = append(out, v.Name+"="+v.Text)
	}
	return out
}

func TestZAKSource(t *testing.T) {
	down := problem.New(problem.Zoom, "zoom_api_unavailable", "zak", "down")
	for _, c := range []struct {
		name     string
		fetcher  *fakeZAK
		p        Principal
		g        Grant
		zak      string
		code     string
		warnings int
		asked    bool
	}{
		{"attendee", &fakeZAK{zak: "z"}, Principal{ZoomUser: "h@x"}, Grant{}, "", "", 0, false},
		{"host", &fakeZAK{zak: "z"}, Principal{ZoomUser: "h@x"}, Grant{Role: 1}, "z", "", 0, true},
		{"host, no Zoom user", &fakeZAK{zak: "z"}, Principal{}, Grant{Role: 1}, "", "", 0, false},
		{"host, no Zoom user, required", &fakeZAK{zak: "z"}, Principal{}, Grant{Role: 1, NeedsZAK: true}, "", CodeZAKUserMissing, 0, false},
		{"host, Zoom down", &fakeZAK{err: down}, Principal{ZoomUser: "h@x"}, Grant{Role: 1}, "", "", 1, true},
		{"host, Zoom down, required", &fakeZAK{err: down}, Principal{ZoomUser: "h@x"}, Grant{Role: 1, NeedsZAK: true}, "", "zoom_api_unavailable", 0, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := ZAKSource{Fetcher: c.fetcher, User: "{u}"}.Credentials(context.Background(), c.p, Ask{}, c.g, nil)
			if zak, _ := got.Get(NameZAK); err.Code() != c.code || zak != c.zak || len(got.Warnings) != c.warnings || (len(c.fetcher.users) > 0) != c.asked {
				t.Fatalf("got %+v, %v; asked %v", got, err, c.fetcher.users)
			}
			if c.asked && c.fetcher.users[0] != "h@x" {
				t.Fatalf("asked for %v", c.fetcher.users)
			}
		})
	}
}

func newSigner(t *testing.T, sdk SDK, pol Policy, sources ...CredentialSource) *Signer {
	t.Helper()
	keys, err := signature.NewSigner("sdk-key", "sdk-secret")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_800_000_000, 0)
	pol.SDK = sdk
	return &Signer{Format: sdk.Format(), Policy: pol, Keys: keys, Sources: sources, Backdate: 30 * time.Second, Now: func() time.Time { return now }}
}

func claims(t *testing.T, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %d parts", len(parts))
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestSign(t *testing.T) {
	host := HostRule{Set: true, Values: []string{"alice"}}
	t.Run("meeting, backend", func(t *testing.T) {
		s := newSigner(t, Meeting, Policy{Host: host, Lifetime: 3600})
		a, err := s.Format.FromConfig(parsed(t, `{"meetingNumber":"857 4606 5432","role":1}`), Fields{MeetingNumber: "meetingNumber", Role: "role"})
		if err != nil {
			t.Fatal(err)
		}
		res, err := s.Sign(context.Background(), alice, a)
		if err != nil {
			t.Fatal(err)
		}
		c := claims(t, res.Token)
		// iat is back-dated 30 s; mn keeps the backend's JSON type.
		if c["mn"] != "85746065432" || c["role"] != 1.0 || c["iat"] != 1_800_000_000.0-30 || c["exp"] != 1_800_000_000.0-30+3600 || c["appKey"] != "sdk-key" {
			t.Fatalf("claims = %v", c)
		}
	})
	t.Run("meeting, downgraded", func(t *testing.T) {
		s := newSigner(t, Meeting, Policy{Downgrade: true, Lifetime: 3600})
		res, err := s.Sign(context.Background(), bob, Ask{From: FromBackend, Meeting: "85746065432", Role: 1, meeting: signature.Meeting{MeetingNumber: signature.MeetingNumber{Digits: "85746065432"}, Role: 1}})
		if err != nil || !res.Grant.Downgraded || claims(t, res.Token)["role"] != 0.0 {
			t.Fatalf("%+v %v", res.Grant, err)
		}
	})
	t.Run("video, client", func(t *testing.T) {
		s := newSigner(t, Video, Policy{AnyMeeting: true, Lifetime: 7200})
		a, err := s.Format.FromRequest([]byte(`{"sessionName":"Team Sync","role":0,"expirationSeconds":1800}`))
		if err != nil {
			t.Fatal(err)
		}
		res, err := s.Sign(context.Background(), alice, a)
		if err != nil {
			t.Fatal(err)
		}
		if c := claims(t, res.Token); c["tpc"] != "Team Sync" || c["role_type"] != 0.0 || c["exp"].(float64)-c["iat"].(float64) != 1800 {
			t.Fatalf("claims = %v", c)
		}
	})
	t.Run("websdk1", func(t *testing.T) {
		s := newSigner(t, WebSDK1, Policy{AnyMeeting: true, Lifetime: 7200})
		a, _ := s.Format.FromRequest([]byte(`{"meetingNumber":"85746065432","role":0}`))
		res, err := s.Sign(context.Background(), alice, a)
		if err != nil {
			t.Fatal(err)
		}
		plain, derr := base64.StdEncoding.DecodeString(res.Token)
		if derr != nil || !strings.HasPrefix(string(plain), "sdk-key.85746065432.1799999970000.0.") {
			t.Fatalf("websdk1 = %q, %v", plain, derr)
		}
	})
	t.Run("host with ZAK", func(t *testing.T) {
		f := &fakeZAK{zak: "the-zak"}
		s := newSigner(t, Meeting, Policy{Host: host, RequireZAKForHost: true, Lifetime: 3600}, ZAKSource{Fetcher: f})
		a, _ := s.Format.FromConfig(parsed(t, `{"meetingNumber":"85746065432","role":1}`), Fields{MeetingNumber: "meetingNumber", Role: "role"})
		p := alice
		p.ZoomUser = "alice@zoom"
		res, err := s.Sign(context.Background(), p, a)
		if zak, _ := res.Credentials.Get(NameZAK); err != nil || zak != "the-zak" || f.users[0] != "alice@zoom" {
			t.Fatalf("%+v %v", res.Credentials, err)
		}
	})
	t.Run("every refusal stops before minting", func(t *testing.T) {
		for _, c := range []struct {
			name string
			s    *Signer
			p    Principal
			a    Ask
			code string
		}{
			{"scope", newSigner(t, Meeting, Policy{Lifetime: 3600}), alice, ask(FromClient, "85746065432", 0), CodeMeetingNotAllowed},
			{"host", newSigner(t, Meeting, Policy{Lifetime: 3600}), alice, ask(FromBackend, "85746065432", 1), CodeHostNotAllowed},
			{"lifetime", newSigner(t, Meeting, Policy{AnyMeeting: true, Lifetime: 3600}), alice, Ask{From: FromClient, Meeting: "85746065432", ExpiresIn: 7200}, CodeExpirationNotAllowed},
			{"zak missing", newSigner(t, Meeting, Policy{Host: host, RequireZAKForHost: true, Lifetime: 3600}), alice, ask(FromBackend, "85746065432", 1), CodeZAKMissing},
			{"zak user missing", newSigner(t, Meeting, Policy{Host: host, RequireZAKForHost: true, Lifetime: 3600}, ZAKSource{Fetcher: &fakeZAK{zak: "z"}}), alice, ask(FromBackend, "85746065432", 1), CodeZAKUserMissing},
			{"ZAK and OBF", newSigner(t, Meeting, Policy{Host: host, Lifetime: 3600}, fixed{{NameZAK, "z"}}, fixed{{NameOBF, "o"}}), alice, ask(FromBackend, "85746065432", 1), CodeCredentialsConflict},
			// A lifetime the config load would refuse: signature refuses
			// it too, and no token leaves.
			{"signing failed", newSigner(t, Meeting, Policy{Lifetime: 10}), alice, Ask{From: FromBackend, Meeting: "85746065432", meeting: signature.Meeting{MeetingNumber: signature.MeetingNumber{Digits: "85746065432"}}}, CodeSigningFailed},
		} {
			res, err := c.s.Sign(context.Background(), c.p, c.a)
			if err.Code() != c.code || res.Token != "" {
				t.Errorf("%s: code = %q, token %v; want %q and none", c.name, err.Code(), res.Token != "", c.code)
			}
		}
	})
}

func TestParseSDK(t *testing.T) {
	for name, want := range map[string]SDK{"": Meeting, "meeting": Meeting, "video": Video, "websdk1": WebSDK1} {
		if got, err := ParseSDK(name); err != nil || got != want || got.Format().SDK() != want {
			t.Errorf("ParseSDK(%q) = %v, %v", name, got, err)
		}
	}
	if _, err := ParseSDK("zoom"); err == nil || !strings.Contains(err.Error(), "use meeting, video or websdk1") {
		t.Errorf("unknown sdk: %v", err)
	}
	for sdk, want := range map[SDK][2]string{Meeting: {"sdkKey", "sdkKey"}, Video: {"", ""}, WebSDK1: {"apiKey", ""}} {
		if c, a := sdk.Format().KeyFields(); c != want[0] || a != want[1] {
			t.Errorf("%s key fields = %q %q", sdk, c, a)
		}
	}
	if Video.ScopeKey("857 4606 5432") != "857 4606 5432" || Meeting.ScopeKey("857 4606 5432") != "85746065432" {
		t.Error("ScopeKey")
	}
}

// parsed is a join config as FromConfig takes it.
func parsed(t *testing.T, doc string) *joinconfig.Doc {
	t.Helper()
	var d joinconfig.Doc
	if err := joinconfig.Parse([]byte(doc), &d); err != nil {
		t.Fatalf("%s: %v", doc, err)
	}
	return &d
}

func TestCheckWrites(t *testing.T) {
	paths := map[string]string{NameZAK: "hostZak", NameOBF: "obfToken", NamePasscode: "passWord", NameRegistrantToken: "tk", NameEmail: "userEmail"}
	z := &fakeZoom{}
	all := []CredentialSource{ZAKSource{}, MeetingSource{Passcode: PasscodeFill, Registrar: z}, OBFSource{}}
	if err := CheckWrites(all, paths); err != nil {
		t.Fatal(err)
	}
	if got := (MeetingSource{Passcode: PasscodeFill}).Writes(); !slices.Equal(got, []string{NamePasscode}) {
		t.Errorf("passcode only writes %v", got)
	}
	noTK := map[string]string{NameZAK: "zak", NamePasscode: "passWord"}
	if err := CheckWrites(all, noTK); err == nil || !strings.Contains(err.Error(), "writes tk, which has no join-config path") {
		t.Errorf("a name without a path: %v", err)
	}
	if err := CheckWrites([]CredentialSource{ZAKSource{}, fixed{{NameZAK, "z"}}}, paths); err == nil || !strings.Contains(err.Error(), "both write zak") {
		t.Errorf("two sources of one name: %v", err)
	}
}

// TestValueRedacted: a credential printed with %v or %+v, in a log line or
// a test failure, shows its name and never its text.
func TestValueRedacted(t *testing.T) {
	c := Credentials{Values: []Value{{NameZAK, "zak-SECRET"}, {NamePasscode, "pass-SECRET"}}}
	for _, s := range []string{fmt.Sprint(c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c.Values[0]), fmt.Sprint(Result{Credentials: c})} {
		if strings.Contains(s, "SECRET") || !strings.Contains(s, NameZAK) {
			t.Errorf("printed as %s", s)
		}
	}
}

// TestLookupWaitsForItsSource: a source before the one that needs the
// meeting refuses the join without a lookup.
func TestLookupWaitsForItsSource(t *testing.T) {
	z := &fakeZoom{info: MeetingInfo{InAccount: true, Passcode: "p"}}
	down := problem.New(problem.Zoom, "zoom_api_unavailable", "zak", "down")
	s := newSigner(t, Meeting, Policy{Host: HostRule{Set: true, Any: true}, RequireZAKForHost: true, Lifetime: 7200},
		ZAKSource{Fetcher: &fakeZAK{err: down}}, MeetingSource{Lookup: z, Passcode: PasscodeAlways})
	a := Ask{From: FromBackend, Meeting: "81111111111", Role: 1}
	a.meeting.MeetingNumber.Digits = "81111111111"
	if _, err := s.Sign(context.Background(), Principal{ID: "h", ZoomUser: "h@x"}, a); err.Code() != "zoom_api_unavailable" || z.lookups != 0 {
		t.Fatalf("%v, %d lookups", err, z.lookups)
	}
}
