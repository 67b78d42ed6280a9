package session

import (
	"encoding/base64"
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/problem"

	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/zoomsig/caddy-zoom-signature/caddymodule/session/sessiontest"
)

var (
	hmacSecret = []byte("site-session-secret-0123456789abcdef")
	rsaKey, _  = rsa.GenerateKey(rand.Reader, 2048)
	ecKey, _   = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	clock      = time.Unix(1795000000, 0)
)

func now() time.Time { return clock }

func claims(extra jwt.MapClaims) jwt.MapClaims {
	c := jwt.MapClaims{"sub": "alice", "iss": "https://id.example", "aud": "zoom-app", "exp": clock.Add(time.Hour).Unix(),
		"name": "Alice Example", "groups": []string{"staff", "zoom-hosts"}}
	for k, v := range extra {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

func signed(t testing.TB, m jwt.SigningMethod, key any, c jwt.MapClaims, kid string) string {
	t.Helper()
	tok := jwt.NewWithClaims(m, c)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func hmacVerifier(t testing.TB, mod func(*Config)) *Verifier {
	t.Helper()
	c := Config{HMACSecret: hmacSecret, Issuer: "https://id.example", Audience: []string{"zoom-app"}, Leeway: 30 * time.Second, Now: now,
		Sources: []Source{{Cookie: true, Name: "session"}, {Name: "Authorization"}}}
	if mod != nil {
		mod(&c)
	}
	v, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(v.Close)
	return v
}

func bearer(tok string) *http.Request {
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	return r
}

func TestHMACSession(t *testing.T) {
	v := hmacVerifier(t, nil)
	tok := signed(t, jwt.SigningMethodHS256, hmacSecret, claims(nil), "")
	s, err := v.Verify(bearer(tok))
	if err != nil {
		t.Fatal(err)
	}
	if s.User != "alice" || s.Claims["name"] != "Alice Example" {
		t.Fatalf("session %+v", s)
	}
	// From a cookie too.
	r := httptest.NewRequest("GET", "/", nil)
	r.AddCookie(&http.Cookie{Name: "session", Value: tok})
	if s, err := v.Verify(r); err != nil || s.User != "alice" {
		t.Fatalf("cookie: %v", err)
	}
}

func TestRefusals(t *testing.T) {
	v := hmacVerifier(t, func(c *Config) { c.Algorithms = []string{"HS256"} })
	pemKey := func() []byte {
		der, _ := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
		return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	}()
	rsaV, err := New(Config{PublicKey: &rsaKey.PublicKey, Algorithms: []string{"RS256"}, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	none := func(c jwt.MapClaims) string {
		s, _ := jwt.NewWithClaims(jwt.SigningMethodNone, c).SignedString(jwt.UnsafeAllowNoneSignatureType)
		return s
	}
	good := signed(t, jwt.SigningMethodHS256, hmacSecret, claims(nil), "")
	for _, c := range []struct {
		name string
		v    *Verifier
		r    *http.Request
		code string
	}{
		{"missing", v, httptest.NewRequest("GET", "/", nil), CodeMissing},
		{"basic scheme is not a session", v, func() *http.Request { r := httptest.NewRequest("GET", "/", nil); r.SetBasicAuth("a", "b"); return r }(), CodeMissing},
		{"malformed", v, bearer("not.a.jwt"), CodeMalformed},
		{"garbage", v, bearer("garbage"), CodeMalformed},
		{"bad signature", v, bearer(good[:len(good)-4] + "AAAA"), CodeBadSignature},
		{"other secret", v, bearer(signed(t, jwt.SigningMethodHS256, []byte("another-secret-of-enough-length!!"), claims(nil), "")), CodeBadSignature},
		{"expired past leeway", v, bearer(signed(t, jwt.SigningMethodHS256, hmacSecret, claims(jwt.MapClaims{"exp": clock.Add(-31 * time.Second).Unix()}), "")), CodeExpired},
		{"not yet valid past leeway", v, bearer(signed(t, jwt.SigningMethodHS256, hmacSecret, claims(jwt.MapClaims{"nbf": clock.Add(31 * time.Second).Unix()}), "")), CodeNotYetValid},
		{"no exp", v, bearer(signed(t, jwt.SigningMethodHS256, hmacSecret, claims(jwt.MapClaims{"exp": nil}), "")), CodeMalformed},
		{"wrong issuer", v, bearer(signed(t, jwt.SigningMethodHS256, hmacSecret, claims(jwt.MapClaims{"iss": "https://evil.example"}), "")), CodeWrongIssuer},
		{"wrong audience", v, bearer(signed(t, jwt.SigningMethodHS256, hmacSecret, claims(jwt.MapClaims{"aud": "other-app"}), "")), CodeWrongAudience},
		{"alg none", v, bearer(none(claims(nil))), CodeAlgorithm},
		{"alg not pinned", v, bearer(signed(t, jwt.SigningMethodHS384, hmacSecret, claims(nil), "")), CodeAlgorithm},
		{"algorithm confusion", rsaV, bearer(signed(t, jwt.SigningMethodHS256, pemKey, claims(nil), "")), CodeAlgorithm},
		{"no user", v, bearer(signed(t, jwt.SigningMethodHS256, hmacSecret, claims(jwt.MapClaims{"sub": nil}), "")), CodeNoUser},
		{"crit header", v, bearer(func() string {
			tok := jwt.NewWithClaims(jwt.SigningMethodHS256, claims(nil))
			tok.Header["crit"] = []string{"exp"}
			s, _ := tok.SignedString(hmacSecret)
			return s
		}()), CodeCrit},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, err := c.v.Verify(c.r)
			if err == nil {
				t.Fatalf("accepted: %+v", s)
			}
			if err.Code() != c.code || err.Fault != problem.Client || err.Reason() == "" {
				t.Fatalf("got %s (%s): %s; want %s", err.Code(), err.Fault, err.Reason(), c.code)
			}
			if tok := v.Token(c.r); tok != "" && strings.Contains(err.Reason(), tok) {
				t.Fatal("the reason echoes the token")
			}
		})
	}
	// Inside the leeway, both directions pass.
	for _, extra := range []jwt.MapClaims{{"exp": clock.Add(-29 * time.Second).Unix()}, {"nbf": clock.Add(29 * time.Second).Unix()}} {
		if _, err := v.Verify(bearer(signed(t, jwt.SigningMethodHS256, hmacSecret, claims(extra), ""))); err != nil {
			t.Errorf("within leeway %v: %v", extra, err)
		}
	}
	// RS256 itself works with the public key.
	if _, err := rsaV.Verify(bearer(signed(t, jwt.SigningMethodRS256, rsaKey, claims(nil), ""))); err != nil {
		t.Fatal(err)
	}
	if k, err := ParsePublicKeyPEM(pemKey); err != nil || !k.(*rsa.PublicKey).Equal(&rsaKey.PublicKey) {
		t.Fatalf("PEM: %v", err)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, c := range []struct {
		cfg  Config
		want string
	}{
		{Config{}, "exactly one of"},
		{Config{HMACSecret: hmacSecret, JWKSURL: "http://x"}, "exactly one of"},
		{Config{PublicKey: &rsaKey.PublicKey}, "needs algorithms"},
		{Config{PublicKey: &rsaKey.PublicKey, Algorithms: []string{"HS256"}}, "does not go with this key"},
		{Config{HMACSecret: hmacSecret, Algorithms: []string{"RS256"}}, "does not go with this key"},
		{Config{HMACSecret: hmacSecret, Algorithms: []string{"none"}}, "not known"},
		{Config{HMACSecret: []byte{}}, "empty"},
	} {
		if _, err := New(c.cfg); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.cfg.Algorithms, err, c.want)
		}
	}
}

func TestCache(t *testing.T) {
	cur := clock
	v := hmacVerifier(t, func(c *Config) { c.Now = func() time.Time { return cur }; c.Leeway = 0 })
	tok := signed(t, jwt.SigningMethodHS256, hmacSecret, claims(jwt.MapClaims{"exp": clock.Add(time.Minute).Unix()}), "")
	a, _ := v.Verify(bearer(tok))
	b, _ := v.Verify(bearer(tok))
	if a == nil || a != b {
		t.Fatal("second verification did not come from the cache")
	}
	cur = clock.Add(time.Minute)
	if s, err := v.Verify(bearer(tok)); err == nil || err.Code() != CodeExpired {
		t.Fatalf("cached token outlived its exp: %+v %v", s, err)
	}
	// The cache is bounded.
	small := hmacVerifier(t, func(c *Config) { c.CacheSize = 10 })
	for i := range 100 {
		small.Verify(bearer(signed(t, jwt.SigningMethodHS256, hmacSecret, claims(jwt.MapClaims{"jti": strconv.Itoa(i)}), "")))
	}
	if n := len(small.cache); n > 10 {
		t.Fatalf("cache holds %d entries, more than 10", n)
	}
}

func newJWKS(t testing.TB) *sessiontest.JWKS {
	j := sessiontest.NewJWKS(map[string]*rsa.PublicKey{})
	t.Cleanup(j.Close)
	return j
}

func jwksVerifier(t testing.TB, url string, refetch, refresh time.Duration) *Verifier {
	v, err := New(Config{JWKSURL: url, Algorithms: []string{"RS256"}, JWKSRefetchMin: refetch, JWKSRefresh: refresh})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(v.Close)
	return v
}

func rsToken(t testing.TB, key *rsa.PrivateKey, kid, jti string) string {
	return signed(t, jwt.SigningMethodRS256, key, jwt.MapClaims{"sub": "alice", "exp": time.Now().Add(time.Hour).Unix(), "jti": jti}, kid)
}

// eventually polls cond a bounded number of times; nothing is asserted
// about how long it takes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for range 500 {
		if cond() {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s never happened", what)
}

func TestJWKS(t *testing.T) {
	srv := newJWKS(t)
	srv.Set(false, map[string]*rsa.PublicKey{"k1": &rsaKey.PublicKey})
	v := jwksVerifier(t, srv.URL, time.Hour, time.Hour)
	start := srv.Hits.Load()
	for i := range 1000 {
		if _, err := v.Verify(bearer(rsToken(t, rsaKey, "k1", strconv.Itoa(i%50)))); err != nil {
			t.Fatal(err)
		}
	}
	if n := srv.Hits.Load(); n != 1 || start != 1 {
		t.Fatalf("JWKS fetched %d times for 1000 verifications", n)
	}
	// Down later: the cached keys keep working.
	srv.Set(true, nil)
	if _, err := v.Verify(bearer(rsToken(t, rsaKey, "k1", "fresh"))); err != nil {
		t.Fatalf("with the JWKS down: %v", err)
	}
}

func TestJWKSRotationAndFlood(t *testing.T) {
	srv := newJWKS(t)
	srv.Set(false, map[string]*rsa.PublicKey{"k1": &rsaKey.PublicKey})
	rsa2, _ := rsa.GenerateKey(rand.Reader, 2048)
	v := jwksVerifier(t, srv.URL, time.Hour, time.Hour)
	// A new kid is picked up by one refetch, without a restart.
	srv.Set(false, map[string]*rsa.PublicKey{"k1": &rsaKey.PublicKey, "k2": &rsa2.PublicKey})
	if _, err := v.Verify(bearer(rsToken(t, rsa2, "k2", ""))); err != nil {
		t.Fatalf("rotated key: %v", err)
	}
	// A flood of unknown kids does not become a flood of fetches: the
	// refetch budget (one per hour here) is spent.
	before := srv.Hits.Load()
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := v.Verify(bearer(rsToken(t, rsa2, "unknown-"+strconv.Itoa(i), "")))
			if err == nil || err.Code() != CodeUnknownKey {
				t.Errorf("unknown kid: %v", err)
			}
		}()
	}
	wg.Wait()
	if n := srv.Hits.Load() - before; n > 0 {
		t.Fatalf("200 unknown kids caused %d fetches", n)
	}
}

