// Package session verifies a site's own session JWT, taken from a cookie or
// an Authorization: Bearer header, so that zoom_signature needs no other
// plugin to know who is asking. Keys are an HMAC secret, a PEM public key
// or a JWKS URL (cached, refreshed on schedule and, rate limited, on an
// unknown kid). Algorithms are pinned; "none" and algorithm confusion are
// always refused. Verified tokens are cached by their SHA-256 until shortly
// before they expire.
//
// Parsing and verification are golang-jwt/jwt v5's; the JWKS cache is
// MicahParks/keyfunc's. The package imports nothing from Caddy.
package session

import (
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"

	"github.com/zoomsig/caddy-zoom-signature/caddymodule/problem"
)

// Source says where the token is: a cookie (Name is the cookie's name) or
// a header (Name is the header; Authorization expects the Bearer scheme).
type Source struct {
	Cookie bool
	Name   string
}

// Config configures a Verifier. Exactly one of HMACSecret, PublicKey and
// JWKSURL is set.
type Config struct {
	Sources    []Source
	HMACSecret []byte
	PublicKey  crypto.PublicKey
	JWKSURL    string
	Algorithms []string // pinned; HS* only with HMACSecret, others only with keys
	Issuer     string
	Audience   []string // any of them
	Leeway     time.Duration
	UserClaim  string // default "sub"

	JWKSRefresh    time.Duration // scheduled refresh; default 1h
	JWKSRefetchMin time.Duration // least time between refetches for unknown kids; default 30s
	HTTPClient     *http.Client
	// OnJWKSFetch is told about every JWKS fetch, for metrics. It never sees
	// the keys.
	OnJWKSFetch func(err error)

	CacheSize int // verified tokens kept; default 10000, negative disables
	Now       func() time.Time
}

// Session is a verified token's user and claims.
type Session struct {
	User   string
	Claims map[string]any
	expiry time.Time
	kid    string
}

// refused is the client's fault: no token, or one that does not verify.
// No reason ever contains the token.
func refused(code, reason string) *problem.Error {
	return problem.New(problem.Client, code, "session", reason)
}

// Refusal codes.
const (
	CodeMissing       = "session_missing"
	CodeMalformed     = "session_malformed"
	CodeBadSignature  = "session_bad_signature"
	CodeExpired       = "session_expired"
	CodeNotYetValid   = "session_not_yet_valid"
	CodeWrongIssuer   = "session_wrong_issuer"
	CodeWrongAudience = "session_wrong_audience"
	CodeAlgorithm     = "session_algorithm_not_allowed"
	CodeUnknownKey    = "session_unknown_key"
	CodeNoUser        = "session_no_user"
	CodeJWKSDown      = "jwks_unavailable"
	CodeCrit          = "session_crit_unsupported"
)

var hmacAlgs = []string{"HS256", "HS384", "HS512"}

// Verifier checks session tokens. It is safe for concurrent use.
type Verifier struct {
	cfg    Config
	parser *jwt.Parser
	key    jwt.Keyfunc
	jwks   keyfunc.Keyfunc
	keys   *keepingStorage
	// jwksErr is why the last JWKS fetch failed, in this package's words.
	jwksErr atomic.Value
	cancel  context.CancelFunc
	now     func() time.Time

	mu    sync.Mutex
	cache map[[sha256.Size]byte]*Session
}

