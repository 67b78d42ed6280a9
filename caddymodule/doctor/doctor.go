// Package doctor names why a Zoom Meeting SDK join fails, before the join
// or right after it. The glue gathers Facts (what the site would sign for
// this user and meeting, what Zoom's API says of the meeting, its host and
// its clock, whether the user's Zoom account is connected) and Diagnose
// turns them into Findings, each with a stable code, the SDK error codes it
// explains, the cause in plain words, the evidence and the fix. It is a
// function of values: no Caddy, no HTTP, table-tested.
//
// The catalogue behind it is ../shared/reference/join-failures.md. Two of
// Zoom's own doc defects are kept out on purpose: 3000 and 3005 are
// "another meeting running" and "email required" as the SDK's code table
// maps them (the docs swap their names), and 3711 is "can not be host in
// another account's meeting", not "cannot host concurrently".
package doctor

import (
	"cmp"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/zoomsig/caddy-zoom-signature/caddymodule/zoomapi"
)

// Severity says whether a finding stops the join.
type Severity uint8

// Severities, worst first.
const (
	// Error: the join fails as things stand.
	Error Severity = iota
	// Warn: the join may fail, or waits, or the doctor could not check.
	Warn
	// Info: a fact worth knowing; nothing to fix.
	Info
)

var severityNames = [...]string{"error", "warn", "info"}

func (s Severity) String() string { return severityNames[s] }

// MarshalJSON writes the severity's name.
func (s Severity) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// UnmarshalJSON reads a severity's name.
func (s *Severity) UnmarshalJSON(b []byte) error {
	var name string
	if err := json.Unmarshal(b, &name); err != nil {
		return err
	}
	i := slices.Index(severityNames[:], name)
	if i < 0 {
		return &json.UnsupportedValueError{Str: name}
	}
	*s = Severity(i)
	return nil
}

// Finding codes. Each one's SDK codes are in sdkCodes, the one table of
// which SDK errors a finding explains.
const (
	SignatureInvalid     = "signature_invalid"
	ClockSkew            = "clock_skew"
	ZoomAPICredentials   = "zoom_api_credentials"
	ZoomAPIScopeMissing  = "zoom_api_scope_missing"
	ZoomAPIMissing       = "zoom_api_missing"
	ZoomUnreachable      = "zoom_unreachable"
	MeetingNotFound      = "meeting_not_found"
	MeetingExternal      = "meeting_external"
	HostExternalMeeting  = "host_external_meeting"
	RegistrationRequired = "registration_required"
	RegistrationApproval = "registration_needs_approval"
	AuthenticatedOnly    = "meeting_authenticated_only"
	WebinarEmailRequired = "webinar_email_required"
	WebinarHostEmail     = "webinar_host_email"
	PasscodeMissing      = "passcode_missing"
	PasscodeMismatch     = "passcode_mismatch"
	WaitingForHost       = "waiting_for_host"
	HostInactive         = "host_inactive"
	ZAKNotHost           = "zak_not_host"
	MeetingE2EE          = "meeting_e2ee"
	SDKTooOld            = "sdk_too_old"
	SiteRefuses          = "site_refuses"
	OK                   = "ok"
)

// sdkCodes are the SDK error codes each finding explains: the codes the
// web Meeting SDK 6.x shows the page (join-failures.md, section 2.1).
var sdkCodes = map[string][]int{
	SignatureInvalid:     {3712, 3705, 3706, 3708},
	ClockSkew:            {3712, 3705},
	MeetingNotFound:      {3001, 3610, 3707},
	MeetingExternal:      {4012, 4011},
	HostExternalMeeting:  {3711},
	RegistrationRequired: {3099},
	RegistrationApproval: {3099},
	AuthenticatedOnly:    {3100, 3051, 3052, 6024, 3034},
	WebinarEmailRequired: {3005},
	WebinarHostEmail:     {3627},
	PasscodeMissing:      {3004},
	PasscodeMismatch:     {3004},
	WaitingForHost:       {3008},
	HostInactive:         {3625},
	ZAKNotHost:           {3003, 3709, 3624},
	MeetingE2EE:          {3603, 3611},
	SDKTooOld:            {10000},
}

