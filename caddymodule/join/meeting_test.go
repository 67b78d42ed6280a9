package join

import (
	"context"
	"slices"
	"testing"

	"github.com/zoomsig/caddy-zoom-signature/caddymodule/problem"
)

func TestMeetingFromLink(t *testing.T) {
	for _, c := range []struct{ link, want string }{
		{"https://us02web.zoom.us/j/85746065432?pwd=abc.1", "85746065432"},
		{"https://zoom.us/j/857460654", "857460654"},
		{"https://acme.zoom.us/w/91234567890?tk=x", "91234567890"},
		{"https://zoom.us/s/85746065432", "85746065432"},
		{"https://zoomgov.com/j/1612345678/", "1612345678"},
		{"https://acme.zoomgov.com/j/1612345678#success", "1612345678"},
		{" https://US02WEB.ZOOM.US/j/85746065432 ", "85746065432"},
		{"http://zoom.us/j/85746065432", "85746065432"},
		// Not links to a meeting of Zoom's.
		{"https://zoom.us.evil.example/j/85746065432", ""},
		{"https://evilzoom.us/j/85746065432", ""},
		{"https://zoom.us/my/acme.room", ""},
		{"https://zoom.us/j/857", ""},
		{"https://zoom.us/j/85746065432/extra", ""},
		{"zoommtg://zoom.us/join?confno=85746065432", ""},
		{"/j/85746065432", ""},
		{"https://zoom.us/j/" + string(make([]byte, MaxLinkLength)), ""},
	} {
		mn, err := MeetingFromLink(c.link)
		if mn.Digits != c.want || (err == nil) != (c.want != "") {
			t.Errorf("%.60q: %q %v, want %q", c.link, mn.Digits, err, c.want)
		}
	}
}

func TestFromConfigLinkAndPasscode(t *testing.T) {
	f := Fields{MeetingNumber: "meetingNumber", Role: "role", JoinURL: "joinUrl", Passcode: "passWord"}
	for _, c := range []struct {
		name, doc, meeting, code string
		passcode, link           bool
	}{
		{"link only", `{"joinUrl":"https://us02web.zoom.us/j/85746065432?pwd=Zm9v","role":0}`, "85746065432", "", false, true},
		{"empty number and link", `{"meetingNumber":"","joinUrl":"https://zoom.us/w/91234567890","passWord":"x"}`, "91234567890", "", true, true},
		{"null number and link", `{"meetingNumber":null,"joinUrl":"https://zoom.us/j/91234567890"}`, "91234567890", "", false, true},
		{"the number wins", `{"meetingNumber":"857 4606 5432","joinUrl":"https://zoom.us/j/91234567890"}`, "85746065432", "", false, false},
		{"bad link", `{"joinUrl":"https://zoom.example/j/85746065432"}`, "", CodeBackendLink, false, false},
		{"neither", `{"role":0}`, "", CodeBackendMeeting, false, false},
		{"empty passcode", `{"meetingNumber":"85746065432","passWord":""}`, "85746065432", "", false, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			a, err := Meeting.Format().FromConfig(parsed(t, c.doc), f)
			if err.Code() != c.code || a.Meeting != c.meeting || a.HasPasscode != c.passcode {
				t.Fatalf("%+v %v", a, err)
			}
			// A meeting number from a link is written into the config.
			wrote := false
			for _, e := range a.Fixes {
				wrote = wrote || (e.Path == "meetingNumber" && string(e.JSON()) == `"`+c.meeting+`"`)
			}
			if c.link && !wrote {
				t.Fatalf("fixes %+v do not write the meeting number", a.Fixes)
			}
		})
	}
}

// gathered runs one source as Signer.Sign does, with the meeting lookup
// it asks for.
func gathered(src CredentialSource, p Principal, a Ask, g Grant) (Credentials, *problem.Error) {
	s := Signer{Sources: []CredentialSource{src}}
	return s.gather(context.Background(), p, a, g)
}

// creds are the values of a test's expectation, in order.
func creds(kv ...string) []Value {
	var vs []Value
	for i := 0; i+1 < len(kv); i += 2 {
		vs = append(vs, Value{kv[i], kv[i+1]})
	}
	return vs
}

