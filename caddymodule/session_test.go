package caddymodule

import (
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/join"

	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/zoomsig/caddy-zoom-signature/caddymodule/session/sessiontest"
)

const sessionSecret = "site-session-secret-0123456789abcdef"

var sessionRSA, _ = rsa.GenerateKey(rand.Reader, 2048)

// sessionToken signs a site session token; extra claims override, nil
// values delete.
func sessionToken(t testing.TB, method jwt.SigningMethod, key any, kid string, extra jwt.MapClaims) string {
	t.Helper()
	c := jwt.MapClaims{"sub": "alice", "iss": "https://id.example", "aud": "zoom-app", "exp": time.Now().Add(time.Hour).Unix(),
		"name": "Alice Example", "email": "alice@example.com", "groups": []string{"staff"}, "zoom_meetings": []string{"85746065432"}}
	for k, v := range extra {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	tok := jwt.NewWithClaims(method, c)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	leakWatch.Lock()
	leakWatch.tokens = append(leakWatch.tokens, s) // session tokens must not reach the logs either
	leakWatch.Unlock()
	return s
}

func hs(t testing.TB, extra jwt.MapClaims) string {
	return sessionToken(t, jwt.SigningMethodHS256, []byte(sessionSecret), "", extra)
}

func newJWKSEndpoint(t *testing.T) *sessiontest.JWKS {
	j := sessiontest.NewJWKS(map[string]*rsa.PublicKey{})
	t.Cleanup(j.Close)
	return j
}

const sessionSite = `
	handle /s/join/* {
		zoom_signature {
			sdk_key ` + testKey + `
			sdk_secret {env.ZS_TEST_SECRET}
			session_jwt {
				from cookie session
				from header Authorization
				hmac_secret {env.ZS_SESSION_SECRET}
				algorithms HS256
				issuer https://id.example
				audience zoom-app
				leeway 30s
			}
			host_when {http.zoom_signature.user.groups} zoom-hosts
			fill userName {http.zoom_signature.user.name}
			fill userEmail {http.zoom_signature.user.email}
		}
		reverse_proxy {BACKEND}
	}
	handle /s/down/* {
		zoom_signature {
			sdk_key ` + testKey + `
			sdk_secret {env.ZS_TEST_SECRET}
			session_jwt {
				from cookie session
				hmac_secret {env.ZS_SESSION_SECRET}
			}
			host_when {http.zoom_signature.user.groups} zoom-hosts
			on_host_denied downgrade
		}
		reverse_proxy {BACKEND}
	}
	handle /s/endpoint {
		zoom_signature {
			mode endpoint
			sdk_key ` + testKey + `
			sdk_secret {env.ZS_TEST_SECRET}
			session_jwt {
				hmac_secret {env.ZS_SESSION_SECRET}
			}
			meetings_claim zoom_meetings
		}
	}
	handle /j/join/* {
		zoom_signature {
			sdk_key ` + testKey + `
			sdk_secret {env.ZS_TEST_SECRET}
			session_jwt {
				jwks {JWKS}/keys
				algorithms RS256
				jwks_refetch_minimum {REFETCH}
			}
		}
		reverse_proxy {BACKEND}
	}
`

func startSessions(t *testing.T, jwks *sessiontest.JWKS, refetch string) (*instance, *backend) {
	t.Setenv("ZS_SESSION_SECRET", sessionSecret)
	b := newBackend(t)
	site := strings.NewReplacer("{JWKS}", jwks.URL, "{REFETCH}", refetch).Replace(sessionSite)
	return startCaddy(t, site, b.URL), b
}

func withCookie(tok string) []string { return []string{"Cookie", "session=" + tok} }

func TestSessionRefusals(t *testing.T) {
	j := newJWKSEndpoint(t)
	j.Set(false, map[string]*rsa.PublicKey{"k1": &sessionRSA.PublicKey})
	c, b := startSessions(t, j, "1h")
	// The classic confusion attack: HS256 keyed with the issuer's public key
	// PEM, which anyone can download.
	der, _ := x509.MarshalPKIXPublicKey(&sessionRSA.PublicKey)
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	none, _ := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims{"sub": "alice", "exp": time.Now().Add(time.Hour).Unix()}).SignedString(jwt.UnsafeAllowNoneSignatureType)
	good := hs(t, nil)
	before := b.hits.Load()
	for _, tc := range []struct {
		name, path string
		hdr        []string
		code       string
	}{
		{"missing", "/s/join/join-config", nil, "session_missing"},
		{"malformed", "/s/join/join-config", withCookie("not-a-jwt"), "session_malformed"},
		{"bad signature", "/s/join/join-config", withCookie(good[:len(good)-5] + "AAAAA"), "session_bad_signature"},
		{"expired", "/s/join/join-config", withCookie(hs(t, jwt.MapClaims{"exp": time.Now().Add(-time.Minute).Unix()})), "session_expired"},
		{"not yet valid", "/s/join/join-config", withCookie(hs(t, jwt.MapClaims{"nbf": time.Now().Add(time.Minute).Unix()})), "session_not_yet_valid"},
		{"wrong issuer", "/s/join/join-config", withCookie(hs(t, jwt.MapClaims{"iss": "https://evil.example"})), "session_wrong_issuer"},
		{"wrong audience", "/s/join/join-config", withCookie(hs(t, jwt.MapClaims{"aud": "other"})), "session_wrong_audience"},
		{"alg none", "/s/join/join-config", withCookie(none), "session_algorithm_not_allowed"},
		{"alg not pinned", "/s/join/join-config", withCookie(sessionToken(t, jwt.SigningMethodHS512, []byte(sessionSecret), "", nil)), "session_algorithm_not_allowed"},
		{"algorithm confusion", "/j/join/join-config", []string{"Authorization", "Bearer " + sessionToken(t, jwt.SigningMethodHS256, pubPEM, "k1", nil)}, "session_algorithm_not_allowed"},
		{"unknown kid", "/j/join/join-config", []string{"Authorization", "Bearer " + sessionToken(t, jwt.SigningMethodRS256, sessionRSA, "nope", nil)}, "session_unknown_key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := c.do("GET", tc.path, "", "", tc.hdr...)
			if resp.status != 401 || resp.errorCode(t) != tc.code {
				t.Fatalf("%d %s; want 401 %s", resp.status, resp.body, tc.code)
			}
		})
	}
	if n := b.hits.Load() - before; n != 0 {
		t.Fatalf("the backend was called %d times for refused sessions", n)
	}
	// Within the leeway, an expired token still passes.
	if resp := c.do("GET", "/s/join/join-config", "", "", withCookie(hs(t, jwt.MapClaims{"exp": time.Now().Add(-10 * time.Second).Unix()}))...); resp.status != 200 {
		t.Fatalf("within leeway: %d %s", resp.status, resp.body)
	}
}

