// Package caddymodule is the Caddy glue of caddy-zoom-signature: the
// http.handlers.zoom_signature handler, its Caddyfile directive, and the
// `caddy zoom-signature` commands. The signing, inspection and JSON editing
// live in packages that import no Caddy.
package caddymodule

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/zoomsig/caddy-zoom-signature/caddymodule/connect"
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/doctor"
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/join"
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/joinconfig"
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/session"
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/signature"
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/state"
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/zoomapi"
)

func init() {
	caddy.RegisterModule(Handler{})
	caddy.RegisterModule(Doctor{})
	httpcaddyfile.RegisterHandlerDirective("zoom_signature", parseCaddyfile)
	httpcaddyfile.RegisterHandlerDirective("zoom_doctor", parseDoctorCaddyfile)
	httpcaddyfile.RegisterDirectiveOrder("zoom_doctor", httpcaddyfile.Before, "respond")
	// After templates: behind basic_auth and forward_auth, so the identity
	// exists; inside encode, so we see plain bytes; before reverse_proxy and
	// respond, which we wrap.
	httpcaddyfile.RegisterDirectiveOrder("zoom_signature", httpcaddyfile.After, "templates")
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "zoom-signature",
		Usage: "sign|inspect|doctor",
		Short: "Mints or inspects Zoom SDK signatures",
		Long: `
Mints Zoom SDK signatures (sign), takes one apart and names what is wrong
with it (inspect), or names why a join through a site's config fails
(doctor). Run "caddy zoom-signature <command> --help" for details.
`,
		CobraFunc: func(cmd *cobra.Command) {
			cmd.AddCommand(signCommand(), inspectCommand(), doctorCommand())
		},
	})
}

