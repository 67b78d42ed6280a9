package connect

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"

	"github.com/zoomsig/caddy-zoom-signature/caddymodule/state"
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/zoomapi/zoomtest"
)

const redirect = "https://app.example/zoom/connect/callback"

func newFake(t *testing.T) *zoomtest.Server {
	z := zoomtest.New()
	t.Cleanup(z.Close)
	z.AddZoomUser(zoomtest.ZoomUser{ID: "zu-alice", Email: "alice@other.example"})
	z.AddZoomUser(zoomtest.ZoomUser{ID: "zu-bob", Email: "bob@other.example"})
	z.AddZoomUser(zoomtest.ZoomUser{ID: "zu-gone", Email: "gone@other.example", Inactive: true})
	return z
}

func newManager(t *testing.T, z *zoomtest.Server, dir string) *Manager {
	t.Helper()
	key := bytes.Repeat([]byte{7}, 32)
	seal, err := state.NewSealer(key)
	if err != nil {
		t.Fatal(err)
	}
	m, err := New(Config{
		ClientID: z.App.ClientID, ClientSecret: z.App.ClientSecret, RedirectURL: redirect,
		AuthorizeURL: z.AuthorizeURL(), TokenURL: z.OAuthURL(), APIURL: z.APIURL(),
		Storage: &certmagic.FileStorage{Path: dir}, Sealer: seal, ConnectURL: "/zoom/connect/start",
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// authorize follows the authorize URL as a browser would, and returns the
// callback's query.
func authorize(t *testing.T, u string) url.Values {
	t.Helper()
	resp, err := noRedirect.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || err != nil || !strings.HasPrefix(loc.String(), redirect) {
		t.Fatalf("authorize: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	return loc.Query()
}

func connect(t *testing.T, m *Manager, user string) Grant {
	t.Helper()
	u, cookie, err := m.Start(user)
	if err != nil {
		t.Fatal(err)
	}
	g, perr := m.Finish(context.Background(), user, cookie, authorize(t, u))
	if perr != nil {
		t.Fatalf("finish: %v", perr)
	}
	return g
}

func TestConnectFlow(t *testing.T) {
	z := newFake(t)
	dir := t.TempDir()
	m := newManager(t, z, dir)
	ctx := context.Background()

	u, cookie, err := m.Start("alice")
	if err != nil {
		t.Fatal(err)
	}
	au, _ := url.Parse(u)
	if q := au.Query(); q.Get("code_challenge_method") != "S256" || q.Get("redirect_uri") != redirect || q.Get("state") == "" || !strings.Contains(q.Get("scope"), "user:read:token") {
		t.Fatalf("authorize URL %s", u)
	}
	g, perr := m.Finish(ctx, "alice", cookie, authorize(t, u))
	if perr != nil || g.ZoomUserID != "zu-alice" || g.ZoomEmail != "alice@other.example" {
		t.Fatalf("finish: %+v %v", g, perr)
	}
	st, ok, live, perr := m.Status(ctx, "alice")
	if !ok || !live || perr != nil || st.ZoomUserID != "zu-alice" {
		t.Fatalf("status %+v %v %v %v", st, ok, live, perr)
	}
	if _, ok, _, _ := m.Status(ctx, "bob"); ok {
		t.Fatal("bob is connected")
	}
	// An OBF token bound to the meeting and the user.
	tok, perr := m.OBF(ctx, "alice", "81111111111")
	if info, ok := z.OBF(tok); perr != nil || !ok || info.Meeting != "81111111111" || info.User != "zu-alice" {
		t.Fatalf("obf %q %v %+v", tok, perr, info)
	}
	// Not kept: each join gets its own.
	if tok2, _ := m.OBF(ctx, "alice", "81111111111"); tok2 == tok {
		t.Fatal("an OBF token was reused")
	}
	// Nothing in the storage folder in plaintext.
	scan(t, dir, append(z.UserSecrets(), "alice@other.example", "zu-alice")...)

	// Disconnect revokes at Zoom and deletes.
	if gone, perr := m.Disconnect(ctx, "alice"); !gone || perr != nil || z.Revocations() != 1 {
		t.Fatalf("disconnect %v %v, %d revocations", gone, perr, z.Revocations())
	}
	if _, perr := m.OBF(ctx, "alice", "81111111111"); perr.Code() != CodeNotConnected || !strings.Contains(perr.Reason(), "/zoom/connect/start") {
		t.Fatalf("after disconnect: %v", perr)
	}
}

func TestConnectRefusals(t *testing.T) {
	z := newFake(t)
	m := newManager(t, z, t.TempDir())
	ctx := context.Background()
	start := func(user string) (url.Values, string) {
		u, cookie, err := m.Start(user)
		if err != nil {
			t.Fatal(err)
		}
		return authorize(t, u), cookie
	}

	// CSRF: a callback for someone else's state, or with someone else's
	// cookie.
	q, cookie := start("alice")
	q2, _ := start("alice")
	if _, perr := m.Finish(ctx, "alice", cookie, q2); perr.Code() != CodeStateMismatch {
		t.Errorf("other state: %v", perr)
	}
	_, bobCookie := start("bob")
	if _, perr := m.Finish(ctx, "alice", bobCookie, q); perr.Code() != CodeStateMismatch {
		t.Errorf("bob's cookie: %v", perr)
	}
	if _, perr := m.Finish(ctx, "mallory", cookie, q); perr.Code() != CodeUserMismatch {
		t.Errorf("other site user: %v", perr)
	}
	if _, perr := m.Finish(ctx, "alice", "", q); perr.Code() != CodeStateMissing {
		t.Errorf("no cookie: %v", perr)
	}
	if _, perr := m.Finish(ctx, "alice", cookie[:len(cookie)-4]+"AAAA", q); perr.Code() != CodeStateInvalid {
		t.Errorf("altered cookie: %v", perr)
	}
	// Replay: the same callback twice.
	if _, perr := m.Finish(ctx, "alice", cookie, q); perr != nil {
		t.Fatal(perr)
	}
	if _, perr := m.Finish(ctx, "alice", cookie, q); perr.Code() != CodeStateReplayed {
		t.Errorf("replayed state: %v", perr)
	}
	// A replayed code under a fresh state: Zoom's codes are single use.
	q3, cookie3 := start("alice")
	q3.Set("code", q.Get("code"))
	if _, perr := m.Finish(ctx, "alice", cookie3, q3); perr.Code() != CodeCodeInvalid {
		t.Errorf("replayed code: %v", perr)
	}
	// An expired code.
	q4, cookie4 := start("alice")
	z.AgeCodes()
	if _, perr := m.Finish(ctx, "alice", cookie4, q4); perr.Code() != CodeCodeInvalid {
		t.Errorf("expired code: %v", perr)
	}
	// The user declined.
	z.DenyAuthorize(true)
	q5, cookie5 := start("alice")
	z.DenyAuthorize(false)
	if _, perr := m.Finish(ctx, "alice", cookie5, q5); perr.Code() != CodeDenied {
		t.Errorf("declined: %v", perr)
	}
	// A scope left out: refused, and the partial grant revoked at Zoom.
	z.GrantScopes("user:read:user")
	q6, cookie6 := start("bob")
	z.GrantScopes("user:read:token user:read:user")
	revoked := z.Revocations()
	if _, perr := m.Finish(ctx, "bob", cookie6, q6); perr.Code() != CodeScopeMissing || !strings.Contains(perr.Reason(), "user:read:token") || z.Revocations() != revoked+1 {
		t.Errorf("missing scope: %v", perr)
	}
	// An inactive Zoom user.
	z.AuthorizeAs("zu-gone")
	q7, cookie7 := start("bob")
	if _, perr := m.Finish(ctx, "bob", cookie7, q7); perr.Code() != CodeUserInactive {
		t.Errorf("inactive: %v", perr)
	}
	if _, ok, _, _ := m.Status(ctx, "bob"); ok {
		t.Error("a refused connect stored a grant")
	}
	// Parameters that are not Zoom's.
	bad := url.Values{"state": {q.Get("state"), q.Get("state")}}
	if _, perr := m.Finish(ctx, "alice", cookie, bad); perr.Code() != CodeStateInvalid {
		t.Errorf("repeated parameter: %v", perr)
	}
}

// TestRefresh: a stale grant is refreshed once however many joins wait,
// the rotated refresh token is stored, and an older copy of the record
// (whose refresh token Zoom killed) is a dead grant.
func TestRefresh(t *testing.T) {
	z := newFake(t)
	dir := t.TempDir()
	m := newManager(t, z, dir)
	ctx := context.Background()
	z.UserTokenLifetime(10) // inside the 5-minute margin: stale at once
	connect(t, m, "alice")
	z.UserTokenLifetime(0)
	old, _ := os.ReadFile(grantFile(t, m, dir, "alice"))

	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// 50 meetings, so that the per-meeting limit stays out of it.
			if _, perr := m.OBF(ctx, "alice", fmt.Sprint(81111111100+i)); perr != nil {
				errs <- perr
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n := z.RefreshCalls(); n != 1 {
		t.Fatalf("%d refreshes for 50 joins", n)
	}
	// Rotation: the record holds the new refresh token; the old record's
	// is dead at Zoom, and a grant that has only it is deleted.
	if err := os.WriteFile(grantFile(t, m, dir, "alice"), old, 0o600); err != nil {
		t.Fatal(err)
	}
	m2 := newManager(t, z, dir)
	_, perr := m2.OBF(ctx, "alice", "82222222222")
	if perr.Code() != CodeGrantRevoked || !strings.Contains(perr.Reason(), "/zoom/connect/start") {
		t.Fatalf("old refresh token: %v", perr)
	}
	if _, ok, _, _ := m2.Status(ctx, "alice"); ok {
		t.Fatal("a dead grant was kept")
	}
}

// Test401Retry: an access token Zoom stopped honouring is refreshed once
// and the call retried once.
func Test401Retry(t *testing.T) {
	z := newFake(t)
	m := newManager(t, z, t.TempDir())
	ctx := context.Background()
	connect(t, m, "alice")
	z.ExpireUserTokens()
	if tok, perr := m.OBF(ctx, "alice", "81111111111"); perr != nil || tok == "" || z.RefreshCalls() != 1 {
		t.Fatalf("401 then retry: %q %v, %d refreshes", tok, perr, z.RefreshCalls())
	}
	// Revoked at Zoom (the user removed the app): status finds out, and
	// the grant is gone.
	if _, ok, live, _ := m.Status(ctx, "alice"); !ok || !live {
		t.Fatalf("before the revocation: %v %v", ok, live)
	}
	z.RevokeUser("zu-alice")
	if _, ok, _, perr := m.Status(ctx, "alice"); ok || perr != nil {
		t.Fatalf("status after a revocation: %v %v", ok, perr)
	}
	if _, perr := m.OBF(ctx, "alice", "81111111111"); perr.Code() != CodeNotConnected {
		t.Fatalf("revoked: %v", perr)
	}
	// Zoom unreachable: connected, not known to be live.
	connect(t, m, "alice")
	z.FailAPI(true)
	if _, ok, live, perr := m.Status(ctx, "alice"); !ok || live || perr != nil {
		t.Fatalf("Zoom down: %v %v %v", ok, live, perr)
	}
	z.FailAPI(false)
}

func TestOBFLimits(t *testing.T) {
	z := newFake(t)
	now := time.Unix(1_900_000_000, 0)
	var mu sync.Mutex
	dir := t.TempDir()
	m := newManager(t, z, dir)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	m.cfg.Now = clock
	ctx := context.Background()
	// The fake's tokens expire by the wall clock; this clock is later, so
	// keep the grant fresh by connecting with a long lifetime.
	z.UserTokenLifetime(10 * 365 * 24 * 3600)
	connect(t, m, "alice")
	// Per user and meeting: 6 a minute, then a refusal that names it.
	for i := range 6 {
		if _, perr := m.OBF(ctx, "alice", "81111111111"); perr != nil {
			t.Fatalf("join %d: %v", i, perr)
		}
	}
	if _, perr := m.OBF(ctx, "alice", "81111111111"); perr.Code() != CodeOBFTooMany {
		t.Fatalf("7th: %v", perr)
	}
	if _, perr := m.OBF(ctx, "alice", "82222222222"); perr != nil {
		t.Fatalf("another meeting: %v", perr)
	}
	// Zoom's 429 holds the user until its reset, without asking again.
	z.RateLimit(90)
	if _, perr := m.OBF(ctx, "alice", "83333333333"); perr.Code() != CodeOBFRateLimit {
		t.Fatalf("429: %v", perr)
	}
	z.RateLimit(0)
	calls := z.OBFCalls()
	if _, perr := m.OBF(ctx, "alice", "84444444444"); perr.Code() != CodeOBFRateLimit || z.OBFCalls() != calls {
		t.Fatalf("held: %v, %d calls", perr, z.OBFCalls()-calls)
	}
	// Another instance on the same storage holds off too.
	m2 := newManager(t, z, dir)
	m2.cfg.Now = clock
	if _, perr := m2.OBF(ctx, "alice", "84444444445"); perr.Code() != CodeOBFRateLimit || z.OBFCalls() != calls {
		t.Fatalf("held on another instance: %v, %d calls", perr, z.OBFCalls()-calls)
	}
	mu.Lock()
	now = now.Add(91 * time.Second)
	mu.Unlock()
	if _, perr := m.OBF(ctx, "alice", "84444444444"); perr != nil {
		t.Fatalf("after the hold: %v", perr)
	}
	// Zoom down.
	z.FailAPI(true)
	if _, perr := m.OBF(ctx, "alice", "85555555555"); perr.Code() != CodeOBFUnissued || strings.Contains(perr.Reason(), "Internal") {
		t.Fatalf("Zoom 500: %v", perr)
	}
	z.Close()
	if _, perr := m.OBF(ctx, "alice", "86666666666"); perr.Code() != "zoom_api_unavailable" {
		t.Fatalf("Zoom unreachable: %v", perr)
	}
}

// TestRecordsCannotBeSwapped: a record copied to another user's name does
// not open, so one user cannot be given another's Zoom account.
func TestRecordsCannotBeSwapped(t *testing.T) {
	z := newFake(t)
	dir := t.TempDir()
	m := newManager(t, z, dir)
	connect(t, m, "alice")
	z.AuthorizeAs("zu-bob")
	connect(t, m, "bob")
	a, _ := os.ReadFile(grantFile(t, m, dir, "alice"))
	if err := os.WriteFile(grantFile(t, m, dir, "bob"), a, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, ok, _, _ := m.Status(context.Background(), "bob"); ok {
		t.Fatal("alice's record opened as bob's")
	}
	if _, err := m.DecodeRecord(m.name("bob"), a); err == nil {
		t.Fatal("DecodeRecord accepted a moved record")
	}
}

func grantFile(t *testing.T, m *Manager, dir, user string) string {
	t.Helper()
	return filepath.Join(dir, filepath.FromSlash(m.name(user)))
}

func scan(t *testing.T, dir string, values ...string) {
	t.Helper()
	n := 0
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		n++
		b, _ := os.ReadFile(p)
		for _, v := range values {
			if v != "" && (bytes.Contains(b, []byte(v)) || strings.Contains(p, v)) {
				t.Errorf("%s holds %.12q... in plaintext", p, v)
			}
		}
		return nil
	})
	if n == 0 {
		t.Fatal("nothing stored")
	}
}

// TestUsedStatesSwept: the marker of a used state outlives its cookie's
// life twice over and is then deleted, on a later callback, while a fresh
// one stays and still refuses its replay.
func TestUsedStatesSwept(t *testing.T) {
	z := newFake(t)
	dir := t.TempDir()
	m := newManager(t, z, dir)
	now := time.Now()
	m.cfg.Now = func() time.Time { return now }
	used := func() []string {
		entries, _ := os.ReadDir(filepath.Join(dir, "zoom_signature", "grants", "used"))
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		return names
	}
	connect(t, m, "alice")
	first := used()
	if len(first) != 1 {
		t.Fatalf("markers after one connect: %v", first)
	}
	// Within the hour, and within the markers' life: nothing goes.
	now = now.Add(15 * time.Minute)
	connect(t, m, "bob")
	if n := len(used()); n != 2 {
		t.Fatalf("markers after two connects: %d", n)
	}
	// An hour on, the next callback sweeps both old markers, but not its own.
	now = now.Add(time.Hour)
	u, cookie, err := m.Start("alice")
	if err != nil {
		t.Fatal(err)
	}
	q := authorize(t, u)
	if _, perr := m.Finish(context.Background(), "alice", cookie, q); perr != nil {
		t.Fatal(perr)
	}
	left := used()
	if len(left) != 1 || left[0] == first[0] {
		t.Fatalf("markers after the sweep: %v (the first was %v)", left, first)
	}
	if _, perr := m.Finish(context.Background(), "alice", cookie, q); perr.Code() != CodeStateReplayed {
		t.Fatalf("replay after the sweep: %v", perr)
	}
}

// TestLockDeadline: a grant whose lock another instance holds (here: for
// ever) is refused with state_lock_timeout once the deadline passes,
// never left waiting; with an access token that has not expired, the
// join goes on without the lock.
func TestLockDeadline(t *testing.T) {
	z := newFake(t)
	dir := t.TempDir()
	z.UserTokenLifetime(10) // stale (inside the margin) but usable
	m := newManager(t, z, dir)
	ctx := context.Background()
	connect(t, m, "alice")
	z.UserTokenLifetime(0)
	m.rec = state.NewRecords(m.cfg.Storage, m.cfg.Sealer, state.RecordsConfig{Wait: 300 * time.Millisecond})
	other := &certmagic.FileStorage{Path: dir}
	if err := other.Lock(ctx, m.name("alice")); err != nil {
		t.Fatal(err)
	}
	defer other.Unlock(ctx, m.name("alice"))
	if tok, perr := m.OBF(ctx, "alice", "81111111111"); perr != nil || tok == "" {
		t.Fatalf("a usable access token without the lock: %q %v", tok, perr)
	}
	z.ExpireUserTokens() // Zoom refuses it: a refresh is needed, and the lock
	start := time.Now()
	_, perr := m.OBF(ctx, "alice", "81111111112")
	if perr.Code() != CodeLockTimeout || time.Since(start) > 5*time.Second {
		t.Fatalf("held lock: %v after %s", perr, time.Since(start))
	}
	if z.RefreshCalls() != 0 {
		t.Fatal("refreshed without the lock")
	}
}

// TestUsedStateSealed: a used state is a sealed record of the seam that
// carries its expiry: another instance on the storage refuses its replay,
// nothing of it reads in the clear, and a mark written before marks were
// sealed (a plain Unix time) is swept once old, without a warning.
func TestUsedStateSealed(t *testing.T) {
	z := newFake(t)
	dir := t.TempDir()
	m := newManager(t, z, dir)
	other := newManager(t, z, dir) // a second instance on the same storage
	now := time.Now()
	m.cfg.Now = func() time.Time { return now }
	usedDir := filepath.Join(dir, "zoom_signature", "grants", "used")
	if err := os.MkdirAll(usedDir, 0o700); err != nil {
		t.Fatal(err)
	}
	legacy := filepath.Join(usedDir, strings.Repeat("ab", 32))
	if err := os.WriteFile(legacy, []byte(fmt.Sprint(now.Add(-time.Hour).Unix())), 0o600); err != nil {
		t.Fatal(err)
	}
	u, cookie, err := m.Start("alice")
	if err != nil {
		t.Fatal(err)
	}
	q := authorize(t, u)
	if _, perr := m.Finish(context.Background(), "alice", cookie, q); perr != nil {
		t.Fatal(perr)
	}
	if _, perr := other.Finish(context.Background(), "alice", cookie, q); perr.Code() != CodeStateReplayed {
		t.Fatalf("replay on another instance: %v", perr)
	}
	entries, _ := os.ReadDir(usedDir)
	if len(entries) != 1 {
		t.Fatalf("marks after the callback: %d, want 1 (the old plain one swept)", len(entries))
	}
	b, _ := os.ReadFile(filepath.Join(usedDir, entries[0].Name()))
	if !bytes.HasPrefix(b, []byte("zs1")) || bytes.Contains(b, []byte(`"e"`)) {
		t.Fatalf("the mark is not sealed: %q", b)
	}
	if n := m.rec.Unsealable(); n != 0 {
		t.Fatalf("%d unopened reads counted for the old mark", n)
	}
	// Past its life the mark no longer refuses: the cookie has expired by
	// then anyway, so the callback fails on the cookie, not the mark.
	now = now.Add(usedKeep)
	if perr := m.useState(context.Background(), "some-state"); perr != nil {
		t.Fatal(perr)
	}
	if perr := m.useState(context.Background(), "some-state"); perr.Code() != CodeStateReplayed {
		t.Fatalf("a fresh mark: %v", perr)
	}
	now = now.Add(usedKeep)
	if perr := m.useState(context.Background(), "some-state"); perr != nil {
		t.Fatalf("an expired mark: %v", perr)
	}
}
