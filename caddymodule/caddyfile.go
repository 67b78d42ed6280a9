package caddymodule

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/dustin/go-humanize"
)

func parseCaddyfile(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	app, err := globalApp(h)
	if err != nil {
		return nil, err
	}
	zs := new(Handler)
	return zs, zs.unmarshal(h.Dispenser, app)
}

// globalApp is the global zoom block as the adapter parsed it, for the
// rules between a handler and the zoom app; an empty app without one.
func globalApp(h httpcaddyfile.Helper) (*App, error) {
	a := new(App)
	v, ok := h.Option("zoom").(httpcaddyfile.App)
	if !ok {
		return a, nil
	}
	return a, json.Unmarshal(v.Value, a)
}

// UnmarshalCaddyfile sets up the handler from Caddyfile tokens. Syntax:
//
//	zoom_signature [<matcher>] {
//		name                 <name>
//		sdk                  meeting|video|websdk1
//		sdk_app              <name>
//		sdk_key              <value>
//		sdk_secret           <value>
//		demo                 [<url>]
//		mode                 inject|endpoint
//		identity             <placeholder>
//		allow_anonymous
//		host_when            any | <placeholder> <value...>
//		on_host_denied       deny|downgrade
//		meetings             any | <meeting number or session name...>
//		meetings_claim       <claim>
//		expires              <duration>
//		backdate             <duration>
//		max_body             <size>
//		meeting_number_field <json path>
//		role_field           <json path>
//		signature_field      <json path>
//		sdk_key_field        [<json path>]
//		session_name_field   <json path>
//		user_identity_field  <json path>
//		session_key_field    <json path>
//		passcode_field       <json path>
//		join_url_field       <json path>
//		cors_origins         <origin...>
//		public_origin        <origin...>
//		url_fields           <json path...>
//		fill                 <json path> <placeholder>
//		require_zak_for_host
//		zak {
//			user  <placeholder>
//			field <json path>
//		}
//		passcode fill|always
//		registrant {
//			email       <placeholder>
//			first_name  <placeholder>
//			last_name   <placeholder>
//			tk_field    <json path>
//			email_field <json path>
//		}
//		obf {
//			when          external|always|backend
//			backend_field <json path>
//			field         <json path>
//		}
//		session_jwt {
//			from                 cookie <name> | header <name>
//			hmac_secret          <value>
//			public_key           <pem file>
//			jwks                 <url>
//			algorithms           <alg...>
//			issuer               <iss>
//			audience             <aud...>
//			leeway               <duration>
//			user_claim           <claim>
//			jwks_refresh         <duration>
//			jwks_refetch_minimum <duration>
//			cache_size           <n>
//		}
//	}
//
// The SDK app is the global zoom block's (sdk_key and sdk_secret there,
// or sdk_app <name>), or written here for a one-route site; write the
// secret as {env.NAME} or {file./path}, which are resolved when the
// config loads. The Server-to-Server app (zoom_api), the user OAuth app
// (oauth), seal_keys and state are the global zoom block's only.
// sdk_key_field with no argument means the key is not written into the
// join config. from may be given more than once; the first source that
// has a token wins.
func (h *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	return h.unmarshal(d, nil)
}

// unmarshal reads the tokens, then checks the handler's rules, and with
// app (the global zoom block) the rules between them, naming the line at
// fault.
func (h *Handler) unmarshal(d *caddyfile.Dispenser, app *App) error {
	d.Next() // consume directive name
	if d.NextArg() {
		return d.ArgErr()
	}
	block := d.Line()
	lines := map[string]int{} // where each option was written
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		opt := d.Val()
		if prev, ok := lines[opt]; ok && !repeatable[opt] {
			return d.Errf("%s is already specified (line %d); give it once", opt, prev)
		}
		lines[opt] = d.Line()
		if moved, ok := movedToApp[opt]; ok {
			return d.Errf("%s is written once for every route now, in the global zoom block: %s", opt, moved)
		}
		if ok, err := h.Gate.unmarshalOption(d, opt); ok || err != nil {
			if err != nil {
				return err
			}
			continue
		}
		if err := h.unmarshalOption(d, opt, lines); err != nil {
			return err
		}
	}
	err := h.check()
	if err == nil && app != nil {
		err = h.checkWith(app)
	}
	if err != nil {
		// Name the line of the option at fault, not the block's brace.
		return atLine(err, d.File(), lineOf(err, lines, block))
	}
	return nil
}

