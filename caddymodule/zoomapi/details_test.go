package zoomapi

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zoomsig/caddy-zoom-signature/caddymodule/problem"
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/zoomapi/zoomtest"
)

func ptr[T any](v T) *T { return &v }

// untimed is d without its clock, which TestDetailsClock checks.
func untimed(d Details) Details {
	d.ZoomTime, d.Sent, d.Received = time.Time{}, time.Time{}, time.Time{}
	return d
}

func TestDetails(t *testing.T) {
	z := zoomtest.New()
	defer z.Close()
	z.AddAccountUser(zoomtest.AccountUser{ID: "host-web", Email: "Web@Example.com", OnlyAuthenticatedFromWebclient: true})
	z.AddAccountUser(zoomtest.AccountUser{ID: "host-gone", Email: "gone@example.com", Inactive: true})
	z.AddMeeting("85746065432", zoomtest.Meeting{Passcode: "e3Rf9k-secret", Approval: 0, RegistrationType: 2,
		HostID: "host-web", Status: "started", JoinBeforeHost: true, MeetingAuthentication: true, AuthenticationDomains: "example.com",
		EncryptionType: "e2ee", AlternativeHosts: "Alt@Example.com; b@example.com,alt-id;"})
	z.AddMeeting("93333333333", zoomtest.Meeting{Webinar: true, Passcode: "w3b1nr", Approval: 1, EnforceLogin: true})
	z.AddMeeting("91234567890", zoomtest.Meeting{Approval: 2, HostID: "host-gone"})
	z.AddMeeting("94444444444", zoomtest.Meeting{Approval: 2, HostID: "deleted-user"})
	owner := &User{ID: zoomtest.OwnerID, Email: zoomtest.OwnerEmail, Active: true}

	var mu sync.Mutex
	kinds := map[string]int{}
	c, err := New(Config{AccountID: z.AccountID, ClientID: z.ClientID, ClientSecret: z.ClientSecret, OAuthURL: z.OAuthURL(), APIURL: z.APIURL(),
		OnFetch: func(kind string, _ error) { mu.Lock(); kinds[kind]++; mu.Unlock() }})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, id        string
		want            Details
		meetings, users int // lookups of the number, and of its host (user and settings each)
		host            string
	}{
		{"meeting with every setting", "85746065432", Details{Found: true, Status: "started", HostID: "host-web", HostEmail: "Web@Example.com",
			Passcode: "e3Rf9k-secret", ApprovalType: ptr(0), RegistrationType: 2, MeetingAuthentication: true, AuthenticationDomains: "example.com",
			JoinBeforeHost: true, EncryptionType: "e2ee", AlternativeHosts: []string{"alt@example.com", "b@example.com", "alt-id"},
			Host: &User{ID: "host-web", Email: "Web@Example.com", Active: true}, HostOnlyAuthenticatedFromWeb: true}, 1, 1, "host-web"},
		{"webinar of the owner", "93333333333", Details{Found: true, Webinar: true, Status: "waiting", HostID: zoomtest.OwnerID, HostEmail: zoomtest.OwnerEmail,
			Passcode: "w3b1nr", ApprovalType: ptr(1), RegistrationType: 1, EnforceLogin: true, EncryptionType: "enhanced_encryption", Host: owner}, 2, 1, zoomtest.OwnerID},
		{"inactive host", "91234567890", Details{Found: true, Status: "waiting", HostID: "host-gone", HostEmail: "gone@example.com",
			ApprovalType: ptr(2), RegistrationType: 1, EncryptionType: "enhanced_encryption", Host: &User{ID: "host-gone", Email: "gone@example.com"}}, 1, 1, "host-gone"},
		// A host Zoom does not know: no Host, and no settings asked for.
		{"unknown host", "94444444444", Details{Found: true, Status: "waiting", HostID: "deleted-user",
			ApprovalType: ptr(2), RegistrationType: 1, EncryptionType: "enhanced_encryption"}, 1, 0, "deleted-user"},
		{"not in the account", "99999999999", Details{}, 2, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := z.MeetingCalls(tc.id)
			got, perr := c.Details(context.Background(), tc.id)
			if perr != nil {
				t.Fatal(perr)
			}
			if !reflect.DeepEqual(untimed(got), tc.want) {
				t.Errorf("got  %v\nwant %v", untimed(got), tc.want)
			}
			if n := z.MeetingCalls(tc.id) - before; n != tc.meetings {
				t.Errorf("%d lookups of the number, want %d", n, tc.meetings)
			}
			if tc.host != "" && (z.UserCalls(tc.host) != 1 || z.SettingsCalls(tc.host) != tc.users) {
				t.Errorf("host: %d user and %d settings lookups, want 1 and %d", z.UserCalls(tc.host), z.SettingsCalls(tc.host), tc.users)
			}
			// Not cached: the doctor asks afresh.
			if _, perr := c.Details(context.Background(), tc.id); perr != nil || z.MeetingCalls(tc.id)-before != 2*tc.meetings {
				t.Errorf("again: %v, %d lookups, want %d", perr, z.MeetingCalls(tc.id)-before, 2*tc.meetings)
			}
		})
	}
	if kinds["doctor"] == 0 || kinds["meeting"] != 0 || kinds["oauth"] != 1 {
		t.Errorf("OnFetch saw %v; want doctor calls and one oauth", kinds)
	}
}

