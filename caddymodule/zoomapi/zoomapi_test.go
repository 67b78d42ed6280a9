package zoomapi

import (
	"net/http"

	"github.com/zoomsig/caddy-zoom-signature/caddymodule/problem"

	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zoomsig/caddy-zoom-signature/caddymodule/zoomapi/zoomtest"
)

func newClient(t *testing.T, z *zoomtest.Server, now *time.Time) *Client {
	t.Helper()
	cfg := Config{AccountID: z.AccountID, ClientID: z.ClientID, ClientSecret: z.ClientSecret, OAuthURL: z.OAuthURL(), APIURL: z.APIURL()}
	if now != nil {
		cfg.Now = func() time.Time { return *now }
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestZAKCachedPerUser(t *testing.T) {
	z := zoomtest.New("host@example.com", "other@example.com")
	defer z.Close()
	now := time.Unix(1795000000, 0)
	c := newClient(t, z, &now)

	var wg sync.WaitGroup
	got := make([]string, 200)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			zak, err := c.ZAK(context.Background(), "host@example.com")
			if err != nil {
				t.Error(err)
			}
			got[i] = zak
		}()
	}
	wg.Wait()
	if z.OAuthCalls.Load() != 1 || z.ZAKCalls("host@example.com") != 1 {
		t.Fatalf("200 concurrent requests: %d OAuth and %d ZAK calls", z.OAuthCalls.Load(), z.ZAKCalls("host@example.com"))
	}
	for _, zak := range got {
		if zak == "" || zak != z.LastZAK("host@example.com") {
			t.Fatalf("wrong ZAK %q", zak)
		}
	}
	// Another user: one more ZAK call, the same access token.
	if _, err := c.ZAK(context.Background(), "other@example.com"); err != nil {
		t.Fatal(err)
	}
	if z.OAuthCalls.Load() != 1 || z.ZAKCalls("other@example.com") != 1 {
		t.Fatal("second user refetched the access token")
	}
	// Shortly before the 2h lifetime ends, the ZAK is fetched anew.
	now = now.Add(2*time.Hour - 5*time.Minute)
	if _, err := c.ZAK(context.Background(), "host@example.com"); err != nil {
		t.Fatal(err)
	}
	if z.ZAKCalls("host@example.com") != 2 {
		t.Fatalf("ZAK not refreshed before expiry: %d calls", z.ZAKCalls("host@example.com"))
	}
}

func TestExpiredAccessTokenIsRefreshedOnce(t *testing.T) {
	z := zoomtest.New("host@example.com", "b@example.com")
	defer z.Close()
	c := newClient(t, z, nil)
	if _, err := c.ZAK(context.Background(), "host@example.com"); err != nil {
		t.Fatal(err)
	}
	z.ExpireTokens()
	if _, err := c.ZAK(context.Background(), "b@example.com"); err != nil {
		t.Fatalf("after the token expired: %v", err)
	}
	if n := z.OAuthCalls.Load(); n != 2 {
		t.Fatalf("%d OAuth calls, want 2", n)
	}
	if n := z.ZAKCalls("b@example.com"); n != 2 {
		t.Fatalf("%d ZAK calls, want the failed one and the retry", n)
	}
}

