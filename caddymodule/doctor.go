package caddymodule

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
	"golang.org/x/time/rate"

	"github.com/zoomsig/caddy-zoom-signature/caddymodule/connect"
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/doctor"
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/inspect"
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/join"
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/problem"
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/state"
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/zoomapi"
)

// Doctor answers the page that just failed to join: a POST of
// {"meetingNumber","role","sdkCode","sdkVersion"} gets the join doctor's
// findings, {"meeting","findings":[...]}, for the signed-in user's own
// join through the zoom_signature handler it names. It authenticates as
// that handler does, refuses anonymous users, asks Zoom at most per_minute
// times a minute per user, and keeps each answer for cache_for per user
// and meeting.
type Doctor struct {
	// The name of the zoom_signature handler whose joins are diagnosed
	// (that handler's name option). Required.
	For string `json:"for,omitempty"`

	// Diagnoses per user in a minute that ask Zoom, at most; an answer
	// from the cache does not count. Default 6.
	PerMinute int `json:"per_minute,omitempty"`

	// How long a diagnosis is kept per user, meeting, role, SDK code and
	// SDK version, so that a page retrying its join does not ask Zoom
	// again. Default 30s; at most 10m.
	CacheFor caddy.Duration `json:"cache_for,omitempty"`

	// Where pages reach this route, named in a Link header (rel
	// "zoom-doctor") on the named handler's refusals that the doctor can
	// explain further, such as zoom_not_connected. Default /zoom/doctor.
	Link string `json:"link,omitempty"`

	logger   *zap.Logger
	fallback *responder // writes refusals when the named handler is missing
	key      handlerKey
	cache    *state.Memory
	limits   *userLimits
}

// CaddyModule returns the Caddy module information.
func (Doctor) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "http.handlers.zoom_doctor", New: func() caddy.Module { return new(Doctor) }}
}

// Refusal codes of the doctor route.
const (
	codeDoctorInput   = "doctor_input_invalid"
	codeDoctorTooMany = "doctor_too_many"
	codeDoctorHandler = "doctor_handler_unknown"
	codeDoctorJoin    = "doctor_join_unknown"
)

// doctorTimeout bounds one diagnosis: it asks Zoom up to seven times, each
// bounded by the zoom_api timeout.
const doctorTimeout = 15 * time.Second

// Provision sets the defaults.
func (d *Doctor) Provision(ctx caddy.Context) error {
	if err := d.Validate(); err != nil {
		return err
	}
	d.logger = ctx.Logger()
	d.PerMinute = cmp.Or(d.PerMinute, 6)
	d.CacheFor = cmp.Or(d.CacheFor, caddy.Duration(30*time.Second))
	d.cache = state.NewMemory(nil, 10_000)
	d.limits = &userLimits{per: time.Minute / time.Duration(d.PerMinute), burst: d.PerMinute, m: map[string]*rate.Limiter{}}
	var err error
	if d.fallback, err = newResponder(ctx, "doctor", "", "doctor"); err != nil {
		return err
	}
	d.Link = cmp.Or(d.Link, "/zoom/doctor")
	d.key = handlerKey{cfg: ctx.Context, name: d.For}
	doctorURLs.Store(d.key, d.Link)
	if h := lookupHandler(d.key); h != nil {
		h.doc.doctored.Store(true)
	}
	return nil
}

// Cleanup forgets the route's link.
func (d *Doctor) Cleanup() error {
	doctorURLs.Delete(d.key)
	return nil
}

// Validate checks the config; it runs before anything is provisioned.
func (d *Doctor) Validate() error {
	switch {
	case d.For == "":
		return errors.New("zoom_doctor needs for, the name of the zoom_signature handler whose joins it diagnoses (its name option), e.g. for join")
	case d.PerMinute < 0 || d.PerMinute > 600:
		return errors.New("zoom_doctor per_minute " + strconv.Itoa(d.PerMinute) + " is out of range; use 1 to 600 (default 6)")
	case d.CacheFor < 0 || time.Duration(d.CacheFor) > 10*time.Minute:
		return errors.New("zoom_doctor cache_for " + time.Duration(d.CacheFor).String() + " is out of range; use up to 10m (default 30s)")
	}
	return nil
}

// handlerKey names a zoom_signature handler within one config load: its
// root context, which every module of that load is provisioned with, and
// its name. A doctor finds only a handler of its own config, so two sites
// of one process, or the old and the new config of a reload, never mix.
type handlerKey struct {
	cfg  context.Context
	name string
}