func TestUser(t *testing.T) {
	z := zoomtest.New("legacy@example.com")
	defer z.Close()
	z.AddAccountUser(zoomtest.AccountUser{ID: "u-1", Email: "Ann@Example.com", Inactive: true})
	c := newClient(t, z, nil)
	for _, tc := range []struct {
		ask   string
		want  User
		found bool
	}{
		{"u-1", User{ID: "u-1", Email: "Ann@Example.com"}, true},
		{"ann@example.com", User{ID: "u-1", Email: "Ann@Example.com"}, true},
		{zoomtest.OwnerEmail, User{ID: zoomtest.OwnerID, Email: zoomtest.OwnerEmail, Active: true}, true},
		{"nobody@example.com", User{}, false},
	} {
		u, found, missing, perr := c.User(context.Background(), tc.ask)
		if perr != nil || u != tc.want || found != tc.found || missing != nil {
			t.Errorf("%s: %+v %v %v %v; want %+v %v", tc.ask, u, found, missing, perr, tc.want, tc.found)
		}
	}
	// A user given to New by email alone is an active user with some ID.
	if u, found, _, perr := c.User(context.Background(), "legacy@example.com"); perr != nil || !found || !u.Active || u.ID == "" {
		t.Errorf("legacy user: %+v %v %v", u, found, perr)
	}
	z.DenyScope(ScopeUserRead, true)
	if u, found, missing, perr := c.User(context.Background(), "u-1"); perr != nil || found || u != (User{}) || !slices.Equal(missing, []string{ScopeUserRead}) {
		t.Errorf("scope denied: %+v %v %v %v", u, found, missing, perr)
	}
}

// Each missing scope is named, and the lookups that do not need it go on.
func TestDetailsMissingScopes(t *testing.T) {
	const mtg, web = "85746065432", "93333333333"
	for _, tc := range []struct {
		scope, id string
		check     func(Details) bool
	}{
		{ScopeMeetingRead, mtg, func(d Details) bool { return !d.Found && d.Host == nil }},
		{ScopeWebinarRead, web, func(d Details) bool { return !d.Found && d.Host == nil }},
		{ScopeUserRead, mtg, func(d Details) bool { return d.Found && d.Host == nil && d.HostOnlyAuthenticatedFromWeb }},
		{ScopeSettingsRead, mtg, func(d Details) bool {
			return d.Found && d.Host != nil && d.Host.Active && !d.HostOnlyAuthenticatedFromWeb
		}},
	} {
		t.Run(tc.scope, func(t *testing.T) {
			z := zoomtest.New()
			defer z.Close()
			z.AddAccountUser(zoomtest.AccountUser{ID: "h", Email: "h@example.com", OnlyAuthenticatedFromWebclient: true})
			z.AddMeeting(mtg, zoomtest.Meeting{Passcode: "p", Approval: 2, HostID: "h"})
			z.AddMeeting(web, zoomtest.Meeting{Webinar: true, Passcode: "p", Approval: 2, HostID: "h"})
			z.DenyScope(tc.scope, true)
			c := newClient(t, z, nil)
			d, perr := c.Details(context.Background(), tc.id)
			if perr != nil || !slices.Equal(d.MissingScopes, []string{tc.scope}) || !tc.check(d) {
				t.Errorf("%v %v", d, perr)
			}
			if tc.scope == ScopeMeetingRead && z.MeetingCalls(mtg) != 1 {
				t.Errorf("webinars asked after the meeting scope was missing: %d lookups", z.MeetingCalls(mtg))
			}
			// The other lookups are whole again once the scope is given.
			z.DenyScope(tc.scope, false)
			if d, perr := c.Details(context.Background(), tc.id); perr != nil || d.MissingScopes != nil || !d.Found || d.Host == nil || !d.HostOnlyAuthenticatedFromWeb {
				t.Errorf("scope given back: %v %v", d, perr)
			}
		})
	}
	t.Run(ScopeZAK, func(t *testing.T) {
		z := zoomtest.New()
		defer z.Close()
		z.AddMeeting(mtg, zoomtest.Meeting{Approval: 2})
		z.DenyScope(ScopeZAK, true)
		c := newClient(t, z, nil)
		if d, perr := c.Details(context.Background(), mtg); perr != nil || d.MissingScopes != nil || d.Host == nil {
			t.Errorf("details without the ZAK scope: %v %v", d, perr)
		}
		if _, perr := c.ZAK(context.Background(), zoomtest.OwnerID); perr == nil || !strings.Contains(perr.Reason(), "Zoom code 4711") {
			t.Errorf("ZAK without its scope: %v", perr)
		}
	})
}