// movedToApp are the handler options of earlier versions that are the
// zoom app's now, with the form that replaces them.
var movedToApp = map[string]string{
	"zoom_api":  "{ zoom { zoom_api { account_id ... client_id ... client_secret ... } } }",
	"seal_keys": "{ zoom { seal_keys {env.ZOOM_GRANT_KEY} } }",
	"state":     "{ zoom { state { lookups storage } } }",
}

// unmarshalOption reads one of the handler's own options; each block
// embedded in the handler reads its own.
func (h *Handler) unmarshalOption(d *caddyfile.Dispenser, opt string, lines map[string]int) error {
	for _, block := range []func(*caddyfile.Dispenser, string, map[string]int) (bool, error){h.Steps.unmarshalOption, h.JoinFields.unmarshalOption, h.SDKApp.unmarshalHandlerOption} {
		if ok, err := block(d, opt, lines); ok || err != nil {
			return err
		}
	}
	switch opt {
	case "allow_anonymous":
		if d.NextArg() {
			return d.ArgErr()
		}
		h.AllowAnonymous = true

	case "host_when":
		args := d.RemainingArgs()
		switch {
		case len(args) == 1 && args[0] == scopeAny:
			h.HostWhen = &HostRule{Any: true}
		case len(args) >= 2:
			h.HostWhen = &HostRule{Placeholder: args[0], Values: args[1:]}
		default:
			return d.Errf("host_when takes 'any', or a placeholder and one or more values, e.g. host_when {http.auth.user.id} alice bob")
		}

	case "meetings", "cors_origins":
		args := d.RemainingArgs()
		if len(args) == 0 {
			return d.ArgErr()
		}
		list := map[string]*[]string{"meetings": &h.Meetings, "cors_origins": &h.CORSOrigins}[opt]
		*list = append(*list, args...)

	case "expires", "backdate":
		dur, err := durationArg(d, opt)
		if err != nil {
			return err
		}
		if opt == "expires" {
			h.Expires = dur
		} else {
			h.Backdate = &dur
		}

	case "max_body":
		var v string
		if !d.AllArgs(&v) {
			return d.ArgErr()
		}
		n, err := humanize.ParseBytes(v)
		if err != nil || n == 0 {
			return d.Errf("max_body: %q is not a size; write it like 64KiB", v)
		}
		h.MaxBody = int64(min(n, maxMaxBody+1)) // the range is check's

	default:
		field := map[string]*string{
			"sdk": &h.SDK, "sdk_app": &h.AppName, "mode": &h.Mode, "name": &h.Name,
			"on_host_denied": &h.OnHostDenied, "meetings_claim": &h.MeetingsClaim,
		}[opt]
		if field == nil {
			return d.Errf("unrecognized subdirective %q%s", opt, didYouMean(opt, options))
		}
		if !d.AllArgs(field) {
			return d.ArgErr()
		}
	}
	return nil
}

// unmarshalHandlerOption reads an SDK app written in a handler.
func (s *SDKApp) unmarshalHandlerOption(d *caddyfile.Dispenser, opt string, _ map[string]int) (bool, error) {
	if opt != "sdk_key" && opt != "sdk_secret" && opt != "demo" {
		return false, nil
	}
	return true, s.unmarshalOption(d, opt)
}

