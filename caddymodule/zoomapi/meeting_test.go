package zoomapi

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"

	"github.com/zoomsig/caddy-zoom-signature/caddymodule/problem"
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/state"
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/zoomapi/zoomtest"
)

func TestMeetingLookup(t *testing.T) {
	z := zoomtest.New()
	defer z.Close()
	z.AddMeeting("85746065432", zoomtest.Meeting{Passcode: "e3Rf9k", Approval: 2})
	z.AddMeeting("91234567890", zoomtest.Meeting{Passcode: "reg-pass", Approval: 0})
	z.AddMeeting("93333333333", zoomtest.Meeting{Webinar: true, Passcode: "web-pass", Approval: 1})
	now := time.Unix(1_800_000_000, 0)
	c := newClient(t, z, &now)
	for _, tc := range []struct {
		id    string
		want  MeetingInfo
		calls int // meetings, then webinars
	}{
		{"85746065432", MeetingInfo{InAccount: true, Passcode: "e3Rf9k"}, 1},
		{"91234567890", MeetingInfo{InAccount: true, Passcode: "reg-pass", RegistrationRequired: true}, 1},
		{"93333333333", MeetingInfo{InAccount: true, Webinar: true, Passcode: "web-pass", RegistrationRequired: true, ManualApproval: true}, 2},
		{"99999999999", MeetingInfo{InAccount: false}, 2}, // 3001 twice: outside the account
	} {
		got, err := c.Meeting(context.Background(), tc.id)
		if err != nil || got != tc.want || z.MeetingCalls(tc.id) != tc.calls {
			t.Errorf("%s: %+v %v, %d calls; want %+v, %d", tc.id, got, err, z.MeetingCalls(tc.id), tc.want, tc.calls)
		}
		// Kept: a second lookup asks Zoom nothing.
		if again, _ := c.Meeting(context.Background(), tc.id); again != tc.want || z.MeetingCalls(tc.id) != tc.calls {
			t.Errorf("%s again: %+v, %d calls", tc.id, again, z.MeetingCalls(tc.id))
		}
	}
	// Until the TTL ends.
	now = now.Add(DefaultMeetingTTL)
	c.Meeting(context.Background(), "85746065432")
	if n := z.MeetingCalls("85746065432"); n != 2 {
		t.Errorf("after the TTL: %d calls, want 2", n)
	}
}

func TestMeetingLookupFailures(t *testing.T) {
	z := zoomtest.New()
	defer z.Close()
	z.Echo(true)
	now := time.Unix(1_800_000_000, 0)
	c := newClient(t, z, &now)
	if _, err := c.Meeting(context.Background(), "not-a-number"); err.Code() != CodeMeetingInvalid || err.Fault != problem.Client || !strings.Contains(err.Reason(), "Zoom code 300") {
		t.Errorf("invalid number: %v", err)
	}
	z.RateLimit(30)
	if _, err := c.Meeting(context.Background(), "85746065432"); err.Code() != CodeMeetingRateLimited {
		t.Fatalf("429: %v", err)
	}
	z.RateLimit(0)
	calls := z.MeetingCalls("85746065432")
	now = now.Add(10 * time.Second) // still held
	if _, err := c.Meeting(context.Background(), "85746065432"); err.Code() != CodeMeetingRateLimited || z.MeetingCalls("85746065432") != calls {
		t.Fatalf("held: %v, %d more calls", err, z.MeetingCalls("85746065432")-calls)
	}
	// An access token revoked early: one fresh token, one retry.
	now = now.Add(time.Minute)
	z.ExpireTokens()
	oauth := z.OAuthCalls.Load()
	if got, err := c.Meeting(context.Background(), "85746065432"); err != nil || got.InAccount {
		t.Fatalf("after revocation: %+v %v", got, err)
	}
	if z.OAuthCalls.Load() != oauth+1 {
		t.Fatalf("%d OAuth calls for the retry, want 1", z.OAuthCalls.Load()-oauth)
	}
}

// Through a Shared cache, lookups are kept for every instance and the
// passcode is sealed in the storage folder.
func TestMeetingLookupShared(t *testing.T) {
	z := zoomtest.New()
	defer z.Close()
	z.AddMeeting("85746065432", zoomtest.Meeting{Passcode: "pass-in-the-clear?", Approval: 2})
	dir := t.TempDir()
	key := make([]byte, 32)
	seal, _ := state.NewSealer(key)
	clients := make([]*Client, 2)
	for i := range clients {
		c, err := New(Config{AccountID: z.AccountID, ClientID: z.ClientID, ClientSecret: z.ClientSecret, OAuthURL: z.OAuthURL(), APIURL: z.APIURL(),
			Cache: state.NewShared(&certmagic.FileStorage{Path: dir}, seal, "zoom_signature/state", nil)})
		if err != nil {
			t.Fatal(err)
		}
		clients[i] = c
	}
	for _, c := range clients {
		if got, err := c.Meeting(context.Background(), "85746065432"); err != nil || got.Passcode != "pass-in-the-clear?" {
			t.Fatalf("%+v %v", got, err)
		}
	}
	if n := z.MeetingCalls("85746065432"); n != 1 {
		t.Fatalf("%d lookups for two instances, want 1", n)
	}
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if b, _ := os.ReadFile(p); strings.Contains(string(b), "pass-in-the-clear") {
				t.Errorf("%s holds the passcode in plaintext", p)
			}
		}
		return nil
	})
}

// TestMeetingInvalidKept: Zoom's refusal of a number (code 300) is kept
// for InvalidTTL, in memory and in a shared storage alike, so a visitor
// repeating a garbage number does not spend the account's API limits.
func TestMeetingInvalidKept(t *testing.T) {
	for _, shared := range []bool{false, true} {
		z := zoomtest.New()
		defer z.Close()
		now := time.Unix(1_800_000_000, 0)
		var cache state.Cache = state.NewMemory(func() time.Time { return now }, 0)
		if shared {
			seal, _ := state.NewSealer(make([]byte, 32))
			cache = state.NewShared(&certmagic.FileStorage{Path: t.TempDir()}, seal, "zoom_signature/state", func() time.Time { return now })
		}
		limited := 0
		c, err := New(Config{AccountID: z.AccountID, ClientID: z.ClientID, ClientSecret: z.ClientSecret, OAuthURL: z.OAuthURL(), APIURL: z.APIURL(),
			Now: func() time.Time { return now }, Cache: cache,
			LookupLimit: func(context.Context, string) *problem.Error { limited++; return nil }})
		if err != nil {
			t.Fatal(err)
		}
		for i := range 20 {
			if _, perr := c.Meeting(context.Background(), "12345x"); perr.Code() != CodeMeetingInvalid || perr.Fault != problem.Client || !strings.Contains(perr.Reason(), "Zoom code 300") {
				t.Fatalf("shared %v, lookup %d: %v", shared, i, perr)
			}
		}
		if n := z.MeetingCalls("12345x"); n != 1 || limited != 1 {
			t.Fatalf("shared %v: %d lookups at Zoom and %d counted against the limit for 20 joins, want 1 and 1", shared, n, limited)
		}
		now = now.Add(InvalidTTL)
		if _, perr := c.Meeting(context.Background(), "12345x"); perr.Code() != CodeMeetingInvalid || z.MeetingCalls("12345x") != 2 {
			t.Fatalf("shared %v, after InvalidTTL: %v, %d lookups", shared, perr, z.MeetingCalls("12345x"))
		}
	}
}
