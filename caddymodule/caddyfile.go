package caddymodule

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/dustin/go-humanize"
)

func parseCaddyfile(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	zs := new(Handler)
	err := zs.UnmarshalCaddyfile(h.Dispenser)
	return zs, err
}

// UnmarshalCaddyfile sets up the handler from Caddyfile tokens. Syntax:
//
//	zoom_signature [<matcher>] {
//		name                 <name>
//		sdk                  meeting|video|websdk1
//		sdk_key              <value>
//		sdk_secret           <value>
//		mode                 inject|endpoint|connect
//		identity             <placeholder>
//		allow_anonymous
//		host_when            any | <placeholder> <value...>
//		on_host_denied       deny|downgrade
//		meetings             any | <meeting number or session name...>
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
//		cors_origins         <origin...>
//		demo                 [<url>]
//		public_origin        <origin...>
//		url_fields           <json path...>
//		meetings_claim       <claim>
//		fill                 <json path> <placeholder>
//		require_zak_for_host
//		zak {
//			account_id    <value>
//			client_id     <value>
//			client_secret <value>
//			user          <placeholder>
//			field         <json path>
//			oauth_url     <url>
//			api_url       <url>
//			lifetime      <duration>
//		}
//		zoom_api {
//			account_id    <value>
//			client_id     <value>
//			client_secret <value>
//			oauth_url     <url>
//			api_url       <url>
//			lookup_ttl    <duration>
//			timeout       <duration>
//		}
//		passcode       fill|always
//		passcode_field <json path>
//		join_url_field <json path>
//		registrant {
//			email       <placeholder>
//			first_name  <placeholder>
//			last_name   <placeholder>
//			tk_field    <json path>
//			email_field <json path>
//		}
//		obf {
//			client_id     <value>
//			client_secret <value>
//			redirect_uri  <url>
//			authorize_url <url>
//			oauth_url     <url>
//			api_url       <url>
//			scopes        <scope...>
//			when          external|always|backend
//			backend_field <json path>
//			field         <json path>
//			connect_url   <path or url>
//			done_url      <path or url>
//			per_minute    <n>
//			timeout       <duration>
//		}
//		seal_keys <key...>
//		state {
//			lookups            storage|memory
//			lock_timeout       <duration>
//			lookups_per_minute <n>
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
// sdk_key and sdk_secret are required; write the secret as {env.NAME} or
// {file./path}, which are resolved when the config loads. sdk_key_field
// with no argument means the key is not written into the join config.
// from may be given more than once; the first source that has a token wins.
func (h *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // consume directive name
	if d.NextArg() {
		return d.ArgErr()
	}
	lines := map[string]int{} // where each option was written
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		opt := d.Val()
		if prev, ok := lines[opt]; ok && !repeatable[opt] {
			return d.Errf("%s is already specified (line %d); give it once", opt, prev)
		}
		lines[opt] = d.Line()
		switch opt {
		case "demo":
			args := d.RemainingArgs()
			if len(args) > 1 {
				return d.ArgErr()
			}
			h.Demo = &DemoConfig{}
			if len(args) == 1 {
				h.Demo.URL = args[0]
			}

		case "allow_anonymous", "require_zak_for_host":
			if d.NextArg() {
				return d.ArgErr()
			}
			if opt == "allow_anonymous" {
				h.AllowAnonymous = true
			} else {
				h.RequireZAKForHost = true
			}

		case "zak":
			if d.NextArg() {
				return d.ArgErr()
			}
			if h.Zak == nil {
				h.Zak = new(ZAKConfig)
			}
			if err := h.Zak.unmarshal(d); err != nil {
				return err
			}

		case "zoom_api":
			if d.NextArg() {
				return d.ArgErr()
			}
			h.ZoomAPI = new(ZoomAPIConfig)
			if err := h.ZoomAPI.unmarshal(d); err != nil {
				return err
			}

		case "obf":
			if d.NextArg() {
				return d.ArgErr()
			}
			h.OBF = new(OBFConfig)
			if err := h.OBF.unmarshal(d); err != nil {
				return err
			}

		case "registrant":
			if d.NextArg() {
				return d.ArgErr()
			}
			h.Registrant = new(RegistrantConfig)
			if err := h.Registrant.unmarshal(d); err != nil {
				return err
			}

		case "state":
			if d.NextArg() {
				return d.ArgErr()
			}
			if h.State == nil {
				h.State = new(StateConfig)
			}
			if err := h.State.unmarshal(d); err != nil {
				return err
			}

		case "seal_keys":
			args := d.RemainingArgs()
			if len(args) == 0 {
				return d.ArgErr()
			}
			h.SealKeys = append(h.SealKeys, args...)

		case "host_when":
			args := d.RemainingArgs()
			switch {
			case len(args) == 1 && args[0] == scopeAny:
				h.HostWhen = &HostRule{Any: true}
			case len(args) >= 2:
				h.HostWhen = &HostRule{Placeholder: args[0], Values: args[1:]}
			default:
				return d.Errf("host_when takes 'any', or a placeholder and one or more values")
			}

		case "meetings", "cors_origins", "public_origin", "url_fields":
			args := d.RemainingArgs()
			if len(args) == 0 {
				return d.ArgErr()
			}
			list := map[string]*[]string{"meetings": &h.Meetings, "cors_origins": &h.CORSOrigins, "public_origin": &h.PublicOrigin, "url_fields": &h.URLFields}[opt]
			*list = append(*list, args...)

		case "fill":
			var path, value string
			if !d.AllArgs(&path, &value) {
				return d.Errf("fill takes a JSON path and a placeholder, e.g. fill userName {http.zoom_signature.user.name}")
			}
			h.Fill = append(h.Fill, FillRule{Path: path, Value: value})

		case "session_jwt":
			if d.NextArg() {
				return d.ArgErr()
			}
			if h.SessionJWT == nil {
				h.SessionJWT = new(SessionJWT)
			}
			if err := h.SessionJWT.unmarshal(d); err != nil {
				return err
			}

		case "sdk_key_field":
			var path string
			d.AllArgs(&path) // zero arguments: do not write the key
			h.SDKKeyField = &path

		case "expires", "backdate":
			var v string
			if !d.AllArgs(&v) {
				return d.ArgErr()
			}
			dur, err := caddy.ParseDuration(v)
			if err != nil {
				return d.Errf("%s %q is not a duration; write it like 2h, 90m or 30s", opt, v)
			}
			if opt == "expires" {
				h.Expires = caddy.Duration(dur)
			} else {
				b := caddy.Duration(dur)
				h.Backdate = &b
			}

		case "max_body":
			var v string
			if !d.AllArgs(&v) {
				return d.ArgErr()
			}
			n, err := humanize.ParseBytes(v)
			if err != nil || n == 0 || n > 1<<30 {
				return d.Errf("max_body: %q is not a size between 1B and 1GiB (e.g. 64KiB)", v)
			}
			h.MaxBody = int64(n)

		default:
			field := h.stringOption(opt)
			if field == nil {
				return d.Errf("unrecognized subdirective %q%s", opt, didYouMean(opt, options))
			}
			if !d.AllArgs(field) {
				return d.ArgErr()
			}
		}
	}
	err := h.checkConfig()
	if err == nil {
		err = h.checkModeOptions()
	}
	if err != nil {
		// Name the line of the option at fault, not the block's brace.
		line := d.Line()
		if l, ok := lines[optionOf(err)]; ok {
			line = l
		}
		return fmt.Errorf("%w, at %s:%d", err, d.File(), line) // as Dispenser.Errf writes it
	}
	return nil
}

