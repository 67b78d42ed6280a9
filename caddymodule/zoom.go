package caddymodule

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/zoomsig/caddy-zoom-signature/caddymodule/join"
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/joinconfig"
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/problem"
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/state"
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/zoomapi"
)

// ZAKConfig fetches the host's ZAK from Zoom's REST API with a
// Server-to-Server OAuth app, for role-1 joins that start the meeting.
type ZAKConfig struct {
	// The Server-to-Server OAuth app's account ID, such as
	// {env.ZOOM_ACCOUNT_ID}; placeholders are resolved when the config
	// loads. The app's four settings may be left out when a zoom_api
	// block names the app.
	AccountID string `json:"account_id,omitempty"`

	// The Server-to-Server OAuth app's client ID, such as
	// {env.ZOOM_CLIENT_ID}.
	ClientID string `json:"client_id,omitempty"`

	// The Server-to-Server OAuth app's client secret. Write it as
	// {env.ZOOM_CLIENT_SECRET} or {file.*}, resolved when the config loads,
	// never logged, and kept out of Caddy's saved config.
	ClientSecret string `json:"client_secret,omitempty"`

	// The Zoom user (ID or email) whose ZAK is fetched, as a placeholder.
	// Default {http.zoom_signature.user.id}; with session_jwt, often
	// {http.zoom_signature.user.email}.
	User string `json:"user,omitempty"`

	// Where the ZAK is written in the join config. Default zak.
	Field string `json:"field,omitempty"`

	// Zoom's OAuth token endpoint. Default https://zoom.us/oauth/token;
	// https://zoomgov.com/oauth/token for ZoomGov. Absolute https (http only
	// for loopback stand-ins).
	OAuthURL string `json:"oauth_url,omitempty"`

	// Zoom's REST API base. Default https://api.zoom.us/v2;
	// https://api.zoomgov.com/v2 for ZoomGov. Absolute https (http only for
	// loopback stand-ins).
	APIURL string `json:"api_url,omitempty"`

	// How long a ZAK lives; it is refetched 5 minutes before. Default 2h.
	Lifetime caddy.Duration `json:"lifetime,omitempty"`
}

