package caddymodule

import (
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
//		sdk                  meeting|video|websdk1
//		sdk_key              <value>
//		sdk_secret           <value>
//		mode                 inject|endpoint
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
//	}
//
// sdk_key and sdk_secret are required; write the secret as {env.NAME} or
// {file./path}, which are resolved when the config loads. sdk_key_field
// with no argument means the key is not written into the join config.
func (h *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // consume directive name
	if d.NextArg() {
		return d.ArgErr()
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		opt := d.Val()
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
				return d.Errf("host_when takes 'any', or a placeholder and one or more values")
			}

		case "meetings", "cors_origins":
			args := d.RemainingArgs()
			if len(args) == 0 {
				return d.ArgErr()
			}
			if opt == "meetings" {
				h.Meetings = append(h.Meetings, args...)
			} else {
				h.CORSOrigins = append(h.CORSOrigins, args...)
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
				return d.Errf("%s: %v", opt, err)
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
				return d.Errf("unrecognized subdirective %q", opt)
			}
			if !d.AllArgs(field) {
				return d.ArgErr()
			}
		}
	}
	if err := h.checkConfig(); err != nil {
		return d.Errf("zoom_signature: %v", err)
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
		"identity":             &h.Identity,
		"on_host_denied":       &h.OnHostDenied,
		"meeting_number_field": &h.MeetingNumberField,
		"role_field":           &h.RoleField,
		"signature_field":      &h.SignatureField,
		"session_name_field":   &h.SessionNameField,
		"user_identity_field":  &h.UserIdentityField,
		"session_key_field":    &h.SessionKeyField,
	}[name]
}