// New builds a Verifier. With a JWKS URL it starts fetching at once, but an
// unreachable JWKS is not an error here: requests get jwks_unavailable (503)
// until the keys arrive.
func New(c Config) (*Verifier, error) {
	if len(c.Sources) == 0 {
		c.Sources = []Source{{Name: "Authorization"}}
	}
	if c.UserClaim == "" {
		c.UserClaim = "sub"
	}
	if c.JWKSRefresh <= 0 {
		c.JWKSRefresh = time.Hour
	}
	if c.JWKSRefetchMin <= 0 {
		c.JWKSRefetchMin = 30 * time.Second
	}
	if c.CacheSize == 0 {
		c.CacheSize = 10000
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if err := checkKeys(c); err != nil {
		return nil, err
	}
	if len(c.Algorithms) == 0 {
		c.Algorithms = hmacAlgs // checkKeys allows this with an HMAC secret only
	}

	v := &Verifier{cfg: c, now: c.Now, cache: map[[sha256.Size]byte]*Session{}}
	opts := []jwt.ParserOption{
		jwt.WithValidMethods(c.Algorithms),
		jwt.WithLeeway(c.Leeway),
		jwt.WithTimeFunc(c.Now),
		jwt.WithExpirationRequired(),
	}
	if c.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(c.Issuer))
	}
	if len(c.Audience) > 0 {
		opts = append(opts, jwt.WithAudience(c.Audience...))
	}
	v.parser = jwt.NewParser(opts...)

	switch {
	case c.HMACSecret != nil:
		secret := c.HMACSecret
		v.key = func(*jwt.Token) (any, error) { return secret, nil }
	case c.PublicKey != nil:
		pub := c.PublicKey
		v.key = func(*jwt.Token) (any, error) { return pub, nil }
	default:
		ctx, cancel := context.WithCancel(context.Background())
		v.cancel = cancel
		client := *c.HTTPClient
		client.Transport = jwksTransport{next: transportOf(c.HTTPClient), hook: c.OnJWKSFetch}
		v.keys = &keepingStorage{Storage: jwkset.NewMemoryStorage()}
		// keyfunc.NewDefaultOverrideCtx, but with our storage: an empty key
		// set from the issuer must not replace the last good one.
		remote, err := jwkset.NewStorageFromHTTP(c.JWKSURL, jwkset.HTTPClientStorageOptions{
			Client:                    &client,
			Ctx:                       ctx,
			HTTPTimeout:               10 * time.Second,
			NoErrorReturnFirstHTTPReq: true,
			RefreshErrorHandler:       v.noteJWKSError,
			RefreshInterval:           c.JWKSRefresh,
			Storage:                   v.keys,
		})
		if err != nil {
			cancel()
			return nil, fmt.Errorf("setting up the JWKS client for %s: %w", c.JWKSURL, err)
		}
		hc, err := jwkset.NewHTTPClient(jwkset.HTTPClientOptions{
			HTTPURLs: map[string]jwkset.Storage{c.JWKSURL: remote},
			// This bounds both the wait for the limiter and the refetch
			// itself (jwkset uses one context for the two). A limiter that
			// would make a request wait longer refuses it at once, so with
			// the default 30s minimum an unknown kid never waits.
			RateLimitWaitMax:  10 * time.Second,
			RefreshUnknownKID: rate.NewLimiter(rate.Every(c.JWKSRefetchMin), 1),
		})
		if err != nil {
			cancel()
			return nil, fmt.Errorf("setting up the JWKS client for %s: %w", c.JWKSURL, err)
		}
		kf, err := keyfunc.New(keyfunc.Options{Ctx: ctx, Storage: hc})
		if err != nil {
			cancel()
			return nil, fmt.Errorf("setting up the JWKS client for %s: %w", c.JWKSURL, err)
		}
		v.jwks = kf
		v.key = kf.Keyfunc
	}
	return v, nil
}

func checkKeys(c Config) error {
	n := 0
	for _, set := range []bool{c.HMACSecret != nil, c.PublicKey != nil, c.JWKSURL != ""} {
		if set {
			n++
		}
	}
	if n != 1 {
		return errors.New("session_jwt needs exactly one of hmac_secret, public_key and jwks")
	}
	if c.HMACSecret != nil && len(c.HMACSecret) == 0 {
		return errors.New("session_jwt hmac_secret resolved to an empty value")
	}
	if len(c.Algorithms) == 0 {
		if c.HMACSecret == nil {
			return errors.New("session_jwt needs algorithms with public_key or jwks, e.g. algorithms RS256; they are pinned so that a token cannot choose its own")
		}
		return nil
	}
	for _, a := range c.Algorithms {
		if jwt.GetSigningMethod(a) == nil || a == "none" {
			return fmt.Errorf("session_jwt algorithm %q is not known; use HS256/384/512, RS256/384/512, PS256/384/512, ES256/384/512 or EdDSA", a)
		}
		if hmac := slices.Contains(hmacAlgs, a); hmac != (c.HMACSecret != nil) {
			return fmt.Errorf("session_jwt algorithm %s does not go with this key; HMAC algorithms need hmac_secret and the others public_key or jwks (mixing them allows algorithm confusion)", a)
		}
	}
	return nil
}