func TestSessionPolicyAndFill(t *testing.T) {
	j := newJWKSEndpoint(t)
	c, _ := startSessions(t, j, "1h")
	// Claims fill the join config: the backend's userName is replaced.
	resp := c.do("GET", "/s/join/join-config", "", "", "Authorization", "Bearer "+hs(t, nil))
	m := resp.json(t)
	if resp.status != 200 || m["userName"] != "Alice Example" || m["userEmail"] != "alice@example.com" {
		t.Fatalf("fill: %d %s", resp.status, resp.body)
	}
	checkSigned(t, m["signature"].(string), "85746065432", 0)
	// host_when on an array claim: any element matches.
	host := hs(t, jwt.MapClaims{"groups": []string{"staff", "zoom-hosts"}})
	if resp = c.do("GET", "/s/join/host", "", "", withCookie(host)...); resp.status != 200 {
		t.Fatalf("host by claim: %d %s", resp.status, resp.body)
	}
	checkSigned(t, resp.json(t)["signature"].(string), "85746065432", 1)
	if resp = c.do("GET", "/s/join/host", "", "", withCookie(hs(t, nil))...); resp.status != 403 || resp.errorCode(t) != join.CodeHostNotAllowed {
		t.Fatalf("not in group: %d %s", resp.status, resp.body)
	}
	if resp = c.do("GET", "/s/down/host", "", "", withCookie(hs(t, nil))...); resp.status != 200 || resp.json(t)["role"] != 0.0 {
		t.Fatalf("downgrade: %d %s", resp.status, resp.body)
	}
	// Endpoint mode: meetings_claim is the scope.
	post := func(tok, body string) response {
		return c.do("POST", "/s/endpoint", "", body, "Authorization", "Bearer "+tok)
	}
	if resp = post(hs(t, nil), `{"meetingNumber":"857-4606-5432","role":0}`); resp.status != 200 {
		t.Fatalf("meeting in claim: %d %s", resp.status, resp.body)
	}
	if resp = post(hs(t, nil), `{"meetingNumber":"99999999999","role":0}`); resp.status != 403 || resp.errorCode(t) != join.CodeMeetingNotAllowed {
		t.Fatalf("meeting outside claim: %d %s", resp.status, resp.body)
	}
	if resp = post(hs(t, jwt.MapClaims{"zoom_meetings": "11111111111, 99999999999"}), `{"meetingNumber":"99999999999","role":0}`); resp.status != 200 {
		t.Fatalf("comma-separated claim: %d %s", resp.status, resp.body)
	}
}