// options are the subdirectives, for "did you mean"; repeatable are those
// that may be given more than once (their values add up).
var (
	options = []string{"name", "sdk", "sdk_key", "sdk_secret", "mode", "identity", "allow_anonymous", "host_when",
		"on_host_denied", "meetings", "expires", "backdate", "max_body", "meeting_number_field", "role_field",
		"signature_field", "sdk_key_field", "session_name_field", "user_identity_field", "session_key_field",
		"cors_origins", "demo", "public_origin", "url_fields", "meetings_claim", "fill", "require_zak_for_host",
		"zak", "session_jwt", "zoom_api", "passcode", "passcode_field", "join_url_field", "registrant", "seal_keys", "state", "obf"}
	repeatable = map[string]bool{"meetings": true, "cors_origins": true, "public_origin": true, "url_fields": true, "fill": true, "seal_keys": true}
)

// optionOf names the option an error of checkConfig is about: every one
// starts with it, and "endpoint mode needs" is about mode.
func optionOf(err error) string {
	msg := err.Error()
	if strings.HasPrefix(msg, "endpoint mode") {
		return "mode"
	}
	best := ""
	for _, o := range options {
		if strings.HasPrefix(msg, o) && len(o) > len(best) && len(msg) > len(o) && strings.ContainsRune(" :", rune(msg[len(o)])) {
			best = o
		}
	}
	return best
}

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

// unmarshal reads a zak block.
func (z *ZAKConfig) unmarshal(d *caddyfile.Dispenser) error {
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		opt := d.Val()
		if opt == "lifetime" {
			var v string
			if !d.AllArgs(&v) {
				return d.ArgErr()
			}
			dur, err := caddy.ParseDuration(v)
			if err != nil || dur < 10*time.Minute {
				return d.Errf("lifetime %q is not a duration of 10m or more; write it like 2h or 90m", v)
			}
			z.Lifetime = caddy.Duration(dur)
			continue
		}
		field := map[string]*string{
			"account_id": &z.AccountID, "client_id": &z.ClientID, "client_secret": &z.ClientSecret,
			"user": &z.User, "field": &z.Field, "oauth_url": &z.OAuthURL, "api_url": &z.APIURL,
		}[opt]
		if field == nil {
			return d.Errf("unrecognized zak subdirective %q%s", opt, didYouMean(opt, []string{"account_id", "client_id", "client_secret", "user", "field", "oauth_url", "api_url", "lifetime"}))
		}
		if !d.AllArgs(field) {
			return d.ArgErr()
		}
	}
	return nil
}

