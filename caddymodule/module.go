// Package caddymodule is the Caddy glue of caddy-zoom-signature: the
// http.handlers.zoom_signature handler, its Caddyfile directive, and the
// `caddy zoom-signature` commands. The signing, inspection and JSON editing
// live in packages that import no Caddy.
package caddymodule

import (
	"cmp"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/zoomsig/caddy-zoom-signature/caddymodule/connect"
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/join"
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/joinconfig"
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/signature"
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

	hostDeny      = "deny"
	hostDowngrade = "downgrade"

	scopeAny = "any"
)

// mode is Mode, parsed once.
type mode uint8

const (
	inject mode = iota
	endpoint
)

// Handler adds a freshly minted Zoom SDK signature to a join config, after
// checking who is asking and what they may have.
//
// In inject mode (the default) it wraps the handler that produces the join
// config, usually reverse_proxy: the backend decides the meeting and the
// role, and the handler writes signature (and sdkKey) into its JSON
// response. In endpoint mode it answers requests itself, as a drop-in for
// Zoom's sample auth endpoints, bound by the meetings scope.
//
// The Zoom apps it uses (the Server-to-Server app, the user OAuth app, the
// seal keys) are the zoom app's, written once per config; so may the SDK
// app be, which a one-route site may also write here.
type Handler struct {
	// A name for this handler, the handler label of its metrics and a field
	// of its log lines, so that several zoom_signature handlers in one
	// config can be told apart, and the name a zoom_doctor route gives.
	// Default: the mode (inject or endpoint).
	Name string `json:"name,omitempty"`

	// Signature format: "meeting" (Meeting SDK JWT, the default), "video"
	// (Video SDK JWT) or "websdk1" (legacy Web SDK 1.x, refused by Web SDK
	// 2.7 and later; only for migrating old frontends).
	SDK string `json:"sdk,omitempty"`

	// The SDK app, written here (sdk_key, sdk_secret, demo) for a
	// one-route site; otherwise the zoom app's, named by sdk_app.
	SDKApp

	// The zoom app's SDK app that signs: a name of its sdk_apps, or empty
	// for its sdk. Only when sdk_key is not written here.
	AppName string `json:"sdk_app,omitempty"`

	// "inject" (default) rewrites the next handler's JSON response;
	// "endpoint" answers POST requests like Zoom's sample endpoints.
	Mode string `json:"mode,omitempty"`

	// Who is asking: identity, session_jwt and public_origin, the same
	// for zoom_connect.
	Gate

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

	// Endpoint mode: the claim of the session token that lists the meetings
	// (or session names) this user may sign for, as an array or a
	// comma-separated string. It adds to meetings.
	MeetingsClaim string `json:"meetings_claim,omitempty"`

	// Token lifetime, exp - iat. Default 2h; between 30m and 48h. In
	// endpoint mode it is also the most a client's expirationSeconds may ask.
	Expires caddy.Duration `json:"expires,omitempty"`

	// How far iat is set in the past, so that a server clock running
	// slightly ahead of Zoom's does not make "issued in the future" tokens.
	// Default 30s; at most 10m.
	Backdate *caddy.Duration `json:"backdate,omitempty"`

	// The largest join config (inject) or request body (endpoint) read, in
	// bytes. Default 65536 (64KiB); at most 1GiB.
	MaxBody int64 `json:"max_body,omitempty"`

	// Inject mode: where the join config's fields are.
	JoinFields

	// What a join carries besides the signature: the host's ZAK, the
	// meeting's passcode, the registrant's tk, the OBF token.
	Steps

	// Origins allowed to call the endpoint cross-origin (endpoint mode), such
	// as https://app.example.com. Preflights from them are answered before
	// authentication. * may stand for one or more subdomain labels
	// (https://*.example.com), never for every origin.
	CORSOrigins []string `json:"cors_origins,omitempty"`

	// The join core: the format, the policy and the credentials, built
	// once in Provision. The glue only reads requests into it and writes
	// its results out.
	join *join.Signer
	app  *App
	// What Provision worked out of the config for every request.
	resolved
	// The refusal writer and the metrics, shared in kind with zoom_connect.
	*responder
	// What the doctor route of this handler learns and keeps.
	doc *routeDoctor
}