// Close stops the JWKS refresh.
func (v *Verifier) Close() {
	if v.cancel != nil {
		v.cancel()
	}
}

// Token finds the session token in r, or returns "".
func (v *Verifier) Token(r *http.Request) string {
	for _, s := range v.cfg.Sources {
		if s.Cookie {
			if c, err := r.Cookie(s.Name); err == nil && c.Value != "" {
				return c.Value
			}
			continue
		}
		h := r.Header.Get(s.Name)
		if h == "" {
			continue
		}
		if strings.EqualFold(s.Name, "Authorization") {
			scheme, tok, ok := strings.Cut(h, " ")
			if !ok || !strings.EqualFold(scheme, "Bearer") {
				continue
			}
			h = strings.TrimSpace(tok)
		}
		if h != "" {
			return h
		}
	}
	return ""
}

// Verify checks the session token of r.
func (v *Verifier) Verify(r *http.Request) (*Session, *problem.Error) {
	tok := v.Token(r)
	if tok == "" {
		return nil, refused(CodeMissing, "no session token: sign in ("+v.where()+")")
	}
	return v.VerifyToken(r.Context(), tok)
}

func (v *Verifier) where() string {
	var parts []string
	for _, s := range v.cfg.Sources {
		if s.Cookie {
			parts = append(parts, "cookie "+s.Name)
		} else if strings.EqualFold(s.Name, "Authorization") {
			parts = append(parts, "Authorization: Bearer")
		} else {
			parts = append(parts, "header "+s.Name)
		}
	}
	return "the token is read from " + strings.Join(parts, " or ")
}

// VerifyToken checks one token, answering from the cache when it can.
func (v *Verifier) VerifyToken(ctx context.Context, tok string) (*Session, *problem.Error) {
	sum := sha256.Sum256([]byte(tok))
	now := v.now()
	if s := v.cached(ctx, sum, now); s != nil {
		return s, nil
	}
	claims := jwt.MapClaims{}
	t, err := v.parser.ParseWithClaims(tok, claims, v.key)
	if err != nil {
		return nil, v.explain(ctx, t, err)
	}
	if _, ok := t.Header["crit"]; ok {
		// RFC 7515 §4.1.11: a recipient must reject a token whose crit
		// names an extension it does not understand, and this one
		// understands none.
		return nil, refused(CodeCrit, "the session token has a crit header, naming extensions this server does not understand (RFC 7515, section 4.1.11); have the issuer leave crit out")
	}
	user, _ := claims[v.cfg.UserClaim].(string)
	if user == "" {
		return nil, refused(CodeNoUser, "the session token has no "+v.cfg.UserClaim+" claim to name the user; set user_claim to the claim that does")
	}
	s := &Session{User: user, Claims: claims}
	if exp, err := claims.GetExpirationTime(); err == nil && exp != nil {
		s.expiry = exp.Time
	}
	if kid, ok := t.Header["kid"].(string); ok {
		s.kid = kid
	}
	v.store(sum, s, now)
	return s, nil
}