// unmarshal reads a zoom_api block.
func (z *ZoomAPIConfig) unmarshal(d *caddyfile.Dispenser) error {
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		opt := d.Val()
		if opt == "lookup_ttl" || opt == "timeout" {
			var v string
			if !d.AllArgs(&v) {
				return d.ArgErr()
			}
			dur, err := caddy.ParseDuration(v)
			if err != nil || dur < time.Second || dur > 24*time.Hour {
				return d.Errf("%s %q is not a duration between 1s and 24h; write it like 10m or 5s", opt, v)
			}
			if opt == "timeout" {
				z.Timeout = caddy.Duration(dur)
			} else {
				z.LookupTTL = caddy.Duration(dur)
			}
			continue
		}
		field := map[string]*string{
			"account_id": &z.AccountID, "client_id": &z.ClientID, "client_secret": &z.ClientSecret,
			"oauth_url": &z.OAuthURL, "api_url": &z.APIURL,
		}[opt]
		if field == nil {
			return d.Errf("unrecognized zoom_api subdirective %q%s", opt, didYouMean(opt, []string{"account_id", "client_id", "client_secret", "oauth_url", "api_url", "lookup_ttl", "timeout"}))
		}
		if !d.AllArgs(field) {
			return d.ArgErr()
		}
	}
	return nil
}

// unmarshal reads an obf block.
func (o *OBFConfig) unmarshal(d *caddyfile.Dispenser) error {
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		opt := d.Val()
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
			if err != nil || n < 1 || n > 600 {
				return d.Errf("per_minute %q is not a number between 1 and 600", v)
			}
			o.PerMinute = n
			continue
		case "timeout":
			var v string
			if !d.AllArgs(&v) {
				return d.ArgErr()
			}
			dur, err := caddy.ParseDuration(v)
			if err != nil || dur < time.Second || dur > time.Minute {
				return d.Errf("timeout %q is not a duration between 1s and 1m; write it like 10s", v)
			}
			o.Timeout = caddy.Duration(dur)
			continue
		}
		field := map[string]*string{
			"client_id": &o.ClientID, "client_secret": &o.ClientSecret, "redirect_uri": &o.RedirectURI,
			"authorize_url": &o.AuthorizeURL, "oauth_url": &o.OAuthURL, "api_url": &o.APIURL, "when": &o.When,
			"backend_field": &o.BackendField, "field": &o.Field, "connect_url": &o.ConnectURL, "done_url": &o.DoneURL,
		}[opt]
		if field == nil {
			return d.Errf("unrecognized obf subdirective %q%s", opt, didYouMean(opt, []string{"client_id", "client_secret", "redirect_uri", "authorize_url", "oauth_url", "api_url", "scopes", "when", "backend_field", "field", "connect_url", "done_url", "per_minute", "timeout"}))
		}
		if !d.AllArgs(field) {
			return d.ArgErr()
		}
	}
	return nil
}

// unmarshal reads a state block; its ranges are checkStateConfig's.
func (s *StateConfig) unmarshal(d *caddyfile.Dispenser) error {
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		opt := d.Val()
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
			s.LockTimeout = caddy.Duration(dur)
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

// unmarshal reads a registrant block.
func (r *RegistrantConfig) unmarshal(d *caddyfile.Dispenser) error {
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		opt := d.Val()
		field := map[string]*string{
			"email": &r.Email, "first_name": &r.FirstName, "last_name": &r.LastName,
			"tk_field": &r.TokenField, "email_field": &r.EmailField,
		}[opt]
		if field == nil {
			return d.Errf("unrecognized registrant subdirective %q%s", opt, didYouMean(opt, []string{"email", "first_name", "last_name", "tk_field", "email_field"}))
		}
		if !d.AllArgs(field) {
			return d.ArgErr()
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

// stringOption maps the single-value options to their fields.
func (h *Handler) stringOption(name string) *string {
	return map[string]*string{
		"sdk":                  &h.SDK,
		"sdk_key":              &h.SDKKey,
		"sdk_secret":           &h.SDKSecret,
		"mode":                 &h.Mode,
		"name":                 &h.Name,
		"identity":             &h.Identity,
		"on_host_denied":       &h.OnHostDenied,
		"meeting_number_field": &h.MeetingNumberField,
		"role_field":           &h.RoleField,
		"signature_field":      &h.SignatureField,
		"session_name_field":   &h.SessionNameField,
		"user_identity_field":  &h.UserIdentityField,
		"session_key_field":    &h.SessionKeyField,
		"meetings_claim":       &h.MeetingsClaim,
		"passcode":             &h.Passcode,
		"passcode_field":       &h.PasscodeField,
		"join_url_field":       &h.JoinURLField,
	}[name]
}
