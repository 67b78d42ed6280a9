package connect

import (
	"bytes"
	"context"
	"io/fs"
	"net/url"
	"testing"
	"time"

	"github.com/zoomsig/caddy-zoom-signature/caddymodule/state"
)

// memStorage is a state.Storage in memory, for the fuzz targets, which
// must not touch the disk or the network.
type memStorage struct{ m map[string][]byte }

func (s *memStorage) Lock(context.Context, string) error   { return nil }
func (s *memStorage) Unlock(context.Context, string) error { return nil }
func (s *memStorage) Store(_ context.Context, k string, v []byte) error {
	s.m[k] = v
	return nil
}
func (s *memStorage) Load(_ context.Context, k string) ([]byte, error) {
	v, ok := s.m[k]
	if !ok {
		return nil, fs.ErrNotExist
	}
	return v, nil
}
func (s *memStorage) Delete(_ context.Context, k string) error { delete(s.m, k); return nil }

func fuzzManager(t testing.TB) *Manager {
	seal, _ := state.NewSealer(bytes.Repeat([]byte{9}, 32))
	m, err := New(Config{ClientID: "c", ClientSecret: "s", RedirectURL: "https://app.example/cb",
		// Nothing listens here: a fuzzed callback that got as far as the
		// code exchange fails at once.
		TokenURL: "http://127.0.0.1:1/oauth/token", APIURL: "http://127.0.0.1:1/v2",
		Storage: &memStorage{m: map[string][]byte{}}, Sealer: seal, ConnectURL: "/zoom/connect/start"})
	if err != nil {
		t.Fatal(err)
	}
	m.cfg.HTTPClient.Timeout = time.Second
	return m
}

// FuzzDecodeRecord: whatever the storage holds, the decoder returns a
// grant of the named user or an error, and never panics.
func FuzzDecodeRecord(f *testing.F) {
	m := fuzzManager(f)
	g := Grant{SiteUser: "alice", ZoomUserID: "zu", AccessToken: "a", RefreshToken: "r", Scopes: DefaultScopes}
	_ = m.store(context.Background(), g)
	name := m.name("alice")
	good, _ := m.cfg.Storage.Load(context.Background(), name)
	f.Add(good)
	f.Add([]byte("zs1"))
	f.Add([]byte{})
	f.Add(append([]byte("zs1"), bytes.Repeat([]byte{0}, 64)...))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := m.DecodeRecord(name, b)
		if err == nil && (got.SiteUser != "alice" || got.RefreshToken == "") {
			t.Fatalf("decoded a record of %q", got.SiteUser)
		}
	})
}

// FuzzCallback: whatever a callback carries (query and cookie), Finish
// answers a refusal with a code, or a grant only for the state it
// started; it never panics or stores a grant for a forged state.
func FuzzCallback(f *testing.F) {
	m := fuzzManager(f)
	u, cookie, _ := m.Start("alice")
	au, _ := url.Parse(u)
	st := au.Query().Get("state")
	f.Add("state="+st+"&code=abc", cookie)
	f.Add("state="+st+"&error=access_denied", cookie)
	f.Add("state=x&code=y", "AAAA")
	f.Add("state=%zz", "")
	f.Add("code=1&code=2", cookie)
	f.Fuzz(func(t *testing.T, rawQuery, c string) {
		q, err := url.ParseQuery(rawQuery)
		if err != nil {
			return
		}
		_, perr := m.Finish(context.Background(), "alice", c, q)
		if perr == nil {
			t.Fatalf("a callback with %q was taken", rawQuery)
		}
		if perr.Code() == "" || perr.Reason() == "" {
			t.Fatalf("a refusal without a code or reason: %v", perr)
		}
	})
}
