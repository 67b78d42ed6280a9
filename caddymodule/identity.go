package caddymodule

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/zoomsig/caddy-zoom-signature/caddymodule/join"
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/problem"
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/session"
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/zoomapi"
)

// Placeholders set for later handlers and access logs.
const (
	phResult        = "http.zoom_signature.result"
	phCode          = "http.zoom_signature.code"
	phRole          = "http.zoom_signature.role"
	phMeetingNumber = "http.zoom_signature.meeting_number"
	phUserID        = "http.zoom_signature.user.id"

	resultSigned  = "signed"
	resultPassed  = "passed"
	resultRefused = "refused"
)

// SessionJWT verifies the site's own session token, so that no other auth
// plugin is needed; the token's claims become {http.zoom_signature.user.*}
// placeholders.
type SessionJWT struct {
	// Where the token is. Default: the Authorization header, Bearer scheme.
	From []TokenSource `json:"from,omitempty"`

	// The HMAC secret of HS256/384/512 session tokens, as {env.NAME} or
	// {file.*}, resolved when the config loads. Exactly one of hmac_secret,
	// public_key and jwks is set.
	HMACSecret string `json:"hmac_secret,omitempty"`

	// A PEM file holding the issuer's public key or certificate (RS*, PS*,
	// ES*, EdDSA tokens).
	PublicKey string `json:"public_key,omitempty"`

	// The issuer's JWKS URL, absolute https (http only for loopback). The
	// key set is fetched when the config loads, refreshed every
	// jwks_refresh, capped at 1 MiB, and the last good set is kept when a
	// refresh is empty or broken.
	JWKS string `json:"jwks,omitempty"`

	// The accepted algorithms, pinned. Required with public_key and jwks;
	// HS256, HS384 and HS512 by default with hmac_secret. "none" is never
	// accepted, and HMAC algorithms never go with public keys.
	Algorithms []string `json:"algorithms,omitempty"`

	// The iss a token must carry. Unset, any issuer is accepted.
	Issuer string `json:"issuer,omitempty"`

	// The accepted aud values; a token must name one of them. Unset, any
	// audience is accepted.
	Audience []string `json:"audience,omitempty"`

	// Clock leeway for exp and nbf. Default 30s.
	Leeway caddy.Duration `json:"leeway,omitempty"`

	// The claim that names the user. Default sub.
	UserClaim string `json:"user_claim,omitempty"`

	// How often the JWKS is refreshed. Default 1h. A token whose key left
	// the JWKS stops working at the next refresh.
	JWKSRefresh caddy.Duration `json:"jwks_refresh,omitempty"`

	// The least time between refetches of the JWKS caused by tokens with an
	// unknown kid, so that a flood of made-up kids is not a flood of
	// fetches. Default 30s.
	JWKSRefetchMinimum caddy.Duration `json:"jwks_refetch_minimum,omitempty"`

	// How many verified tokens are cached (by SHA-256, until their exp).
	// Default 10000; -1 disables the cache.
	CacheSize int `json:"cache_size,omitempty"`
}

// TokenSource is a cookie or a header that may carry the session token.
type TokenSource struct {
	// The cookie's name, such as __session.
	Cookie string `json:"cookie,omitempty"`

	// The header's name; Authorization takes the Bearer scheme.
	Header string `json:"header,omitempty"`
}

// FillRule writes a placeholder's value into the join config (inject mode),
// so that the display name and email come from the session, not from the
// user. An empty value leaves the backend's field alone.
type FillRule struct {
	// The JSON path written, such as userName.
	Path string `json:"path"`

	// The placeholder written there, such as
	// {http.zoom_signature.user.name}.
	Value string `json:"value"`
}