// resolved is the config as the requests read it.
type resolved struct {
	sdk      join.SDK
	mode     mode
	fields   join.Fields
	zakField string
	backdate time.Duration
	// Where the SDK key goes in a join config (inject), and the member
	// that opens it in an answer (endpoint, `,"sdkKey":`); "" for nowhere.
	sdkKeyAt, answerKey string
	// guarded are the join-config paths the module reads or writes, which
	// must not appear twice.
	guarded []string
	// credentialAt is where each credential of a join goes in its join
	// config (inject mode), by the credential's name (join.NameZAK, ...).
	credentialAt map[string]string
	zoom         *zoomapi.Client
	connect      *connect.Manager
	now          func() time.Time
}

// SDKApp is a Zoom SDK app: the key and secret signatures are made with.
type SDKApp struct {
	// The SDK key (client ID). Placeholders such as {env.ZOOM_SDK_KEY} are
	// resolved once, when the config loads.
	SDKKey string `json:"sdk_key,omitempty"`

	// The SDK secret. Use a placeholder, {env.ZOOM_SDK_SECRET} or
	// {file./run/secrets/zoom_sdk_secret}, resolved once when the config
	// loads, so that the secret is not in the config itself. It is never
	// logged or echoed.
	SDKSecret string `json:"sdk_secret,omitempty"`

	// Demo signs with a built-in, clearly fake SDK key and secret when
	// sdk_key or sdk_secret resolve to nothing, so that a demo runs with no
	// environment at all; its tokens join no real meeting. The credentials
	// stay placeholders in the config, so a real secret set later is read
	// when the config loads and never lands in Caddy's saved config. For
	// demos only: a warning is logged at start.
	Demo *DemoConfig `json:"demo,omitempty"`
}

// check says what an SDK app written as block lacks; required says it
// must be complete (a handler's own app may be absent altogether).
func (s *SDKApp) check(block string, required bool) error {
	if !required && s.SDKKey == "" && s.SDKSecret == "" && s.Demo == nil {
		return nil
	}
	prefix := ""
	if block != "sdk_key" {
		prefix = block + " "
	}
	if s.SDKKey == "" {
		return errorAt(prefix+"sdk_key", prefix+"sdk_key is required; set it to your app's SDK key (client ID), e.g. sdk_key {env.ZOOM_SDK_KEY}")
	}
	if s.SDKSecret == "" {
		return errorAt(prefix+"sdk_secret", prefix+"sdk_secret is required; use a placeholder such as sdk_secret {env.ZOOM_SDK_SECRET} or {file./run/secrets/zoom_sdk_secret}")
	}
	return nil
}

// signer resolves the app's credentials, once, into the signing keys.
func (s *SDKApp) signer(logger *zap.Logger) (*signature.Signer, string, error) {
	// {env.*} and {file.*} resolve now, once; the resolved values live in
	// the signer only.
	repl := caddy.NewReplacer()
	key := strings.TrimSpace(repl.ReplaceAll(s.SDKKey, ""))
	secret := repl.ReplaceAll(s.SDKSecret, "")
	if s.Demo != nil && (key == "" || secret == "") {
		key, secret = demoKey, demoSecret
		logger.Warn("demo: signing with a fake SDK key and secret, whose tokens join no real meeting; to sign for real, set what sdk_key and sdk_secret name",
			zap.String("sdk_key", placeholdersOnly(s.SDKKey)), zap.String("sdk_secret", placeholdersOnly(s.SDKSecret)))
		if s.Demo.URL != "" {
			logger.Info("demo: open the demo page", zap.String("url", s.Demo.URL))
		}
	}
	warnLiteralSecret(logger, "sdk_secret", s.SDKSecret)
	if key == "" {
		return nil, "", emptyValue("sdk_key", s.SDKKey)
	}
	if secret == "" {
		return nil, "", emptyValue("sdk_secret", s.SDKSecret)
	}
	if secret != strings.TrimSpace(secret) {
		// A trailing space or newline in the secret is a classic cause of
		// "Signature is invalid"; say so without printing it.
		logger.Warn("sdk_secret has leading or trailing white space; Zoom compares it byte for byte, so check the variable or file it comes from")
	}
	keys, err := signature.NewSigner(key, secret)
	return keys, secret, err
}