// Codes lists every finding code with the SDK codes it explains, for the
// README's table and for tests.
func Codes() map[string][]int {
	out := map[string][]int{}
	for _, c := range []string{SignatureInvalid, ClockSkew, ZoomAPICredentials, ZoomAPIScopeMissing, ZoomAPIMissing, ZoomUnreachable,
		MeetingNotFound, MeetingExternal, HostExternalMeeting, RegistrationRequired, RegistrationApproval, AuthenticatedOnly,
		WebinarEmailRequired, WebinarHostEmail, PasscodeMissing, PasscodeMismatch, WaitingForHost, HostInactive, ZAKNotHost,
		MeetingE2EE, SDKTooOld, SiteRefuses, OK} {
		out[c] = slices.Clone(sdkCodes[c])
	}
	return out
}

// Explains says whether a finding code explains the SDK code.
func Explains(code string, sdkCode int) bool { return slices.Contains(sdkCodes[code], sdkCode) }

// Finding is one diagnosis.
type Finding struct {
	Code     string   `json:"code"`
	Severity Severity `json:"severity"`
	SDKCodes []int    `json:"sdkCodes"`
	// Cause in plain words. Never a secret, a token, a passcode or Zoom's
	// own text.
	Cause string `json:"cause"`
	Fix   string `json:"fix"`
	// Evidence: what was checked, one fact a line.
	Evidence []string `json:"evidence"`
}

// Report is the doctor's answer for one meeting.
type Report struct {
	Meeting  string    `json:"meeting"`
	Findings []Finding `json:"findings"`
}

// HasErrors says whether any finding stops the join.
func (r Report) HasErrors() bool {
	return slices.ContainsFunc(r.Findings, func(f Finding) bool { return f.Severity == Error })
}

// Codes are the report's finding codes, in order.
func (r Report) Codes() []string {
	out := make([]string, len(r.Findings))
	for i, f := range r.Findings {
		out[i] = f.Code
	}
	return out
}

func find(code string, sev Severity, cause, fix string, evidence ...string) Finding {
	// Empty lists, not null, for pages that iterate them.
	return Finding{Code: code, Severity: sev, SDKCodes: append([]int{}, sdkCodes[code]...), Cause: cause, Fix: fix, Evidence: append([]string{}, evidence...)}
}

// Versions of the web Meeting SDK the doctor compares a page's with.
const (
	// TestedSDK is the version the module's browser suite joins with.
	TestedSDK = "6.2.0"
	// MinimumSDK is the oldest web SDK that takes the module's joins as
	// written: the JWT's appKey is required from 5.0.0 on, and older ones
	// predate Zoom's quarterly minimum (10000) by more than a year.
	MinimumSDK = "5.0.0"
	// OBFSDK is the first web SDK with the obfToken join option (4.1.0).
	OBFSDK = "4.1.0"
)

// Facts are what the glue found out, as values.
type Facts struct {
	// Meeting is the meeting number (digits); Role the role asked for.
	Meeting string
	Role    int
	// SDKCode is the code the SDK showed (0: none); SDKVersion the page's
	// web SDK version ("": not known).
	SDKCode    int
	SDKVersion string

	Site Site
	// Token are the error-level problems of the token the site would
	// mint, as package inspect names them: code and message.
	Token []TokenProblem

	// Zoom is what the account's Server-to-Server app found; nil without
	// zoom_api.
	Zoom *ZoomFacts
	// Now is this machine's clock when the facts were gathered.
	Now time.Time

	// User is the joining user's Zoom side.
	User UserFacts

	// Join is what the page joined with, when it said (nil: not known).
	Join JoinFacts
}

