package caddymodule

import (
	"fmt"
	"strings"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/join"
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/joinconfig"
)

// Steps are what a join carries besides the signature, each from its own
// block and each a join.CredentialSource: the host's ZAK, the meeting's
// passcode and registrant tk (from a meeting lookup), and the user's OBF
// token. A new credential is a new block here, its source in join, its
// path in paths, and its line in the README.
type Steps struct {
	// Write the host's ZAK, fetched with the zoom app's zoom_api, into
	// role-1 join configs (and endpoint responses).
	Zak *ZAKConfig `json:"zak,omitempty"`

	// Refuse a role-1 join that has no ZAK, instead of signing a host join
	// that cannot start the meeting.
	RequireZAKForHost bool `json:"require_zak_for_host,omitempty"`

	// Inject mode, sdk meeting: write the meeting's passcode from Zoom
	// into the join config, "fill" (when the backend left it empty) or
	// "always" (over the backend's, which may be stale). Needs the zoom
	// app's zoom_api. Only meetings of the account have one to give.
	Passcode string `json:"passcode,omitempty"`

	// Inject mode, sdk meeting: register the user for meetings and
	// webinars that require registration, and write tk and userEmail.
	// Needs the zoom app's zoom_api.
	Registrant *RegistrantConfig `json:"registrant,omitempty"`

	// Write OBF tokens, fetched with the user's connected Zoom account
	// (the zoom app's oauth), into attendee joins of meetings outside the
	// app's account.
	OBF *OBFConfig `json:"obf,omitempty"`
}

// checkSteps checks the credential steps as written; what they need of
// the zoom app is checkWith's.
func (h *Steps) check(sdk join.SDK) error {
	if z := h.Zak; z != nil {
		if sdk == join.Video {
			return errorAt("zak", "zak is for the Meeting SDK; the Video SDK has no host start token")
		}
		if z.Field != "" {
			if err := joinconfig.CheckPath(z.Field); err != nil {
				return errorAt("zak field", "zak field: "+err.Error())
			}
		}
	}
	if h.Passcode != "" && h.Passcode != passcodeFill && h.Passcode != passcodeAlways {
		return errorAt("passcode", fmt.Sprintf("passcode %q is not known; use fill (when the backend left it empty) or always", h.Passcode))
	}
	for _, step := range []struct {
		name string
		set  bool
	}{{"passcode", h.Passcode != ""}, {"registrant", h.Registrant != nil}, {"obf", h.OBF != nil}} {
		if step.set && sdk == join.Video {
			return errorAt(step.name, step.name+" is for the Meeting SDK; Video SDK sessions have no Zoom meeting to look up, and take no OBF token")
		}
	}
	if r := h.Registrant; r != nil {
		if r.Email != "" && !strings.Contains(r.Email, "{") {
			return errorAt("registrant email", fmt.Sprintf("registrant email %q is not a placeholder; each user registers with their own, e.g. {http.zoom_signature.user.email}", r.Email))
		}
		if err := checkPaths([]struct{ name, path string }{{"registrant tk_field", r.TokenField}, {"registrant email_field", r.EmailField}}); err != nil {
			return err
		}
	}
	if o := h.OBF; o != nil {
		return o.check()
	}
	return nil
}

// checkFields checks the join-config paths and what is written there.
func (h *Handler) checkFields(join.SDK) error {
	if err := h.JoinFields.check(); err != nil {
		return err
	}
	for _, f := range h.Fill {
		if err := joinconfig.CheckPath(f.Path); err != nil {
			return errorAt("fill", "fill: "+err.Error())
		}
		if !strings.Contains(f.Value, "{") {
			return errorAt("fill", fmt.Sprintf("fill %s: %q is not a placeholder; fill writes identity from the session, e.g. {http.zoom_signature.user.name}", f.Path, f.Value))
		}
	}
	for _, f := range h.URLFields {
		if err := joinconfig.CheckPath(f); err != nil {
			return errorAt("url_fields", "url_fields: "+err.Error())
		}
	}
	return nil
}

// checkWith holds the rules between the steps and the zoom app: the
// apps a step uses must be there.
func (h *Steps) checkWith(a *App) error {
	needsAPI := []struct {
		name string
		set  bool
	}{
		{"zak", h.Zak != nil},
		{"passcode", h.Passcode != ""},
		{"registrant", h.Registrant != nil},
		{"obf", h.OBF != nil && (h.OBF.When == "" || h.OBF.When == obfExternal)},
	}
	for _, step := range needsAPI {
		if step.set && a.ZoomAPI == nil {
			why := map[string]string{
				"zak":        "to fetch the host's ZAK",
				"passcode":   "to look the meeting up",
				"registrant": "to look the meeting up and register the user",
				"obf":        "to tell the account's meetings from others (or use when always, or when backend)",
			}[step.name]
			name := step.name
			if name == "obf" {
				name = "obf when external"
			}
			return errorAt(step.name, name+" needs zoom_api, the account's Server-to-Server OAuth app, "+why+"; write it once in the global zoom block: { zoom { zoom_api { account_id ... client_id ... client_secret ... } } }")
		}
	}
	if h.OBF != nil && a.OAuth == nil {
		return errorAt("obf", "obf needs the user OAuth app its users connected with; write it once in the global zoom block: { zoom { oauth { client_id ... client_secret ... redirect_uri ... } seal_keys ... } }")
	}
	return nil
}