// JoinFields are where inject mode reads and writes the join config.
type JoinFields struct {
	// The JSON path (dot-separated keys) of the meeting number in the
	// join config. Default meetingNumber. It is written back normalised
	// (digits only), in the JSON type it came in.
	MeetingNumberField string `json:"meeting_number_field,omitempty"`

	// The path of the role (0 or 1; missing means 0). Default role. A
	// downgraded host join gets 0 written here.
	RoleField string `json:"role_field,omitempty"`

	// The path the signature is written to, replacing any value the
	// backend sent. Default signature.
	SignatureField string `json:"signature_field,omitempty"`

	// Sdk video: the path of the session name (tpc), which is required.
	// Default sessionName.
	SessionNameField string `json:"session_name_field,omitempty"`

	// Sdk video: the path of the user identity, signed as user_identity
	// when present. Default userIdentity.
	UserIdentityField string `json:"user_identity_field,omitempty"`

	// Sdk video: the path of the session key (a session passcode), signed
	// as session_key when present. Default sessionKey.
	SessionKeyField string `json:"session_key_field,omitempty"`

	// Where the SDK key is written in the join config. Default sdkKey for
	// sdk meeting, apiKey for websdk1, and nothing for video (the Video SDK
	// does not take the key). An empty string means the key is not written.
	SDKKeyField *string `json:"sdk_key_field,omitempty"`

	// Where the passcode is read and written. Default passWord.
	PasscodeField string `json:"passcode_field,omitempty"`

	// Sdk meeting: where an invite link is read when the join config has
	// no meeting number: its /j/, /w/ or /s/ number becomes the meeting
	// number (its pwd= is not the passcode and is ignored). Default
	// joinUrl.
	JoinURLField string `json:"join_url_field,omitempty"`

	// Fields written into the join config from placeholders, such as
	// userName from {http.zoom_signature.user.name}, so that users cannot
	// choose someone else's name or email.
	Fill []FillRule `json:"fill,omitempty"`

	// JSON paths of URL fields (such as leaveUrl) rewritten to absolute
	// URLs on the public origin, keeping path, query and fragment.
	URLFields []string `json:"url_fields,omitempty"`
}

// set names the options of the block that are written, for the modes
// that have no join config to edit.
func (f *JoinFields) set() []struct {
	name string
	set  bool
} {
	return []struct {
		name string
		set  bool
	}{
		{"meeting_number_field", f.MeetingNumberField != ""}, {"role_field", f.RoleField != ""},
		{"signature_field", f.SignatureField != ""}, {"session_name_field", f.SessionNameField != ""},
		{"user_identity_field", f.UserIdentityField != ""}, {"session_key_field", f.SessionKeyField != ""},
		{"sdk_key_field", f.SDKKeyField != nil}, {"passcode_field", f.PasscodeField != ""}, {"join_url_field", f.JoinURLField != ""},
		{"url_fields", len(f.URLFields) > 0}, {"fill", len(f.Fill) > 0},
	}
}