// ZoomAPIConfig is the account's Server-to-Server OAuth app, which looks
// meetings up (passcode, registration, whether a meeting is the account's),
// registers attendees, and fetches host ZAKs. One app serves every step; a
// zak block without credentials uses this one.
type ZoomAPIConfig struct {
	// The app's account ID, such as {env.ZOOM_ACCOUNT_ID}; resolved when
	// the config loads.
	AccountID string `json:"account_id,omitempty"`

	// The app's client ID, such as {env.ZOOM_CLIENT_ID}.
	ClientID string `json:"client_id,omitempty"`

	// The app's client secret, as {env.ZOOM_CLIENT_SECRET} or {file.*},
	// resolved when the config loads, never logged.
	ClientSecret string `json:"client_secret,omitempty"`

	// Zoom's OAuth token endpoint. Default https://zoom.us/oauth/token.
	OAuthURL string `json:"oauth_url,omitempty"`

	// Zoom's REST API base. Default https://api.zoom.us/v2.
	APIURL string `json:"api_url,omitempty"`

	// How long a meeting lookup is kept. Default 10m.
	LookupTTL caddy.Duration `json:"lookup_ttl,omitempty"`

	// How long one call to Zoom (OAuth or API) may take before the join
	// is refused with zoom_api_unavailable. Default 10s.
	Timeout caddy.Duration `json:"timeout,omitempty"`
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

// provisionZoom builds the one Zoom API client of the handler and the
// credential sources that use it: ZAKs for host joins, and the meeting
// steps (passcode, registrant). Without a zak block, a zoom_api block or a
// step that needs one, there is none.
func (h *Handler) provisionZoom(ctx caddy.Context) ([]join.CredentialSource, error) {
	h.zakField = "zak"
	if z := h.Zak; z != nil && z.Field != "" {
		h.zakField = z.Field
	}
	defaultString(&h.PasscodeField, "passWord")
	if r := h.Registrant; r != nil {
		defaultString(&r.Email, "{http.zoom_signature.user.email}")
		defaultString(&r.TokenField, "tk")
		defaultString(&r.EmailField, "userEmail")
	}
	app := h.zoomApp()
	if app == nil {
		return nil, nil
	}
	warnLiteralSecret(h.logger, "zoom_api client_secret", app.ClientSecret)
	repl := caddy.NewReplacer()
	urls, err := resolveServiceURLs(repl, app.serviceURLs("zoom_api"))
	if err != nil {
		return nil, err
	}
	oauthURL, apiURL := urls[0], urls[1]
	cache, err := h.stateCache(ctx)
	if err != nil {
		return nil, err
	}
	cfg := zoomapi.Config{
		AccountID:    repl.ReplaceAll(app.AccountID, ""),
		ClientID:     repl.ReplaceAll(app.ClientID, ""),
		ClientSecret: repl.ReplaceAll(app.ClientSecret, ""),
		OAuthURL:     oauthURL,
		APIURL:       apiURL,
		MeetingTTL:   time.Duration(app.LookupTTL),
		HTTPClient:   zoomapi.NewClient(cmp.Or(time.Duration(app.Timeout), 10*time.Second)),
		OnFetch:      metricZoomAPI,
		Cache:        cache,
	}
	if h.Zak != nil {
		cfg.ZAKLifetime = time.Duration(h.Zak.Lifetime)
	}
	// The lookup limit counts where the lookups live: for the cluster
	// when they are shared, per instance when each keeps its own.
	lim := state.NewLimiter(nil, "")
	if h.lookupsShared {
		if lim, err = h.limiter(ctx); err != nil {
			return nil, err
		}
	}
	perMinute := h.lookupsPerMinute
	cfg.LookupLimit = func(ctx context.Context, user string) *problem.Error {
		// Anonymous visitors share one budget ("" is no site user's ID).
		if ok, _ := lim.Allow(ctx, "lookup\x00"+user, perMinute, time.Minute); !ok {
			return problem.New(problem.Client, zoomapi.CodeMeetingTooMany, "meetingNumber",
				fmt.Sprintf("too many different meeting numbers looked up in a minute (at most %d per user); wait a minute, and join the meetings you were given", perMinute))
		}
		return nil
	}
	c, err := zoomapi.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("zoom_api: %w (placeholders resolved to empty values?)", err)
	}
	h.zoom = c
	var sources []join.CredentialSource
	if z := h.Zak; z != nil {
		if z.User == "" {
			z.User = "{http.zoom_signature.user.id}"
		}
		sources = append(sources, join.ZAKSource{Fetcher: c, User: z.User})
	}
	if h.Passcode != "" || h.Registrant != nil {
		ms := join.MeetingSource{Lookup: c, Passcode: map[string]join.PasscodeMode{passcodeFill: join.PasscodeFill, passcodeAlways: join.PasscodeAlways}[h.Passcode]}
		if r := h.Registrant; r != nil {
			ms.Registrar, ms.EmailFrom = c, r.Email
		}
		sources = append(sources, ms)
	}
	return sources, nil
}

// zoomApp is the Server-to-Server app the handler names: its zoom_api
// block, or the credentials written into its zak block; nil for none.
func (h *Handler) zoomApp() *ZoomAPIConfig {
	if h.ZoomAPI != nil {
		return h.ZoomAPI
	}
	if z := h.Zak; z != nil && z.namesApp() {
		return &ZoomAPIConfig{AccountID: z.AccountID, ClientID: z.ClientID, ClientSecret: z.ClientSecret, OAuthURL: z.OAuthURL, APIURL: z.APIURL}
	}
	return nil
}

// namesApp says whether the zak block names a Server-to-Server app itself.
func (z *ZAKConfig) namesApp() bool {
	return z.AccountID != "" || z.ClientID != "" || z.ClientSecret != "" || z.OAuthURL != "" || z.APIURL != ""
}