// unmarshalOption reads an option of the join-config fields; ok says it
// was one.
func (f *JoinFields) unmarshalOption(d *caddyfile.Dispenser, opt string, _ map[string]int) (ok bool, err error) {
	switch opt {
	case "sdk_key_field":
		var path string
		d.AllArgs(&path) // zero arguments: do not write the key
		f.SDKKeyField = &path
	case "url_fields":
		args := d.RemainingArgs()
		if len(args) == 0 {
			return true, d.ArgErr()
		}
		f.URLFields = append(f.URLFields, args...)
	case "fill":
		var path, value string
		if !d.AllArgs(&path, &value) {
			return true, d.Errf("fill takes a JSON path and a placeholder, e.g. fill userName {http.zoom_signature.user.name}")
		}
		f.Fill = append(f.Fill, FillRule{Path: path, Value: value})
	default:
		field := map[string]*string{
			"meeting_number_field": &f.MeetingNumberField, "role_field": &f.RoleField, "signature_field": &f.SignatureField,
			"session_name_field": &f.SessionNameField, "user_identity_field": &f.UserIdentityField, "session_key_field": &f.SessionKeyField,
			"passcode_field": &f.PasscodeField, "join_url_field": &f.JoinURLField,
		}[opt]
		if field == nil {
			return false, nil
		}
		if !d.AllArgs(field) {
			return true, d.ArgErr()
		}
	}
	return true, nil
}

// unmarshalBlock reads a block of single-value options into fields; an
// option of moved gets the error that shows its new place. Each option's
// line is kept as "block option".
func unmarshalBlock(d *caddyfile.Dispenser, block string, lines map[string]int, fields map[string]*string, moved map[string]string) error {
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		opt := d.Val()
		lines[block+" "+opt] = d.Line()
		if to, ok := moved[opt]; ok {
			return d.Errf("%s %s is written once for every route now, in the app or route it belongs to: %s", block, opt, to)
		}
		field := fields[opt]
		if field == nil {
			known := slices.Sorted(maps.Keys(fields))
			return d.Errf("unrecognized %s subdirective %q%s", block, opt, didYouMean(opt, known))
		}
		if !d.AllArgs(field) {
			return d.ArgErr()
		}
	}
	return nil
}

// durationArg reads one duration argument; its range is the check's.
func durationArg(d *caddyfile.Dispenser, opt string) (caddy.Duration, error) {
	var v string
	if !d.AllArgs(&v) {
		return 0, d.ArgErr()
	}
	dur, err := caddy.ParseDuration(v)
	if err != nil {
		return 0, d.Errf("%s %q is not a duration; write it like 2h, 90m or 30s", opt, v)
	}
	return caddy.Duration(dur), nil
}

// options are the subdirectives, for "did you mean"; repeatable are those
// that may be given more than once (their values add up).
var (
	options = []string{"name", "sdk", "sdk_app", "sdk_key", "sdk_secret", "mode", "identity", "allow_anonymous", "host_when",
		"on_host_denied", "meetings", "expires", "backdate", "max_body", "meeting_number_field", "role_field",
		"signature_field", "sdk_key_field", "session_name_field", "user_identity_field", "session_key_field",
		"cors_origins", "demo", "public_origin", "url_fields", "meetings_claim", "fill", "require_zak_for_host",
		"zak", "session_jwt", "passcode", "passcode_field", "join_url_field", "registrant", "obf"}
	repeatable = map[string]bool{"meetings": true, "cors_origins": true, "public_origin": true, "url_fields": true, "fill": true}
)

