package state

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"
)

// gated is a storage that counts the calls reaching it, and can be made
// to fail them or to hold them until released.
type gated struct {
	next          Storage
	stores, loads atomic.Int64
	fail          atomic.Bool
	mu            sync.Mutex
	held          chan struct{} // while not nil, Store and Load wait for it to close
}

var errFailing = errors.New("the storage is failing (test)")

func (g *gated) wait(ctx context.Context) error {
	g.mu.Lock()
	held := g.held
	g.mu.Unlock()
	if held != nil {
		select {
		case <-held:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if g.fail.Load() {
		return errFailing
	}
	return nil
}

// hold makes Store and Load wait until the returned release is called.
func (g *gated) hold() (release func()) {
	ch := make(chan struct{})
	g.mu.Lock()
	g.held = ch
	g.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			g.mu.Lock()
			g.held = nil
			g.mu.Unlock()
			close(ch)
		})
	}
}

func (g *gated) Store(ctx context.Context, k string, v []byte) error {
	g.stores.Add(1)
	if err := g.wait(ctx); err != nil {
		return err
	}
	return g.next.Store(ctx, k, v)
}

func (g *gated) Load(ctx context.Context, k string) ([]byte, error) {
	g.loads.Add(1)
	if err := g.wait(ctx); err != nil {
		return nil, err
	}
	return g.next.Load(ctx, k)
}

func (g *gated) Lock(ctx context.Context, n string) error   { return g.next.Lock(ctx, n) }
func (g *gated) Unlock(ctx context.Context, n string) error { return g.next.Unlock(ctx, n) }
func (g *gated) Delete(ctx context.Context, k string) error { return g.next.Delete(ctx, k) }
func (g *gated) List(ctx context.Context, p string, r bool) ([]string, error) {
	if err := g.wait(ctx); err != nil {
		return nil, err
	}
	return g.next.(interface {
		List(context.Context, string, bool) ([]string, error)
	}).List(ctx, p, r)
}

// cluster is limiters on one storage folder with a pinned clock, closed
// when the test ends (before its folder is removed).
type cluster struct {
	t     *testing.T
	dir   string
	seal  *Sealer
	clock *clock
	lims  []*Limiter
}

func newLimiterCluster(t *testing.T) *cluster {
	t.Helper()
	seal, _ := NewSealer(key32(t))
	return &cluster{t: t, dir: t.TempDir(), seal: seal, clock: &clock{t: time.Unix(1_900_000_000, 0)}}
}

// add starts a limiter on its own Records over store (a FileStorage on the
// folder when nil), as another instance would.
func (c *cluster) add(id string, store Storage) *Limiter {
	if store == nil {
		store = &certmagic.FileStorage{Path: c.dir}
	}
	l := NewLimiter(NewRecords(store, c.seal, RecordsConfig{Now: c.clock.now, Wait: 5 * time.Second}), id)
	c.t.Cleanup(func() { _ = l.Close() })
	c.lims = append(c.lims, l)
	return l
}

// meet makes the limiters list and acknowledge each other: each counts
// once, the clock passes PeerEvery, each counts again.
func (c *cluster) meet() {
	c.t.Helper()
	ctx := context.Background()
	for _, l := range c.lims {
		if ok, err := l.Allow(ctx, "warm", 100, time.Minute); !ok || err != nil {
			c.t.Fatalf("warm-up: %v %v", ok, err)
		}
	}
	c.clock.add(PeerEvery + time.Second)
	for _, l := range c.lims {
		if ok, err := l.Allow(ctx, "warm", 100, time.Minute); !ok || err != nil {
			c.t.Fatalf("warm-up: %v %v", ok, err)
		}
	}
	for _, l := range c.lims {
		c.waitFor(func() bool {
			l.mu.Lock()
			defer l.mu.Unlock()
			return l.running && l.open != 0 && l.open <= l.acked() && len(l.peers) == len(c.lims)-1
		}, "the limiters acknowledging each other")
	}
}

