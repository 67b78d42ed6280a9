package state

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"
)

// TestLimiterCluster: three instances on one storage allow at most n
// events of a key per window together, once they have listed each other,
// and the window slides.
func TestLimiterCluster(t *testing.T) {
	dir := t.TempDir()
	seal, _ := NewSealer(key32(t))
	var mu sync.Mutex
	now := time.Unix(1_900_000_000, 0)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	store := &certmagic.FileStorage{Path: dir}
	var lims []*Limiter
	for _, id := range []string{"a", "b", "c"} {
		rec := NewRecords(store, seal, RecordsConfig{Now: clock, MaxAge: map[string]time.Duration{"limits": 2 * time.Minute},
			Modified: func(ctx context.Context, key string) (time.Time, error) {
				info, err := store.Stat(ctx, key)
				return info.Modified, err
			}})
		lims = append(lims, NewLimiter(rec, id))
	}
	ctx := context.Background()
	for _, l := range lims { // each announces itself
		l.Allow(ctx, "warm", 100, time.Minute)
	}
	advance(PeerEvery + time.Second)
	allowed := 0
	for i := range 21 {
		if ok, err := lims[i%3].Allow(ctx, "k", 6, time.Minute); err != nil {
			t.Fatal(err)
		} else if ok {
			allowed++
		}
	}
	if allowed != 6 {
		t.Fatalf("%d of 21 allowed on three instances, want 6", allowed)
	}
	advance(time.Minute + time.Second)
	if ok, _ := lims[1].Allow(ctx, "k", 6, time.Minute); !ok {
		t.Fatal("the window did not slide")
	}
}