// Interface guards.
var (
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddy.Validator             = (*Handler)(nil)
	_ caddy.CleanerUpper          = (*Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
	_ caddyfile.Unmarshaler       = (*Handler)(nil)
	_ caddy.Provisioner           = (*Doctor)(nil)
	_ caddy.Validator             = (*Doctor)(nil)
	_ caddy.CleanerUpper          = (*Doctor)(nil)
	_ caddyhttp.MiddlewareHandler = (*Doctor)(nil)
	_ caddyfile.Unmarshaler       = (*Doctor)(nil)
)

// Config words.
const (
	modeInject   = "inject"
	modeEndpoint = "endpoint"
	modeConnect  = "connect"

	hostDeny      = "deny"
	hostDowngrade = "downgrade"

	scopeAny = "any"
)

// mode is Mode, parsed once.
type mode uint8

const (
	inject mode = iota
	endpoint
	connectMode
)

func (m mode) String() string {
	return [...]string{modeInject, modeEndpoint, modeConnect}[m]
}

// Limits on the token lifetime that the handler accepts in its config.
const (
	minExpires = 30 * time.Minute
	maxExpires = 48 * time.Hour
)

// Handler adds a freshly minted Zoom SDK signature to a join config, after
// checking who is asking and what they may have.
//
// In inject mode (the default) it wraps the handler that produces the join
// config, usually reverse_proxy: the backend decides the meeting and the
// role, and the handler writes signature (and sdkKey) into its JSON
// response. In endpoint mode it answers requests itself, as a drop-in for
// Zoom's sample auth endpoints, bound by the meetings scope.
type Handler struct {
	// A name for this handler, the handler label of its metrics and a field
	// of its log lines, so that several zoom_signature handlers in one
	// config can be told apart. Default: the mode (inject or endpoint).
	Name string `json:"name,omitempty"`

	// Signature format: "meeting" (Meeting SDK JWT, the default), "video"
	// (Video SDK JWT) or "websdk1" (legacy Web SDK 1.x, refused by Web SDK
	// 2.7 and later; only for migrating old frontends).
	SDK string `json:"sdk,omitempty"`

	// The SDK key (client ID). Placeholders such as {env.ZOOM_SDK_KEY} are
	// resolved once, when the config loads.
	SDKKey string `json:"sdk_key,omitempty"`

	// The SDK secret. Use a placeholder, {env.ZOOM_SDK_SECRET} or
	// {file./run/secrets/zoom_sdk_secret}, resolved once when the config
	// loads, so that the secret is not in the config itself. It is never
	// logged or echoed.
	SDKSecret string `json:"sdk_secret,omitempty"`

	// "inject" (default) rewrites the next handler's JSON response;
	// "endpoint" answers POST requests like Zoom's sample endpoints;
	// "connect" serves the routes through which users connect their Zoom
	// accounts (start, callback, status, disconnect; needs obf).
	Mode string `json:"mode,omitempty"`

	// The placeholder that names the user, filled by an earlier auth
	// handler. Default: {http.auth.user.id} (basic_auth and other
	// authentication providers). With forward_auth, name the copied header,
	// e.g. {http.request.header.Remote-User}. Empty means unauthenticated.
	Identity string `json:"identity,omitempty"`

	// Sign for requests without an identity. Off by default; a warning is
	// logged at start when it is on.
	AllowAnonymous bool `json:"allow_anonymous,omitempty"`

	// Who may get role 1 (host). Without it, nobody does.
	HostWhen *HostRule `json:"host_when,omitempty"`

	// What to do when role 1 is asked for someone HostWhen does not allow:
	// "deny" (403, the default) or "downgrade" (sign role 0 instead).
	OnHostDenied string `json:"on_host_denied,omitempty"`

	// The meetings (for sdk video: session names) that may be signed, or
	// ["any"]. Required in endpoint mode, where the client names the
	// meeting. In inject mode it is optional: when set, a backend's meeting
	// outside it is refused too.
	Meetings []string `json:"meetings,omitempty"`

	// Token lifetime, exp - iat. Default 2h; between 30m and 48h. In
	// endpoint mode it is also the most a client's expirationSeconds may ask.
	Expires caddy.Duration `json:"expires,omitempty"`

	// How far iat is set in the past, so that a server clock running
	// slightly ahead of Zoom's does not make "issued in the future" tokens.
	// Default 30s.
	Backdate *caddy.Duration `json:"backdate,omitempty"`

	// The largest join config (inject) or request body (endpoint) read, in
	// bytes. Default 65536 (64KiB).
	MaxBody int64 `json:"max_body,omitempty"`

	// Inject mode: the JSON path (dot-separated keys) of the meeting number
	// in the join config. Default meetingNumber. It is written back
	// normalised (digits only), in the JSON type it came in.
	MeetingNumberField string `json:"meeting_number_field,omitempty"`

	// Inject mode: the path of the role (0 or 1; missing means 0). Default
	// role. A downgraded host join gets 0 written here.
	RoleField string `json:"role_field,omitempty"`

	// Inject mode: the path the signature is written to, replacing any
	// value the backend sent. Default signature.
	SignatureField string `json:"signature_field,omitempty"`

	// Inject mode, sdk video: the path of the session name (tpc), which is
	// required. Default sessionName.
	SessionNameField string `json:"session_name_field,omitempty"`

	// Inject mode, sdk video: the path of the user identity, signed as
	// user_identity when present. Default userIdentity.
	UserIdentityField string `json:"user_identity_field,omitempty"`

	// Inject mode, sdk video: the path of the session key (a session
	// passcode), signed as session_key when present. Default sessionKey.
	SessionKeyField string `json:"session_key_field,omitempty"`

	// Where the SDK key is written in the join config. Default sdkKey for
	// sdk meeting, apiKey for websdk1, and nothing for video (the Video SDK
	// does not take the key). An empty string means the key is not written.
	SDKKeyField *string `json:"sdk_key_field,omitempty"`

	// Verify the site's own session JWT (cookie or Bearer header) instead of
	// relying on an earlier auth handler. Its claims become placeholders.
	SessionJWT *SessionJWT `json:"session_jwt,omitempty"`

	// Endpoint mode: the claim of the session token that lists the meetings
	// (or session names) this user may sign for, as an array or a
	// comma-separated string. It adds to meetings.
	MeetingsClaim string `json:"meetings_claim,omitempty"`

	// Inject mode: fields written into the join config from placeholders,
	// such as userName from {http.zoom_signature.user.name}, so that users
	// cannot choose someone else's name or email.
	Fill []FillRule `json:"fill,omitempty"`

	// Fetch the host's ZAK with Zoom's Server-to-Server OAuth and write it
	// into role-1 join configs (and endpoint responses).
	Zak *ZAKConfig `json:"zak,omitempty"`

	// The account's Server-to-Server OAuth app, for meeting lookups
	// (passcode, registrant) and ZAKs.
	ZoomAPI *ZoomAPIConfig `json:"zoom_api,omitempty"`

	// Inject mode, sdk meeting: write the meeting's passcode from Zoom
	// into the join config, "fill" (when the backend left it empty) or
	// "always" (over the backend's, which may be stale). Needs zoom_api.
	// Only meetings of the account have one to give.
	Passcode string `json:"passcode,omitempty"`

	// Inject mode: where the passcode is read and written. Default
	// passWord.
	PasscodeField string `json:"passcode_field,omitempty"`

	// Inject mode, sdk meeting: where an invite link is read when the join
	// config has no meeting number: its /j/, /w/ or /s/ number becomes
	// the meeting number (its pwd= is not the passcode and is ignored).
	// Default joinUrl.
	JoinURLField string `json:"join_url_field,omitempty"`

	// Inject mode, sdk meeting: register the user for meetings and
	// webinars that require registration, and write tk and userEmail.
	// Needs zoom_api.
	Registrant *RegistrantConfig `json:"registrant,omitempty"`

	// Connect site users' own Zoom accounts, and write OBF tokens into
	// attendee joins of meetings outside the app's account.
	OBF *OBFConfig `json:"obf,omitempty"`

	// Keys (base64 of 32 bytes, as {env.*} or {file.*}) that seal what the
	// module keeps in Caddy's storage; anything written there needs them.
	// Where each kind of state lives is the state block's choice (by
	// default, with seal_keys, meeting lookups and registrant tokens are
	// shared by every instance on the same storage; without, each
	// instance keeps its own in memory). The first key seals and all open,
	// so a new key goes first and an old one stays until its records have
	// expired (grants: until each was refreshed once).
	SealKeys []string `json:"seal_keys,omitempty"`

	// Where meeting lookups and registrant tokens live (storage or
	// memory), how long a wait on Caddy's storage may take, and how many
	// new meeting numbers a user may look up in a minute.
	State *StateConfig `json:"state,omitempty"`

	// Refuse a role-1 join that has no ZAK, instead of signing a host join
	// that cannot start the meeting.
	RequireZAKForHost bool `json:"require_zak_for_host,omitempty"`

	// The origin(s) browsers see, such as https://app.example.com, or
	// https://*.ngrok-free.app for rotating tunnel subdomains. It wins over
	// the request; without it the origin is inferred from the request, and
	// from X-Forwarded-Proto, X-Forwarded-Host and CF-Visitor only when Caddy
	// trusts the peer (the trusted_proxies server option). Used for the
	// endpoint's Origin and CORS checks and for url_fields.
	PublicOrigin []string `json:"public_origin,omitempty"`

	// Inject mode: JSON paths of URL fields (such as leaveUrl) rewritten to
	// absolute URLs on the public origin, keeping path, query and fragment.
	URLFields []string `json:"url_fields,omitempty"`

	// Origins allowed to call the endpoint cross-origin (endpoint mode), such
	// as https://app.example.com. Preflights from them are answered before
	// authentication. * may stand for one or more subdomain labels
	// (https://*.example.com), never for every origin.
	CORSOrigins []string `json:"cors_origins,omitempty"`

	// Demo signs with a built-in, clearly fake SDK key and secret when
	// sdk_key or sdk_secret resolve to nothing, so that a demo runs with no
	// environment at all; its tokens join no real meeting. The credentials
	// stay placeholders in the config, so a real secret set later is read
	// when the config loads and never lands in Caddy's saved config. For
	// demos only: a warning is logged at start.
	Demo *DemoConfig `json:"demo,omitempty"`

	// The join core: the format, the policy and the credentials, built
	// once in Provision. The glue only reads requests into it and writes
	// its results out.
	join     *join.Signer
	sdk      join.SDK
	mode     mode
	fields   join.Fields
	sessions *session.Verifier
	zoom     *zoomapi.Client
	connect  *connect.Manager
	seal     *state.Sealer
	sealID   string // a digest of the ring's keys: which fronts may be shared
	rec      *state.Records
	lim      *state.Limiter
	// The state block, resolved: lookups in the storage, the deadline of
	// each storage call, new lookups per user and minute.
	lookupsShared    bool
	lockWait         time.Duration
	lookupsPerMinute int
	zakField         string
	backdate         time.Duration
	// Where the SDK key goes in a join config (inject), and the member
	// that opens it in an answer (endpoint, `,"sdkKey":`); "" for nowhere.
	sdkKeyAt, answerKey string
	logger              *zap.Logger
	now                 func() time.Time
	identityKey         string
	// guarded are the join-config paths the module reads or writes, which
	// must not appear twice.
	guarded []string
	sampled *sampler
	// key finds the handler for its doctor route; doctored says one names
	// it, and then asked keeps the joins each user asked for; site is what
	// the doctor learns of the config.
	site     doctor.Site
	key      handlerKey
	doctored *atomic.Bool
	asked    *asked
	minted   [2]prometheus.Counter
	duration prometheus.Observer
}

// DemoConfig switches on the demo credentials.
type DemoConfig struct {
	// The demo page's address, logged at start so that the first run says
	// where to go, such as http://localhost:8080.
	URL string `json:"url,omitempty"`
}

// The demo credentials: not Zoom's, and not secret.
const (
	demoKey    = "DEMOxNOTxAxREALxSDKxKEY"
	demoSecret = "demo-secret-not-a-real-zoom-secret"
)

// placeholdersOnly shows a credential's config value only when it is a
// placeholder, such as {env.ZOOM_SDK_SECRET}: a literal one is the secret.
func placeholdersOnly(v string) string {
	if strings.HasPrefix(v, "{") && strings.HasSuffix(v, "}") && !strings.ContainsAny(v[1:len(v)-1], "{} ") {
		return v
	}
	return "[written into the config]"
}

// emptyValue is the error of a credential that resolved to nothing. It
// names the Caddyfile's trap: there {file.NAME} with a bare file name is
// the shorthand for the request path's file name
// ({http.request.uri.path.file.NAME}), empty when the config loads.
func emptyValue(option, raw string) error {
	if name, ok := strings.CutPrefix(raw, "{http.request.uri.path.file."); ok {
		name = strings.TrimSuffix(name, "}")
		return fmt.Errorf("%s resolved to an empty value: in a Caddyfile, {file.%s} is the shorthand for the requested path's file name, not the file %s; write the file's path with a slash, such as {file../%s} or {file./run/secrets/%s}", option, name, name, name, name)
	}
	return fmt.Errorf("%s %q resolved to an empty value; set the environment variable or file it names", option, raw)
}

// warnLiteralSecret warns about a secret written into the config itself:
// a literal, or a {$VAR} the Caddyfile adapter resolved, which both end up
// in Caddy's saved config (autosave.json, the admin API's GET /config/).
// {env.*} and {file.*} are resolved when the config loads instead.
func warnLiteralSecret(logger *zap.Logger, option, value string) {
	if value == "" || strings.Contains(value, "{env.") || strings.Contains(value, "{file.") {
		return
	}
	logger.Warn(option+" is written into the config, so it is kept in Caddy's saved config (autosave.json and the admin API's GET /config/); write it as {env.NAME} or {file./run/secrets/name}, which are read when the config loads",
		zap.String("option", option))
}

// HostRule allows role 1 when the value of a placeholder is one of Values.
// Any lets the backend (inject) or the client (endpoint) decide alone.
type HostRule struct {
	// A placeholder, such as {http.auth.user.id}.
	Placeholder string `json:"placeholder,omitempty"`
	// The values that allow role 1.
	Values []string `json:"values,omitempty"`
	// Allow role 1 for everyone who is authenticated.
	Any bool `json:"any,omitempty"`
}

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.zoom_signature",
		New: func() caddy.Module { return new(Handler) },
	}
}

