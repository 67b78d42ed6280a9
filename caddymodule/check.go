package caddymodule

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/zoomsig/caddy-zoom-signature/caddymodule/join"
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/signature"
)

// The handler's rules. Each is checked once, here, on the config as
// written (before any default is set), by Provision for JSON and by the
// Caddyfile adapter when the block closes, so both say the same thing.
// The Caddyfile parser keeps only syntax.

// Ranges of the handler's options.
const (
	minExpires  = 30 * time.Minute
	maxExpires  = 48 * time.Hour
	maxBackdate = 10 * time.Minute
	maxMaxBody  = 1 << 30
)

// check holds the rules of the handler's own config.
func (h *Handler) check() error {
	sdk, err := join.ParseSDK(h.SDK)
	if err != nil {
		return errorAt("sdk", err.Error())
	}
	if h.Mode != "" && h.Mode != modeInject && h.Mode != modeEndpoint {
		if h.Mode == "connect" {
			return errorAt("mode", "mode connect is now its own handler: write the connect routes as zoom_connect, and the user OAuth app once, in the global zoom block's oauth")
		}
		return errorAt("mode", fmt.Sprintf("mode %q is not known; use inject or endpoint", h.Mode))
	}
	if h.AppName != "" && (h.SDKKey != "" || h.SDKSecret != "") {
		return errorAt("sdk_app", "sdk_app names the zoom app's SDK app, and sdk_key or sdk_secret write one here; keep one of them")
	}
	if err := h.SDKApp.check("sdk_key", false); err != nil {
		return err
	}
	for _, check := range []func(join.SDK) error{h.checkPolicy, h.Steps.check, h.checkModeOptions} {
		if err := check(sdk); err != nil {
			return err
		}
	}
	if err := h.JoinFields.check(); err != nil {
		return err
	}
	return h.Gate.check()
}

// checkModeOptions refuses options that the mode would ignore: a setting
// that silently does nothing is a bug waiting to be found in production.
func (h *Handler) checkModeOptions(sdk join.SDK) error {
	if h.JoinURLField != "" && sdk == join.Video {
		return errorAt("join_url_field", "join_url_field is for the Meeting SDK; Video SDK sessions have no invite link")
	}
	if h.Mode == modeEndpoint {
		set := append(h.JoinFields.set(), []struct {
			name string
			set  bool
		}{
			{"url_fields", len(h.URLFields) > 0}, {"fill", len(h.Fill) > 0},
			{"passcode", h.Passcode != ""}, {"registrant", h.Registrant != nil},
		}...)
		for _, o := range set {
			if o.set {
				return errorAt(o.name, o.name+" is for inject mode, where the module edits the backend's join config; in endpoint mode the module writes the whole answer, so remove it")
			}
		}
		if len(h.Meetings) == 0 && h.MeetingsClaim == "" {
			return errorAt("mode", "endpoint mode needs meetings: list the meeting numbers (or session names) clients may ask for, 'meetings any', or a meetings_claim")
		}
	} else if len(h.CORSOrigins) > 0 {
		return errorAt("cors_origins", "cors_origins is for endpoint mode; in inject mode the site's own route answers the browser, so set CORS there (the header directive) or remove it")
	}
	return nil
}

// checkPolicy checks who may have which meeting and role, and for how
// long.
func (h *Handler) checkPolicy(sdk join.SDK) error {
	if h.MeetingsClaim != "" && h.SessionJWT == nil {
		return errorAt("meetings_claim", "meetings_claim needs session_jwt, whose claims it reads")
	}
	if slices.Contains(h.Meetings, scopeAny) && len(h.Meetings) > 1 {
		return errorAt("meetings", "meetings: 'any' cannot be combined with a list")
	}
	if sdk != join.Video {
		for _, m := range h.Meetings {
			if _, err := signature.ParseMeetingNumber(m); m != scopeAny && err != nil {
				return errorAt("meetings", fmt.Sprintf("meetings: %q is not a meeting number of 9 to 11 digits", m))
			}
		}
	}
	if h.OnHostDenied != "" && h.OnHostDenied != hostDeny && h.OnHostDenied != hostDowngrade {
		return errorAt("on_host_denied", fmt.Sprintf("on_host_denied %q is not known; use deny or downgrade", h.OnHostDenied))
	}
	if r := h.HostWhen; r != nil && !r.Any {
		switch {
		case r.Placeholder == "" || len(r.Values) == 0:
			return errorAt("host_when", "host_when needs a placeholder and at least one value, or 'any', e.g. host_when {http.auth.user.id} alice bob")
		case !strings.HasPrefix(r.Placeholder, "{") || !strings.HasSuffix(r.Placeholder, "}"):
			// host_when alice bob would compare the word "alice" with
			// "bob" for every user: nobody would ever be a host.
			return errorAt("host_when", fmt.Sprintf("host_when %q is not a placeholder: its first word names where the user's value comes from, and the rest are the values that make a host; write e.g. host_when {http.auth.user.id} %s", r.Placeholder, strings.Join(append([]string{r.Placeholder}, r.Values...), " ")))
		}
	}
	if b := h.Backdate; b != nil && (*b < 0 || time.Duration(*b) > maxBackdate) {
		return errorAt("backdate", fmt.Sprintf("backdate %s is out of range; choose between 0s and 10m (30s is the default)", time.Duration(*b)))
	}
	if h.Expires != 0 && (h.Expires < caddy.Duration(minExpires) || h.Expires > caddy.Duration(maxExpires)) {
		return errorAt("expires", fmt.Sprintf("expires %s is outside Zoom's limits; choose between 30m and 48h", time.Duration(h.Expires)))
	}
	if h.MaxBody < 0 || h.MaxBody > maxMaxBody {
		return errorAt("max_body", fmt.Sprintf("max_body %d is not a size between 1B and 1GiB; write it like 64KiB", h.MaxBody))
	}
	for _, o := range h.CORSOrigins {
		if o == "*" || !validOrigin(strings.ReplaceAll(o, "*", "x")) {
			return errorAt("cors_origins", fmt.Sprintf("cors_origins: %q is not an origin; write scheme://host[:port], with no trailing slash; * may stand for a subdomain, never for everything", o))
		}
	}
	return nil
}

// checkWith holds the rules between the handler and the zoom app: what
// the handler uses must be there. The Caddyfile adapter runs it with the
// global zoom block, Provision with the loaded app.
func (h *Handler) checkWith(a *App) error {
	if h.SDKKey == "" {
		if a.sdkApp(h.AppName) == nil {
			if h.AppName != "" {
				return errorAt("sdk_app", fmt.Sprintf("sdk_app %q is not an SDK app of the global zoom block; add it there (zoom { sdk_app %s { sdk_key ... sdk_secret ... } }) or fix the name", h.AppName, h.AppName))
			}
			return errorAt("sdk_key", "sdk_key is required; set it to your app's SDK key (client ID), in the global zoom block ({ zoom { sdk_key {env.ZOOM_SDK_KEY} sdk_secret {env.ZOOM_SDK_SECRET} } }) or in this handler")
		}
	}
	return h.Steps.checkWith(a)
}