// provision builds the credential sources from the zoom app's services,
// which it records in r for the doctor.
func (h *Steps) provision(app *App, r *resolved) ([]join.CredentialSource, error) {
	var sources []join.CredentialSource
	c, err := app.zoomClient()
	if err != nil {
		return nil, err
	}
	r.zoom = c
	if c != nil {
		if z := h.Zak; z != nil {
			sources = append(sources, join.ZAKSource{Fetcher: c, User: z.User})
		}
		if h.Passcode != "" || h.Registrant != nil {
			ms := join.MeetingSource{Lookup: c, Passcode: map[string]join.PasscodeMode{passcodeFill: join.PasscodeFill, passcodeAlways: join.PasscodeAlways}[h.Passcode]}
			if reg := h.Registrant; reg != nil {
				ms.Registrar, ms.EmailFrom = c, reg.Email
			}
			sources = append(sources, ms)
		}
	}
	if o := h.OBF; o != nil {
		m, err := app.grantManager()
		if err != nil {
			return nil, err
		}
		r.connect = m
		src := join.OBFSource{Fetcher: m, When: map[string]join.OBFWhen{obfExternal: join.OBFExternal, obfAlways: join.OBFAlways, obfBackend: join.OBFBackend}[o.When]}
		if src.When == join.OBFExternal {
			src.Lookup = c
		}
		sources = append(sources, src)
	}
	return sources, nil
}

// paths are where each credential goes in a join config, by its name:
// every step that adds a credential names its path here.
func (h *Steps) paths(zakField, passcodeField string) map[string]string {
	at := map[string]string{join.NameZAK: zakField, join.NamePasscode: passcodeField}
	if o := h.OBF; o != nil {
		at[join.NameOBF] = o.Field
	}
	if r := h.Registrant; r != nil {
		at[join.NameRegistrantToken], at[join.NameEmail] = r.TokenField, r.EmailField
	}
	return at
}

// unmarshalOption reads a step's block; ok says it was one.
func (h *Steps) unmarshalOption(d *caddyfile.Dispenser, opt string, lines map[string]int) (ok bool, err error) {
	switch opt {
	case "require_zak_for_host":
		if d.NextArg() {
			return true, d.ArgErr()
		}
		h.RequireZAKForHost = true
		return true, nil
	case "passcode":
		if !d.AllArgs(&h.Passcode) {
			return true, d.ArgErr()
		}
		return true, nil
	case "zak", "obf", "registrant":
		if d.NextArg() {
			return true, d.ArgErr()
		}
	default:
		return false, nil
	}
	switch opt {
	case "zak":
		h.Zak = new(ZAKConfig)
		return true, unmarshalBlock(d, "zak", lines, map[string]*string{"user": &h.Zak.User, "field": &h.Zak.Field}, zakMoved)
	case "obf":
		h.OBF = new(OBFConfig)
		return true, unmarshalBlock(d, "obf", lines, map[string]*string{"when": &h.OBF.When, "backend_field": &h.OBF.BackendField, "field": &h.OBF.Field}, obfMoved)
	}
	r := new(RegistrantConfig)
	h.Registrant = r
	return true, unmarshalBlock(d, "registrant", lines, map[string]*string{
		"email": &r.Email, "first_name": &r.FirstName, "last_name": &r.LastName,
		"tk_field": &r.TokenField, "email_field": &r.EmailField,
	}, nil)
}

// The options of a handler's zak and obf blocks that are the zoom app's
// now, with the form that replaces them.
var (
	zakMoved = map[string]string{
		"account_id":    "{ zoom { zoom_api { account_id ... } } }",
		"client_id":     "{ zoom { zoom_api { client_id ... } } }",
		"client_secret": "{ zoom { zoom_api { client_secret ... } } }",
		"oauth_url":     "{ zoom { zoom_api { oauth_url ... } } }",
		"api_url":       "{ zoom { zoom_api { api_url ... } } }",
		"lifetime":      "{ zoom { zoom_api { zak_lifetime ... } } }",
	}
	obfMoved = map[string]string{
		"client_id":     "{ zoom { oauth { client_id ... } } }",
		"client_secret": "{ zoom { oauth { client_secret ... } } }",
		"redirect_uri":  "{ zoom { oauth { redirect_uri ... } } }",
		"authorize_url": "{ zoom { oauth { authorize_url ... } } }",
		"oauth_url":     "{ zoom { oauth { oauth_url ... } } }",
		"api_url":       "{ zoom { oauth { api_url ... } } }",
		"scopes":        "{ zoom { oauth { scopes ... } } }",
		"connect_url":   "{ zoom { oauth { connect_url ... } } }",
		"per_minute":    "{ zoom { oauth { per_minute ... } } }",
		"timeout":       "{ zoom { oauth { timeout ... } } }",
		"done_url":      "zoom_connect { done_url ... }",
	}
)
