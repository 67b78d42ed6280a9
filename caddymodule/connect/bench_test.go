package connect

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sync/atomic"
	"testing"

	"github.com/caddyserver/certmagic"

	"github.com/zoomsig/caddy-zoom-signature/caddymodule/state"
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/zoomapi/zoomtest"
)

// counting counts the connections a listener accepts.
type counting struct {
	net.Listener
	n atomic.Int64
}

func (l *counting) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
	}
	return c, err
}

// BenchmarkOBFWarm is a warm OBF join of a connected user (the grant, the
// hold and the per-minute limit as a join finds them, and the OBF call to
// the stand-in on loopback), one at a time and 32 at a time; conns/op is
// the new connections to the stand-in per join (issue 25).
func BenchmarkOBFWarm(b *testing.B) {
	for _, par := range []int{1, 32} {
		b.Run(fmt.Sprintf("conc=%d", par), func(b *testing.B) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			l := &counting{Listener: ln}
			z := zoomtest.Serve(l)
			defer z.Close()
			z.AddZoomUser(zoomtest.ZoomUser{ID: "zu-alice", Email: "alice@other.example"})
			z.AuthorizeAs("zu-alice")
			seal, err := state.NewSealer(bytes.Repeat([]byte{7}, 32))
			if err != nil {
				b.Fatal(err)
			}
			m, err := New(Config{
				ClientID: z.App.ClientID, ClientSecret: z.App.ClientSecret, RedirectURL: redirect,
				AuthorizeURL: z.AuthorizeURL(), TokenURL: z.OAuthURL(), APIURL: z.APIURL(),
				Storage: &certmagic.FileStorage{Path: b.TempDir()}, Sealer: seal, ConnectURL: "/zoom/connect/start",
				OBFPerMinute: 1 << 30,
			})
			if err != nil {
				b.Fatal(err)
			}
			benchConnect(b, m, "alice")
			ctx := context.Background()
			var i atomic.Int64
			join := func() {
				if _, perr := m.OBF(ctx, "alice", fmt.Sprint(81111110000+i.Add(1)%100)); perr != nil {
					b.Fatal(perr)
				}
			}
			for range 64 { // warm: the grant read, the connections made
				join()
			}
			before := l.n.Load()
			b.ReportAllocs()
			b.ResetTimer()
			if par == 1 {
				for range b.N {
					join()
				}
			} else {
				b.SetParallelism(par / 2) // GOMAXPROCS is 2 here
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						join()
					}
				})
			}
			b.StopTimer()
			b.ReportMetric(float64(l.n.Load()-before)/float64(b.N), "conns/op")
		})
	}
}

func benchConnect(b *testing.B, m *Manager, user string) {
	u, cookie, err := m.Start(user)
	if err != nil {
		b.Fatal(err)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(u)
	if err != nil {
		b.Fatal(err)
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		b.Fatal(err)
	}
	if _, perr := m.Finish(context.Background(), user, cookie, loc.Query()); perr != nil {
		b.Fatal(perr)
	}
}