// provision builds the session verifier, and names the identity
// placeholder's key once.
func (g *Gate) provision(logger *zap.Logger, now func() time.Time) error {
	g.Identity = cmp.Or(g.Identity, "{http.auth.user.id}")
	g.identityKey = placeholderKey(g.Identity)
	c := g.SessionJWT
	if c == nil {
		return nil
	}
	repl := caddy.NewReplacer()
	cfg := session.Config{
		Algorithms: c.Algorithms, Issuer: c.Issuer, Audience: c.Audience,
		Leeway: 30 * time.Second, UserClaim: c.UserClaim, CacheSize: c.CacheSize,
		JWKSRefresh: time.Duration(c.JWKSRefresh), JWKSRefetchMin: time.Duration(c.JWKSRefetchMinimum),
		OnJWKSFetch: metricJWKSFetch,
		Now:         now,
	}
	if c.Leeway != 0 {
		cfg.Leeway = time.Duration(c.Leeway)
	}
	for _, src := range c.From {
		if src.Cookie != "" {
			cfg.Sources = append(cfg.Sources, session.Source{Cookie: true, Name: src.Cookie})
		} else {
			cfg.Sources = append(cfg.Sources, session.Source{Name: src.Header})
		}
	}
	switch {
	case c.HMACSecret != "":
		warnLiteralSecret(logger, "session_jwt hmac_secret", c.HMACSecret)
		secret := repl.ReplaceAll(c.HMACSecret, "")
		if secret == "" {
			return emptyValue("session_jwt hmac_secret", c.HMACSecret)
		}
		cfg.HMACSecret = []byte(secret)
	case c.PublicKey != "":
		pemData, err := os.ReadFile(repl.ReplaceAll(c.PublicKey, ""))
		if err != nil {
			return fmt.Errorf("session_jwt public_key: %w", err)
		}
		if cfg.PublicKey, err = session.ParsePublicKeyPEM(pemData); err != nil {
			return fmt.Errorf("session_jwt public_key %s: %w", c.PublicKey, err)
		}
	case c.JWKS != "":
		cfg.JWKSURL = repl.ReplaceAll(c.JWKS, "")
		if cfg.JWKSURL == "" {
			return fmt.Errorf("session_jwt jwks %q resolved to an empty value; set the variable or file it names", c.JWKS)
		}
		if err := checkServiceURL("session_jwt jwks", cfg.JWKSURL, "https://id.example.com/.well-known/jwks.json"); err != nil {
			return err
		}
	}
	v, err := session.New(cfg)
	if err != nil {
		return err
	}
	g.sessions = v
	return nil
}

// close stops the JWKS refresh of this config.
func (g *Gate) close() {
	if g.sessions != nil {
		g.sessions.Close()
	}
}

// Cleanup stops the JWKS refresh of this config, and takes the handler
// out of the doctor's registry unless a newer config put its own there.
func (h *Handler) Cleanup() error {
	if h.doc != nil {
		named.Delete(h.doc.key) // the key is this config load's: nothing newer shares it
	}
	h.Gate.close()
	return nil
}

const userPrefix = "http.zoom_signature.user."

// principal resolves who is asking, once per request: from the verified
// session token when session_jwt is set, else from the identity
// placeholder an earlier auth handler filled. The candidate placeholders
// of a failed authentication are never consulted. anonymous says whether
// a request without a session token may go on as nobody.
func (g *Gate) principal(r *http.Request, repl *caddy.Replacer, anonymous bool) (join.Principal, *problem.Error) {
	var p join.Principal
	if g.sessions != nil {
		s, err := g.sessions.Verify(r)
		switch {
		case err != nil && !(err.Code() == session.CodeMissing && anonymous):
			return p, err
		case s != nil:
			p.ID, p.Claims = s.User, s.Claims
		}
	} else if g.identityKey != "" {
		// One placeholder, looked up directly: ReplaceAll would parse the
		// template on every request.
		v, _ := repl.Get(g.identityKey)
		p.ID = caddy.ToString(v)
	} else {
		p.ID = repl.ReplaceAll(g.Identity, "")
	}
	return p, nil
}

// publishUser sets the user's placeholders for later handlers and the
// access log, which are never read back: the values the policy looks at
// come from the Principal.
func (g *Gate) publishUser(repl *caddy.Replacer, p join.Principal) {
	publish(repl, p)
	if g.sessions != nil && p.ID != "" {
		// The user the session named is the request's user, as an auth
		// handler's would be: the access log's user_id reads this.
		repl.Set("http.auth.user.id", p.ID)
	}
}

// authenticate is who is asking, admitted by the policy and with what the
// policy and the credential steps read of them derived.
func (h *Handler) authenticate(r *http.Request, repl *caddy.Replacer) (join.Principal, *problem.Error) {
	p, err := h.principal(r, repl, h.AllowAnonymous)
	if err != nil {
		return p, err
	}
	if err := h.join.Policy.Admit(p); err != nil {
		return join.Principal{}, err
	}
	h.publishUser(repl, p)
	return h.derive(repl, p), nil
}