// didYouMean suggests the known name nearest to name, if one is near.
func didYouMean(name string, known []string) string {
	best, bestDist := "", 3 // at most two edits away
	for _, k := range known {
		if d := editDistance(name, k); d < bestDist {
			best, bestDist = k, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf("; did you mean %q?", best)
}

// editDistance is the Levenshtein distance of a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// unmarshal reads a zoom_api block.
func (z *ZoomAPIConfig) unmarshal(d *caddyfile.Dispenser, lines map[string]int) error {
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		opt := d.Val()
		lines["zoom_api "+opt] = d.Line()
		if dur := map[string]*caddy.Duration{"lookup_ttl": &z.LookupTTL, "timeout": &z.Timeout, "zak_lifetime": &z.ZAKLifetime}[opt]; dur != nil {
			v, err := durationArg(d, opt)
			if err != nil {
				return err
			}
			*dur = v // the range is check's
			continue
		}
		field := map[string]*string{
			"account_id": &z.AccountID, "client_id": &z.ClientID, "client_secret": &z.ClientSecret,
			"oauth_url": &z.OAuthURL, "api_url": &z.APIURL,
		}[opt]
		if field == nil {
			return d.Errf("unrecognized zoom_api subdirective %q%s", opt, didYouMean(opt, []string{"account_id", "client_id", "client_secret", "oauth_url", "api_url", "lookup_ttl", "timeout", "zak_lifetime"}))
		}
		if !d.AllArgs(field) {
			return d.ArgErr()
		}
	}
	return nil
}

// unmarshal reads a state block; its ranges are checkStateConfig's.
func (s *StateConfig) unmarshal(d *caddyfile.Dispenser, lines map[string]int) error {
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		opt := d.Val()
		lines["state "+opt] = d.Line()
		known := []string{"lookups", "lock_timeout", "lookups_per_minute"}
		if !slices.Contains(known, opt) {
			return d.Errf("unrecognized state subdirective %q%s", opt, didYouMean(opt, known))
		}
		var v string
		if !d.AllArgs(&v) {
			return d.ArgErr()
		}
		switch opt {
		case "lookups":
			s.Lookups = v
		case "lock_timeout":
			dur, err := caddy.ParseDuration(v)
			if err != nil {
				return d.Errf("lock_timeout %q is not a duration; write it like 15s or 1m", v)
			}
			s.LockTimeout = caddy.Duration(dur) // the range is checkState's
		case "lookups_per_minute":
			n, err := strconv.Atoi(v)
			if err != nil {
				return d.Errf("lookups_per_minute %q is not a number", v)
			}
			s.LookupsPerMinute = n
		}
	}
	return nil
}

// unmarshal reads a session_jwt block.
func (s *SessionJWT) unmarshal(d *caddyfile.Dispenser) error {
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		opt := d.Val()
		switch opt {
		case "from":
			var kind, name string
			if !d.AllArgs(&kind, &name) || (kind != "cookie" && kind != "header") {
				return d.Errf("from takes 'cookie <name>' or 'header <name>'")
			}
			if kind == "cookie" {
				s.From = append(s.From, TokenSource{Cookie: name})
			} else {
				s.From = append(s.From, TokenSource{Header: name})
			}
		case "algorithms", "audience":
			args := d.RemainingArgs()
			if len(args) == 0 {
				return d.ArgErr()
			}
			if opt == "algorithms" {
				s.Algorithms = append(s.Algorithms, args...)
			} else {
				s.Audience = append(s.Audience, args...)
			}
		case "leeway", "jwks_refresh", "jwks_refetch_minimum":
			var v string
			if !d.AllArgs(&v) {
				return d.ArgErr()
			}
			dur, err := caddy.ParseDuration(v)
			if err != nil || dur < 0 {
				return d.Errf("%s %q is not a duration; write it like 30s, 5m or 1h", opt, v)
			}
			*map[string]*caddy.Duration{"leeway": &s.Leeway, "jwks_refresh": &s.JWKSRefresh, "jwks_refetch_minimum": &s.JWKSRefetchMinimum}[opt] = caddy.Duration(dur)
		case "cache_size":
			var v string
			if !d.AllArgs(&v) {
				return d.ArgErr()
			}
			n, err := strconv.Atoi(v)
			if err != nil {
				return d.Errf("cache_size: %q is not a number", v)
			}
			s.CacheSize = n
		default:
			field := map[string]*string{
				"hmac_secret": &s.HMACSecret, "public_key": &s.PublicKey, "jwks": &s.JWKS,
				"issuer": &s.Issuer, "user_claim": &s.UserClaim,
			}[opt]
			if field == nil {
				return d.Errf("unrecognized session_jwt subdirective %q%s", opt, didYouMean(opt, []string{"from", "hmac_secret", "public_key", "jwks", "algorithms", "issuer", "audience", "leeway", "user_claim", "jwks_refresh", "jwks_refetch_minimum", "cache_size"}))
			}
			if !d.AllArgs(field) {
				return d.ArgErr()
			}
		}
	}
	return nil
}