func (c *cluster) waitFor(cond func() bool, what string) {
	c.t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			c.t.Fatalf("waited 10s for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestLimiterCluster: three instances on one storage allow at most n
// events of a key per window together, once they have listed each other,
// and the window slides.
func TestLimiterCluster(t *testing.T) {
	c := newLimiterCluster(t)
	for _, id := range []string{"a", "b", "c"} {
		c.add(id, nil)
	}
	c.meet()
	ctx := context.Background()
	allowed := 0
	for i := range 21 {
		if ok, err := c.lims[i%3].Allow(ctx, "k", 6, time.Minute); err != nil {
			t.Fatal(err)
		} else if ok {
			allowed++
		}
	}
	if allowed != 6 {
		t.Fatalf("%d of 21 allowed on three instances, want 6", allowed)
	}
	c.clock.add(time.Minute + time.Second)
	if ok, _ := c.lims[1].Allow(ctx, "k", 6, time.Minute); !ok {
		t.Fatal("the window did not slide")
	}
}

// TestLimiterSequential: calls one after the other, spread over three
// limiters sharing one Records, never allow more than n, whatever the
// order and however fast they come: a call answered fast on one instance
// is counted by the next one before it is written.
func TestLimiterSequential(t *testing.T) {
	c := newLimiterCluster(t)
	rec := NewRecords(&certmagic.FileStorage{Path: c.dir}, c.seal, RecordsConfig{Now: c.clock.now})
	for _, id := range []string{"a", "b", "c"} {
		l := NewLimiter(rec, id)
		t.Cleanup(func() { _ = l.Close() })
		c.lims = append(c.lims, l)
	}
	c.meet()
	ctx := context.Background()
	for k, order := range [][]int{{0, 1, 2}, {0, 0, 1, 2, 2, 1}, {2, 2, 2, 0}} {
		key := fmt.Sprint("k", k)
		allowed := 0
		for i := range 24 {
			ok, err := c.lims[order[i%len(order)]].Allow(ctx, key, 6, time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			if ok {
				allowed++
			}
		}
		if allowed != 6 {
			t.Errorf("%s: %d of 24 allowed in order %v, want 6", key, allowed, order)
		}
	}
	// n larger than the others' margin: the first calls are answered fast,
	// and the total still stops at n.
	allowed := 0
	for i := range 30 {
		if ok, _ := c.lims[i%3].Allow(ctx, "big", 20, time.Minute); ok {
			allowed++
		}
	}
	if allowed != 20 {
		t.Errorf("%d of 30 allowed with n 20, want 20", allowed)
	}
}

// TestLimiterConcurrent: calls at once on three instances never allow
// more than n together (the stated bound), and some are allowed.
func TestLimiterConcurrent(t *testing.T) {
	c := newLimiterCluster(t)
	for _, id := range []string{"a", "b", "c"} {
		c.add(id, nil)
	}
	c.meet()
	ctx := context.Background()
	for k := range 4 {
		key := fmt.Sprint("k", k)
		var allowed atomic.Int32
		var wg sync.WaitGroup
		for i := range 30 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ok, err := c.lims[i%3].Allow(ctx, key, 6, time.Minute)
				if err != nil {
					t.Error(err)
				}
				if ok {
					allowed.Add(1)
				}
			}()
		}
		wg.Wait()
		if n := allowed.Load(); n > 6 || n == 0 {
			t.Errorf("%s: %d of 30 concurrent calls allowed, want 1 to 6", key, n)
		}
	}
}

// TestLimiterNoStorageOnFastPath: a call far from its limit touches no
// storage, alone or with other instances: it is answered while every
// Store and Load is held. What it counted is written behind, many calls
// to one write.
func TestLimiterNoStorageOnFastPath(t *testing.T) {
	t.Run("alone", func(t *testing.T) {
		c := newLimiterCluster(t)
		g := &gated{next: &certmagic.FileStorage{Path: c.dir}}
		l := c.add("a", g)
		ctx := context.Background()
		if ok, err := l.Allow(ctx, "first", 6, time.Minute); !ok || err != nil { // lists the instances
			t.Fatal(ok, err)
		}
		release := g.hold()
		defer release()
		stores := g.stores.Load()
		for i := range 1000 {
			if ok, err := l.Allow(ctx, fmt.Sprint("k", i%50), 60, time.Minute); !ok || err != nil {
				t.Fatalf("call %d: %v %v", i, ok, err)
			}
		}
		if n := g.stores.Load() - stores; n != 0 {
			t.Fatalf("%d stores for 1000 calls of one instance alone, want 0", n)
		}
		release()
		// Close keeps what was counted, for the instance that comes next.
		if err := l.Close(); err != nil || g.stores.Load()-stores != 1 {
			t.Fatalf("close: %v, %d stores, want 1", err, g.stores.Load()-stores)
		}
	})
	t.Run("cluster", func(t *testing.T) {
		c := newLimiterCluster(t)
		g := &gated{next: &certmagic.FileStorage{Path: c.dir}}
		a := c.add("a", g)
		c.add("b", nil)
		c.add("c", nil)
		c.meet()
		ctx := context.Background()
		release := g.hold()
		for i := range 200 {
			// Each key once: fast needs this instance's earlier events
			// of the key acknowledged, and n room for the others' margin.
			done := make(chan struct{})
			var ok bool
			var err error
			go func() { ok, err = a.Allow(ctx, fmt.Sprint("k", i), 6, time.Minute); close(done) }()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				t.Fatalf("call %d waited for the storage", i)
			}
			if !ok || err != nil {
				t.Fatalf("call %d: %v %v", i, ok, err)
			}
		}
		stores := g.stores.Load()
		release()
		start := time.Now()
		c.waitFor(func() bool {
			a.mu.Lock()
			defer a.mu.Unlock()
			for _, s := range a.keys {
				for _, e := range s.ev {
					if e.pub == 0 {
						return false
					}
				}
			}
			return true
		}, "the events written")
		steps := int64(time.Since(start)/FlushEvery) + 3
		if n := g.stores.Load() - stores; n > steps {
			t.Fatalf("%d stores to write 200 calls in %s, want at most one a step (%d)", n, time.Since(start), steps)
		}
		// b sees them: k0 has one event on a, so b allows 5 more.
		b, allowed := c.lims[1], 0
		c.waitFor(func() bool {
			b.mu.Lock()
			defer b.mu.Unlock()
			known, _, _ := b.others(keyHash("k199"), 0)
			return known == 1
		}, "b reading a's digest")
		for range 8 {
			if ok, _ := b.Allow(ctx, "k0", 6, time.Minute); ok {
				allowed++
			}
		}
		if allowed != 5 {
			t.Fatalf("b allowed %d more of k0, want 5", allowed)
		}
	})
}

