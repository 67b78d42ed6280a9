package caddymodule

import (
	"net/http"
	"net/url"
	"path"
	"strings"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/tidwall/gjson"

	"github.com/zoomsig/caddy-zoom-signature/caddymodule/joinconfig"
)

// publicOrigin is the origin the browser sees, scheme://host. Behind a
// tunnel or a proxy that is not what Caddy sees: public_origin wins, and
// otherwise the forwarded headers are read, but only when Caddy trusts the
// peer (trusted_proxies), so a client cannot choose its own origin.
func (g *Gate) publicOrigin(r *http.Request) string {
	inferred := inferOrigin(r)
	if len(g.PublicOrigin) == 0 {
		return inferred
	}
	for _, p := range g.PublicOrigin {
		if originMatches(p, inferred) {
			return inferred
		}
	}
	// The host is right and the scheme is not: where TLS ends before the
	// tunnel's last hop, that hop says http (frp behind nginx or Caddy on
	// the VPS, frp#4168) or says nothing (zrok, localtunnel), and a
	// wildcard entry such as https://*.share.zrok.io would match no
	// request at all. An entry that matches the host under its own scheme
	// gives the scheme; it allows no origin that the entry did not already
	// allow (originAllowed).
	if _, hostport, ok := strings.Cut(inferred, "://"); ok {
		for _, p := range g.PublicOrigin {
			if scheme, _, ok := strings.Cut(p, "://"); ok && originMatches(p, scheme+"://"+hostport) {
				return scheme + "://" + hostport
			}
		}
	}
	for _, p := range g.PublicOrigin {
		if !strings.Contains(p, "*") {
			return p // an explicit origin wins over what the headers say
		}
	}
	return ""
}

// inferOrigin reads the origin from the request, with the forwarded
// headers of trusted peers: ngrok and Tailscale set X-Forwarded-Proto and
// X-Forwarded-Host (ngrok appends, so the last value counts); cloudflared's
// X-Forwarded-Proto describes its own hop, so CF-Visitor's scheme wins.
func inferOrigin(r *http.Request) string {
	scheme, host := "http", r.Host
	if r.TLS != nil {
		scheme = "https"
	}
	if trusted, _ := caddyhttp.GetVar(r.Context(), caddyhttp.TrustedProxyVarKey).(bool); trusted {
		if v := lastValue(r.Header.Values("X-Forwarded-Proto")); v == "https" || v == "http" {
			scheme = v
		}
		// CF-Visitor is {"scheme":"https"}; anything longer is not
		// cloudflared's, and is not handed to a parser.
		if v := r.Header.Get("Cf-Visitor"); v != "" && len(v) <= 64 {
			if s := gjson.Get(v, "scheme").Str; s == "https" || s == "http" {
				scheme = s
			}
		}
		if v := lastValue(r.Header.Values("X-Forwarded-Host")); v != "" {
			host = v
		}
	}
	return scheme + "://" + strings.ToLower(host)
}

func lastValue(values []string) string {
	if len(values) == 0 {
		return ""
	}
	v := values[len(values)-1]
	if i := strings.LastIndexByte(v, ','); i >= 0 {
		v = v[i+1:]
	}
	return strings.TrimSpace(v)
}

// originMatches matches an origin against a public_origin or cors_origins
// entry, where * stands for one or more labels of a rotating subdomain
// (https://*.ngrok-free.app).
func originMatches(pattern, origin string) bool {
	if pattern == origin {
		return true
	}
	if !strings.Contains(pattern, "*") || !validOrigin(origin) {
		return false
	}
	ok, _ := path.Match(pattern, origin)
	return ok
}

// validOrigin accepts scheme://host[:port] and nothing else, so that a
// wildcard cannot match user info, paths or queries.
func validOrigin(o string) bool {
	u, err := url.Parse(o)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" &&
		u.User == nil && u.Path == "" && u.RawQuery == "" && u.Fragment == "" && !strings.ContainsAny(u.Host, "/\\@")
}

// originAllowed reports whether a browser origin may call the endpoint:
// listed in cors_origins or public_origin, or the public origin itself.
func (g *Gate) originAllowed(r *http.Request, origin string, cors []string) (allowed, same bool) {
	for _, p := range cors {
		if originMatches(p, origin) {
			return true, false
		}
	}
	for _, p := range g.PublicOrigin {
		if originMatches(p, origin) {
			return true, false
		}
	}
	return false, origin == g.publicOrigin(r)
}

// urlEdits rewrites the url_fields of the join config (leaveUrl and the
// like) to absolute URLs on the public origin, keeping path, query and
// fragment, so that rotating tunnel hosts need no backend change.
func (g *Gate) urlEdits(r *http.Request, doc *joinconfig.Doc, fields []string) []joinconfig.Edit {
	if len(fields) == 0 {
		return nil
	}
	origin := g.publicOrigin(r)
	if origin == "" {
		return nil
	}
	var edits []joinconfig.Edit
	for _, f := range fields {
		v := doc.Get(f)
		if v.Kind != joinconfig.KindString {
			continue
		}
		u, err := url.Parse(v.Str)
		if err != nil {
			continue
		}
		rel := u.EscapedPath()
		if rel == "" || rel[0] != '/' {
			rel = "/" + rel
		}
		if u.RawQuery != "" {
			rel += "?" + u.RawQuery
		}
		if u.Fragment != "" {
			rel += "#" + u.EscapedFragment()
		}
		edits = append(edits, joinconfig.String(f, origin+rel))
	}
	return edits
}