// named are the provisioned zoom_signature handlers, for the doctor routes
// that name them; two handlers of one config with one name are ambiguous.
var named sync.Map // handlerKey -> *Handler, or ambiguousName

type ambiguousName struct{}

// routeDoctor is what a doctor route learns of its handler: the config
// as the doctor sees it, whether a route names the handler, and then the
// joins each user asked for.
type routeDoctor struct {
	h        *Handler
	key      handlerKey
	site     doctor.Site
	doctored atomic.Bool
	asked    asked
}

// newRouteDoctor works out what the doctor needs of h's config, once,
// and makes h findable by its doctor route.
func newRouteDoctor(h *Handler, key handlerKey, secret string) *routeDoctor {
	rd := &routeDoctor{h: h, key: key}
	rd.site = rd.siteConfig(secret)
	if v, loaded := named.LoadOrStore(key, h); loaded && v != h {
		named.Store(key, ambiguousName{})
	}
	if _, ok := doctorURLs.Load(key); ok {
		rd.doctored.Store(true)
	}
	return rd
}

// lookupHandler is the one handler of key, nil when there is none or more.
func lookupHandler(key handlerKey) *Handler {
	v, _ := named.Load(key)
	h, _ := v.(*Handler)
	return h
}

// ServeHTTP diagnoses the signed-in user's join.
func (d *Doctor) ServeHTTP(w http.ResponseWriter, r *http.Request, _ caddyhttp.Handler) error {
	h := lookupHandler(d.key)
	if h == nil {
		reason := "the doctor names the zoom_signature handler " + strconv.Quote(d.For) + ", which this config does not have; set the handler's name option to it"
		if v, _ := named.Load(d.key); v != nil {
			reason = "the doctor names the zoom_signature handler " + strconv.Quote(d.For) + ", and several handlers of this config have that name (a handler's name defaults to its mode); give the one to diagnose a name option of its own"
		}
		return d.fallback.writeRefusal(w, r, join.Principal{}, problem.New(problem.Config, codeDoctorHandler, "for", reason))
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		return h.writeRefusal(w, r, join.Principal{}, problem.New(problem.Client, codeMethodNotAllowed, "method",
			r.Method+" is not allowed on the doctor; POST {\"meetingNumber\",\"role\",\"sdkCode\",\"sdkVersion\"}"))
	}
	repl := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	p, perr := h.authenticate(r, repl)
	if perr == nil && p.ID == "" {
		perr = problem.New(problem.Client, join.CodeUnauthenticated, "session", "the doctor answers signed-in users about their own joins; sign in and try again")
	}
	if perr == nil {
		perr = h.sameOrigin(r, "ask the join doctor")
	}
	var q doctorQuery
	if perr == nil {
		q, perr = h.doc.readDoctorQuery(w, r)
	}
	if perr == nil {
		perr = h.doc.ownJoin(p, &q)
	}
	if perr != nil {
		return h.writeRefusal(w, r, p, perr)
	}
	key := strings.Join([]string{p.ID, q.meeting, strconv.Itoa(q.role), strconv.Itoa(q.sdkCode), q.sdkVersion}, "\x00")
	body, err := d.cache.Load(r.Context(), key, func(ctx context.Context) ([]byte, time.Duration, error) {
		if !d.limits.allow(p.ID) {
			return nil, 0, errDoctorTooMany
		}
		ctx, cancel := context.WithTimeout(ctx, doctorTimeout)
		defer cancel()
		rep := h.doc.diagnose(ctx, repl, p, q)
		d.logger.Info("join diagnosed", zap.String("handler", h.Name), zap.String("user", p.ID),
			zap.String("meeting", q.meeting), zap.Int("sdk_code", q.sdkCode), zap.Strings("findings", rep.Codes()))
		b, err := json.Marshal(rep)
		return b, time.Duration(d.CacheFor), err
	})
	switch {
	case errors.Is(err, errDoctorTooMany):
		return h.writeRefusal(w, r, p, problem.New(problem.Client, codeDoctorTooMany, "meetingNumber",
			"the doctor answers "+strconv.Itoa(d.PerMinute)+" new questions a minute per user; wait a minute and ask again"))
	case err != nil:
		return err
	}
	setNoStore(w.Header(), "application/json; charset=utf-8")
	w.Header().Set("Vary", "Cookie, Authorization")
	w.WriteHeader(http.StatusOK)
	_, err = w.Write(body)
	return err
}

var errDoctorTooMany = errors.New("too many diagnoses")

