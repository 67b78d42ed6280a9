package caddymodule

import (
	"cmp"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/zoomsig/caddy-zoom-signature/caddymodule/connect"
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/join"
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/problem"
)

func init() {
	caddy.RegisterModule(Connect{})
	httpcaddyfile.RegisterHandlerDirective("zoom_connect", parseConnectCaddyfile)
	httpcaddyfile.RegisterDirectiveOrder("zoom_connect", httpcaddyfile.Before, "respond")
}

// Interface guards.
var (
	_ caddy.Provisioner           = (*Connect)(nil)
	_ caddy.CleanerUpper          = (*Connect)(nil)
	_ caddyhttp.MiddlewareHandler = (*Connect)(nil)
	_ caddyfile.Unmarshaler       = (*Connect)(nil)
)

// Connect serves the routes through which site users connect their own
// Zoom accounts, chosen by the last segment of the path: start (GET),
// callback (GET), status (GET) and disconnect (POST). The user OAuth app
// and the grants are the zoom app's (its oauth and seal_keys), shared with
// every join route of the config.
type Connect struct {
	// A name for the route's metrics and log lines. Default connect.
	Name string `json:"name,omitempty"`

	// Who is connecting: identity, session_jwt and public_origin, as for
	// zoom_signature. Connecting always needs a signed-in site user.
	Gate

	// Where the callback sends the browser once connected: a path of this
	// site, or an https URL of an origin listed in public_origin. Default
	// /. Never taken from the request.
	DoneURL string `json:"done_url,omitempty"`

	manager    *connect.Manager
	connectURL string
	*responder
}

// CaddyModule returns the Caddy module information.
func (Connect) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "http.handlers.zoom_connect", New: func() caddy.Module { return new(Connect) }}
}

// check holds the route's rules.
func (c *Connect) check() error {
	if err := c.Gate.check(); err != nil {
		return err
	}
	origins := c.PublicOrigin
	if origins == nil {
		origins = []string{} // an absolute done_url needs a listed origin
	}
	return checkSitePath("done_url", c.DoneURL, origins...)
}

// checkWith holds the rules between the route and the zoom app.
func (c *Connect) checkWith(a *App) error {
	if a.OAuth == nil {
		return errorAt("zoom_connect", "zoom_connect needs the user OAuth app users connect with; write it once in the global zoom block: { zoom { oauth { client_id ... client_secret ... redirect_uri ... } seal_keys ... } }")
	}
	return nil
}

// Provision checks the config, then takes the zoom app's grant manager.
func (c *Connect) Provision(ctx caddy.Context) error {
	if err := c.check(); err != nil {
		return err
	}
	app, err := appOf(ctx)
	if err != nil {
		return err
	}
	if err := c.checkWith(app); err != nil {
		return err
	}
	c.Name = cmp.Or(c.Name, "connect")
	c.DoneURL = cmp.Or(c.DoneURL, "/")
	if c.responder, err = newResponder(ctx, c.Name, "", "connect"); err != nil {
		return err
	}
	c.connectURL = app.OAuth.connectURL()
	c.responder.connectURL = c.connectURL
	if err := c.Gate.provision(c.logger, time.Now); err != nil {
		return err
	}
	c.manager, err = app.grantManager()
	return err
}

// Cleanup stops the JWKS refresh of this config.
func (c *Connect) Cleanup() error {
	c.Gate.close()
	return nil
}

// ServeHTTP serves the connect routes, chosen by the last segment of
// the path: start, callback, status and disconnect.
func (c *Connect) ServeHTTP(w http.ResponseWriter, r *http.Request, _ caddyhttp.Handler) error {
	repl := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	route := path.Base(r.URL.Path)
	allowed := map[string]string{"start": http.MethodGet, "callback": http.MethodGet, "status": http.MethodGet, "disconnect": http.MethodPost}[route]
	switch {
	case allowed == "":
		return c.writeRefusal(w, r, join.Principal{}, problem.New(problem.Client, codeConnectRoute, "path",
			"there is no connect route "+route+"; the routes are start, callback, status and disconnect"))
	case r.Method != allowed && !(allowed == http.MethodGet && r.Method == http.MethodHead):
		w.Header().Set("Allow", allowed)
		return c.writeRefusal(w, r, join.Principal{}, problem.New(problem.Client, codeMethodNotAllowed, "method",
			r.Method+" is not allowed on "+route+"; use "+allowed))
	}
	p, err := c.principal(r, repl, false)
	if err == nil {
		c.publishUser(repl, p)
	}
	if err == nil && p.ID == "" {
		err = problem.New(problem.Client, connect.CodeUnauthorized, "session",
			"connecting a Zoom account needs a signed-in site user; sign in and try again")
	}
	if err != nil {
		return c.writeRefusal(w, r, p, err)
	}
	return map[string]func(http.ResponseWriter, *http.Request, join.Principal) error{
		"start": c.start, "callback": c.callback, "status": c.status, "disconnect": c.disconnect,
	}[route](w, r, p)
}

// start sends the user to Zoom's authorize page, with the connect's state
// in a sealed cookie.
func (c *Connect) start(w http.ResponseWriter, r *http.Request, p join.Principal) error {
	authorize, cookie, err := c.manager.Start(p.ID)
	if err != nil {
		return c.writeRefusal(w, r, p, problem.New(problem.Config, connect.CodeStore, "state", "the connect could not be started; check seal_keys"))
	}
	http.SetCookie(w, &http.Cookie{Name: connectCookie, Value: cookie, Path: "/", MaxAge: int(connect.CookieTTL / time.Second),
		HttpOnly: true, Secure: true, SameSite: http.SameSiteLaxMode})
	setNoStore(w.Header(), "")
	http.Redirect(w, r, authorize, http.StatusFound)
	c.logger.Info("connect started", zap.String("user", p.ID))
	return nil
}