// Provision sets the defaults, resolves the credentials and builds the
// signer.
func (h *Handler) Provision(ctx caddy.Context) error {
	h.logger = ctx.Logger()
	h.now = time.Now
	h.sampled = newSampler(func() time.Time { return h.now() })
	if err := h.checkModeOptions(); err != nil {
		return err
	}
	var err error
	if h.sdk, err = join.ParseSDK(h.SDK); err != nil {
		return err
	}
	h.SDK = h.sdk.String()
	if h.Mode == "" {
		h.Mode = modeInject
	}
	switch h.Mode {
	case modeEndpoint:
		h.mode = endpoint
	case modeConnect:
		h.mode = connectMode
	}
	if h.Identity == "" {
		h.Identity = "{http.auth.user.id}"
	}
	h.identityKey = placeholderKey(h.Identity)
	if h.OnHostDenied == "" {
		h.OnHostDenied = hostDeny
	}
	if h.Expires == 0 {
		h.Expires = caddy.Duration(2 * time.Hour)
	}
	h.backdate = 30 * time.Second
	if h.Backdate != nil {
		h.backdate = time.Duration(*h.Backdate)
	}
	if h.MaxBody == 0 {
		h.MaxBody = 64 << 10
	}
	defaultString(&h.MeetingNumberField, "meetingNumber")
	defaultString(&h.RoleField, "role")
	defaultString(&h.SignatureField, "signature")
	defaultString(&h.SessionNameField, "sessionName")
	defaultString(&h.UserIdentityField, "userIdentity")
	defaultString(&h.SessionKeyField, "sessionKey")
	if h.sdk != join.Video && h.mode == inject {
		defaultString(&h.JoinURLField, "joinUrl")
	}
	format := h.sdk.Format()
	var answerKey string
	h.sdkKeyAt, answerKey = format.KeyFields()
	if answerKey != "" {
		h.answerKey = `,"` + answerKey + `":`
	}
	if h.SDKKeyField != nil {
		h.sdkKeyAt = *h.SDKKeyField
	}

	// {env.*} and {file.*} resolve now, once; the resolved values live in
	// the signer only.
	repl := caddy.NewReplacer()
	key := strings.TrimSpace(repl.ReplaceAll(h.SDKKey, ""))
	secret := repl.ReplaceAll(h.SDKSecret, "")
	if h.mode == connectMode && key == "" && secret == "" {
		// The connect routes sign nothing.
		key, secret = demoKey, demoSecret
	} else if h.Demo != nil && (key == "" || secret == "") {
		key, secret = demoKey, demoSecret
		h.logger.Warn("demo: signing with a fake SDK key and secret, whose tokens join no real meeting; to sign for real, set what sdk_key and sdk_secret name",
			zap.String("sdk_key", placeholdersOnly(h.SDKKey)), zap.String("sdk_secret", placeholdersOnly(h.SDKSecret)))
		if h.Demo.URL != "" {
			h.logger.Info("demo: open the demo page", zap.String("url", h.Demo.URL))
		}
	}
	warnLiteralSecret(h.logger, "sdk_secret", h.SDKSecret)
	if key == "" {
		return emptyValue("sdk_key", h.SDKKey)
	}
	if secret == "" {
		return emptyValue("sdk_secret", h.SDKSecret)
	}
	if secret != strings.TrimSpace(secret) {
		// A trailing space or newline in the secret is a classic cause of
		// "Signature is invalid"; say so without printing it.
		h.logger.Warn("sdk_secret has leading or trailing white space; Zoom compares it byte for byte, so check the variable or file it comes from")
	}
	keys, err := signature.NewSigner(key, secret)
	if err != nil {
		return err
	}

	if err := h.provisionSessions(); err != nil {
		return err
	}
	h.provisionState()
	sources, err := h.provisionZoom(ctx)
	if err != nil {
		return err
	}
	obf, err := h.provisionOBF(ctx)
	if err != nil {
		return err
	}
	sources = append(sources, obf...)
	h.fields = join.Fields{
		MeetingNumber: h.MeetingNumberField, Role: h.RoleField, SessionName: h.SessionNameField,
		UserIdentity: h.UserIdentityField, SessionKey: h.SessionKeyField,
		JoinURL: h.JoinURLField,
	}
	if h.Passcode == passcodeFill || h.sdk == join.Video {
		// The Video SDK's join() refuses some passcodes; the video format
		// refuses to sign for them.
		h.fields.Passcode = h.PasscodeField
	}
	if o := h.OBF; o != nil && o.When == obfBackend {
		h.fields.OBFFlag = o.BackendField
	}
	if (h.Zak == nil && h.RequireZAKForHost) || h.OBF != nil {
		// Only then does a ZAK from the backend matter: for a host join
		// that must carry one, or as what an OBF token would clash with.
		h.fields.ZAK = h.zakField
	}
	h.guarded = h.guardedPaths()
	h.join = &join.Signer{
		Format:   format,
		Policy:   h.policy(),
		Keys:     keys,
		Sources:  sources,
		Backdate: h.backdate,
		Now:      func() time.Time { return h.now() },
	}

	if err := registerMetrics(ctx); err != nil {
		return fmt.Errorf("registering metrics: %w", err)
	}
	if h.Name == "" {
		h.Name = h.Mode
	}
	h.minted = [2]prometheus.Counter{metricSignatures.WithLabelValues(h.Name, h.SDK, "0"), metricSignatures.WithLabelValues(h.Name, h.SDK, "1")}
	h.duration = metricDuration.WithLabelValues(h.Name, h.Mode)

	if h.sdk == join.WebSDK1 {
		h.logger.Warn("sdk websdk1 mints legacy Web SDK 1.x signatures, which Web SDK 2.7 and later refuse; use it only while migrating old frontends, then switch to sdk meeting")
	}
	if h.AllowAnonymous {
		h.logger.Warn("allow_anonymous is on: anyone who can reach this route gets a signature", zap.String("mode", h.Mode))
	}
	h.site = h.siteConfig(secret)
	h.key = handlerKey{cfg: ctx.Context, name: h.Name}
	h.doctored, h.asked = new(atomic.Bool), new(asked)
	register(h)
	return nil
}