// userLimits is a rate limit per user, in this process.
type userLimits struct {
	per   time.Duration
	burst int
	mu    sync.Mutex
	m     map[string]*rate.Limiter
}

func (l *userLimits) allow(user string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	lim := l.m[user]
	if lim == nil {
		if len(l.m) >= 100_000 {
			clear(l.m) // bounded: a flood of users resets budgets rather than memory
		}
		lim = rate.NewLimiter(rate.Every(l.per), l.burst)
		l.m[user] = lim
	}
	return lim.Allow()
}

// doctorQuery is what is diagnosed: a join of one meeting with one role,
// and what the page saw. passcode and email are what the join sent, known
// only on the command line: the route takes neither, so that it cannot be
// used to guess a meeting's passcode or its host's email.
type doctorQuery struct {
	ask        join.Ask
	meeting    string
	role       int
	sdkCode    int
	sdkVersion string
	passcode   *string
	email      *string
}

// readDoctorQuery reads the route's body: the meeting and role as the
// handler's endpoint reads them, the SDK's code and version beside.
func (rd *routeDoctor) readDoctorQuery(w http.ResponseWriter, r *http.Request) (doctorQuery, *problem.Error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 4<<10))
	if err != nil {
		return doctorQuery{}, problem.New(problem.Client, codeBodyTooLarge, "body", "the doctor's request body is larger than 4 KiB; send only meetingNumber, role, sdkCode and sdkVersion")
	}
	var extra struct {
		SDKCode    json.RawMessage `json:"sdkCode"`
		SDKVersion json.RawMessage `json:"sdkVersion"`
	}
	if json.Unmarshal(body, &extra) != nil {
		return doctorQuery{}, problem.New(problem.Client, codeDoctorInput, "body", `the doctor's request body is not a JSON object; send {"meetingNumber":"85746065432","role":0,"sdkCode":3712,"sdkVersion":"6.2.0"}`)
	}
	q, perr := rd.doctorQuery(body)
	if perr != nil {
		return q, perr
	}
	if s := strings.Trim(string(bytes.TrimSpace(extra.SDKCode)), `"`); s != "" && s != "null" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n > 999_999 {
			return q, problem.New(problem.Client, codeDoctorInput, "sdkCode", "sdkCode must be the SDK's numeric error code, such as 3712")
		}
		q.sdkCode = n
	}
	if len(extra.SDKVersion) > 0 && string(extra.SDKVersion) != "null" {
		if json.Unmarshal(extra.SDKVersion, &q.sdkVersion) != nil || len(q.sdkVersion) > 32 {
			return q, problem.New(problem.Client, codeDoctorInput, "sdkVersion", `sdkVersion must be the SDK's version string, such as "6.2.0" (ZoomMtgEmbedded.VERSION)`)
		}
	}
	return q, nil
}

// ownJoin refuses a question about another user's join. In endpoint mode
// the meetings scope is the rule, as for a signature. In inject mode the
// backend chooses each user's meetings, so the doctor answers about a
// meeting this handler was asked to join for the user in the last hour
// (signed, or refused for a reason the doctor explains), or one an
// explicit meetings scope (meetings, meetings_claim) allows; the meeting
// is then judged as the backend's.
func (rd *routeDoctor) ownJoin(p join.Principal, q *doctorQuery) *problem.Error {
	h := rd.h
	if h.mode == endpoint {
		return nil
	}
	if !rd.asked.seen(p.ID, q.meeting, h.now()) {
		if _, err := h.join.Policy.Decide(p, q.ask); err != nil && err.Code() == join.CodeMeetingNotAllowed {
			return problem.New(problem.Client, codeDoctorJoin, "meetingNumber",
				"the doctor answers about meetings this site gave you to join in the last hour (or that its meetings option allows you); fetch the join config first, then ask")
		}
	}
	q.ask.From = join.FromBackend
	return nil
}

// asked remembers, for the doctor route, which meetings a handler was
// asked to join for each user: in this process, for an hour, bounded.
type asked struct {
	mu sync.Mutex
	m  map[string]time.Time
}

const askedFor = time.Hour

func (a *asked) note(user, meeting string, now time.Time) {
	if user == "" {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.m == nil || len(a.m) >= 100_000 {
		a.m = map[string]time.Time{} // bounded: a flood forgets, it does not grow
	}
	a.m[user+"\x00"+meeting] = now
}

func (a *asked) seen(user, meeting string, now time.Time) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	t, ok := a.m[user+"\x00"+meeting]
	return ok && now.Sub(t) < askedFor
}