// callback keeps the grant Zoom's answer yields, and sends the browser to
// done_url.
func (c *Connect) callback(w http.ResponseWriter, r *http.Request, p join.Principal) error {
	var cookie string
	if ck, err := r.Cookie(connectCookie); err == nil {
		cookie = ck.Value
	}
	// One connect, one callback: the cookie goes whatever happens.
	http.SetCookie(w, &http.Cookie{Name: connectCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: true, SameSite: http.SameSiteLaxMode})
	g, err := c.manager.Finish(r.Context(), p.ID, cookie, r.URL.Query())
	if err != nil {
		return c.writeRefusal(w, r, p, err)
	}
	c.logger.Info("zoom account connected", zap.String("user", p.ID), zap.String("zoom_user", g.ZoomUserID))
	setNoStore(w.Header(), "")
	http.Redirect(w, r, c.DoneURL, http.StatusFound)
	return nil
}

// status says whether the user is connected, and whether Zoom honours the
// grant now (live: false when Zoom could not be asked; the grant stays).
func (c *Connect) status(w http.ResponseWriter, r *http.Request, p join.Principal) error {
	g, ok, live, err := c.manager.Status(r.Context(), p.ID)
	if err != nil {
		return c.writeRefusal(w, r, p, err)
	}
	out := map[string]any{"connected": ok, "live": live, "connectUrl": c.connectURL}
	if g.Unopened {
		// The record is there, but no key of seal_keys opens it.
		out["unreadable"] = true
		out["reason"] = "your connected Zoom account's record cannot be opened with the site's current seal_keys (its key was rotated out); the site's operator can put the old key back, or you can connect again"
	}
	if ok {
		out["zoomUserId"], out["zoomEmail"], out["scopes"], out["connectedAt"] = g.ZoomUserID, g.ZoomEmail, g.Scopes, g.ConnectedAt.UTC().Format(time.RFC3339)
	}
	return writeJSON(w, out)
}

// disconnect revokes the user's grant and forgets it, from this site's
// own pages only.
func (c *Connect) disconnect(w http.ResponseWriter, r *http.Request, p join.Principal) error {
	if err := c.sameOrigin(r, "disconnect a Zoom account"); err != nil {
		return c.writeRefusal(w, r, p, err)
	}
	gone, err := c.manager.Disconnect(r.Context(), p.ID)
	if err != nil {
		return c.writeRefusal(w, r, p, err)
	}
	if gone {
		c.logger.Info("zoom account disconnected", zap.String("user", p.ID))
	}
	return writeJSON(w, map[string]any{"connected": false, "disconnected": gone, "connectUrl": c.connectURL})
}

// connectLink is the Link header of a refusal that a connect cures.
func connectLink(connectURL, code string) string {
	if connectURL == "" || (code != connect.CodeNotConnected && code != connect.CodeGrantRevoked) {
		return ""
	}
	return "<" + strings.ReplaceAll(connectURL, ">", "%3E") + `>; rel="zoom-connect"`
}

// UnmarshalCaddyfile reads the route's Caddyfile tokens. Syntax:
//
//	zoom_connect [<matcher>] {
//		name          <name>
//		identity      <placeholder>
//		session_jwt   { ... as zoom_signature's }
//		public_origin <origin...>
//		done_url      <path or url>
//	}
//
// The user OAuth app is the global zoom block's oauth.
func (c *Connect) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	return c.unmarshal(d, nil)
}

// unmarshal reads the tokens, then checks the route's rules, and with app
// (the global zoom block) the rules between them, naming the line at
// fault.
func (c *Connect) unmarshal(d *caddyfile.Dispenser, app *App) error {
	d.Next() // the directive
	if d.NextArg() {
		return d.ArgErr()
	}
	block := d.Line()
	lines := map[string]int{}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		opt := d.Val()
		if prev, ok := lines[opt]; ok && opt != "public_origin" {
			return d.Errf("%s is already specified (line %d); give it once", opt, prev)
		}
		lines[opt] = d.Line()
		if ok, err := c.Gate.unmarshalOption(d, opt); ok || err != nil {
			if err != nil {
				return err
			}
			continue
		}
		var field *string
		switch opt {
		case "name":
			field = &c.Name
		case "done_url":
			field = &c.DoneURL
		case "client_id", "client_secret", "redirect_uri", "authorize_url", "oauth_url", "api_url", "scopes", "connect_url", "per_minute", "timeout":
			return d.Errf("%s is the user OAuth app's, which is written once for every route in the global zoom block: { zoom { oauth { %s ... } } }", opt, opt)
		case "seal_keys", "zoom_api", "state":
			return d.Errf("%s is written once for every route now, in the global zoom block: %s", opt, movedToApp[opt])
		case "obf", "mode", "sdk_key", "sdk_secret":
			return d.Errf("zoom_connect has no %s: the user OAuth app users connect with is the global zoom block's ({ zoom { oauth { client_id ... client_secret ... redirect_uri ... } seal_keys ... } }), and done_url is zoom_connect's own option", opt)
		default:
			return d.Errf("unrecognized zoom_connect option %q%s", opt, didYouMean(opt, []string{"name", "identity", "session_jwt", "public_origin", "done_url"}))
		}
		if !d.AllArgs(field) {
			return d.ArgErr()
		}
	}
	err := c.check()
	if err == nil && app != nil {
		err = c.checkWith(app)
	}
	if err != nil {
		return atLine(err, d.File(), lineOf(err, lines, block))
	}
	return nil
}

func parseConnectCaddyfile(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	app, err := globalApp(h)
	if err != nil {
		return nil, err
	}
	c := new(Connect)
	return c, c.unmarshal(h.Dispenser, app)
}