// Site is what the site's configuration does for this join.
type Site struct {
	// Handler names the handler diagnosed.
	Handler string
	// Format is the signature format: "meeting" or "websdk1".
	Format string
	// KeyIsAPIApp: the SDK key is the Server-to-Server or user OAuth app's
	// client ID (a different app from the Meeting SDK's).
	KeyIsAPIApp bool
	// SecretHasSpace: the resolved secret has leading or trailing white
	// space.
	SecretHasSpace bool
	// Backdate is how far iat is set in the past; Lifetime is exp - iat.
	Backdate, Lifetime time.Duration
	// Refusal is the site's own refusal of this join (policy, session), by
	// its code and reason, "" when it would sign.
	RefusalCode, RefusalReason string
	// Granted is the role the site would sign (a downgrade shows here).
	Granted int
	// ZAK: the site fetches a ZAK for host joins; ZAKUser is whose (as
	// resolved for this user, "" when the mapping gives nobody).
	ZAK     bool
	ZAKUser string
	// OBF: the site writes OBF tokens (obf block).
	OBF bool
	// Demo: the site signs with the demo's fake credentials.
	Demo bool
	// PasscodeMode is how the site writes the meeting's passcode from
	// Zoom: "" (it does not), "fill" (when the backend sent none) or
	// "always".
	PasscodeMode string
	// Registrant: the site registers users; RegistrantEmail is the email
	// it would register this user with.
	Registrant      bool
	RegistrantEmail string
	// FillsEmail: the site writes userEmail itself (a fill rule).
	FillsEmail bool
}

// TokenProblem is one error-level problem package inspect found.
type TokenProblem struct{ Code, Message string }

// ZoomFacts is what the account's Server-to-Server app saw.
type ZoomFacts struct {
	// Err is why nothing could be asked: CodeOAuthRefused for refused
	// credentials, another code when Zoom could not be reached.
	ErrCode string
	Details zoomapi.Details
	// ZAKOwner is the Zoom user the ZAK would be fetched for, looked up
	// (nil when not looked up or not found).
	ZAKOwner *zoomapi.User
}

// UserFacts is the joining user's connected Zoom account.
type UserFacts struct {
	// Connected: the site user has a grant that Zoom still honours.
	Connected bool
	// OBFErrCode is the code of the refusal of an OBF token for this
	// meeting ("" when one was had or none was asked).
	OBFErrCode string
	// OBFAsked: an OBF token was asked for.
	OBFAsked bool
}

// JoinFacts is what the page joined with: nil pointers are unknown.
type JoinFacts struct {
	Passcode *string
	Email    *string
}

// OBFMeetingInvalid is package connect's code for an OBF token Zoom would
// not issue for the meeting (404 code 3001: no such meeting anywhere).
const OBFMeetingInvalid = "obf_meeting_invalid"

// Diagnose names every finding the facts support, those that explain
// f.SDKCode first, then by severity; "ok" alone when nothing is wrong.
func Diagnose(f Facts) Report {
	// A join the site refuses goes no further: the refusal is the answer.
	out := checkSite(&f)
	if out == nil {
		for _, check := range checks {
			out = append(out, check(&f)...)
		}
	}
	if !slices.ContainsFunc(out, func(x Finding) bool { return x.Severity != Info }) {
		out = append(out, find(OK, Info, "nothing the doctor can check stands in the way of this join", "",
			"meeting "+f.Meeting+", role "+strconv.Itoa(f.Role)))
	}
	slices.SortStableFunc(out, func(a, b Finding) int {
		ea, eb := f.SDKCode != 0 && slices.Contains(a.SDKCodes, f.SDKCode), f.SDKCode != 0 && slices.Contains(b.SDKCodes, f.SDKCode)
		if ea != eb {
			if ea {
				return -1
			}
			return 1
		}
		return cmp.Compare(a.Severity, b.Severity)
	})
	return Report{Meeting: f.Meeting, Findings: out}
}

