package caddymodule

import (
	"fmt"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/zoomsig/caddy-zoom-signature/caddymodule/joinconfig"
)

// ZAKConfig writes the host's ZAK, fetched from Zoom's REST API with the
// zoom app's Server-to-Server app (zoom_api), into role-1 joins that
// start the meeting.
type ZAKConfig struct {
	// The Zoom user (ID or email) whose ZAK is fetched, as a placeholder.
	// Default {http.zoom_signature.user.id}; with session_jwt, often
	// {http.zoom_signature.user.email}.
	User string `json:"user,omitempty"`

	// Where the ZAK is written in the join config. Default zak.
	Field string `json:"field,omitempty"`
}

// ZoomAPIConfig is the account's Server-to-Server OAuth app, which looks
// meetings up (passcode, registration, whether a meeting is the account's),
// registers attendees, and fetches host ZAKs: the zoom app's zoom_api,
// one client for every handler.
type ZoomAPIConfig struct {
	// The app's account ID, such as {env.ZOOM_ACCOUNT_ID}; resolved when
	// the config loads.
	AccountID string `json:"account_id,omitempty"`

	// The app's client ID, such as {env.ZOOM_CLIENT_ID}.
	ClientID string `json:"client_id,omitempty"`

	// The app's client secret, as {env.ZOOM_CLIENT_SECRET} or {file.*},
	// resolved when the config loads, never logged.
	ClientSecret string `json:"client_secret,omitempty"`

	// Zoom's OAuth token endpoint. Default https://zoom.us/oauth/token;
	// https://zoomgov.com/oauth/token for ZoomGov. Absolute https (http
	// only for loopback stand-ins).
	OAuthURL string `json:"oauth_url,omitempty"`

	// Zoom's REST API base. Default https://api.zoom.us/v2;
	// https://api.zoomgov.com/v2 for ZoomGov.
	APIURL string `json:"api_url,omitempty"`

	// How long a meeting lookup is kept. Between 1s and 24h; default 10m.
	LookupTTL caddy.Duration `json:"lookup_ttl,omitempty"`

	// How long one call to Zoom (OAuth or API) may take before the join
	// is refused with zoom_api_unavailable. Between 1s and 24h; default
	// 10s.
	Timeout caddy.Duration `json:"timeout,omitempty"`

	// How long a ZAK lives; it is refetched 5 minutes before. At least
	// 10m; default 2h.
	ZAKLifetime caddy.Duration `json:"zak_lifetime,omitempty"`
}

// check holds the zoom_api block's rules.
func (z *ZoomAPIConfig) check() error {
	if z.AccountID == "" || z.ClientID == "" || z.ClientSecret == "" {
		return errorAt("zoom_api", "zoom_api needs account_id, client_id and client_secret of a Server-to-Server OAuth app")
	}
	if err := checkServiceURLs(z.serviceURLs()); err != nil {
		return err
	}
	for _, d := range []struct {
		name string
		v    caddy.Duration
	}{{"lookup_ttl", z.LookupTTL}, {"timeout", z.Timeout}} {
		if d.v != 0 && (time.Duration(d.v) < time.Second || time.Duration(d.v) > 24*time.Hour) {
			return errorAt("zoom_api "+d.name, fmt.Sprintf("zoom_api %s %s is out of range; choose between 1s and 24h, written like 10m or 5s", d.name, time.Duration(d.v)))
		}
	}
	if z.ZAKLifetime != 0 && time.Duration(z.ZAKLifetime) < 10*time.Minute {
		return errorAt("zoom_api zak_lifetime", fmt.Sprintf("zoom_api zak_lifetime %s is too short; a ZAK is refetched 5 minutes before it ends, so choose 10m or more (2h is the default)", time.Duration(z.ZAKLifetime)))
	}
	return nil
}

// RegistrantConfig registers the signed-in user for meetings and webinars
// that require registration, and writes the registrant's tk and email into
// the join config.
type RegistrantConfig struct {
	// The registrant's email, a placeholder or a template. Default
	// {http.zoom_signature.user.email} (a session claim); with basic_auth,
	// for example {http.auth.user.id}@example.com.
	Email string `json:"email,omitempty"`

	// The registrant's first name; default the email's local part, since
	// Zoom requires one.
	FirstName string `json:"first_name,omitempty"`

	// The registrant's last name; optional.
	LastName string `json:"last_name,omitempty"`

	// Where the tk is written in the join config. Default tk.
	TokenField string `json:"tk_field,omitempty"`

	// Where the email is written in the join config; the SDK must send
	// the email the registration was made with. Default userEmail.
	EmailField string `json:"email_field,omitempty"`
}

// Passcode modes of the config.
const (
	passcodeFill   = "fill"
	passcodeAlways = "always"
)

// serviceURLs are the app's URLs, for checkServiceURL.
func (a *ZoomAPIConfig) serviceURLs() []serviceURL {
	return []serviceURL{
		{"zoom_api oauth_url", a.OAuthURL, "https://zoom.us/oauth/token"},
		{"zoom_api api_url", a.APIURL, "https://api.zoom.us/v2"},
	}
}

// serviceURL is a URL option of an outside service, with an example for
// its error.
type serviceURL struct{ option, raw, example string }

// checkServiceURLs checks URLs as written (placeholders pass, to be
// checked once resolved).
func checkServiceURLs(urls []serviceURL) error {
	for _, u := range urls {
		if err := checkServiceURL(u.option, u.raw, u.example); err != nil {
			return err
		}
	}
	return nil
}

// resolveServiceURLs resolves the placeholders of URLs and checks the
// results, in order.
func resolveServiceURLs(repl *caddy.Replacer, urls []serviceURL) ([]string, error) {
	out := make([]string, len(urls))
	for i, u := range urls {
		out[i] = repl.ReplaceAll(u.raw, "")
		if err := checkServiceURL(u.option, out[i], u.example); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// checkPaths checks the JSON paths of options that are set.
func checkPaths(paths []struct{ name, path string }) error {
	for _, f := range paths {
		if f.path != "" {
			if err := joinconfig.CheckPath(f.path); err != nil {
				return errorAt(f.name, f.name+": "+err.Error())
			}
		}
	}
	return nil
}