type fakeZoom struct {
	info     MeetingInfo
	err      *problem.Error
	lookups  int
	register []Registrant
}

func (f *fakeZoom) Meeting(context.Context, string) (MeetingInfo, *problem.Error) {
	f.lookups++
	return f.info, f.err
}

func (f *fakeZoom) Register(_ context.Context, _ string, _ MeetingInfo, r Registrant) (string, *problem.Error) {
	f.register = append(f.register, r)
	return "tk-of-" + r.Email, nil
}

func TestMeetingSource(t *testing.T) {
	own := MeetingInfo{InAccount: true, Passcode: "e3Rf9k"}
	reg := MeetingInfo{InAccount: true, Passcode: "p", RegistrationRequired: true}
	carol := Principal{ID: "carol", Registrant: Registrant{Email: "carol@example.com"}}
	mtg := func(role int, hasPass bool) Ask {
		a := Ask{From: FromBackend, Meeting: "85746065432", Role: role, HasPasscode: hasPass}
		a.meeting.MeetingNumber.Digits = "85746065432"
		return a
	}
	for _, c := range []struct {
		name     string
		mode     PasscodeMode
		register bool
		info     MeetingInfo
		p        Principal
		a        Ask
		want     []Value
		code     string
		lookups  int
	}{
		{"fill an empty passcode", PasscodeFill, false, own, carol, mtg(0, false), creds(NamePasscode, "e3Rf9k"), "", 1},
		{"fill leaves the backend's", PasscodeFill, false, own, carol, mtg(0, true), nil, "", 0},
		{"always overwrites", PasscodeAlways, false, own, carol, mtg(0, true), creds(NamePasscode, "e3Rf9k"), "", 1},
		{"always writes an empty one", PasscodeAlways, false, MeetingInfo{InAccount: true}, carol, mtg(0, true), creds(NamePasscode, ""), "", 1},
		{"fill has nothing to write", PasscodeFill, false, MeetingInfo{InAccount: true}, carol, mtg(0, false), nil, "", 1},
		{"external: nothing", PasscodeAlways, true, MeetingInfo{}, carol, mtg(0, false), nil, "", 1},
		{"register", PasscodeOff, true, reg, carol, mtg(0, false), creds(NameRegistrantToken, "tk-of-carol@example.com", NameEmail, "carol@example.com"), "", 1},
		{"register and fill", PasscodeFill, true, reg, carol, mtg(0, false), creds(NamePasscode, "p", NameRegistrantToken, "tk-of-carol@example.com", NameEmail, "carol@example.com"), "", 1},
		{"no registration needed", PasscodeOff, true, own, carol, mtg(0, false), nil, "", 1},
		{"hosts do not register", PasscodeOff, true, reg, carol, mtg(1, false), nil, "", 0},
		{"no email", PasscodeOff, true, reg, Principal{ID: "dan"}, mtg(0, false), nil, CodeRegistrantEmail, 1},
		{"manual approval", PasscodeOff, true, MeetingInfo{InAccount: true, RegistrationRequired: true, ManualApproval: true}, carol, mtg(0, false), nil, CodeRegistrationApproval, 1},
		{"video: nothing", PasscodeAlways, true, own, carol, Ask{Meeting: "session"}, nil, "", 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			z := &fakeZoom{info: c.info}
			src := MeetingSource{Lookup: z, Passcode: c.mode, EmailFrom: "{x}"}
			if c.register {
				src.Registrar = z
			}
			got, err := gathered(src, c.p, c.a, Grant{Role: c.a.Role})
			if err.Code() != c.code || z.lookups != c.lookups {
				t.Fatalf("%v, %d lookups", err, z.lookups)
			}
			if !slices.Equal(got.Values, c.want) {
				t.Fatalf("%q, want %q", texts(got.Values), texts(c.want))
			}
		})
	}
	// A lookup failure refuses the join: the passcode is not guessed.
	z := &fakeZoom{err: problem.New(problem.Zoom, "zoom_api_unavailable", "meetingNumber", "down")}
	if _, err := gathered(MeetingSource{Lookup: z, Passcode: PasscodeFill}, carol, mtg(0, false), Grant{}); err.Code() != "zoom_api_unavailable" {
		t.Fatalf("Zoom down: %v", err)
	}
}