// checks run in the order a join meets the walls once the site signs it:
// the signature, Zoom's API, the meeting, the page.
var checks = []func(*Facts) []Finding{
	checkSignature, checkClock, checkZoomAPI, checkMeeting, checkSDK,
}

func checkSite(f *Facts) []Finding {
	if f.Site.RefusalCode == "" {
		return nil
	}
	return []Finding{find(SiteRefuses, Error,
		"the site itself refuses this join ("+f.Site.RefusalCode+"): "+f.Site.RefusalReason,
		"act on the refusal's reason; the page gets the same refusal instead of a signature",
		"handler "+f.Site.Handler+" answers "+f.Site.RefusalCode)}
}

func checkSignature(f *Facts) []Finding {
	var out []Finding
	s := f.Site
	if s.Format == "websdk1" {
		out = append(out, find(SignatureInvalid, Error,
			"the site mints legacy Web SDK 1.x signatures, which Web SDK 2.7 and later refuse as invalid",
			"set sdk meeting in the handler (and update the page to a current web SDK)",
			"handler "+s.Handler+": sdk websdk1"))
	}
	if s.Demo {
		out = append(out, find(SignatureInvalid, Error,
			"the site signs with the demo's fake SDK key and secret, whose tokens join no real meeting",
			"set the environment variables or files that sdk_key and sdk_secret name to the Meeting SDK app's Client ID and secret",
			"handler "+s.Handler+" runs on the demo credentials"))
	}
	if s.KeyIsAPIApp {
		out = append(out, find(SignatureInvalid, Error,
			"the SDK key is the client ID of the Server-to-Server or user OAuth app, not of the Meeting SDK app, so Zoom cannot verify the signature",
			"set sdk_key and sdk_secret to the Client ID and Client secret of the app whose Embed tab enables the Meeting SDK",
			"sdk_key equals the client ID of another configured Zoom app"))
	}
	if len(f.Token) > 0 && s.Format != "websdk1" { // a 1.x token fails as a whole, said above
		ev := []string{}
		for _, p := range f.Token {
			ev = append(ev, p.Code+": "+p.Message)
		}
		out = append(out, find(SignatureInvalid, Error,
			"the token the site would mint breaks a rule Zoom checks",
			"see each problem's fix; `caddy zoom-signature inspect` explains a token in full", ev...))
	}
	if s.SecretHasSpace {
		out = append(out, find(SignatureInvalid, Warn,
			"the SDK secret has leading or trailing white space; Zoom compares it byte for byte",
			"remove the white space from the variable or file sdk_secret names",
			"the resolved sdk_secret differs from its trimmed form"))
	}
	return out
}

func checkClock(f *Facts) []Finding {
	z := f.Zoom
	if z == nil || z.Details.ZoomTime.IsZero() {
		return nil
	}
	d := z.Details
	// Our clock at the moment Zoom stamped its Date is somewhere between
	// Sent and Received; Date has whole seconds.
	mid := d.Sent.Add(d.Received.Sub(d.Sent) / 2)
	skew := mid.Sub(d.ZoomTime)
	slack := d.Received.Sub(d.Sent)/2 + time.Second
	ev := []string{
		"this machine's clock: " + mid.UTC().Format(time.RFC3339),
		"Zoom's clock (the Date of its API answer): " + d.ZoomTime.UTC().Format(time.RFC3339),
		"difference: " + signed(skew.Round(time.Second)) + " (± " + slack.Round(time.Second).String() + ")",
		"iat is back-dated by " + f.Site.Backdate.String(),
	}
	switch {
	case skew-slack > f.Site.Backdate:
		return []Finding{find(ClockSkew, Error,
			"this machine's clock runs ahead of Zoom's by more than the back-dating covers, so Zoom sees tokens issued in the future",
			"synchronise the clock (NTP: timedatectl set-ntp true), or raise backdate above the difference", ev...)}
	case -skew-slack > 5*time.Minute:
		return []Finding{find(ClockSkew, Warn,
			"this machine's clock runs behind Zoom's, so tokens reach Zoom older than they are and expire early",
			"synchronise the clock (NTP: timedatectl set-ntp true)", ev...)}
	}
	return nil
}