// explain turns golang-jwt's error into a refusal with a stable code.
func (v *Verifier) explain(ctx context.Context, t *jwt.Token, err error) *problem.Error {
	alg := ""
	if t != nil {
		alg, _ = t.Header["alg"].(string)
	}
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return refused(CodeMalformed, "the session token is not a well-formed JWT; sign in again")
	case alg != "" && !slices.Contains(v.cfg.Algorithms, alg):
		return refused(CodeAlgorithm, "the session token is signed with "+strconv.Quote(alg)+", which is not among the pinned algorithms ("+strings.Join(v.cfg.Algorithms, ", ")+")")
	case errors.Is(err, jwt.ErrTokenExpired):
		return refused(CodeExpired, "the session token expired"+at(t, "exp")+"; sign in again")
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return refused(CodeNotYetValid, "the session token is not valid yet"+at(t, "nbf")+"; check the clocks of the issuer and this server")
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return refused(CodeWrongIssuer, "the session token was issued by someone else than "+strconv.Quote(v.cfg.Issuer))
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return refused(CodeWrongAudience, "the session token is not meant for this site (audience "+strings.Join(v.cfg.Audience, ", ")+")")
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return refused(CodeMalformed, "the session token lacks a required claim (exp); the issuer must set an expiry")
	case v.jwks != nil && errors.Is(err, jwt.ErrTokenUnverifiable):
		if keys, kerr := v.keys.KeyReadAll(ctx); kerr == nil && len(keys) == 0 {
			return problem.New(problem.Issuer, CodeJWKSDown, "session", v.jwksState())
		}
		return refused(CodeUnknownKey, "the session token's key (kid) is not in the issuer's key set; sign in again")
	}
	return refused(CodeBadSignature, "the session token's signature does not verify; sign in again")
}

func at(t *jwt.Token, claim string) string {
	if t == nil {
		return ""
	}
	c, ok := t.Claims.(jwt.MapClaims)
	if !ok {
		return ""
	}
	var d *jwt.NumericDate
	if claim == "exp" {
		d, _ = c.GetExpirationTime()
	} else {
		d, _ = c.GetNotBefore()
	}
	if d == nil {
		return ""
	}
	return " (" + claim + " " + d.UTC().Format(time.RFC3339) + ")"
}

// cached returns a still-valid cached session. A JWKS token is re-checked
// against the key set, so that a key removed from it stops working at the
// next refresh, cache or not.
func (v *Verifier) cached(ctx context.Context, sum [sha256.Size]byte, now time.Time) *Session {
	if v.cfg.CacheSize < 0 {
		return nil
	}
	v.mu.Lock()
	s := v.cache[sum]
	if s != nil && !now.Before(s.expiry) {
		delete(v.cache, sum)
		s = nil
	}
	v.mu.Unlock()
	if s == nil {
		return nil
	}
	if v.jwks != nil {
		if _, err := v.jwks.Storage().KeyRead(ctx, s.kid); err != nil {
			v.mu.Lock()
			delete(v.cache, sum)
			v.mu.Unlock()
			return nil
		}
	}
	return s
}

// store caches s until its expiry, less the leeway's worth of margin; a
// token without a kid under JWKS is not cached, since it could not be
// re-checked.
func (v *Verifier) store(sum [sha256.Size]byte, s *Session, now time.Time) {
	if v.cfg.CacheSize < 0 || s.expiry.IsZero() || (v.jwks != nil && s.kid == "") {
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.cache) >= v.cfg.CacheSize {
		// Drop expired entries, then any: map order is random, so this
		// evicts at random without bookkeeping on the hot path.
		n := 0
		for k, e := range v.cache {
			if !now.Before(e.expiry) || n < len(v.cache)/4 {
				delete(v.cache, k)
				n++
			}
		}
	}
	v.cache[sum] = s
}

// maxJWKS bounds a JWKS answer: real ones hold a few keys in a few KiB,
// and one of 10 MB would otherwise be read whole, on every refresh.
const maxJWKS = 1 << 20

var errJWKSTooLarge = errors.New("the JWKS is larger than 1 MiB")

// jwksTransport reports each JWKS fetch to a hook and caps the body.
type jwksTransport struct {
	next http.RoundTripper
	hook func(error)
}