// derive fills in what the policy and the credential steps read of a
// user (host_when's values, the meetings claim, the ZAK's Zoom user, the
// registrant), from the Principal and the placeholders of the request.
// The doctor's CLI derives a user given on its command line the same way.
func (h *Handler) derive(repl *caddy.Replacer, p join.Principal) join.Principal {
	if r := h.HostWhen; r != nil && !r.Any {
		p.HostValues = values(repl, p, r.Placeholder)
	}
	if h.MeetingsClaim != "" {
		p.Meetings = claimStrings(p.Claims[h.MeetingsClaim])
	}
	if h.Zak != nil {
		p.ZoomUser = resolve(repl, p, h.Zak.User)
	}
	if r := h.Registrant; r != nil {
		p.Registrant = zoomapi.Registrant{Email: resolve(repl, p, r.Email), FirstName: resolve(repl, p, r.FirstName), LastName: resolve(repl, p, r.LastName)}
	}
	return p
}

// publish sets {http.zoom_signature.user.id} and makes the session's
// claims {http.zoom_signature.user.<claim>}.
func publish(repl *caddy.Replacer, p join.Principal) {
	repl.Set(phUserID, p.ID)
	if p.Claims == nil {
		return
	}
	// Claims resolve lazily: only the ones a config names cost anything.
	claims := p.Claims
	repl.Map(func(key string) (any, bool) {
		name, ok := strings.CutPrefix(key, userPrefix)
		if !ok {
			return nil, false
		}
		v, ok := claims[name]
		return claimValue(v), ok
	})
}

// ownValue resolves a placeholder of this module's from the Principal.
func ownValue(p join.Principal, key string) (any, bool) {
	name, ok := strings.CutPrefix(key, userPrefix)
	switch {
	case !ok:
		return nil, false
	case name == "id":
		return p.ID, true
	}
	return claimValue(p.Claims[name]), true
}

// resolve fills a template such as {http.zoom_signature.user.email}: this
// module's placeholders from the Principal, others (set by earlier
// handlers) from the Replacer.
func resolve(repl *caddy.Replacer, p join.Principal, tmpl string) string {
	if key := placeholderKey(tmpl); key != "" {
		if v, ok := ownValue(p, key); ok {
			return caddy.ToString(v)
		}
		v, _ := repl.Get(key)
		return caddy.ToString(v)
	}
	return repl.ReplaceAll(tmpl, "")
}

// values is a template's value as a list: the elements of an array claim,
// the members of a request header (a list by RFC 9110, section 5.6.1, as
// forward_auth's Remote-Groups: "staff,zoom-hosts"), or the one resolved
// string.
func values(repl *caddy.Replacer, p join.Principal, tmpl string) []string {
	if key := placeholderKey(tmpl); key != "" {
		if v, ok := ownValue(p, key); ok {
			return claimStrings(v)
		}
		v, _ := repl.Get(key)
		if strings.HasPrefix(key, "http.request.header.") {
			var out []string
			for _, m := range strings.Split(caddy.ToString(v), ",") {
				if m = strings.TrimSpace(m); m != "" {
					out = append(out, m)
				}
			}
			return out
		}
		return claimStrings(v)
	}
	return claimStrings(repl.ReplaceAll(tmpl, ""))
}

// placeholderKey returns the key of a template that is exactly one
// placeholder, such as "http.auth.user.id" for "{http.auth.user.id}".
func placeholderKey(tmpl string) string {
	if len(tmpl) > 2 && tmpl[0] == '{' && tmpl[len(tmpl)-1] == '}' && !strings.ContainsAny(tmpl[1:len(tmpl)-1], "{}") {
		return tmpl[1 : len(tmpl)-1]
	}
	return ""
}

// claimList is an array claim; as a placeholder it reads "a,b", and
// host_when matches any of its elements.
type claimList []string

func (l claimList) String() string { return strings.Join(l, ",") }

func claimValue(v any) any {
	switch v := v.(type) {
	case []any:
		out := make(claimList, 0, len(v))
		for _, e := range v {
			out = append(out, caddy.ToString(claimValue(e)))
		}
		return out
	case map[string]any:
		b, _ := json.Marshal(v)
		return string(b)
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return v
}

// claimStrings is a value as a list of strings: an array's elements, or
// the value itself unless it is empty.
func claimStrings(v any) []string {
	switch v := claimValue(v).(type) {
	case claimList:
		return v
	case nil:
		return nil
	default:
		if s := caddy.ToString(v); s != "" {
			return []string{s}
		}
	}
	return nil
}