func TestErrors(t *testing.T) {
	z := zoomtest.New("host@example.com")
	defer z.Close()
	now := time.Unix(1795000000, 0)
	c := newClient(t, z, &now)

	_, err := c.ZAK(context.Background(), "nobody@example.com")
	if err == nil || err.Code() != CodeUserNotFound || !strings.Contains(err.Reason(), "nobody@example.com") {
		t.Fatalf("unknown user: %v", err)
	}
	// Zoom's code reaches the reason, its text does not.
	if err.Fault != problem.Zoom || !strings.Contains(err.Reason(), "Zoom code 1001") || strings.Contains(err.Reason(), "does not exist") {
		t.Fatalf("unknown user: fault %s, reason %q", err.Fault, err.Reason())
	}

	z.RateLimit(7)
	if _, err = c.ZAK(context.Background(), "host@example.com"); err == nil || err.Code() != CodeRateLimited {
		t.Fatalf("429: %v", err)
	}
	z.RateLimit(0)
	calls := z.ZAKCalls("host@example.com")
	now = now.Add(5 * time.Second) // still inside Retry-After: no call to Zoom
	if _, err = c.ZAK(context.Background(), "host@example.com"); err == nil || err.Code() != CodeRateLimited || z.ZAKCalls("host@example.com") != calls {
		t.Fatalf("inside Retry-After: %v, %d calls", err, z.ZAKCalls("host@example.com")-calls)
	}
	now = now.Add(3 * time.Second)
	if _, err = c.ZAK(context.Background(), "host@example.com"); err != nil {
		t.Fatalf("after Retry-After: %v", err)
	}

	bad, _ := New(Config{AccountID: z.AccountID, ClientID: z.ClientID, ClientSecret: "wrong", OAuthURL: z.OAuthURL(), APIURL: z.APIURL()})
	_, err = bad.ZAK(context.Background(), "host@example.com")
	if err == nil || err.Code() != CodeOAuth || !strings.Contains(err.Reason(), "401") {
		t.Fatalf("bad client secret: %v", err)
	}
	if strings.Contains(err.Reason(), "wrong") {
		t.Fatal("the reason echoes the client secret")
	}

	down := zoomtest.New("host@example.com")
	down.Close()
	c2 := newClient(t, down, nil)
	if _, err = c2.ZAK(context.Background(), "host@example.com"); err == nil || err.Code() != CodeOAuth {
		t.Fatalf("OAuth unreachable: %v", err)
	}

	z.FailOAuth(true)
	c3 := newClient(t, z, nil)
	if _, err = c3.ZAK(context.Background(), "host@example.com"); err == nil || err.Code() != CodeOAuth || !strings.Contains(err.Reason(), "500") {
		t.Fatalf("OAuth 500: %v", err)
	}
	z.FailOAuth(false)
	if _, err = c3.ZAK(context.Background(), "host@example.com"); err != nil {
		t.Fatalf("OAuth recovered: %v", err)
	}
}

func TestConfig(t *testing.T) {
	if _, err := New(Config{ClientID: "x", ClientSecret: "y"}); err == nil {
		t.Fatal("missing account_id accepted")
	}
	if _, err := New(Config{AccountID: "a", ClientID: "x", ClientSecret: "y", ZAKLifetime: time.Minute}); err == nil {
		t.Fatal("margin longer than the lifetime accepted")
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name string
		h    http.Header
		want time.Duration
	}{
		{"seconds", http.Header{"Retry-After": {"7"}}, 7 * time.Second},
		{"HTTP date (daily limit)", http.Header{"Retry-After": {"Wed, 02 Dec 2026 00:00:00 GMT"}}, 14 * time.Hour},
		{"unix reset (per-second limit)", http.Header{"X-Ratelimit-Reset": {"1796119203"}}, 3 * time.Second},
		{"unix reset in milliseconds", http.Header{"X-Ratelimit-Reset": {"1796119203000"}}, 3 * time.Second},
		{"both: Retry-After wins", http.Header{"Retry-After": {"5"}, "X-Ratelimit-Reset": {"1796119260"}}, 5 * time.Second},
		{"absurd seconds are capped", http.Header{"Retry-After": {"99999999999"}}, MaxHold},
		{"a date years away is capped", http.Header{"Retry-After": {"Fri, 01 Dec 2045 00:00:00 GMT"}}, MaxHold},
		{"now is no wait", http.Header{"X-Ratelimit-Reset": {"1796119200"}, "Retry-After": {"0"}}, 0},
		{"a past date", http.Header{"Retry-After": {"Mon, 30 Nov 2026 00:00:00 GMT"}}, 0},
		{"garbage", http.Header{"Retry-After": {"soon"}}, 0},
		{"none", http.Header{}, 0},
	} {
		if got := RetryAfter(c.h, now); got != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}
	if now.Unix() != 1796119200 {
		t.Fatalf("the test's clock is %d", now.Unix())
	}
}