// unmarshalOption reads an option of the gate; ok says it was one.
func (g *Gate) unmarshalOption(d *caddyfile.Dispenser, opt string) (ok bool, err error) {
	switch opt {
	case "identity":
		if !d.AllArgs(&g.Identity) {
			return true, d.ArgErr()
		}
	case "public_origin":
		args := d.RemainingArgs()
		if len(args) == 0 {
			return true, d.ArgErr()
		}
		g.PublicOrigin = append(g.PublicOrigin, args...)
	case "session_jwt":
		if d.NextArg() {
			return true, d.ArgErr()
		}
		if g.SessionJWT == nil {
			g.SessionJWT = new(SessionJWT)
		}
		return true, g.SessionJWT.unmarshal(d)
	default:
		return false, nil
	}
	return true, nil
}

// parseGlobalZoom reads the global zoom block, the zoom app. Syntax:
//
//	zoom {
//		sdk_key    <value>
//		sdk_secret <value>
//		demo       [<url>]
//		sdk_app <name> {
//			sdk_key    <value>
//			sdk_secret <value>
//			demo       [<url>]
//		}
//		zoom_api {
//			account_id    <value>
//			client_id     <value>
//			client_secret <value>
//			oauth_url     <url>
//			api_url       <url>
//			lookup_ttl    <duration>
//			timeout       <duration>
//			zak_lifetime  <duration>
//		}
//		oauth {
//			client_id     <value>
//			client_secret <value>
//			redirect_uri  <url>
//			authorize_url <url>
//			oauth_url     <url>
//			api_url       <url>
//			scopes        <scope...>
//			connect_url   <path or url>
//			per_minute    <n>
//			timeout       <duration>
//		}
//		seal_keys <key...>
//		state {
//			lookups            storage|memory
//			lock_timeout       <duration>
//			lookups_per_minute <n>
//		}
//	}
func parseGlobalZoom(d *caddyfile.Dispenser, existing any) (any, error) {
	if existing != nil {
		return nil, d.Err("the global zoom block is already specified; write it once")
	}
	a := new(App)
	d.Next() // the option's name
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	block := d.Line()
	lines := map[string]int{}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		opt := d.Val()
		if prev, ok := lines[opt]; ok && opt != "seal_keys" && opt != "sdk_app" {
			return nil, d.Errf("%s is already specified (line %d); give it once", opt, prev)
		}
		lines[opt] = d.Line()
		if err := a.unmarshalOption(d, opt, lines); err != nil {
			return nil, err
		}
	}
	if err := a.check(); err != nil {
		return nil, atLine(err, d.File(), lineOf(err, lines, block))
	}
	return httpcaddyfile.App{Name: "zoom", Value: caddyconfig.JSON(a, nil)}, nil
}