// TestLimiterStorageFails: with its storage failing, an instance answers
// from its own share, says so, and never more than n itself; the events
// it allowed meanwhile are written once the storage is back, and count
// on the others.
func TestLimiterStorageFails(t *testing.T) {
	c := newLimiterCluster(t)
	g := &gated{next: &certmagic.FileStorage{Path: c.dir}}
	a := c.add("a", g)
	b := c.add("b", nil)
	c.meet()
	ctx := context.Background()
	g.fail.Store(true)
	// Let a's loop see the failure, so that it stops answering fast.
	c.waitFor(func() bool {
		a.mu.Lock()
		defer a.mu.Unlock()
		return a.stepErr != nil
	}, "a step failing")
	allowed := 0
	for i := range 5 {
		ok, err := a.Allow(ctx, "k", 3, time.Minute)
		if ok {
			allowed++
			if !errors.Is(err, errFailing) && !errors.Is(err, errDown) {
				t.Fatalf("call %d allowed on a failing storage with err %v, want the storage's error", i, err)
			}
		}
	}
	if allowed != 3 {
		t.Fatalf("%d of 5 allowed on a failing storage, want 3 (its own share)", allowed)
	}
	g.fail.Store(false)
	c.clock.add(Down) // the Records fail fast for Down after a failure
	c.waitFor(func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		known, _, _ := b.others(keyHash("k"), 0)
		return known == 3
	}, "b counting what a allowed while its storage failed")
	if ok, _ := b.Allow(ctx, "k", 3, time.Minute); ok {
		t.Fatal("b allowed past the three a allowed while its storage failed")
	}
}

