package state

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"
)

// BenchmarkLimiterAllow is the cost of Allow far from the limit (issue 25)
// on a real file_system storage, which fsyncs every write: one instance,
// and three instances on one folder with calls spread over them. Keys cycle
// over 256 user and meeting pairs, as in the cluster join benchmark
// (testdata/clustercaddy). Besides the time of a call, it reports the
// storage writes per call and the CPU time of the whole process per call
// (getrusage), which counts the writes a limiter makes behind the calls.
//
//	go test ./caddymodule/state -run '^$' -bench LimiterAllow -benchmem -count 6
func BenchmarkLimiterAllow(b *testing.B) {
	b.Run("alone", func(b *testing.B) { benchAllow(b, 1) })
	b.Run("cluster3", func(b *testing.B) { benchAllow(b, 3) })
}

// counted counts the writes and reads that reach the storage.
type counted struct {
	*certmagic.FileStorage
	stores, loads atomic.Int64
}

func (c *counted) Store(ctx context.Context, k string, v []byte) error {
	c.stores.Add(1)
	return c.FileStorage.Store(ctx, k, v)
}

func (c *counted) Load(ctx context.Context, k string) ([]byte, error) {
	c.loads.Add(1)
	return c.FileStorage.Load(ctx, k)
}

func benchAllow(b *testing.B, instances int) {
	seal, err := NewSealer(make([]byte, 32))
	if err != nil {
		b.Fatal(err)
	}
	store := &counted{FileStorage: &certmagic.FileStorage{Path: b.TempDir()}}
	// The clock runs, and jumps PeerEvery once so that the instances list
	// each other without a ten-second sleep.
	var mu sync.Mutex
	var skew time.Duration
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return time.Now().Add(skew) }
	var lims []*Limiter
	for i := range instances {
		l := NewLimiter(NewRecords(store, seal, RecordsConfig{Now: now}), fmt.Sprint("instance-", i))
		lims = append(lims, l)
	}
	b.Cleanup(func() {
		for _, l := range lims {
			// Close is new with the written-behind limiter.
			if c, ok := any(l).(interface{ Close() error }); ok {
				_ = c.Close()
			}
		}
	})
	ctx := context.Background()
	allow := func(i int) {
		key := fmt.Sprint("obf\x00user-", i%8, "\x00", 81_000_000_000+i%32)
		if ok, err := lims[i%instances].Allow(ctx, key, 1<<20, time.Minute); !ok || err != nil {
			b.Fatalf("call %d: %v %v", i, ok, err)
		}
	}
	for i := range 3 * 256 {
		allow(i)
	}
	mu.Lock()
	skew += PeerEvery + time.Second
	mu.Unlock()
	// Warm: every instance has listed the others and, for a limiter that
	// waits for acknowledgements, had its keys acknowledged.
	for i := range 3 * 256 {
		allow(i)
	}
	time.Sleep(time.Second)
	stores, loads := store.stores.Load(), store.loads.Load()
	cpu := cpuTime()
	b.ResetTimer()
	for i := range b.N {
		allow(i)
	}
	b.StopTimer()
	// What the calls left to write is written within a step or two: count
	// it, so that writing behind is not free by being left out.
	time.Sleep(300 * time.Millisecond)
	n := float64(b.N)
	b.ReportMetric(float64(store.stores.Load()-stores)/n, "stores/op")
	b.ReportMetric(float64(store.loads.Load()-loads)/n, "loads/op")
	b.ReportMetric(float64((cpuTime()-cpu).Nanoseconds())/n, "cpu-ns/op")
}

// cpuTime is this process's user and system time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