func signed(d time.Duration) string {
	if d >= 0 {
		return "+" + d.String()
	}
	return d.String()
}

func checkZoomAPI(f *Facts) []Finding {
	z := f.Zoom
	switch {
	case z == nil:
		return []Finding{find(ZoomAPIMissing, Warn,
			"the handler has no zoom_api app, so neither the site nor the doctor can ask Zoom about the meeting",
			"add a zoom_api block with the account's Server-to-Server OAuth app (scopes "+zoomapi.ScopeMeetingRead+", "+zoomapi.ScopeWebinarRead+", "+zoomapi.ScopeUserRead+")",
			"handler "+f.Site.Handler+" has no zoom_api")}
	case z.ErrCode == zoomapi.CodeOAuthRefused:
		return []Finding{find(ZoomAPICredentials, Error,
			"Zoom's OAuth server refuses the Server-to-Server app's credentials",
			"check account_id, client_id and client_secret of zoom_api against the app's App Credentials page, and that the app is activated",
			"the account_credentials grant was refused")}
	case z.ErrCode == zoomapi.CodeMeetingInvalid:
		// Zoom's code 300: not a meeting number it knows, anywhere.
		return []Finding{find(MeetingNotFound, Error,
			"Zoom says "+f.Meeting+" is not a valid meeting number",
			"check the number (a typo, a deleted or expired meeting, a personal link name instead of the number)",
			"Zoom answered the meeting lookup with code 300")}
	case z.ErrCode != "":
		return []Finding{find(ZoomUnreachable, Warn,
			"Zoom's API could not be asked, so the meeting was not checked",
			"try again shortly; if it persists, check this machine's route to Zoom and the zoom_api timeout",
			"the lookup failed: "+z.ErrCode)}
	}
	var out []Finding
	for _, s := range z.Details.MissingScopes {
		sev := Warn
		if s == zoomapi.ScopeMeetingRead || s == zoomapi.ScopeZAK && f.Role == 1 && f.Site.ZAK {
			sev = Error // the module's own steps need these
		}
		out = append(out, find(ZoomAPIScopeMissing, sev,
			"the Server-to-Server app lacks the scope "+s+", so Zoom refuses the calls that need it",
			"add "+s+" to the app's scopes on its Marketplace page (Scopes tab), then re-activate it if Zoom asks",
			"Zoom answered code 4711 for a call that needs "+s))
	}
	return out
}

func checkMeeting(f *Facts) []Finding {
	z := f.Zoom
	if z == nil || z.ErrCode != "" || slices.Contains(z.Details.MissingScopes, zoomapi.ScopeMeetingRead) {
		return nil
	}
	if !z.Details.Found {
		return notInAccount(f)
	}
	var out []Finding
	for _, c := range meetingChecks {
		out = append(out, c(f, z.Details)...)
	}
	return out
}

