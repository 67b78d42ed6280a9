package zoomapi

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/zoomsig/caddy-zoom-signature/caddymodule/zoomapi/zoomtest"
)

func TestRegister(t *testing.T) {
	z := zoomtest.New()
	defer z.Close()
	z.AddMeeting("91234567890", zoomtest.Meeting{Approval: 0, Start: "2027-01-05T15:00:00Z", Duration: 60})
	z.AddMeeting("93333333333", zoomtest.Meeting{Webinar: true, Approval: 0})
	z.AddMeeting("94444444444", zoomtest.Meeting{Approval: 0, Capacity: 1})
	z.AddMeeting("95555555555", zoomtest.Meeting{Approval: 0, Closed: true})
	z.AddMeeting("97777777777", zoomtest.Meeting{Approval: 0, NotHost: true})
	now := time.Date(2027, 1, 5, 14, 0, 0, 0, time.UTC)
	c := newClient(t, z, &now)
	ctx := context.Background()
	alice := Registrant{Email: "Alice@example.com"}

	info, err := c.Meeting(ctx, "91234567890")
	if err != nil || !info.RegistrationRequired || info.Ends != time.Date(2027, 1, 5, 16, 0, 0, 0, time.UTC).Unix() {
		t.Fatalf("lookup: %+v %v", info, err)
	}
	tk, err := c.Register(ctx, "91234567890", info, alice)
	if err != nil || tk == "" || tk != z.Registrant("91234567890", "alice@example.com") {
		t.Fatalf("register: %q %v (the fake issued %q)", tk, err, z.Registrant("91234567890", "alice@example.com"))
	}
	// The same user again, in another case: the kept tk, no registration.
	again, err := c.Register(ctx, "91234567890", info, Registrant{Email: "alice@EXAMPLE.com"})
	if err != nil || again != tk || z.RegistrantCalls("91234567890", "alice@example.com") != 1 {
		t.Fatalf("second join: %q %v, %d registrations", again, err, z.RegistrantCalls("91234567890", "alice@example.com"))
	}
	// Kept until a day after the meeting ends, then registered again
	// (Zoom answers with the same tk).
	now = now.Add(2*time.Hour + 23*time.Hour)
	if _, err := c.Register(ctx, "91234567890", info, alice); err != nil || z.RegistrantCalls("91234567890", "alice@example.com") != 1 {
		t.Fatalf("within the day after: %v, %d registrations", err, z.RegistrantCalls("91234567890", "alice@example.com"))
	}
	now = now.Add(2 * time.Hour)
	if tk2, err := c.Register(ctx, "91234567890", info, alice); err != nil || tk2 != tk || z.RegistrantCalls("91234567890", "alice@example.com") != 2 {
		t.Fatalf("after it: %q %v, %d registrations", tk2, err, z.RegistrantCalls("91234567890", "alice@example.com"))
	}

	// A webinar registers at /webinars.
	winfo, _ := c.Meeting(ctx, "93333333333")
	if tk, err := c.Register(ctx, "93333333333", winfo, alice); err != nil || tk != z.Registrant("93333333333", "alice@example.com") {
		t.Fatalf("webinar: %q %v", tk, err)
	}

	for _, tc := range []struct {
		id, email, code string
	}{
		{"95555555555", "alice@example.com", CodeRegistrationClosed},
		{"96666666666", "alice@example.com", CodeRegistrationGone}, // not the account's
		{"97777777777", "alice@example.com", CodeRegistrationNotAllowed},
	} {
		_, err := c.Register(ctx, tc.id, MeetingInfo{InAccount: true}, Registrant{Email: tc.email})
		if err == nil || err.Code() != tc.code || strings.Contains(err.Reason(), "Registration has") || strings.Contains(err.Reason(), "does not exist") {
			t.Errorf("%s: %v, want %s in our words", tc.id, err, tc.code)
		}
	}
	// Full: the first registrant fits, the second does not.
	if _, err := c.Register(ctx, "94444444444", MeetingInfo{InAccount: true}, Registrant{Email: "a@example.com"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Register(ctx, "94444444444", MeetingInfo{InAccount: true}, Registrant{Email: "b@example.com"}); err == nil || err.Code() != CodeRegistrationFull {
		t.Fatalf("full: %v", err)
	}
}

// TestRegisterRateLimited: Zoom's 429 holds that user and meeting until
// its reset, without asking Zoom again, and no other user.
func TestRegisterRateLimited(t *testing.T) {
	z := zoomtest.New()
	defer z.Close()
	z.AddMeeting("91234567890", zoomtest.Meeting{Approval: 0})
	now := time.Unix(1_800_000_000, 0)
	c := newClient(t, z, &now)
	ctx := context.Background()
	info := MeetingInfo{InAccount: true, RegistrationRequired: true}
	z.RateLimit(120)
	_, err := c.Register(ctx, "91234567890", info, Registrant{Email: "bob@example.com"})
	if err == nil || err.Code() != CodeRegistrantRateLimited || strings.Contains(err.Reason(), "exceeded") {
		t.Fatalf("429: %v", err)
	}
	z.RateLimit(0)
	if _, err := c.Register(ctx, "91234567890", info, Registrant{Email: "bob@example.com"}); err == nil || err.Code() != CodeRegistrantRateLimited || z.RegistrantCalls("91234567890", "bob@example.com") != 1 {
		t.Fatalf("held: %v, %d calls", err, z.RegistrantCalls("91234567890", "bob@example.com"))
	}
	if _, err := c.Register(ctx, "91234567890", info, Registrant{Email: "carol@example.com"}); err != nil {
		t.Fatalf("another user is not held: %v", err)
	}
	now = now.Add(121 * time.Second)
	if _, err := c.Register(ctx, "91234567890", info, Registrant{Email: "bob@example.com"}); err != nil {
		t.Fatalf("after the hold: %v", err)
	}
}