// guardedPaths are the paths of a join config that the module reads or
// writes.
func (h *Handler) guardedPaths() []string {
	paths := []string{h.SignatureField, h.RoleField}
	if h.sdk == join.Video {
		paths = append(paths, h.SessionNameField, h.UserIdentityField, h.SessionKeyField)
	} else {
		paths = append(paths, h.MeetingNumberField, h.zakField)
		if h.JoinURLField != "" {
			paths = append(paths, h.JoinURLField)
		}
		if h.Passcode != "" {
			paths = append(paths, h.PasscodeField)
		}
		if r := h.Registrant; r != nil {
			paths = append(paths, r.TokenField, r.EmailField)
		}
	}
	if h.sdkKeyAt != "" {
		paths = append(paths, h.sdkKeyAt)
	}
	if o := h.OBF; o != nil {
		paths = append(paths, o.Field)
		if o.When == obfBackend {
			paths = append(paths, o.BackendField)
		}
	}
	for _, f := range h.Fill {
		paths = append(paths, f.Path)
	}
	paths = append(paths, h.URLFields...)
	slices.Sort(paths)
	return slices.Compact(paths)
}

// policy is the config's rules as the join core's value.
func (h *Handler) policy() join.Policy {
	p := join.Policy{
		SDK:               h.sdk,
		AllowAnonymous:    h.AllowAnonymous,
		Identity:          h.Identity,
		Downgrade:         h.OnHostDenied == hostDowngrade,
		MeetingsClaim:     h.MeetingsClaim,
		Lifetime:          int64(time.Duration(h.Expires) / time.Second),
		RequireZAKForHost: h.RequireZAKForHost,
		ZAKField:          h.zakField,
	}
	if r := h.HostWhen; r != nil {
		p.Host = join.HostRule{Set: true, Any: r.Any, Placeholder: r.Placeholder, Values: r.Values}
	}
	for _, m := range h.Meetings {
		if m == scopeAny {
			p.AnyMeeting = true
		} else {
			p.Meetings = append(p.Meetings, h.sdk.ScopeKey(m))
		}
	}
	return p
}

