package connect

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"

	"github.com/zoomsig/caddy-zoom-signature/caddymodule/state"
)

// TestFront: a warm join reads no grant from the storage; a disconnect by
// another instance is seen within GrantRecheck even when Zoom still
// honours the token; a disconnect through a Manager that shares the front
// is seen at once.
func TestFront(t *testing.T) {
	z := newFake(t)
	dir := t.TempDir()
	var mu sync.Mutex
	clock := time.Now()
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	advance := func(d time.Duration) { mu.Lock(); clock = clock.Add(d); mu.Unlock() }
	seal, err := state.NewSealer(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	manager := func(f *Front) *Manager {
		m, err := New(Config{
			ClientID: z.App.ClientID, ClientSecret: z.App.ClientSecret, RedirectURL: redirect,
			AuthorizeURL: z.AuthorizeURL(), TokenURL: z.OAuthURL(), APIURL: z.APIURL(),
			Storage: &certmagic.FileStorage{Path: dir}, Sealer: seal, ConnectURL: "/zoom/connect/start",
			Now: now, Front: f,
		})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	shared := NewFront()
	a, b, other := manager(shared), manager(shared), manager(nil) // a and b: one process; other: another instance
	ctx := context.Background()
	z.AuthorizeAs("zu-alice")
	connect(t, a, "alice")
	if _, perr := other.OBF(ctx, "alice", "81111111111"); perr != nil {
		t.Fatal(perr)
	}
	if _, perr := b.OBF(ctx, "alice", "81111111112"); perr != nil {
		t.Fatal(perr)
	}
	// A warm join is served from the front: the storage may be gone.
	if err := a.rec.Delete(ctx, a.name("alice")); err != nil {
		t.Fatal(err)
	}
	if _, perr := other.access(ctx, "alice", ""); perr != nil {
		t.Fatalf("within %s: %v", GrantRecheck, perr)
	}
	// A disconnect elsewhere whose revoke did not reach Zoom (the token
	// still works there) is seen once GrantRecheck has passed.
	advance(GrantRecheck)
	if _, perr := other.OBF(ctx, "alice", "81111111111"); perr == nil || perr.Code() != CodeNotConnected {
		t.Fatalf("after %s: %v", GrantRecheck, perr)
	}
	// A disconnect through a, which shares b's front, is seen by b at once.
	connect(t, a, "alice")
	if _, perr := b.access(ctx, "alice", ""); perr != nil {
		t.Fatal(perr)
	}
	if gone, perr := a.Disconnect(ctx, "alice"); !gone || perr != nil {
		t.Fatalf("disconnect: %v %v", gone, perr)
	}
	if _, perr := b.access(ctx, "alice", ""); perr == nil || perr.Code() != CodeNotConnected {
		t.Fatalf("b after a's disconnect: %v", perr)
	}
}

// TestFrontBounded: the front keeps at most frontMax users, and a read
// that began before a drop is not kept.
func TestFrontBounded(t *testing.T) {
	f := NewFront()
	now := time.Now()
	for i := range frontMax + 10 {
		f.put(Grant{SiteUser: string(rune(i))}, now, f.epoch())
	}
	if len(f.m) > frontMax {
		t.Fatalf("%d users kept", len(f.m))
	}
	epoch := f.epoch()
	f.forget("alice")
	f.put(Grant{SiteUser: "alice"}, now, epoch)
	if _, ok := f.get("alice", now); ok {
		t.Fatal("a read from before the drop was kept")
	}
}
