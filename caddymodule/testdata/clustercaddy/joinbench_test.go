package main

// The measured cost of a warm OBF join in a cluster (issue 21), for
// examples/PERFORMANCE.md: three instances (each its own grant manager,
// limiter and lookup cache) on one storage, file_system or Redis, joins
// spread over them, every grant fresh and every meeting lookup kept. A
// join is what the module does for an attendee of a meeting outside the
// account: the meeting lookup (kept), the OBF hold and limit, the grant,
// and Zoom's OBF token (from the in-process stand-in). Storage calls are
// counted by a wrapper around the storage.
//
//	cd caddymodule/testdata/clustercaddy
//	go test -run '^$' -bench WarmOBFJoin -benchtime 3000x -count 3

import (
	"context"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/certmagic"
	storageredis "github.com/pberkel/caddy-storage-redis"

	"github.com/zoomsig/caddy-zoom-signature/caddymodule/connect"
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/state"
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/zoomapi"
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/zoomapi/zoomtest"
)

// store is what the seam needs of a storage, with List and Stat.
type store interface {
	state.Storage
	List(ctx context.Context, prefix string, recursive bool) ([]string, error)
	Stat(ctx context.Context, key string) (certmagic.KeyInfo, error)
}

// counting counts the calls that reach the storage.
type counting struct {
	next                              store
	loads, stores, deletes, locks, ls atomic.Int64
}

func (c *counting) Lock(ctx context.Context, n string) error {
	c.locks.Add(1)
	return c.next.Lock(ctx, n)
}
func (c *counting) Unlock(ctx context.Context, n string) error { return c.next.Unlock(ctx, n) }
func (c *counting) Store(ctx context.Context, k string, v []byte) error {
	c.stores.Add(1)
	return c.next.Store(ctx, k, v)
}
func (c *counting) Load(ctx context.Context, k string) ([]byte, error) {
	c.loads.Add(1)
	return c.next.Load(ctx, k)
}
func (c *counting) Delete(ctx context.Context, k string) error {
	c.deletes.Add(1)
	return c.next.Delete(ctx, k)
}
func (c *counting) List(ctx context.Context, p string, r bool) ([]string, error) {
	c.ls.Add(1)
	return c.next.List(ctx, p, r)
}
func (c *counting) Stat(ctx context.Context, k string) (certmagic.KeyInfo, error) {
	return c.next.Stat(ctx, k)
}

func BenchmarkWarmOBFJoin(b *testing.B) {
	// The baseline: the same joins on a map in memory, so that what the
	// storage costs is the difference.
	b.Run("memory", func(b *testing.B) {
		benchJoin(b, &mapStore{m: map[string][]byte{}}, 0)
	})
	b.Run("file_system", func(b *testing.B) {
		benchJoin(b, &certmagic.FileStorage{Path: b.TempDir()}, 0)
	})
	b.Run("redis", func(b *testing.B) {
		s, pid := redisStorage(b)
		benchJoin(b, s, pid)
	})
}

const (
	instances = 3
	users     = 8
	meetings  = 32
)

