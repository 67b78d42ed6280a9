package caddymodule

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/zoomsig/caddy-zoom-signature/caddymodule/problem"
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/session"
)

// Gate is who is asking, the same for zoom_signature and zoom_connect:
// the identity an earlier auth handler set, or the site's own session
// token, and the origin the browser sees.
type Gate struct {
	// The placeholder that names the user, filled by an earlier auth
	// handler. Default: {http.auth.user.id} (basic_auth and other
	// authentication providers). With forward_auth, name the copied header,
	// e.g. {http.request.header.Remote-User}. Empty means unauthenticated.
	Identity string `json:"identity,omitempty"`

	// Verify the site's own session JWT (cookie or Bearer header) instead of
	// relying on an earlier auth handler. Its claims become placeholders.
	SessionJWT *SessionJWT `json:"session_jwt,omitempty"`

	// The origin(s) browsers see, such as https://app.example.com, or
	// https://*.ngrok-free.app for rotating tunnel subdomains. It wins over
	// the request; without it the origin is inferred from the request, and
	// from X-Forwarded-Proto, X-Forwarded-Host and CF-Visitor only when Caddy
	// trusts the peer (the trusted_proxies server option). Used for the
	// endpoint's Origin and CORS checks, the connect routes' same-origin
	// check and done_url, and url_fields.
	PublicOrigin []string `json:"public_origin,omitempty"`

	sessions    *session.Verifier
	identityKey string
}

// check holds the gate's rules.
func (g *Gate) check() error {
	if g.Identity != "" && !strings.Contains(g.Identity, "{") {
		return errorAt("identity", fmt.Sprintf("identity %q is not a placeholder; name the placeholder an auth handler fills, such as {http.auth.user.id}", g.Identity))
	}
	for _, o := range g.PublicOrigin {
		if !validOrigin(strings.ReplaceAll(o, "*", "x")) || strings.HasPrefix(o, "*") {
			return errorAt("public_origin", fmt.Sprintf("public_origin: %q is not an origin; write scheme://host[:port] (https://*.ngrok-free.app for rotating subdomains)", o))
		}
	}
	s := g.SessionJWT
	if s == nil {
		return nil
	}
	n := 0
	for _, k := range []string{s.HMACSecret, s.PublicKey, s.JWKS} {
		if k != "" {
			n++
		}
	}
	if n != 1 {
		return errorAt("session_jwt", "session_jwt needs exactly one of hmac_secret, public_key and jwks")
	}
	if s.HMACSecret == "" && len(s.Algorithms) == 0 {
		return errorAt("session_jwt", "session_jwt needs algorithms with public_key or jwks (e.g. algorithms RS256), so that a token cannot choose its own")
	}
	for _, src := range s.From {
		if (src.Cookie == "") == (src.Header == "") {
			return errorAt("session_jwt from", "session_jwt from: name a cookie or a header")
		}
	}
	for _, d := range []struct {
		name string
		v    int64
	}{{"leeway", int64(s.Leeway)}, {"jwks_refresh", int64(s.JWKSRefresh)}, {"jwks_refetch_minimum", int64(s.JWKSRefetchMinimum)}} {
		if d.v < 0 {
			return errorAt("session_jwt "+d.name, "session_jwt "+d.name+" must not be negative; write it like 30s, 5m or 1h")
		}
	}
	return checkServiceURL("session_jwt jwks", s.JWKS, "https://id.example.com/.well-known/jwks.json")
}

// sameOrigin refuses a request that another site's page sent, to do what
// (such as "disconnect a Zoom account"): basic auth and cookies ride along
// on cross-site POSTs. The site's own origin is its public one, which
// public_origin may name (a tunnel's), not only the one Caddy sees.
func (g *Gate) sameOrigin(r *http.Request, what string) *problem.Error {
	if r.Header.Get("Sec-Fetch-Site") == "cross-site" {
		return problem.New(problem.Client, codeOriginNotAllowed, "origin", "another site's page may not "+what+"; do it from this site's own page")
	}
	if origin := r.Header.Get("Origin"); origin != "" && origin != g.publicOrigin(r) {
		return problem.New(problem.Client, codeOriginNotAllowed, "origin", "the origin "+origin+" may not "+what+"; do it from this site's own page")
	}
	return nil
}