type fakeOBF struct{ calls []string }

func (f *fakeOBF) OBF(_ context.Context, user, meeting string) (string, *problem.Error) {
	f.calls = append(f.calls, user+"/"+meeting)
	if user == "" {
		return "", problem.New(problem.Client, "zoom_not_connected", "obfToken", "connect")
	}
	return "obf-" + meeting, nil
}

func TestOBFSource(t *testing.T) {
	mtg := func(role int, wants bool) Ask {
		a := Ask{From: FromBackend, Meeting: "81111111111", Role: role, WantsOBF: wants}
		a.meeting.MeetingNumber.Digits = "81111111111"
		return a
	}
	ext := MeetingInfo{InAccount: false}
	own := MeetingInfo{InAccount: true}
	for _, c := range []struct {
		name    string
		when    OBFWhen
		info    MeetingInfo
		p       Principal
		a       Ask
		want    string
		code    string
		fetches int
	}{
		{"external attendee", OBFExternal, ext, alice, mtg(0, false), "obf-81111111111", "", 1},
		{"own meeting: neither", OBFExternal, own, alice, mtg(0, false), "", "", 0},
		{"host: the ZAK step's", OBFExternal, ext, alice, mtg(1, false), "", "", 0},
		{"backend says so", OBFBackend, own, alice, mtg(0, true), "obf-81111111111", "", 1},
		{"backend says nothing", OBFBackend, ext, alice, mtg(0, false), "", "", 0},
		{"always", OBFAlways, own, alice, mtg(0, false), "obf-81111111111", "", 1},
		{"anonymous", OBFExternal, ext, Principal{}, mtg(0, false), "", "zoom_not_connected", 1},
		{"video", OBFAlways, ext, alice, Ask{Meeting: "s"}, "", "", 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := &fakeOBF{}
			got, err := gathered(OBFSource{Fetcher: f, When: c.when, Lookup: &fakeZoom{info: c.info}}, c.p, c.a, Grant{Role: c.a.Role})
			if obf, _ := got.Get(NameOBF); err.Code() != c.code || obf != c.want || len(f.calls) != c.fetches {
				t.Fatalf("%+v %v, %v", got, err, f.calls)
			}
		})
	}
	// With a ZAK from the ZAK step the join is refused, never sent with
	// both.
	s := newSigner(t, Meeting, Policy{Lifetime: 7200, Host: HostRule{Set: true, Any: true}},
		fixed(creds(NameZAK, "zak-1")), OBFSource{Fetcher: &fakeOBF{}, When: OBFAlways})
	a := mtg(0, false)
	if _, err := s.Sign(context.Background(), alice, a); err.Code() != CodeCredentialsConflict {
		t.Fatalf("zak and obf: %v", err)
	}
}

// TestOneLookupPerJoin: with both the passcode step and the OBF step's
// "is it the account's?", a join looks its meeting up once, and the next
// join looks it up again (the answer lives for one join only).
func TestOneLookupPerJoin(t *testing.T) {
	z := &fakeZoom{info: MeetingInfo{InAccount: false}}
	f := &fakeOBF{}
	s := newSigner(t, Meeting, Policy{Lifetime: 7200},
		MeetingSource{Lookup: z, Passcode: PasscodeFill}, OBFSource{Fetcher: f, When: OBFExternal, Lookup: z})
	a := Ask{From: FromBackend, Meeting: "81111111111"}
	a.meeting.MeetingNumber.Digits = "81111111111"
	for want := 1; want <= 2; want++ {
		res, err := s.Sign(context.Background(), alice, a)
		if obf, _ := res.Credentials.Get(NameOBF); err != nil || obf != "obf-81111111111" {
			t.Fatalf("join %d: %+v %v", want, res.Credentials, err)
		}
		if z.lookups != want {
			t.Fatalf("after join %d: %d lookups", want, z.lookups)
		}
	}
	// One source alone asks once too.
	z.lookups = 0
	if _, err := newSigner(t, Meeting, Policy{Lifetime: 7200}, OBFSource{Fetcher: f, When: OBFExternal, Lookup: z}).Sign(context.Background(), alice, a); err != nil || z.lookups != 1 {
		t.Fatalf("one source: %v, %d lookups", err, z.lookups)
	}
}