func (t jwksTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(r)
	if t.hook != nil {
		ferr := err
		if err == nil && resp.StatusCode != http.StatusOK {
			ferr = fmt.Errorf("JWKS answered %s", resp.Status)
		}
		t.hook(ferr)
	}
	if err == nil {
		resp.Body = &cappedBody{ReadCloser: resp.Body, left: maxJWKS + 1}
	}
	return resp, err
}

// cappedBody fails a read past maxJWKS, so the decoder stops and the
// refresh fails, keeping the keys that were there.
type cappedBody struct {
	io.ReadCloser
	left int64
}

func (c *cappedBody) Read(p []byte) (int, error) {
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.ReadCloser.Read(p)
	if c.left -= int64(n); c.left <= 0 {
		return n, errJWKSTooLarge
	}
	return n, err
}

// keepingStorage is jwkset's memory storage, except that an empty key set
// from the issuer does not replace a non-empty one: an issuer that starts
// serving {"keys":[]} would otherwise sign every user out. A key set with
// keys replaces the old one as before, so revoked keys still go.
type keepingStorage struct {
	jwkset.Storage
	empty atomic.Bool // the issuer's last answer held no keys
}

func (k *keepingStorage) KeyReplaceAll(ctx context.Context, given []jwkset.JWK) error {
	k.empty.Store(len(given) == 0)
	if len(given) == 0 {
		if have, err := k.Storage.KeyReadAll(ctx); err == nil && len(have) > 0 {
			return nil
		}
	}
	return k.Storage.KeyReplaceAll(ctx, given)
}

// noteJWKSError keeps why a JWKS fetch failed, in our own words: what the
// issuer sent is never repeated.
func (v *Verifier) noteJWKSError(_ context.Context, err error) {
	var (
		syntax *json.SyntaxError
		typ    *json.UnmarshalTypeError
	)
	cause := "the issuer could not be reached"
	switch {
	case errors.Is(err, errJWKSTooLarge):
		cause = "the issuer's answer is larger than 1 MiB"
	case errors.Is(err, jwkset.ErrInvalidHTTPStatusCode):
		cause = "the issuer answered with an HTTP error status"
	case errors.As(err, &syntax), errors.As(err, &typ), errors.Is(err, io.ErrUnexpectedEOF):
		cause = "the issuer's answer is not a JWK set"
	case strings.Contains(err.Error(), "JWK Marshal"):
		cause = "the issuer's JWK set holds a key that cannot be used"
	}
	v.jwksErr.Store(cause)
}

// jwksState says truthfully why there are no keys to verify with.
func (v *Verifier) jwksState() string {
	// The URL stays out: the reason reaches clients.
	if v.keys.empty.Load() {
		return "the issuer's JWK set holds no keys, so no session can be verified; the issuer must publish its signing keys"
	}
	if cause, _ := v.jwksErr.Load().(string); cause != "" {
		return "the signing keys (JWKS) could not be fetched: " + cause + "; check the jwks URL, or try again shortly"
	}
	return "the signing keys (JWKS) could not be fetched yet; try again shortly"
}

func transportOf(c *http.Client) http.RoundTripper {
	if c.Transport != nil {
		return c.Transport
	}
	return http.DefaultTransport
}

// ParsePublicKeyPEM reads a PEM public key (PKIX "PUBLIC KEY", PKCS#1
// "RSA PUBLIC KEY") or the key of a PEM certificate.
func ParsePublicKeyPEM(data []byte) (crypto.PublicKey, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM block found; the file must hold a public key or certificate in PEM form")
	}
	switch block.Type {
	case "PUBLIC KEY":
		return x509.ParsePKIXPublicKey(block.Bytes)
	case "RSA PUBLIC KEY":
		return x509.ParsePKCS1PublicKey(block.Bytes)
	case "CERTIFICATE":
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, err
		}
		return cert.PublicKey, nil
	}
	return nil, fmt.Errorf("PEM block %q is not a public key; export the public key (never the private one)", block.Type)
}
