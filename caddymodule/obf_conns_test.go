package caddymodule

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestOBFKeepsConnections: warm OBF joins reuse the connections to Zoom
// (issue 25). On Go's default transport, which keeps 2 idle connections
// per host, about half of the joins under concurrency dialled anew; the
// shared transport keeps enough for a site's concurrency.
func TestOBFKeepsConnections(t *testing.T) {
	e := startOBF(t)
	if r := e.join(t, "bob", mtgObfExternal); r.status != 409 { // not connected: a refusal, for the leak scan
		t.Fatalf("bob: %d %s", r.status, r.body)
	}
	e.connect(t, "alice", "zu-alice")
	// joins sends n joins of alice, workers at a time, to meetings from
	// first on, six joins each (obf per_minute is 6 per meeting).
	joins := func(n, workers, first int) {
		t.Helper()
		var wg sync.WaitGroup
		var mu sync.Mutex
		var failed []string
		next := make(chan int)
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range next {
					r := e.join(t, "alice", fmt.Sprint(81111113000+first+i/6))
					if r.status != 200 || !strings.Contains(string(r.body), `"obfToken":"`) {
						mu.Lock()
						failed = append(failed, fmt.Sprintf("%d %s", r.status, r.body))
						mu.Unlock()
					}
				}
			}()
		}
		for i := range n {
			next <- i
		}
		close(next)
		wg.Wait()
		if len(failed) > 0 {
			t.Fatalf("%d of %d joins failed: %v", len(failed), n, failed[0])
		}
	}
	// Zoom's answers take a few milliseconds, as over the internet, so
	// that concurrent joins hold connections at once.
	e.z.Slow(10 * time.Millisecond)
	joins(96, 32, 0) // warm-up: the connections 32 joins at a time need
	for _, phase := range []struct {
		name           string
		n, workers, at int
	}{{"sequential", 50, 1, 100}, {"32 at a time", 100, 32, 200}} {
		before, obf := e.z.NewConns(), e.z.OBFCalls()
		joins(phase.n, phase.workers, phase.at)
		conns := e.z.NewConns() - before
		if got := e.z.OBFCalls() - obf; got != int64(phase.n) {
			t.Fatalf("%s: %d OBF calls for %d joins", phase.name, got, phase.n)
		}
		t.Logf("%s: %d new connections to Zoom for %d warm OBF joins", phase.name, conns, phase.n)
		if per := float64(conns) / float64(phase.n); per > 0.1 {
			t.Fatalf("%s: %.2f new connections to Zoom per warm OBF join, want at most 0.1", phase.name, per)
		}
	}
}
