package state

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestMemoryTTL(t *testing.T) {
	c := &clock{t: time.Unix(1_800_000_000, 0)}
	m := NewMemory(c.now, 0)
	calls := 0
	fetch := func(context.Context) ([]byte, time.Duration, error) {
		calls++
		return []byte{byte('0' + calls)}, time.Minute, nil
	}
	for i, want := range []string{"1", "1", "2"} {
		if i == 2 {
			c.add(time.Minute) // expired exactly at its ttl
		}
		v, err := m.Load(context.Background(), "k", fetch)
		if err != nil || string(v) != want {
			t.Fatalf("load %d = %q, %v; want %q", i, v, err, want)
		}
	}
	m.Delete("k")
	if v, _ := m.Load(context.Background(), "k", fetch); string(v) != "3" {
		t.Fatalf("after Delete = %q, want a fresh fetch", v)
	}
}

func TestMemoryNoTTLAndErrorsAreNotKept(t *testing.T) {
	m := NewMemory(nil, 0)
	boom := errors.New("boom")
	calls := 0
	for range 2 {
		if _, err := m.Load(context.Background(), "e", func(context.Context) ([]byte, time.Duration, error) {
			calls++
			return nil, time.Hour, boom
		}); !errors.Is(err, boom) {
			t.Fatalf("err = %v", err)
		}
		_, _ = m.Load(context.Background(), "z", func(context.Context) ([]byte, time.Duration, error) {
			calls++
			return []byte("v"), 0, nil
		})
	}
	if calls != 4 || m.Len() != 0 {
		t.Fatalf("calls = %d, len = %d; want 4 and 0", calls, m.Len())
	}
}

func TestMemoryHold(t *testing.T) {
	c := &clock{t: time.Unix(1_800_000_000, 0)}
	m := NewMemory(c.now, 0)
	until := c.now().Add(30 * time.Second)
	m.Hold("k", until)
	called := false
	_, err := m.Load(context.Background(), "k", func(context.Context) ([]byte, time.Duration, error) {
		called = true
		return []byte("v"), time.Minute, nil
	})
	var held *HeldError
	if !errors.As(err, &held) || !held.Until.Equal(until) || called {
		t.Fatalf("err = %v, called = %v; want a HeldError until %s and no fetch", err, called, until)
	}
	c.add(30 * time.Second)
	if v, err := m.Load(context.Background(), "k", func(context.Context) ([]byte, time.Duration, error) {
		return []byte("v"), time.Minute, nil
	}); err != nil || string(v) != "v" {
		t.Fatalf("after the hold = %q, %v", v, err)
	}
}

func TestMemorySingleFlight(t *testing.T) {
	m := NewMemory(nil, 0)
	var calls atomic.Int32
	release := make(chan struct{})
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := m.Load(context.Background(), "k", func(context.Context) ([]byte, time.Duration, error) {
				calls.Add(1)
				<-release
				return []byte("v"), time.Minute, nil
			})
			if err != nil || string(v) != "v" {
				t.Errorf("%q %v", v, err)
			}
		}()
	}
	time.Sleep(20 * time.Millisecond) // let them pile up behind the first
	close(release)
	wg.Wait()
	if n := calls.Load(); n != 1 {
		// Late arrivals find the cached value (checked again inside the
		// flight), so more than one fetch means the callers did not share.
		t.Fatalf("%d fetches for 50 concurrent loads, want 1", n)
	}
}

func TestMemoryFetchOutlivesCaller(t *testing.T) {
	m := NewMemory(nil, 0)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := m.Load(ctx, "k", func(ctx context.Context) ([]byte, time.Duration, error) {
		return []byte("v"), time.Minute, ctx.Err()
	})
	if err != nil {
		t.Fatalf("the fetch saw the caller's cancellation: %v", err)
	}
}

func TestMemoryBounded(t *testing.T) {
	c := &clock{t: time.Unix(1_800_000_000, 0)}
	m := NewMemory(c.now, 3)
	load := func(k string, ttl time.Duration) {
		_, _ = m.Load(context.Background(), k, func(context.Context) ([]byte, time.Duration, error) {
			return []byte(k), ttl, nil
		})
	}
	load("a", time.Second)
	load("b", time.Hour)
	load("c", time.Hour)
	load("d", time.Hour) // full of live values: returned, not kept
	if m.Len() != 3 {
		t.Fatalf("len = %d, want 3", m.Len())
	}
	c.add(2 * time.Second) // a expires, making room
	load("e", time.Hour)
	m.mu.Lock()
	_, hasA := m.entries["a"]
	_, hasE := m.entries["e"]
	m.mu.Unlock()
	if hasA || !hasE || m.Len() != 3 {
		t.Fatalf("a kept = %v, e kept = %v, len = %d", hasA, hasE, m.Len())
	}
}
