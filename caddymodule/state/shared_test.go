package state

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"
)

func key32(t *testing.T) []byte {
	t.Helper()
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

func TestSealer(t *testing.T) {
	oldKey, newKey := key32(t), key32(t)
	old, _ := NewSealer(oldKey)
	sealed, err := old.Seal("state/a", []byte("the-zak"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("the-zak")) {
		t.Fatal("the value is in the sealed record")
	}
	// Rotation: the new key seals, the old one still opens.
	ring, _ := NewSealer(newKey, oldKey)
	if v, err := ring.Open("state/a", sealed); err != nil || string(v) != "the-zak" {
		t.Fatalf("rotated ring: %q %v", v, err)
	}
	resealed, _ := ring.Seal("state/a", []byte("x"))
	if _, err := old.Open("state/a", resealed); !errors.Is(err, ErrUnsealable) {
		t.Fatalf("the old ring opened a record of the new key: %v", err)
	}
	// A record moved to another name, altered, or sealed by a stranger.
	if _, err := ring.Open("state/b", sealed); !errors.Is(err, ErrUnsealable) {
		t.Fatalf("moved record: %v", err)
	}
	altered := bytes.Clone(sealed)
	altered[len(altered)-1] ^= 1
	if _, err := ring.Open("state/a", altered); !errors.Is(err, ErrUnsealable) {
		t.Fatalf("altered record: %v", err)
	}
	stranger, _ := NewSealer(key32(t))
	if _, err := stranger.Open("state/a", sealed); !errors.Is(err, ErrUnsealable) {
		t.Fatalf("another ring: %v", err)
	}
	for _, bad := range [][]byte{nil, []byte("zs1"), []byte("plain text")} {
		if _, err := ring.Open("state/a", bad); !errors.Is(err, ErrUnsealable) {
			t.Fatalf("Open(%q): %v", bad, err)
		}
	}
	if _, err := NewSealer([]byte("short")); err == nil {
		t.Fatal("a 5-byte key was taken")
	}
}

// Two instances on one storage folder, as two Caddy processes with a shared
// file_system storage are.
func sharedPair(t *testing.T, now func() time.Time) (a, b *Shared, dir string) {
	t.Helper()
	dir = t.TempDir()
	seal, _ := NewSealer(key32(t))
	a = NewShared(&certmagic.FileStorage{Path: dir}, seal, "zoom_signature/state", now)
	b = NewShared(&certmagic.FileStorage{Path: dir}, seal, "zoom_signature/state", now)
	return a, b, dir
}

func TestSharedAcrossInstances(t *testing.T) {
	a, b, dir := sharedPair(t, nil)
	calls := 0
	fetch := func(context.Context) ([]byte, time.Duration, error) {
		calls++
		return []byte("zak-for-alice@example.com"), time.Hour, nil
	}
	for _, c := range []*Shared{a, b, a} {
		if v, err := c.Load(context.Background(), "zak/alice@example.com", fetch); err != nil || string(v) != "zak-for-alice@example.com" {
			t.Fatalf("%q %v", v, err)
		}
	}
	if calls != 1 {
		t.Fatalf("%d fetches across two instances, want 1", calls)
	}
	// Nothing in the folder is plaintext: not the value, not the key.
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			data, _ := os.ReadFile(p)
			if bytes.Contains(data, []byte("zak-for-alice")) || bytes.Contains([]byte(p+string(data)), []byte("alice@example.com")) {
				t.Errorf("%s holds the value or the key in plaintext", p)
			}
		}
		return nil
	})
	// A hold set by one instance holds the other.
	b.Hold("zak/bob", time.Now().Add(time.Minute))
	if _, err := a.Load(context.Background(), "zak/bob", fetch); !errors.As(err, new(*HeldError)) {
		t.Fatalf("the other instance ignored the hold: %v", err)
	}
	a.Delete("zak/alice@example.com")
	if _, err := b.Load(context.Background(), "zak/alice@example.com", fetch); err != nil || calls != 2 {
		t.Fatalf("after Delete: %v, %d fetches", err, calls)
	}
}

func TestSharedExpiry(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	a, _, _ := sharedPair(t, func() time.Time { return now })
	n := 0
	fetch := func(context.Context) ([]byte, time.Duration, error) {
		n++
		return []byte{byte('0' + n)}, time.Minute, nil
	}
	a.Load(context.Background(), "k", fetch)
	now = now.Add(time.Minute)
	if v, _ := a.Load(context.Background(), "k", fetch); string(v) != "2" {
		t.Fatalf("an expired value was served: %q", v)
	}
}

// Concurrent loads on two instances cost one fetch: the storage lock, then
// a second read under it.
func TestSharedOneFetchForTheCluster(t *testing.T) {
	a, b, _ := sharedPair(t, nil)
	var calls atomic.Int32
	fetch := func(context.Context) ([]byte, time.Duration, error) {
		calls.Add(1)
		time.Sleep(50 * time.Millisecond) // a slow Zoom, so that the others pile up
		return []byte("v"), time.Hour, nil
	}
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := a
			if i%2 == 1 {
				c = b
			}
			if v, err := c.Load(context.Background(), "k", fetch); err != nil || string(v) != "v" {
				t.Errorf("%q %v", v, err)
			}
		}()
	}
	wg.Wait()
	if n := calls.Load(); n != 1 {
		t.Fatalf("%d fetches for 20 loads on two instances, want 1", n)
	}
}

func TestSharedUnreadableRecordIsRefetched(t *testing.T) {
	a, _, dir := sharedPair(t, nil)
	fetch := func(context.Context) ([]byte, time.Duration, error) { return []byte("v"), time.Hour, nil }
	a.Load(context.Background(), "k", fetch)
	// Another key ring's instance: it cannot open the record, fetches and
	// overwrites it.
	other, _ := NewSealer(key32(t))
	c := NewShared(&certmagic.FileStorage{Path: dir}, other, "zoom_signature/state", nil)
	if v, err := c.Load(context.Background(), "k", func(context.Context) ([]byte, time.Duration, error) { return []byte("w"), time.Hour, nil }); err != nil || string(v) != "w" {
		t.Fatalf("%q %v", v, err)
	}
}