func notInAccount(f *Facts) []Finding {
	u, s := f.User, f.Site
	looked := "Zoom's API has no meeting or webinar " + f.Meeting + " in the app's account"
	if u.OBFAsked && u.OBFErrCode == OBFMeetingInvalid {
		return []Finding{find(MeetingNotFound, Error,
			"no meeting "+f.Meeting+" exists: it is not the account's, and Zoom would not issue an OBF token for it to the user's own Zoom account either",
			"check the number (a typo, a deleted or expired meeting, a personal link name instead of the number)",
			looked, "Zoom refused an OBF token for this number to the connected user")}
	}
	if f.Role == 1 {
		return []Finding{find(HostExternalMeeting, Error,
			"role 1 (host) was asked for a meeting outside the app's account; Zoom lets no app host another account's meeting",
			"join as an attendee (role 0), or start the meeting with a ZAK of its host from an app of the host's account",
			looked)}
	}
	connected := "the user has not connected a Zoom account"
	if u.Connected {
		connected = "the user has connected a Zoom account"
	}
	switch {
	case !s.OBF:
		return []Finding{find(MeetingExternal, Error,
			"the meeting is outside the app's account (or does not exist); since 2026-03-02 such joins need an OBF token or the host's ZAK, and anonymous ones fail with 4012",
			"add an obf block and the connect routes so users connect their Zoom accounts; the app must also pass Zoom's review for external meetings (4011)",
			looked, "the handler has no obf block", connected)}
	case !u.Connected:
		return []Finding{find(MeetingExternal, Error,
			"the meeting is outside the app's account, and this user has not connected a Zoom account, so the site has no OBF token to give",
			"have the user connect their Zoom account at the site's connect route, then join again",
			looked, connected)}
	case u.OBFErrCode != "":
		return []Finding{find(MeetingExternal, Warn,
			"the meeting is outside the app's account; the user is connected, but Zoom did not issue an OBF token just now ("+u.OBFErrCode+")",
			"see the refusal's code in the README's errors table; try the join again shortly",
			looked, connected)}
	}
	return []Finding{find(MeetingExternal, Info,
		"the meeting is outside the app's account; the site joins it with an OBF token of the user's connected Zoom account",
		"nothing to do; if Zoom answers 4011, the app needs Zoom's review for external meetings",
		looked, connected)}
}

var meetingChecks = []func(*Facts, zoomapi.Details) []Finding{
	checkRegistration, checkAuthentication, checkWebinar, checkPasscode, checkWaiting, checkHost, checkE2EE,
}

func checkRegistration(f *Facts, d zoomapi.Details) []Finding {
	if d.ApprovalType == nil || *d.ApprovalType == 2 || f.Role == 1 {
		return nil
	}
	ev := "settings.approval_type is " + strconv.Itoa(*d.ApprovalType)
	switch {
	case *d.ApprovalType == 1:
		return []Finding{find(RegistrationApproval, Error,
			"registrations need the host's manual approval, so a registration gives no usable tk at once",
			"set registration to automatic approval in the meeting's settings, or approve the user's registration before the join",
			ev)}
	case !f.Site.Registrant:
		return []Finding{find(RegistrationRequired, Error,
			"the meeting requires registration, and the site does not register users, so the join has no tk",
			"add a registrant step to the handler (it registers the user and writes tk and userEmail), or turn registration off",
			ev, "the handler has no registrant step")}
	case f.Site.RegistrantEmail == "":
		return []Finding{find(RegistrationRequired, Error,
			"the meeting requires registration, but the registrant step has no email for this user",
			"point the registrant email at a placeholder that holds the user's email (a session claim, or {http.auth.user.id}@your-domain)",
			ev, "the registrant email resolves to nothing for this user")}
	}
	return nil
}

func checkAuthentication(f *Facts, d zoomapi.Details) []Finding {
	var ev []string
	if d.MeetingAuthentication {
		ev = append(ev, "settings.meeting_authentication is on")
	}
	if d.EnforceLogin {
		ev = append(ev, "settings.enforce_login is on")
	}
	if d.HostOnlyAuthenticatedFromWeb {
		ev = append(ev, "the host's setting only_authenticated_can_join_from_webclient is on")
	}
	if len(ev) == 0 || f.Role == 1 && f.Site.ZAK {
		return nil
	}
	if d.AuthenticationDomains != "" {
		ev = append(ev, "authentication_domains: "+d.AuthenticationDomains)
	}
	return []Finding{find(AuthenticatedOnly, Error,
		"only signed-in Zoom users may join this meeting (from the web client), and the site joins this user anonymously",
		"turn off \"only authenticated users can join\" for this meeting (and the host's web-client setting), or join with a ZAK of a permitted Zoom user",
		ev...)}
}