// TestLimiterRestart: an instance that restarts (a new limiter, on a new
// Records) still counts what was allowed before, by itself and by others.
func TestLimiterRestart(t *testing.T) {
	c := newLimiterCluster(t)
	a := c.add("a", nil)
	ctx := context.Background()
	for range 4 {
		if ok, _ := a.Allow(ctx, "k", 6, time.Minute); !ok {
			t.Fatal("refused")
		}
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	again := c.add("a", nil)
	allowed := 0
	for range 6 {
		if ok, _ := again.Allow(ctx, "k", 6, time.Minute); ok {
			allowed++
		}
	}
	if allowed != 2 {
		t.Fatalf("after a restart, %d more allowed, want 2", allowed)
	}
	c.clock.add(time.Minute + time.Second)
	if ok, _ := again.Allow(ctx, "k", 6, time.Minute); !ok {
		t.Fatal("the window did not slide")
	}
}

// TestLimiterLoopStops: Close stops the loop (no goroutine is left
// behind), and so does an instance whose others all stopped and whose
// events left the window; a later call works again.
func TestLimiterLoopStops(t *testing.T) {
	c := newLimiterCluster(t)
	a, b := c.add("a", nil), c.add("b", nil)
	c.meet()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	b.mu.Lock()
	running, done := b.running, b.done
	b.mu.Unlock()
	select {
	case <-done:
	default:
		t.Fatal("Close returned before the loop stopped")
	}
	if running {
		t.Fatal("still running after Close")
	}
	c.clock.add(2 * time.Minute) // b's events leave the window
	c.waitFor(func() bool {
		a.mu.Lock()
		defer a.mu.Unlock()
		return !a.running
	}, "a's loop stopping with no other instance in use")
	if ok, err := a.Allow(context.Background(), "k", 1, time.Minute); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal("a second Close:", err)
	}
}

// TestDigest: a digest reads back as built, and a cut or altered one is
// refused rather than half read.
func TestDigest(t *testing.T) {
	c := newLimiterCluster(t)
	l := c.add("a", nil)
	peerName := "ab" + fmt.Sprintf("%062x", 7)
	l.peers[peerName] = &peer{d: digest{T: 42}}
	l.open, l.pub = 1, 1
	ms := c.clock.now().UnixMilli()
	s := &share{win: time.Minute.Milliseconds()}
	l.keys[keyHash("k")] = s
	l.add(s, ms, false)
	l.add(s, ms+5, true)
	w := l.build(ms+10, false)
	d, err := decodeDigest(w.b, peerName)
	if err != nil {
		t.Fatal(err)
	}
	got := d.Keys[keyHash("k")]
	if d.T != ms+10 || d.Self != 42 || !d.Knows || d.Closed || !d.Want || len(got.ts) != 2 ||
		got.ts[0] != ms || got.ts[1] != ms+5 || got.tentative != ms+5 {
		t.Fatalf("read back %+v", d)
	}
	if d, _ := decodeDigest(w.b, "cd"+fmt.Sprintf("%062x", 7)); d.Knows {
		t.Fatal("an instance not named knows it")
	}
	for i := range len(w.b) {
		if _, err := decodeDigest(w.b[:i], peerName); err == nil {
			t.Fatalf("a digest cut at %d of %d was read", i, len(w.b))
		}
	}
	if _, err := decodeDigest(append(w.b, 0), peerName); err == nil {
		t.Fatal("trailing bytes were read")
	}
}

// TestLimiterLocal: with no Records, the count is this process's.
func TestLimiterLocal(t *testing.T) {
	l := NewLimiter(nil, "")
	ctx := context.Background()
	for i := range 4 {
		if ok, err := l.Allow(ctx, "k", 3, time.Minute); ok != (i < 3) || err != nil {
			t.Fatalf("call %d: %v %v", i, ok, err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
}