func TestJWKSDownAtStart(t *testing.T) {
	srv := newJWKS(t)
	srv.Set(true, map[string]*rsa.PublicKey{"k1": &rsaKey.PublicKey})
	v := jwksVerifier(t, srv.URL, 10*time.Millisecond, time.Hour)
	tok := rsToken(t, rsaKey, "k1", "")
	if _, err := v.Verify(bearer(tok)); err == nil || err.Code() != CodeJWKSDown || err.Fault != problem.Issuer {
		t.Fatalf("JWKS down at start: %v", err)
	}
	srv.Set(false, nil)
	eventually(t, "the keys arriving", func() bool { _, err := v.Verify(bearer(tok)); return err == nil })
}

func TestJWKSKeyRemovedStopsCachedTokens(t *testing.T) {
	srv := newJWKS(t)
	srv.Set(false, map[string]*rsa.PublicKey{"k1": &rsaKey.PublicKey})
	v := jwksVerifier(t, srv.URL, time.Hour, 50*time.Millisecond)
	tok := rsToken(t, rsaKey, "k1", "")
	if _, err := v.Verify(bearer(tok)); err != nil {
		t.Fatal(err)
	}
	rsa2, _ := rsa.GenerateKey(rand.Reader, 2048)
	srv.Set(false, map[string]*rsa.PublicKey{"k2": &rsa2.PublicKey})
	eventually(t, "the removed key's cached token being refused", func() bool {
		_, err := v.Verify(bearer(tok))
		return err != nil && err.Code() == CodeUnknownKey
	})
}