// doctorQuery reads a meeting and role from a body shaped like Zoom's
// sample request, as the handler's endpoint mode reads it; the route's
// ownJoin and the command line decide whose choice the meeting is.
func (rd *routeDoctor) doctorQuery(body []byte) (doctorQuery, *problem.Error) {
	h := rd.h
	if h.sdk == join.Video {
		return doctorQuery{}, problem.New(problem.Client, codeDoctorInput, "sdk",
			"the doctor diagnoses Meeting SDK joins, and handler "+h.Name+" signs Video SDK tokens; use caddy zoom-signature inspect on a Video SDK token")
	}
	ask, perr := h.join.Format.FromRequest(body)
	if perr != nil {
		return doctorQuery{}, perr
	}
	return doctorQuery{ask: ask, meeting: ask.Meeting, role: ask.Role}, nil
}

// diagnose gathers the facts of one join through this handler, as it
// would sign it, and has the doctor name what stands in its way. It asks
// Zoom what it must (the meeting, its host, the ZAK's owner, the user's
// connection and, for a meeting outside the account, an OBF token that
// is thrown away), but signs, registers and writes nothing.
func (rd *routeDoctor) diagnose(ctx context.Context, repl *caddy.Replacer, p join.Principal, q doctorQuery) doctor.Report {
	h := rd.h
	f := doctor.Facts{Meeting: q.meeting, Role: q.role, SDKCode: q.sdkCode, SDKVersion: q.sdkVersion, Now: h.now(),
		Site: rd.siteFacts(p), Join: doctor.JoinFacts{Passcode: q.passcode, Email: q.email}}
	if f.Join.Email == nil {
		f.Join.Email = rd.filledEmail(repl, p)
	}
	g, perr := h.join.Policy.Decide(p, q.ask)
	if perr == nil {
		perr = h.join.Policy.Admit(p)
	}
	if perr != nil {
		// A join the site refuses is not looked up: the route tells
		// nobody about meetings they may not join.
		f.Site.RefusalCode, f.Site.RefusalReason = perr.Code(), perr.Reason()
		return doctor.Diagnose(f)
	}
	f.Role = g.Role
	f.Token = rd.tokenProblems(q.ask, g)
	if h.zoom != nil {
		z := &doctor.ZoomFacts{}
		var zerr *problem.Error
		if z.Details, zerr = h.zoom.Details(ctx, q.meeting); zerr != nil {
			z.ErrCode = zerr.Code()
		}
		if g.Role == 1 && h.Zak != nil && p.ZoomUser != "" && zerr == nil && z.Details.Found {
			if u, found, _, err := h.zoom.User(ctx, p.ZoomUser); err == nil && found {
				z.ZAKOwner = &u
			}
		}
		f.Zoom = z
	}
	if h.connect != nil && p.ID != "" {
		_, connected, live, _ := h.connect.Status(ctx, p.ID)
		f.User.Connected = connected && live
		z := f.Zoom
		if f.User.Connected && g.Role == 0 && z != nil && z.ErrCode == "" && !z.Details.Found && len(z.Details.MissingScopes) == 0 {
			// Only Zoom can tell a meeting of another account from one
			// that exists nowhere: it issues an OBF token for the first.
			f.User.OBFAsked = true
			if _, err := h.connect.OBF(ctx, p.ID, q.meeting); err != nil {
				f.User.OBFErrCode = err.Code()
			}
		}
	}
	return doctor.Diagnose(f)
}

// siteConfig is what this handler's config does for every join, for the
// doctor: worked out once in Provision, where the credentials are
// resolved, so that no diagnosis reads a secret file again.
func (rd *routeDoctor) siteConfig(secret string) doctor.Site {
	h := rd.h
	env := caddy.NewReplacer()
	key := h.join.Keys.Key()
	s := doctor.Site{
		Handler: h.Name, Format: h.SDK, Backdate: h.backdate, Lifetime: time.Duration(h.Expires),
		Demo:           key == demoKey,
		SecretHasSpace: key != demoKey && secret != strings.TrimSpace(secret),
		ZAK:            h.Zak != nil,
		OBF:            h.OBF != nil,
		PasscodeMode:   h.Passcode,
		Registrant:     h.Registrant != nil,
	}
	if z := h.app.ZoomAPI; z != nil && key == env.ReplaceAll(z.ClientID, "") {
		s.KeyIsAPIApp = true
	}
	if o := h.app.OAuth; o != nil && key == env.ReplaceAll(o.ClientID, "") {
		s.KeyIsAPIApp = true
	}
	for _, f := range h.Fill {
		if f.Path == "userEmail" {
			s.FillsEmail = true
		}
	}
	return s
}