func defaultString(s *string, v string) {
	if *s == "" {
		*s = v
	}
}

// Validate checks the provisioned config.
func (h *Handler) Validate() error {
	if err := h.checkConfig(); err != nil {
		return err
	}

	if h.MaxBody < 0 {
		return errors.New("max_body must be positive")
	}
	for _, f := range []struct{ name, path string }{
		{"meeting_number_field", h.MeetingNumberField}, {"role_field", h.RoleField},
		{"signature_field", h.SignatureField}, {"session_name_field", h.SessionNameField},
		{"user_identity_field", h.UserIdentityField}, {"session_key_field", h.SessionKeyField},
	} {
		if err := joinconfig.CheckPath(f.path); err != nil {
			return fmt.Errorf("%s: %w", f.name, err)
		}
	}
	if h.sdkKeyAt != "" {
		if err := joinconfig.CheckPath(h.sdkKeyAt); err != nil {
			return fmt.Errorf("sdk_key_field: %w", err)
		}
	}
	return nil
}

// checkServiceURL refuses a URL of an outside service that cannot work:
// it must be absolute https, or http to a loopback address (tests and local
// stand-ins). A placeholder is checked once it is resolved, in Provision.
func checkServiceURL(option, raw, example string) error {
	if raw == "" || strings.Contains(raw, "{") {
		return nil
	}
	u, err := url.Parse(raw)
	if err == nil && u.User != nil {
		// Not echoed: the user info may be a password.
		return fmt.Errorf("%s carries user info (user:password@); remove it, the credentials go in their own options", option)
	}
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return fmt.Errorf("%s %q is not an absolute https URL; write it in full, such as %s", option, raw, example)
	}
	if u.Scheme == "http" && !loopbackHost(u.Hostname()) {
		return fmt.Errorf("%s %q uses plain http; use https (http is allowed only for loopback stand-ins, such as http://127.0.0.1:9000)", option, raw)
	}
	return nil
}

func loopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// checkModeOptions refuses options that the mode would ignore: a setting
// that silently does nothing is a bug waiting to be found in production.
// It runs before the defaults are set (Provision) and in the Caddyfile
// adapter.
func (h *Handler) checkModeOptions() error {
	if h.Mode == modeConnect {
		for _, o := range []struct {
			name string
			set  bool
		}{
			{"host_when", h.HostWhen != nil}, {"meetings", len(h.Meetings) > 0}, {"zak", h.Zak != nil}, {"zoom_api", h.ZoomAPI != nil},
			{"passcode", h.Passcode != ""}, {"registrant", h.Registrant != nil}, {"fill", len(h.Fill) > 0}, {"url_fields", len(h.URLFields) > 0},
			{"cors_origins", len(h.CORSOrigins) > 0}, {"require_zak_for_host", h.RequireZAKForHost}, {"allow_anonymous", h.AllowAnonymous},
		} {
			if o.set {
				return fmt.Errorf("%s does not apply to mode connect, which only connects users' Zoom accounts; remove it", o.name)
			}
		}
		return nil
	}
	if h.Mode == modeEndpoint {
		for _, o := range []struct {
			name string
			set  bool
		}{
			{"url_fields", len(h.URLFields) > 0}, {"fill", len(h.Fill) > 0}, {"sdk_key_field", h.SDKKeyField != nil},
			{"meeting_number_field", h.MeetingNumberField != ""}, {"role_field", h.RoleField != ""},
			{"signature_field", h.SignatureField != ""}, {"session_name_field", h.SessionNameField != ""},
			{"user_identity_field", h.UserIdentityField != ""}, {"session_key_field", h.SessionKeyField != ""},
			{"passcode", h.Passcode != ""}, {"passcode_field", h.PasscodeField != ""},
			{"join_url_field", h.JoinURLField != ""}, {"registrant", h.Registrant != nil},
		} {
			if o.set {
				return fmt.Errorf("%s is for inject mode, where the module edits the backend's join config; in endpoint mode the module writes the whole answer, so remove it", o.name)
			}
		}
	} else if len(h.CORSOrigins) > 0 {
		return errors.New("cors_origins is for endpoint mode; in inject mode the site's own route answers the browser, so set CORS there (the header directive) or remove it")
	}
	return nil
}