func TestDetailsOAuth(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(*zoomtest.Server)
		code  string
		fault problem.Fault
	}{
		{"credentials refused", func(z *zoomtest.Server) { z.RejectCredentials(true) }, CodeOAuthRefused, problem.Config},
		{"wrong account", nil, CodeOAuthRefused, problem.Config}, // 400 invalid_request
		{"OAuth server down", func(z *zoomtest.Server) { z.FailOAuth(true) }, CodeOAuth, problem.Zoom},
		{"API down", func(z *zoomtest.Server) { z.FailAPI(true) }, CodeAPIAnswer, problem.Zoom},
	} {
		t.Run(tc.name, func(t *testing.T) {
			z := zoomtest.New()
			defer z.Close()
			z.AddMeeting("85746065432", zoomtest.Meeting{Approval: 2})
			cfg := Config{AccountID: z.AccountID, ClientID: z.ClientID, ClientSecret: z.ClientSecret, OAuthURL: z.OAuthURL(), APIURL: z.APIURL()}
			if tc.setup != nil {
				tc.setup(z)
			} else {
				cfg.AccountID = "acct-wrong"
			}
			c, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if d, perr := c.Details(context.Background(), "85746065432"); perr.Code() != tc.code || perr.Fault != tc.fault || d.Found {
				t.Errorf("%v %v; want %s (%s)", d, perr, tc.code, tc.fault)
			}
		})
	}
	// The existing callers keep their code for a refusal.
	z := zoomtest.New("host@example.com")
	defer z.Close()
	z.RejectCredentials(true)
	if _, perr := newClient(t, z, nil).ZAK(context.Background(), "host@example.com"); perr.Code() != CodeOAuth {
		t.Errorf("ZAK with refused credentials: %v", perr)
	}
	// An access token revoked early: one fresh token, one retry.
	z.RejectCredentials(false)
	c := newClient(t, z, nil)
	if _, perr := c.Details(context.Background(), "85746065432"); perr != nil {
		t.Fatal(perr)
	}
	z.ExpireTokens()
	oauth := z.OAuthCalls.Load()
	if _, perr := c.Details(context.Background(), "85746065432"); perr != nil || z.OAuthCalls.Load() != oauth+1 {
		t.Errorf("after revocation: %v, %d OAuth calls, want 1", perr, z.OAuthCalls.Load()-oauth)
	}
}

func TestDetailsClock(t *testing.T) {
	z := zoomtest.New()
	defer z.Close()
	c := newClient(t, z, nil)
	for _, off := range []time.Duration{0, 2 * time.Minute, -90 * time.Second} {
		z.ClockOffset(off)
		d, perr := c.Details(context.Background(), "99999999999")
		if perr != nil || d.ZoomTime.IsZero() || d.Sent.After(d.Received) {
			t.Fatalf("%v: %v %v", off, d, perr)
		}
		// A Date has whole seconds: Zoom's time lies within the round
		// trip, shifted by the offset, less up to a second.
		if skew := d.ZoomTime.Sub(d.Received); skew < off-2*time.Second || skew > off+2*time.Second {
			t.Errorf("offset %v: Zoom's time is %v after ours", off, skew)
		}
	}
}

// The passcode is a secret: no error and no %v of Details shows it.
func TestDetailsPasscodeNeverShown(t *testing.T) {
	const pass = "pass-SECRET-42"
	z := zoomtest.New()
	defer z.Close()
	z.Echo(true)
	z.AddMeeting("85746065432", zoomtest.Meeting{Passcode: pass, Approval: 2})
	c := newClient(t, z, nil)
	d, perr := c.Details(context.Background(), "85746065432")
	if perr != nil || d.Passcode != pass {
		t.Fatalf("%v %v", d, perr)
	}
	shown := []string{d.String(), fmt.Sprint(d), fmt.Sprintf("%+v", d), fmt.Sprintf("%#v", d), fmt.Sprintf("%v", &d)}
	for _, setup := range []func(){
		func() { z.RateLimit(5) },
		func() { z.RateLimit(0); z.FailAPI(true) },
		func() { z.FailAPI(false); z.ExpireTokens(); z.RejectCredentials(true) },
		func() { z.RejectCredentials(false); z.FailOAuth(true) },
	} {
		setup()
		c := newClient(t, z, nil)
		if _, perr := c.Details(context.Background(), "85746065432"); perr != nil {
			shown = append(shown, perr.Error())
		} else {
			t.Error("no error to scan")
		}
	}
	for _, s := range shown {
		if strings.Contains(s, pass) {
			t.Errorf("the passcode shows in %q", s)
		}
		for _, tok := range z.AccessTokens() {
			if strings.Contains(s, tok) {
				t.Errorf("an access token shows in %q", s)
			}
		}
	}
}