func TestSessionJWKS(t *testing.T) {
	j := newJWKSEndpoint(t)
	j.Set(false, map[string]*rsa.PublicKey{"k1": &sessionRSA.PublicKey})
	c, _ := startSessions(t, j, "1h")
	start := j.Hits.Load()
	toks := make([]string, 20)
	for i := range toks {
		toks[i] = sessionToken(t, jwt.SigningMethodRS256, sessionRSA, "k1", jwt.MapClaims{"jti": strconv.Itoa(i)})
	}
	for i := range 1000 {
		resp := c.do("GET", "/j/join/join-config", "", "", "Authorization", "Bearer "+toks[i%len(toks)])
		if resp.status != 200 {
			t.Fatalf("request %d: %d %s", i, resp.status, resp.body)
		}
	}
	if n := j.Hits.Load(); n != start || n > 2 {
		t.Fatalf("JWKS hit %d times (%d at start) for 1000 requests", n, start)
	}
	if v := c.metricValue(t, `caddy_zoom_signature_jwks_fetches_total{result="ok"}`); v < 1 {
		t.Fatalf("jwks fetch metric %v", v)
	}
	// Rotation: a new kid is picked up without a restart.
	k2, _ := rsa.GenerateKey(rand.Reader, 2048)
	j.Set(false, map[string]*rsa.PublicKey{"k1": &sessionRSA.PublicKey, "k2": &k2.PublicKey})
	if resp := c.do("GET", "/j/join/join-config", "", "", "Authorization", "Bearer "+sessionToken(t, jwt.SigningMethodRS256, k2, "k2", nil)); resp.status != 200 {
		t.Fatalf("rotated key: %d %s", resp.status, resp.body)
	}
	// A flood of unknown kids: no more fetches (the refetch budget is spent).
	before := j.Hits.Load()
	for i := range 100 {
		c.do("GET", "/j/join/join-config", "", "", "Authorization", "Bearer "+sessionToken(t, jwt.SigningMethodRS256, k2, "x"+strconv.Itoa(i), nil))
	}
	if n := j.Hits.Load() - before; n > 0 {
		t.Fatalf("100 unknown kids caused %d JWKS fetches", n)
	}
	// JWKS down later: cached keys keep working.
	j.Set(true, nil)
	if resp := c.do("GET", "/j/join/join-config", "", "", "Authorization", "Bearer "+sessionToken(t, jwt.SigningMethodRS256, sessionRSA, "k1", jwt.MapClaims{"jti": "new"})); resp.status != 200 {
		t.Fatalf("JWKS down later: %d %s", resp.status, resp.body)
	}
}

func TestSessionJWKSDownAtStart(t *testing.T) {
	j := newJWKSEndpoint(t)
	j.Set(true, map[string]*rsa.PublicKey{"k1": &sessionRSA.PublicKey})
	c, b := startSessions(t, j, "10ms") // Provision succeeds with the JWKS down
	tok := sessionToken(t, jwt.SigningMethodRS256, sessionRSA, "k1", nil)
	before := b.hits.Load()
	resp := c.do("GET", "/j/join/join-config", "", "", "Authorization", "Bearer "+tok)
	if resp.status != 503 || resp.errorCode(t) != "jwks_unavailable" || b.hits.Load() != before {
		t.Fatalf("JWKS down: %d %s", resp.status, resp.body)
	}
	j.Set(false, nil)
	for i := 0; ; i++ {
		if resp = c.do("GET", "/j/join/join-config", "", "", "Authorization", "Bearer "+tok); resp.status == 200 {
			break
		}
		if i == 500 {
			t.Fatalf("the keys never arrived: %d %s", resp.status, resp.body)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestForwardAuth runs the real forward_auth directive against a local auth
// service; the identity is the header it copies, and a client cannot send
// that header itself.
func TestForwardAuth(t *testing.T) {
	auth := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Header.Get("Cookie") {
		case "app=alice-session":
			w.Header().Set("Remote-User", "alice")
			w.Header().Set("Remote-Groups", "zoom-hosts")
		case "app=bob-session":
			w.Header().Set("Remote-User", "bob")
		default:
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer auth.Close()
	b := newBackend(t)
	c := startCaddy(t, `
	forward_auth /fa/* `+auth.URL+` {
		uri /check
		copy_headers Remote-User Remote-Groups
	}
	handle /fa/* {
		zoom_signature {
			sdk_key `+testKey+`
			sdk_secret {env.ZS_TEST_SECRET}
			identity {http.request.header.Remote-User}
			host_when {http.request.header.Remote-Groups} zoom-hosts
		}
		reverse_proxy {BACKEND}
	}
	handle /open/* {
		zoom_signature {
			sdk_key `+testKey+`
			sdk_secret {env.ZS_TEST_SECRET}
			identity {http.request.header.Remote-User}
		}
		reverse_proxy {BACKEND}
	}
`, b.URL)
	if resp := c.do("GET", "/fa/host", "", "", "Cookie", "app=alice-session"); resp.status != 200 {
		t.Fatalf("alice as host: %d %s", resp.status, resp.body)
	}
	// bob sends the headers himself: forward_auth replaces them with its own.
	resp := c.do("GET", "/fa/host", "", "", "Cookie", "app=bob-session", "Remote-User", "alice", "Remote-Groups", "zoom-hosts")
	if resp.status != 403 || resp.errorCode(t) != join.CodeHostNotAllowed {
		t.Fatalf("bob spoofing groups: %d %s", resp.status, resp.body)
	}
	if got := b.header().Get("Remote-User"); got != "" && got != "bob" {
		t.Fatalf("backend saw Remote-User %q", got)
	}
	// No session: forward_auth refuses before us.
	if resp = c.do("GET", "/fa/join-config", "", "", "Remote-User", "alice"); resp.status != 401 {
		t.Fatalf("spoofed identity without a session: %d", resp.status)
	}
}