// serviceURLs are the app's URLs, for checkServiceURL.
func (a *ZoomAPIConfig) serviceURLs(block string) []serviceURL {
	return []serviceURL{
		{block + " oauth_url", a.OAuthURL, "https://zoom.us/oauth/token"},
		{block + " api_url", a.APIURL, "https://api.zoom.us/v2"},
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

// checkZoomConfig checks the Zoom API options: one app, named once, and
// the steps that need it.
func (h *Handler) checkZoomConfig(sdk join.SDK) error {
	app := h.ZoomAPI
	if z := h.Zak; z != nil {
		if sdk == join.Video {
			return errors.New("zak is for the Meeting SDK; the Video SDK has no host start token")
		}
		named := z.namesApp()
		switch {
		case named && app != nil:
			return errors.New("zak names a Server-to-Server app and so does zoom_api; name it once, in zoom_api, and leave account_id, client_id, client_secret, oauth_url and api_url out of zak")
		case !named && app == nil:
			return errors.New("zak needs account_id, client_id and client_secret of a Server-to-Server OAuth app (in the zak block, or in a zoom_api block)")
		case named:
			if z.AccountID == "" || z.ClientID == "" || z.ClientSecret == "" {
				return errors.New("zak needs account_id, client_id and client_secret of a Server-to-Server OAuth app")
			}
			if err := checkServiceURLs(h.zoomApp().serviceURLs("zak")); err != nil {
				return err
			}
		}
		if z.Field != "" {
			if err := joinconfig.CheckPath(z.Field); err != nil {
				return fmt.Errorf("zak field: %w", err)
			}
		}
	}
	if app != nil {
		if app.AccountID == "" || app.ClientID == "" || app.ClientSecret == "" {
			return errors.New("zoom_api needs account_id, client_id and client_secret of a Server-to-Server OAuth app")
		}
		if err := checkServiceURLs(app.serviceURLs("zoom_api")); err != nil {
			return err
		}
		if app.LookupTTL < 0 {
			return errors.New("zoom_api lookup_ttl must be positive")
		}
	}
	if h.Passcode != "" && h.Passcode != passcodeFill && h.Passcode != passcodeAlways {
		return fmt.Errorf("passcode %q is not known; use fill (when the backend left it empty) or always", h.Passcode)
	}
	for _, step := range []struct {
		name string
		set  bool
	}{{"passcode", h.Passcode != ""}, {"registrant", h.Registrant != nil}} {
		switch {
		case !step.set:
		case sdk == join.Video:
			return errors.New(step.name + " is for the Meeting SDK; Video SDK sessions have no Zoom meeting to look up")
		case h.zoomApp() == nil:
			return errors.New(step.name + " needs zoom_api, the account's Server-to-Server OAuth app, to look the meeting up")
		}
	}
	if h.JoinURLField != "" && sdk == join.Video {
		return errors.New("join_url_field is for the Meeting SDK; Video SDK sessions have no invite link")
	}
	paths := []struct{ name, path string }{{"passcode_field", h.PasscodeField}, {"join_url_field", h.JoinURLField}}
	if r := h.Registrant; r != nil {
		paths = append(paths, struct{ name, path string }{"registrant tk_field", r.TokenField}, struct{ name, path string }{"registrant email_field", r.EmailField})
		if r.Email != "" && !strings.Contains(r.Email, "{") {
			return fmt.Errorf("registrant email %q is not a placeholder; each user registers with their own, e.g. {http.zoom_signature.user.email}", r.Email)
		}
	}
	if err := checkPaths(paths); err != nil {
		return err
	}
	if len(h.SealKeys) > 8 {
		return errors.New("seal_keys takes at most 8 keys")
	}
	return nil
}

// checkPaths checks the JSON paths of options that are set.
func checkPaths(paths []struct{ name, path string }) error {
	for _, f := range paths {
		if f.path != "" {
			if err := joinconfig.CheckPath(f.path); err != nil {
				return fmt.Errorf("%s: %w", f.name, err)
			}
		}
	}
	return nil
}