// check checks the paths that are written.
func (f *JoinFields) check() error {
	paths := []struct{ name, path string }{
		{"meeting_number_field", f.MeetingNumberField}, {"role_field", f.RoleField},
		{"signature_field", f.SignatureField}, {"session_name_field", f.SessionNameField},
		{"user_identity_field", f.UserIdentityField}, {"session_key_field", f.SessionKeyField},
		{"passcode_field", f.PasscodeField}, {"join_url_field", f.JoinURLField},
	}
	if f.SDKKeyField != nil {
		paths = append(paths, struct{ name, path string }{"sdk_key_field", *f.SDKKeyField})
	}
	if err := checkPaths(paths); err != nil {
		return err
	}
	for _, fill := range f.Fill {
		if err := joinconfig.CheckPath(fill.Path); err != nil {
			return errorAt("fill", "fill: "+err.Error())
		}
		if !strings.Contains(fill.Value, "{") {
			return errorAt("fill", fmt.Sprintf("fill %s: %q is not a placeholder; fill writes identity from the session, e.g. {http.zoom_signature.user.name}", fill.Path, fill.Value))
		}
	}
	for _, u := range f.URLFields {
		if err := joinconfig.CheckPath(u); err != nil {
			return errorAt("url_fields", "url_fields: "+err.Error())
		}
	}
	return nil
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

// Provision checks the config, then builds the signer from the zoom
// app's services. Nothing is built for a config that is refused.
func (h *Handler) Provision(ctx caddy.Context) error {
	if err := h.check(); err != nil {
		return err
	}
	app, err := appOf(ctx)
	if err != nil {
		return err
	}
	if err := h.checkWith(app); err != nil {
		return err
	}
	h.app, h.now = app, time.Now
	h.setDefaults()
	if h.responder, err = newResponder(ctx, h.Name, h.SDK, h.Mode); err != nil {
		return err
	}
	h.responder.connectURL = app.OAuth.connectURL()
	sdkApp := &h.SDKApp
	if h.SDKKey == "" {
		sdkApp = app.sdkApp(h.AppName)
	}
	keys, secret, err := sdkApp.signer(h.logger)
	if err != nil {
		return err
	}
	if err := h.Gate.provision(h.logger, func() time.Time { return h.now() }); err != nil {
		return err
	}
	sources, err := h.Steps.provision(app, &h.resolved)
	if err != nil {
		return err
	}
	h.credentialAt = h.Steps.paths(h.zakField, h.PasscodeField)
	if err := join.CheckWrites(sources, h.credentialAt); err != nil {
		return err
	}
	h.join = &join.Signer{
		Format:   h.sdk.Format(),
		Policy:   h.policy(),
		Keys:     keys,
		Sources:  sources,
		Backdate: h.backdate,
		Now:      func() time.Time { return h.now() },
	}
	h.fields = h.JoinFields.forJoin(&h.Steps, h.sdk, h.zakField)
	h.guarded = h.guardedPaths()
	if h.sdk == join.WebSDK1 {
		h.logger.Warn("sdk websdk1 mints legacy Web SDK 1.x signatures, which Web SDK 2.7 and later refuse; use it only while migrating old frontends, then switch to sdk meeting")
	}
	if h.AllowAnonymous {
		h.logger.Warn("allow_anonymous is on: anyone who can reach this route gets a signature", zap.String("mode", h.Mode))
	}
	h.doc = newRouteDoctor(h, handlerKey{cfg: ctx.Context, name: h.Name}, secret)
	h.responder.key = h.doc.key
	return nil
}

// setDefaults fills in what the config left out.
func (h *Handler) setDefaults() {
	h.sdk, _ = join.ParseSDK(h.SDK) // checked
	h.SDK = h.sdk.String()
	h.Mode = cmp.Or(h.Mode, modeInject)
	if h.Mode == modeEndpoint {
		h.mode = endpoint
	}
	h.Name = cmp.Or(h.Name, h.Mode)
	h.Identity = cmp.Or(h.Identity, "{http.auth.user.id}")
	h.OnHostDenied = cmp.Or(h.OnHostDenied, hostDeny)
	h.Expires = cmp.Or(h.Expires, caddy.Duration(2*time.Hour))
	h.backdate = 30 * time.Second
	if h.Backdate != nil {
		h.backdate = time.Duration(*h.Backdate)
	}
	h.MaxBody = cmp.Or(h.MaxBody, 64<<10)
	f := &h.JoinFields
	defaultString(&f.MeetingNumberField, "meetingNumber")
	defaultString(&f.RoleField, "role")
	defaultString(&f.SignatureField, "signature")
	defaultString(&f.SessionNameField, "sessionName")
	defaultString(&f.UserIdentityField, "userIdentity")
	defaultString(&f.SessionKeyField, "sessionKey")
	defaultString(&f.PasscodeField, "passWord")
	if h.sdk != join.Video && h.mode == inject {
		defaultString(&f.JoinURLField, "joinUrl")
	}
	var answerKey string
	h.sdkKeyAt, answerKey = h.sdk.Format().KeyFields()
	if answerKey != "" {
		h.answerKey = `,"` + answerKey + `":`
	}
	if f.SDKKeyField != nil {
		h.sdkKeyAt = *f.SDKKeyField
	}
	h.zakField = "zak"
	if z := h.Zak; z != nil {
		h.zakField = cmp.Or(z.Field, "zak")
		defaultString(&z.User, "{http.zoom_signature.user.id}")
	}
	if r := h.Registrant; r != nil {
		defaultString(&r.Email, "{http.zoom_signature.user.email}")
		defaultString(&r.TokenField, "tk")
		defaultString(&r.EmailField, "userEmail")
	}
	if o := h.OBF; o != nil {
		defaultString(&o.When, obfExternal)
		defaultString(&o.BackendField, "needsObf")
		defaultString(&o.Field, "obfToken")
	}
}

// forJoin are the paths the join core reads, with what the steps need
// read (the passcode, the OBF flag, a backend's ZAK).
func (f *JoinFields) forJoin(s *Steps, sdk join.SDK, zakField string) join.Fields {
	jf := join.Fields{
		MeetingNumber: f.MeetingNumberField, Role: f.RoleField, SessionName: f.SessionNameField,
		UserIdentity: f.UserIdentityField, SessionKey: f.SessionKeyField,
		JoinURL: f.JoinURLField,
	}
	if s.Passcode == passcodeFill || sdk == join.Video {
		// The Video SDK's join() refuses some passcodes; the video format
		// refuses to sign for them.
		jf.Passcode = f.PasscodeField
	}
	if o := s.OBF; o != nil && o.When == obfBackend {
		jf.OBFFlag = o.BackendField
	}
	if (s.Zak == nil && s.RequireZAKForHost) || s.OBF != nil {
		// Only then does a ZAK from the backend matter: for a host join
		// that must carry one, or as what an OBF token would clash with.
		jf.ZAK = zakField
	}
	return jf
}

// appOf is the config's zoom app: the configured one, or an empty one
// for a config without a zoom block (nothing to share then).
func appOf(ctx caddy.Context) (*App, error) {
	v, err := ctx.AppIfConfigured("zoom")
	if errors.Is(err, caddy.ErrNotConfigured) {
		a := new(App)
		return a, a.Provision(ctx)
	}
	if err != nil {
		return nil, err
	}
	return v.(*App), nil
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
		return errorAt(option, option+" carries user info (user:password@); remove it, the credentials go in their own options")
	}
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return errorAt(option, fmt.Sprintf("%s %q is not an absolute https URL; write it in full, such as %s", option, raw, example))
	}
	if u.Scheme == "http" && !loopbackHost(u.Hostname()) {
		return errorAt(option, fmt.Sprintf("%s %q uses plain http; use https (http is allowed only for loopback stand-ins, such as http://127.0.0.1:9000)", option, raw))
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