// checkConfig holds the checks that need no defaults, so that the Caddyfile
// adapter reports them too.
func (h *Handler) checkConfig() error {
	if h.Mode != modeConnect && h.SDKKey == "" {
		return errors.New("sdk_key is required; set it to your app's SDK key (client ID), e.g. sdk_key {env.ZOOM_SDK_KEY}")
	}
	if h.Mode != modeConnect && h.SDKSecret == "" {
		return errors.New("sdk_secret is required; use a placeholder such as sdk_secret {env.ZOOM_SDK_SECRET} or {file./run/secrets/zoom_sdk_secret}")
	}
	sdk, err := join.ParseSDK(h.SDK)
	if err != nil {
		return err
	}
	if h.Mode != "" && h.Mode != modeInject && h.Mode != modeEndpoint && h.Mode != modeConnect {
		return fmt.Errorf("mode %q is not known; use inject, endpoint or connect", h.Mode)
	}
	if err := h.checkOBFConfig(sdk); err != nil {
		return err
	}
	if h.Mode == modeEndpoint && len(h.Meetings) == 0 && h.MeetingsClaim == "" {
		return errors.New("endpoint mode needs meetings: list the meeting numbers (or session names) clients may ask for, 'meetings any', or a meetings_claim")
	}
	if h.MeetingsClaim != "" && h.SessionJWT == nil {
		return errors.New("meetings_claim needs session_jwt, whose claims it reads")
	}
	if s := h.SessionJWT; s != nil {
		n := 0
		for _, k := range []string{s.HMACSecret, s.PublicKey, s.JWKS} {
			if k != "" {
				n++
			}
		}
		if n != 1 {
			return errors.New("session_jwt needs exactly one of hmac_secret, public_key and jwks")
		}
		if s.HMACSecret == "" && len(s.Algorithms) == 0 {
			return errors.New("session_jwt needs algorithms with public_key or jwks (e.g. algorithms RS256), so that a token cannot choose its own")
		}
		for _, src := range s.From {
			if (src.Cookie == "") == (src.Header == "") {
				return errors.New("session_jwt from: name a cookie or a header")
			}
		}
		if err := checkServiceURL("session_jwt jwks", s.JWKS, "https://id.example.com/.well-known/jwks.json"); err != nil {
			return err
		}
	}
	if err := h.checkZoomConfig(sdk); err != nil {
		return err
	}
	if err := h.checkStateConfig(); err != nil {
		return err
	}
	for _, f := range h.Fill {
		if err := joinconfig.CheckPath(f.Path); err != nil {
			return fmt.Errorf("fill: %w", err)
		}
		if !strings.Contains(f.Value, "{") {
			return fmt.Errorf("fill %s: %q is not a placeholder; fill writes identity from the session, e.g. {http.zoom_signature.user.name}", f.Path, f.Value)
		}
	}
	if slices.Contains(h.Meetings, scopeAny) && len(h.Meetings) > 1 {
		return errors.New("meetings: 'any' cannot be combined with a list")
	}
	if sdk != join.Video {
		for _, m := range h.Meetings {
			if _, err := signature.ParseMeetingNumber(m); m != scopeAny && err != nil {
				return fmt.Errorf("meetings: %q is not a meeting number of 9 to 11 digits", m)
			}
		}
	}
	if h.OnHostDenied != "" && h.OnHostDenied != hostDeny && h.OnHostDenied != hostDowngrade {
		return fmt.Errorf("on_host_denied %q is not known; use deny or downgrade", h.OnHostDenied)
	}
	if h.Identity != "" && !strings.Contains(h.Identity, "{") {
		return fmt.Errorf("identity %q is not a placeholder; name the placeholder an auth handler fills, such as {http.auth.user.id}", h.Identity)
	}
	if r := h.HostWhen; r != nil && !r.Any && (r.Placeholder == "" || len(r.Values) == 0) {
		return errors.New("host_when needs a placeholder and at least one value, or 'any'")
	}
	if b := h.Backdate; b != nil && (*b < 0 || time.Duration(*b) > 10*time.Minute) {
		return fmt.Errorf("backdate %s is out of range; choose between 0s and 10m (30s is the default)", time.Duration(*b))
	}
	if h.Expires != 0 && (h.Expires < caddy.Duration(minExpires) || h.Expires > caddy.Duration(maxExpires)) {
		return fmt.Errorf("expires %s is outside Zoom's limits; choose between 30m and 48h", time.Duration(h.Expires))
	}
	for _, o := range h.CORSOrigins {
		if o == "*" || !validOrigin(strings.ReplaceAll(o, "*", "x")) {
			return fmt.Errorf("cors_origins: %q is not an origin; write scheme://host[:port], with no trailing slash; * may stand for a subdomain, never for everything", o)
		}
	}
	for _, o := range h.PublicOrigin {
		if !validOrigin(strings.ReplaceAll(o, "*", "x")) || strings.HasPrefix(o, "*") {
			return fmt.Errorf("public_origin: %q is not an origin; write scheme://host[:port] (https://*.ngrok-free.app for rotating subdomains)", o)
		}
	}
	for _, f := range h.URLFields {
		if err := joinconfig.CheckPath(f); err != nil {
			return fmt.Errorf("url_fields: %w", err)
		}
	}
	return nil
}