// siteFacts is what this handler's config does for the user's join.
func (rd *routeDoctor) siteFacts(p join.Principal) doctor.Site {
	s := rd.site
	s.ZAKUser, s.RegistrantEmail = p.ZoomUser, p.Registrant.Email
	return s
}

// filledEmail is the userEmail a fill rule writes for this user, nil when
// none does or it resolves to nothing here (the command line knows no
// session claims).
func (rd *routeDoctor) filledEmail(repl *caddy.Replacer, p join.Principal) *string {
	h := rd.h
	for _, f := range h.Fill {
		if f.Path == "userEmail" {
			if v := resolve(repl, p, f.Value); v != "" {
				return &v
			}
		}
	}
	return nil
}

// tokenProblems mints the token the handler would sign for the grant and
// has package inspect judge it as Zoom would; its error-level findings are
// the doctor's evidence.
func (rd *routeDoctor) tokenProblems(a join.Ask, g join.Grant) []doctor.TokenProblem {
	h := rd.h
	tok, perr := h.join.Format.Mint(h.join.Keys, a, g, h.now().Add(-h.backdate).UnixMilli())
	if perr != nil {
		return []doctor.TokenProblem{{Code: perr.Code(), Message: perr.Reason()}}
	}
	role := g.Role
	rep := inspect.Inspect(tok, inspect.Options{SDKKey: h.join.Keys.Key(), MeetingNumber: a.Meeting, Role: &role, At: h.now()})
	var out []doctor.TokenProblem
	for _, f := range rep.Findings {
		if f.Severity == inspect.Error {
			out = append(out, doctor.TokenProblem{Code: f.Code, Message: f.Message})
		}
	}
	return out
}

// doctorURLs are the doctor routes' links by the handler they diagnose.
var doctorURLs sync.Map // handlerKey -> link

// doctorExplains are the refusals the doctor can explain further than
// their reason does: it finds out why Zoom or the account says no.
var doctorExplains = []string{
	connect.CodeNotConnected, connect.CodeGrantRevoked, connect.CodeOBFMeeting, join.CodeRegistrationApproval,
	zoomapi.CodeMeetingInvalid, zoomapi.CodeRegistrationClosed, zoomapi.CodeRegistrationNotAllowed,
	zoomapi.CodeUserNotFound, join.CodeZAKMissing, zoomapi.CodeAPIAnswer,
}

// doctorLink is the Link header of a refusal the doctor explains further.
func doctorLink(key handlerKey, code string) string {
	url, ok := doctorURLs.Load(key)
	if !ok || !slices.Contains(doctorExplains, code) {
		return ""
	}
	return "<" + strings.ReplaceAll(url.(string), ">", "%3E") + `>; rel="zoom-doctor"`
}

// UnmarshalCaddyfile sets up the doctor route from Caddyfile tokens.
// Syntax:
//
//	zoom_doctor [<matcher>] [<handler name>] {
//		for        <handler name>
//		per_minute <n>
//		cache_for  <duration>
//		link       <path>
//	}
func (d *Doctor) UnmarshalCaddyfile(disp *caddyfile.Dispenser) error {
	disp.Next() // the directive
	if disp.NextArg() {
		d.For = disp.Val()
	}
	if disp.NextArg() {
		return disp.ArgErr()
	}
	for disp.NextBlock(0) {
		switch disp.Val() {
		case "for":
			if !disp.AllArgs(&d.For) {
				return disp.ArgErr()
			}
		case "per_minute":
			var v string
			if !disp.AllArgs(&v) {
				return disp.ArgErr()
			}
			n, err := strconv.Atoi(v)
			if err != nil {
				return disp.Errf("per_minute %q is not a whole number; use 1 to 600", v)
			}
			d.PerMinute = n
		case "cache_for":
			var v string
			if !disp.AllArgs(&v) {
				return disp.ArgErr()
			}
			dur, err := caddy.ParseDuration(v)
			if err != nil {
				return disp.Errf("cache_for %q is not a duration, such as 30s", v)
			}
			d.CacheFor = caddy.Duration(dur)
		case "link":
			if !disp.AllArgs(&d.Link) {
				return disp.ArgErr()
			}
		default:
			return disp.Errf("zoom_doctor has no option %q; its options are for, per_minute, cache_for and link", disp.Val())
		}
	}
	return nil
}

func parseDoctorCaddyfile(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	d := new(Doctor)
	err := d.UnmarshalCaddyfile(h.Dispenser)
	return d, err
}
