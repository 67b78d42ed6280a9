package caddymodule

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/zoomsig/caddy-zoom-signature/caddymodule/session"
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/signature"
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

	// The key: exactly one of an HMAC secret (placeholders resolved at
	// load, e.g. {env.SESSION_SECRET}), a PEM public key or certificate
	// file, or a JWKS URL.
	HMACSecret string `json:"hmac_secret,omitempty"`
	PublicKey  string `json:"public_key,omitempty"`
	JWKS       string `json:"jwks,omitempty"`

	// The accepted algorithms, pinned. Required with public_key and jwks;
	// HS256, HS384 and HS512 by default with hmac_secret. "none" is never
	// accepted, and HMAC algorithms never go with public keys.
	Algorithms []string `json:"algorithms,omitempty"`

	// The required iss, and the accepted aud values (any of them).
	Issuer   string   `json:"issuer,omitempty"`
	Audience []string `json:"audience,omitempty"`

	// Clock leeway for exp and nbf. Default 30s.
	Leeway caddy.Duration `json:"leeway,omitempty"`

	// The claim that names the user. Default sub.
	UserClaim string `json:"user_claim,omitempty"`

	// How often the JWKS is refreshed (default 1h), and the least time
	// between refetches caused by tokens with an unknown kid (default 30s).
	// A token whose key left the JWKS stops working at the next refresh.
	JWKSRefresh        caddy.Duration `json:"jwks_refresh,omitempty"`
	JWKSRefetchMinimum caddy.Duration `json:"jwks_refetch_minimum,omitempty"`

	// How many verified tokens are cached (by SHA-256, until their exp).
	// Default 10000; -1 disables the cache.
	CacheSize int `json:"cache_size,omitempty"`
}

// TokenSource is a cookie or a header that may carry the session token.
type TokenSource struct {
	Cookie string `json:"cookie,omitempty"`
	Header string `json:"header,omitempty"`
}

// FillRule writes a placeholder's value into the join config (inject mode),
// so that the display name and email come from the session, not from the
// user. An empty value leaves the backend's field alone.
type FillRule struct {
	Path  string `json:"path"`
	Value string `json:"value"`
}

// provisionSessions builds the session verifier.
func (h *Handler) provisionSessions() error {
	c := h.SessionJWT
	if c == nil {
		return nil
	}
	repl := caddy.NewReplacer()
	cfg := session.Config{
		Algorithms: c.Algorithms, Issuer: c.Issuer, Audience: c.Audience,
		Leeway: 30 * time.Second, UserClaim: c.UserClaim, CacheSize: c.CacheSize,
		JWKSRefresh: time.Duration(c.JWKSRefresh), JWKSRefetchMin: time.Duration(c.JWKSRefetchMinimum),
		OnJWKSFetch: metricJWKSFetch,
		Now:         func() time.Time { return h.now() },
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
		secret := repl.ReplaceAll(c.HMACSecret, "")
		if secret == "" {
			return fmt.Errorf("session_jwt hmac_secret %q resolved to an empty value; set the variable or file it names", c.HMACSecret)
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
	}
	v, err := session.New(cfg)
	if err != nil {
		return err
	}
	h.sessions = v
	return nil
}

// Cleanup stops the JWKS refresh of this config.
func (h *Handler) Cleanup() error {
	if h.sessions != nil {
		h.sessions.Close()
	}
	return nil
}

const userPrefix = "http.zoom_signature.user."

// identify returns the user: from the verified session token when
// session_jwt is set, else from the identity placeholder an earlier auth
// handler filled. The candidate placeholders of a failed authentication
// are never consulted.
func (h *Handler) identify(r *http.Request, repl *caddy.Replacer) (string, *refusal) {
	var user string
	if h.sessions != nil {
		s, err := h.sessions.Verify(r)
		switch {
		case err != nil && !(err.Code == session.CodeMissing && h.AllowAnonymous):
			return "", refuse(err.Status, err.Code, "session", err.Reason)
		case s != nil:
			user = s.User
			// Claims resolve lazily: only the ones a config names cost anything.
			claims := s.Claims
			repl.Map(func(key string) (any, bool) {
				name, ok := strings.CutPrefix(key, userPrefix)
				if !ok {
					return nil, false
				}
				v, ok := claims[name]
				return claimValue(v), ok
			})
		}
	} else if h.identityKey != "" {
		// One placeholder, looked up directly: ReplaceAll would parse the
		// template on every request.
		v, _ := repl.Get(h.identityKey)
		user = caddy.ToString(v)
	} else {
		user = repl.ReplaceAll(h.Identity, "")
	}
	if user == "" && !h.AllowAnonymous {
		return "", refuse(http.StatusUnauthorized, codeUnauthenticated, "session",
			"no signed-in user: this route needs an authenticated session (the identity "+h.Identity+" is empty); sign in and try again")
	}
	repl.Set(phUserID, user)
	return user, nil
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

// values returns a placeholder's value as a list: the elements of an array
// claim, or the one resolved string.
func values(repl *caddy.Replacer, placeholder string) []string {
	if key := placeholderKey(placeholder); key != "" {
		if v, ok := repl.Get(key); ok {
			if l, ok := v.(claimList); ok {
				return l
			}
			if s := caddy.ToString(v); s != "" {
				return []string{s}
			}
			return nil
		}
	}
	if s := repl.ReplaceAll(placeholder, ""); s != "" {
		return []string{s}
	}
	return nil
}

// grantRole applies the host policy to the role asked for.
func (h *Handler) grantRole(repl *caddy.Replacer, asked int) (int, *refusal) {
	if asked != 1 || h.hostAllowed(repl) {
		return asked, nil
	}
	if h.OnHostDenied == hostDowngrade {
		return 0, nil
	}
	reason := "role 1 (host) is not allowed for this user; "
	if h.HostWhen == nil {
		reason += "no host_when rule is configured, so nobody gets role 1 (add host_when <placeholder> <values...>, or host_when any to let the backend decide)"
	} else {
		reason += "the user does not match host_when " + h.HostWhen.Placeholder
	}
	return 0, refuse(http.StatusForbidden, codeHostNotAllowed, "role", reason)
}

func (h *Handler) hostAllowed(repl *caddy.Replacer) bool {
	rule := h.HostWhen
	switch {
	case rule == nil:
		return false
	case rule.Any:
		return true
	}
	for _, v := range values(repl, rule.Placeholder) {
		if slices.Contains(rule.Values, v) {
			return true
		}
	}
	return false
}

// inScope reports whether meetings, or the user's meetings_claim, allows
// the meeting (or session name).
func (h *Handler) inScope(repl *caddy.Replacer, meeting string) bool {
	if h.anyScope || slices.Contains(h.scope, meeting) {
		return true
	}
	if h.MeetingsClaim != "" {
		for _, v := range values(repl, "{"+userPrefix+h.MeetingsClaim+"}") {
			for _, m := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' }) {
				if m = strings.TrimSpace(m); m == meeting {
					return true
				}
				if mn, err := signature.ParseMeetingNumber(m); err == nil && h.SDK != sdkVideo && mn.Digits == meeting {
					return true
				}
			}
		}
		return false
	}
	return len(h.scope) == 0 && h.Mode == modeInject
}

func (h *Handler) outOfScope(meeting string) *refusal {
	what := "meeting"
	if h.SDK == sdkVideo {
		what = "session"
	}
	return refuse(http.StatusForbidden, codeMeetingNotAllowed, "meetingNumber",
		"this "+what+" is not in the meetings this user may sign for; add it to meetings (or the user's "+cmp.Or(h.MeetingsClaim, "meetings")+" claim) or ask for one that is")
}