func checkWebinar(f *Facts, d zoomapi.Details) []Finding {
	if !d.Webinar || f.Role == 1 {
		return nil
	}
	email, known := "", false
	switch {
	case f.Join.Email != nil:
		email, known = *f.Join.Email, true
	case f.Site.Registrant && f.Site.RegistrantEmail != "":
		email, known = f.Site.RegistrantEmail, true
	}
	switch {
	case known && email == "":
		return []Finding{find(WebinarEmailRequired, Error,
			"a webinar's attendees must send userEmail, and this join sends none",
			"write userEmail into the join config (a fill rule from the user's email claim, or the registrant step)",
			"meeting "+f.Meeting+" is a webinar", "the join's userEmail is empty")}
	case !known && !f.Site.FillsEmail:
		return []Finding{find(WebinarEmailRequired, Warn,
			"a webinar's attendees must send userEmail, and the site does not write it; only the backend can",
			"write userEmail into the join config (a fill rule from the user's email claim, or the registrant step), or make sure the backend sends it",
			"meeting "+f.Meeting+" is a webinar", "no fill rule or registrant step writes userEmail")}
	case known && d.HostEmail != "" && strings.EqualFold(email, d.HostEmail):
		return []Finding{find(WebinarHostEmail, Error,
			"the attendee's userEmail is the webinar host's email, which Zoom refuses for attendees",
			"join as the host with role 1 and a ZAK, or use the attendee's own email",
			"meeting "+f.Meeting+" is a webinar", "userEmail equals host_email")}
	}
	return nil
}

func checkPasscode(f *Facts, d zoomapi.Details) []Finding {
	if d.Passcode == "" {
		return nil
	}
	p := f.Join.Passcode
	switch {
	case p != nil && *p == "":
		return []Finding{find(PasscodeMissing, Error,
			"the meeting has a passcode and the join sent none",
			"let the site fill it (passcode fill or always, with zoom_api), or have the backend send passWord",
			"the meeting has a passcode", "the join's passcode is empty")}
	case p != nil && *p != d.Passcode:
		return []Finding{find(PasscodeMismatch, Error,
			"the join's passcode is not the meeting's (an invite link's pwd= value is not the passcode, and passcodes change when a meeting is edited)",
			"let the site write the passcode from Zoom (passcode always), or fix what the backend sends",
			"the meeting has a passcode", "the join's passcode differs from it")}
	case p == nil && f.Site.PasscodeMode == "":
		return []Finding{find(PasscodeMissing, Warn,
			"the meeting has a passcode and the site does not write it, so only the backend can",
			"let the site fill it (passcode fill, with zoom_api), or make sure the backend sends passWord",
			"the meeting has a passcode", "the handler has no passcode step")}
	case p == nil && f.Site.PasscodeMode == "fill" && f.SDKCode == 3004:
		// The doctor's route takes no passcode to compare (it would be an
		// oracle for guessing one), but the SDK's 3004 says what it saw.
		return []Finding{find(PasscodeMismatch, Warn,
			"the SDK says the passcode is wrong, and with passcode fill the site keeps whatever passcode the backend sent, which may be stale",
			"set passcode always, so the site writes Zoom's current passcode over the backend's",
			"the meeting has a passcode", "passcode fill keeps the backend's value", "the SDK answered 3004")}
	}
	return nil
}

func checkWaiting(f *Facts, d zoomapi.Details) []Finding {
	if f.Role == 1 || d.JoinBeforeHost || d.Status != "waiting" {
		return nil
	}
	return []Finding{find(WaitingForHost, Warn,
		"the meeting has not started and join before host is off, so the page waits until the host starts it",
		"nothing, if waiting is expected; otherwise start the meeting, or allow join before host",
		"status: waiting", "settings.join_before_host is off")}
}