func TestES256(t *testing.T) {
	v, err := New(Config{PublicKey: &ecKey.PublicKey, Algorithms: []string{"ES256"}, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(bearer(signed(t, jwt.SigningMethodES256, ecKey, claims(nil), ""))); err != nil {
		t.Fatal(err)
	}
	_ = context.Background()
}

func FuzzVerify(f *testing.F) {
	v := hmacVerifier(f, nil)
	f.Add("Bearer "+signed(f, jwt.SigningMethodHS256, hmacSecret, claims(nil), ""), "session=abc")
	f.Add("Bearer a.b.c", "session=a.b.c; other=1")
	f.Add("bearer   ", "session=")
	f.Add("Basic Zm9vOmJhcg==", "")
	f.Add("Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJhIn0.", "session=\"quoted\"")
	// A payload nested deeper than any parser should follow.
	f.Add("Bearer eyJhbGciOiJIUzI1NiJ9."+base64.RawURLEncoding.EncodeToString([]byte(`{"sub":`+strings.Repeat("[", 200)+`}`))+".x", "")
	f.Fuzz(func(t *testing.T, authz, cookie string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Authorization", authz)
		r.Header.Set("Cookie", cookie)
		s, err := v.Verify(r)
		if (s == nil) == (err == nil) {
			t.Fatalf("session %v and error %v", s, err)
		}
		if err != nil && (err.Code() == "" || err.Fault == 0) {
			t.Fatalf("incomplete error %+v", err)
		}
		if s != nil && s.User == "" {
			t.Fatal("session without a user")
		}
	})
}

func benchVerify(b *testing.B, cfg Config, tok string) {
	cfg.Now = now
	v, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	r := bearer(tok)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(r); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	hsTok := signed(b, jwt.SigningMethodHS256, hmacSecret, claims(nil), "")
	rsTok := signed(b, jwt.SigningMethodRS256, rsaKey, claims(nil), "")
	esTok := signed(b, jwt.SigningMethodES256, ecKey, claims(nil), "")
	for _, c := range []struct {
		name string
		cfg  Config
		tok  string
	}{
		{"HS256", Config{HMACSecret: hmacSecret}, hsTok},
		{"RS256", Config{PublicKey: &rsaKey.PublicKey, Algorithms: []string{"RS256"}}, rsTok},
		{"ES256", Config{PublicKey: &ecKey.PublicKey, Algorithms: []string{"ES256"}}, esTok},
	} {
		cold := c.cfg
		cold.CacheSize = -1
		b.Run(c.name+"/cold", func(b *testing.B) { benchVerify(b, cold, c.tok) })
		b.Run(c.name+"/cached", func(b *testing.B) { benchVerify(b, c.cfg, c.tok) })
	}
}

// An issuer that starts serving an empty key set, or one too large to
// read, does not sign everybody out: the last good keys stay.
func TestJWKSKeepsLastGoodKeys(t *testing.T) {
	for _, c := range []struct {
		name    string
		breakIt func(*sessiontest.JWKS)
	}{
		{"empty key set", func(j *sessiontest.JWKS) { j.Set(false, map[string]*rsa.PublicKey{}) }},
		{"key set over 1 MiB", func(j *sessiontest.JWKS) { j.Pad(2 << 20) }},
		{"issuer down", func(j *sessiontest.JWKS) { j.Set(true, nil) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := newJWKS(t)
			srv.Set(false, map[string]*rsa.PublicKey{"k1": &rsaKey.PublicKey})
			v := jwksVerifier(t, srv.URL, time.Hour, 30*time.Millisecond)
			if _, err := v.Verify(bearer(rsToken(t, rsaKey, "k1", "before"))); err != nil {
				t.Fatal(err)
			}
			c.breakIt(srv)
			hits := srv.Hits.Load()
			eventually(t, "two refreshes", func() bool { return srv.Hits.Load() >= hits+2 })
			// A token never seen before, so the verified-token cache
			// cannot answer for the key set.
			if _, err := v.Verify(bearer(rsToken(t, rsaKey, "k1", "after"))); err != nil {
				t.Fatalf("after the issuer broke: %v", err)
			}
		})
	}
}

// Without a good key set ever, the refusal says why, truthfully.
func TestJWKSStateIsNamed(t *testing.T) {
	for _, c := range []struct {
		name  string
		setup func(*sessiontest.JWKS)
		want  string
	}{
		{"empty from the start", func(j *sessiontest.JWKS) { j.Set(false, map[string]*rsa.PublicKey{}) }, "holds no keys"},
		{"too large from the start", func(j *sessiontest.JWKS) {
			j.Set(false, map[string]*rsa.PublicKey{"k1": &rsaKey.PublicKey})
			j.Pad(2 << 20)
		}, "larger than 1 MiB"},
		{"down from the start", func(j *sessiontest.JWKS) { j.Set(true, nil) }, "answered with an HTTP error status"},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := newJWKS(t)
			c.setup(srv)
			v := jwksVerifier(t, srv.URL, time.Hour, time.Hour)
			_, err := v.Verify(bearer(rsToken(t, rsaKey, "k1", "")))
			if err == nil || err.Code() != CodeJWKSDown || err.Fault != problem.Issuer || !strings.Contains(err.Reason(), c.want) {
				t.Fatalf("got %v, want jwks_unavailable saying %q", err, c.want)
			}
		})
	}
}