func benchJoin(b *testing.B, s store, redisPID int) {
	z := zoomtest.New()
	b.Cleanup(z.Close)
	for u := range users {
		z.AddZoomUser(zoomtest.ZoomUser{ID: fmt.Sprint("zu-", u), Email: fmt.Sprint("u", u, "@other.example")})
	}
	seal, err := state.NewSealer([]byte(strings.Repeat("k", 32)))
	if err != nil {
		b.Fatal(err)
	}
	cs := &counting{next: s}
	const redirect = "https://app.example/zoom/connect/callback"
	type instance struct {
		m *connect.Manager
		z *zoomapi.Client
	}
	var in []instance
	for i := range instances {
		rec := state.NewRecords(cs, seal, state.RecordsConfig{Prefix: "zoom_signature"})
		lim := state.NewLimiter(rec, fmt.Sprint("instance-", i))
		m, err := connect.New(connect.Config{
			ClientID: z.App.ClientID, ClientSecret: z.App.ClientSecret, RedirectURL: redirect,
			AuthorizeURL: z.AuthorizeURL(), TokenURL: z.OAuthURL(), APIURL: z.APIURL(),
			Storage: cs, Sealer: seal, Records: rec, Limiter: lim, ConnectURL: "/zoom/connect/start",
			// Above what the benchmark's joins per user and meeting reach
			// in a minute: the limit is counted, never refused.
			OBFPerMinute: 1 << 20,
		})
		if err != nil {
			b.Fatal(err)
		}
		c, err := zoomapi.New(zoomapi.Config{AccountID: z.AccountID, ClientID: z.ClientID, ClientSecret: z.ClientSecret,
			OAuthURL: z.OAuthURL(), APIURL: z.APIURL(), Cache: state.NewSharedIn(rec, "state")})
		if err != nil {
			b.Fatal(err)
		}
		in = append(in, instance{m, c})
	}
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	ctx := context.Background()
	for u := range users {
		z.AuthorizeAs(fmt.Sprint("zu-", u))
		au, cookie, err := in[0].m.Start(fmt.Sprint("user-", u))
		if err != nil {
			b.Fatal(err)
		}
		resp, err := noRedirect.Get(au)
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		loc, _ := url.Parse(resp.Header.Get("Location"))
		if _, perr := in[0].m.Finish(ctx, fmt.Sprint("user-", u), cookie, loc.Query()); perr != nil {
			b.Fatal(perr)
		}
	}
	join := func(i int) {
		inst := in[i%instances]
		user, mtg := fmt.Sprint("user-", i%users), fmt.Sprint(81_000_000_000+i%meetings)
		info, perr := inst.z.Meeting(zoomapi.ForUser(ctx, user), mtg)
		if perr != nil || info.InAccount {
			b.Fatalf("lookup: %+v %v", info, perr)
		}
		if tok, perr := inst.m.OBF(ctx, user, mtg); perr != nil || tok == "" {
			b.Fatalf("obf: %v", perr)
		}
	}
	// Warm: every lookup kept, and, after state.PeerEvery, every
	// instance has listed the others.
	for i := range instances * users * meetings {
		join(i)
	}
	time.Sleep(state.PeerEvery + 100*time.Millisecond)
	for i := range instances * users * meetings {
		join(i)
	}
	cs.loads.Store(0)
	cs.stores.Store(0)
	cs.deletes.Store(0)
	cs.locks.Store(0)
	cs.ls.Store(0)
	lookups := zoomCalls(z, meetings)
	cpu0, redis0 := cpuTime(), procCPU(redisPID)
	b.ResetTimer()
	for i := range b.N {
		join(i)
	}
	b.StopTimer()
	cpu, redis := cpuTime()-cpu0, procCPU(redisPID)-redis0
	n := float64(b.N)
	b.ReportMetric(float64(cs.loads.Load())/n, "loads/op")
	b.ReportMetric(float64(cs.stores.Load())/n, "stores/op")
	b.ReportMetric(float64(cs.deletes.Load()+cs.locks.Load())/n, "deletes+locks/op")
	b.ReportMetric(float64(cs.ls.Load())/n, "lists/op")
	b.ReportMetric(float64(cpu.Microseconds())/n, "cpu-µs/op")
	if redisPID != 0 {
		b.ReportMetric(float64(redis.Microseconds())/n, "redis-cpu-µs/op")
	}
	if zoomCalls(z, meetings) != lookups {
		b.Fatal("a lookup was not kept")
	}
}

func zoomCalls(z *zoomtest.Server, n int) int {
	total := 0
	for i := range n {
		total += z.MeetingCalls(fmt.Sprint(81_000_000_000 + i))
	}
	return total
}

// cpuTime is this process's user and system time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// procCPU is a process's user and system time so far, from /proc (0 for
// pid 0).
func procCPU(pid int) time.Duration {
	if pid == 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / 100 // USER_HZ
}

// redisStorage starts Debian's redis-server on a free loopback port, as
// the cluster suite does, and returns pberkel's storage on it.
func redisStorage(b *testing.B) (store, int) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		b.Skip("redis-server is not installed (apt-get install -y redis-server)")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command(bin, "--bind", "127.0.0.1", "--port", fmt.Sprint(port), "--save", "", "--appendonly", "no")
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	for range 100 {
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			c.Close()
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	rs := storageredis.New()
	rs.Address = []string{fmt.Sprintf("127.0.0.1:%d", port)}
	cctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	b.Cleanup(cancel)
	if err := rs.Provision(cctx); err != nil {
		b.Fatal(err)
	}
	return rs, cmd.Process.Pid
}

// mapStore is a storage in this process's memory, for the baseline.
type mapStore struct {
	mu sync.Mutex
	m  map[string][]byte
}

func (s *mapStore) Lock(context.Context, string) error   { return nil }
func (s *mapStore) Unlock(context.Context, string) error { return nil }
func (s *mapStore) Store(_ context.Context, k string, v []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[k] = slices.Clone(v)
	return nil
}
func (s *mapStore) Load(_ context.Context, k string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[k]
	if !ok {
		return nil, fs.ErrNotExist
	}
	return v, nil
}
func (s *mapStore) Delete(_ context.Context, k string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, k)
	return nil
}
func (s *mapStore) List(_ context.Context, prefix string, _ bool) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for k := range s.m {
		if rest, ok := strings.CutPrefix(k, prefix+"/"); ok && !strings.Contains(rest, "/") {
			out = append(out, k)
		}
	}
	return out, nil
}
func (s *mapStore) Stat(context.Context, string) (certmagic.KeyInfo, error) {
	return certmagic.KeyInfo{}, nil
}