func checkHost(f *Facts, d zoomapi.Details) []Finding {
	var out []Finding
	if d.Host != nil && !d.Host.Active {
		out = append(out, find(HostInactive, Error,
			"the meeting's host is deactivated, so Zoom lets nobody join",
			"reactivate the host in the account's user management, or move the meeting to an active user",
			"GET /users/{host_id}: status is not active"))
	}
	if f.Role != 1 {
		return out
	}
	if !f.Site.ZAK {
		return append(out, find(ZAKNotHost, Warn,
			"a host join without the host's ZAK cannot start the meeting",
			"add a zak block (and require_zak_for_host) so host joins carry the host's ZAK",
			"role 1, and the handler has no zak block"))
	}
	who := []string{strings.ToLower(f.Site.ZAKUser)}
	if o := f.Zoom.ZAKOwner; o != nil {
		who = append(who, strings.ToLower(o.ID), strings.ToLower(o.Email))
	}
	hosts := append([]string{strings.ToLower(d.HostID), strings.ToLower(d.HostEmail)}, d.AlternativeHosts...)
	for _, w := range who {
		if w != "" && slices.Contains(hosts, w) {
			return out
		}
	}
	return append(out, find(ZAKNotHost, Error,
		"the ZAK would be the Zoom user "+quoteOrNobody(f.Site.ZAKUser)+"'s, who is neither the meeting's host nor an alternative host",
		"map this site user to the host's Zoom user (the zak user option), or add them as an alternative host",
		"host_id and alternative_hosts do not include the ZAK's user"))
}

func quoteOrNobody(s string) string {
	if s == "" {
		return "(nobody)"
	}
	return strconv.Quote(s)
}

func checkE2EE(_ *Facts, d zoomapi.Details) []Finding {
	if d.EncryptionType != "e2ee" {
		return nil
	}
	return []Finding{find(MeetingE2EE, Error,
		"the meeting uses end-to-end encryption, which web clients (and so the web SDK) cannot join",
		"switch the meeting to enhanced encryption, or join with Zoom's desktop or mobile client",
		"settings.encryption_type: e2ee")}
}

func checkSDK(f *Facts) []Finding {
	v, ok := parseVersion(f.SDKVersion)
	if !ok {
		return nil
	}
	ev := "the page's web SDK: " + f.SDKVersion
	obf := f.Site.OBF && f.User.Connected && f.Zoom != nil && f.Zoom.ErrCode == "" && !f.Zoom.Details.Found
	switch {
	case obf && less(v, mustVersion(OBFSDK)):
		return []Finding{find(SDKTooOld, Error,
			"this join needs an OBF token, and web SDKs before "+OBFSDK+" have no obfToken option",
			"update @zoom/meetingsdk to "+TestedSDK+" or later", ev)}
	case less(v, mustVersion(MinimumSDK)):
		return []Finding{find(SDKTooOld, Error,
			"the page's web SDK is older than "+MinimumSDK+", below what Zoom still supports",
			"update @zoom/meetingsdk to "+TestedSDK+" or later", ev)}
	case less(v, mustVersion(TestedSDK)):
		return []Finding{find(SDKTooOld, Warn,
			"the page's web SDK is older than "+TestedSDK+", the version this module is tested with; Zoom raises its minimum every quarter",
			"update @zoom/meetingsdk to "+TestedSDK+" or later", ev)}
	}
	return nil
}

type version [3]int

func parseVersion(s string) (version, bool) {
	var v version
	s = strings.TrimPrefix(strings.TrimSpace(s), "v")
	s, _, _ = strings.Cut(s, "-")
	parts := strings.Split(s, ".")
	if len(parts) < 2 || len(parts) > 3 {
		return v, false
	}
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || n > 9999 {
			return v, false
		}
		v[i] = n
	}
	return v, true
}

func mustVersion(s string) version { v, _ := parseVersion(s); return v }

func less(a, b version) bool { return slices.Compare(a[:], b[:]) < 0 }