// unmarshalOption reads one option of the global zoom block.
func (a *App) unmarshalOption(d *caddyfile.Dispenser, opt string, lines map[string]int) error {
	switch opt {
	case "sdk_key", "sdk_secret", "demo":
		if a.SDK == nil {
			a.SDK = new(SDKApp)
		}
		return a.SDK.unmarshalOption(d, opt)
	case "sdk_app":
		var name string
		if !d.AllArgs(&name) {
			return d.Errf("sdk_app takes a name and a block: sdk_app video { sdk_key ... sdk_secret ... }")
		}
		if a.SDKApps == nil {
			a.SDKApps = map[string]*SDKApp{}
		}
		if _, dup := a.SDKApps[name]; dup {
			return d.Errf("sdk_app %s is already specified; give each SDK app once", name)
		}
		s := new(SDKApp)
		a.SDKApps[name] = s
		lines["sdk_app "+name] = d.Line()
		for nesting := d.Nesting(); d.NextBlock(nesting); {
			lines["sdk_app "+name+" "+d.Val()] = d.Line()
			if err := s.unmarshalOption(d, d.Val()); err != nil {
				return err
			}
		}
	case "zoom_api":
		if d.NextArg() {
			return d.ArgErr()
		}
		a.ZoomAPI = new(ZoomAPIConfig)
		return a.ZoomAPI.unmarshal(d, lines)
	case "oauth":
		if d.NextArg() {
			return d.ArgErr()
		}
		a.OAuth = new(OAuthApp)
		return a.OAuth.unmarshal(d, lines)
	case "state":
		if d.NextArg() {
			return d.ArgErr()
		}
		a.State = new(StateConfig)
		return a.State.unmarshal(d, lines)
	case "seal_keys":
		args := d.RemainingArgs()
		if len(args) == 0 {
			return d.ArgErr()
		}
		a.SealKeys = append(a.SealKeys, args...)
	default:
		return d.Errf("unrecognized zoom option %q%s", opt, didYouMean(opt, []string{"sdk_key", "sdk_secret", "demo", "sdk_app", "zoom_api", "oauth", "state", "seal_keys"}))
	}
	return nil
}

// unmarshalOption reads an option of an SDK app.
func (s *SDKApp) unmarshalOption(d *caddyfile.Dispenser, opt string) error {
	switch opt {
	case "sdk_key", "sdk_secret":
		field := map[string]*string{"sdk_key": &s.SDKKey, "sdk_secret": &s.SDKSecret}[opt]
		if !d.AllArgs(field) {
			return d.ArgErr()
		}
	case "demo":
		args := d.RemainingArgs()
		if len(args) > 1 {
			return d.ArgErr()
		}
		s.Demo = &DemoConfig{}
		if len(args) == 1 {
			s.Demo.URL = args[0]
		}
	default:
		return d.Errf("unrecognized SDK app option %q%s", opt, didYouMean(opt, []string{"sdk_key", "sdk_secret", "demo"}))
	}
	return nil
}

// unmarshal reads an oauth block; its ranges are OAuthApp.check's.
func (o *OAuthApp) unmarshal(d *caddyfile.Dispenser, lines map[string]int) error {
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		opt := d.Val()
		lines["oauth "+opt] = d.Line()
		switch opt {
		case "scopes":
			args := d.RemainingArgs()
			if len(args) == 0 {
				return d.ArgErr()
			}
			o.Scopes = append(o.Scopes, args...)
			continue
		case "per_minute":
			var v string
			if !d.AllArgs(&v) {
				return d.ArgErr()
			}
			n, err := strconv.Atoi(v)
			if err != nil {
				return d.Errf("per_minute %q is not a whole number; use 1 to 600", v)
			}
			o.PerMinute = n
			continue
		case "timeout":
			dur, err := durationArg(d, opt)
			if err != nil {
				return err
			}
			o.Timeout = dur
			continue
		}
		field := map[string]*string{
			"client_id": &o.ClientID, "client_secret": &o.ClientSecret, "redirect_uri": &o.RedirectURI,
			"authorize_url": &o.AuthorizeURL, "oauth_url": &o.OAuthURL, "api_url": &o.APIURL, "connect_url": &o.ConnectURL,
		}[opt]
		if field == nil {
			return d.Errf("unrecognized oauth subdirective %q%s", opt, didYouMean(opt, []string{"client_id", "client_secret", "redirect_uri", "authorize_url", "oauth_url", "api_url", "scopes", "connect_url", "per_minute", "timeout"}))
		}
		if !d.AllArgs(field) {
			return d.ArgErr()
		}
	}
	return nil
}
