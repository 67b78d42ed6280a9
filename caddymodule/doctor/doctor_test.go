package doctor

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/zoomsig/caddy-zoom-signature/caddymodule/zoomapi"
)

var t0 = time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)

func ptr[T any](v T) *T { return &v }

// healthy is an own-account meeting that a well-configured site joins.
func healthy() Facts {
	return Facts{
		Meeting: "85746065432",
		Now:     t0,
		Site: Site{Handler: "join", Format: "meeting", Backdate: 30 * time.Second, Lifetime: 2 * time.Hour,
			ZAK: true, ZAKUser: "alice@example.com", PasscodeMode: "always"},
		Zoom: &ZoomFacts{Details: zoomapi.Details{
			Found: true, Status: "waiting", HostID: "host-1", HostEmail: "alice@example.com",
			Passcode: "e3Rf9k", ApprovalType: ptr(2), JoinBeforeHost: true, EncryptionType: "enhanced_encryption",
			Host:     &zoomapi.User{ID: "host-1", Email: "alice@example.com", Active: true},
			ZoomTime: t0, Sent: t0.Add(-100 * time.Millisecond), Received: t0.Add(100 * time.Millisecond),
		}},
	}
}

func TestDiagnose(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(*Facts)
		codes []string // exactly these, in this order
		sev   Severity // of the first
	}{
		{"healthy", func(*Facts) {}, []string{"ok"}, Info},
		{"healthy host", func(f *Facts) { f.Role = 1 }, []string{"ok"}, Info},
		{"site refuses", func(f *Facts) { f.Site.RefusalCode, f.Site.RefusalReason = "host_not_allowed", "role 1 is not allowed" }, []string{"site_refuses"}, Error},
		{"site refuses, nothing else counts", func(f *Facts) {
			f.Site.RefusalCode, f.Site.RefusalReason = "meeting_not_allowed", "not yours"
			f.Zoom = nil
			f.SDKVersion = "1.0.0"
		}, []string{"site_refuses"}, Error},
		{"websdk1", func(f *Facts) {
			f.Site.Format = "websdk1"
			f.Token = []TokenProblem{{"legacy_format", "a Web SDK 1.x signature"}}
		}, []string{"signature_invalid"}, Error},
		{"key of another app", func(f *Facts) { f.Site.KeyIsAPIApp = true }, []string{"signature_invalid"}, Error},
		{"token problem", func(f *Facts) { f.Token = []TokenProblem{{"app_key_missing", "no appKey"}} }, []string{"signature_invalid"}, Error},
		{"secret with space", func(f *Facts) { f.Site.SecretHasSpace = true }, []string{"signature_invalid"}, Warn},
		{"clock ahead", func(f *Facts) { f.Zoom.Details.ZoomTime = t0.Add(-2 * time.Minute) }, []string{"clock_skew"}, Error},
		{"clock ahead within backdate", func(f *Facts) { f.Zoom.Details.ZoomTime = t0.Add(-20 * time.Second) }, []string{"ok"}, Info},
		{"clock behind", func(f *Facts) { f.Zoom.Details.ZoomTime = t0.Add(10 * time.Minute) }, []string{"clock_skew"}, Warn},
		{"clock behind a little", func(f *Facts) { f.Zoom.Details.ZoomTime = t0.Add(2 * time.Minute) }, []string{"ok"}, Info},
		{"no zoom_api", func(f *Facts) { f.Zoom = nil }, []string{"zoom_api_missing"}, Warn},
		{"credentials refused", func(f *Facts) { f.Zoom = &ZoomFacts{ErrCode: zoomapi.CodeOAuthRefused} }, []string{"zoom_api_credentials"}, Error},
		{"zoom down", func(f *Facts) { f.Zoom = &ZoomFacts{ErrCode: zoomapi.CodeAPI} }, []string{"zoom_unreachable"}, Warn},
		{"zoom calls the number invalid", func(f *Facts) { f.Zoom = &ZoomFacts{ErrCode: zoomapi.CodeMeetingInvalid} }, []string{"meeting_not_found"}, Error},
		{"meeting scope", func(f *Facts) {
			f.Zoom.Details = zoomapi.Details{MissingScopes: []string{zoomapi.ScopeMeetingRead}}
		}, []string{"zoom_api_scope_missing"}, Error},
		{"user scope", func(f *Facts) {
			f.Zoom.Details.MissingScopes = []string{zoomapi.ScopeUserRead}
			f.Zoom.Details.Host = nil
		}, []string{"zoom_api_scope_missing"}, Warn},
		{"not found", func(f *Facts) {
			f.Zoom.Details = zoomapi.Details{}
			f.Site.OBF, f.User = true, UserFacts{Connected: true, OBFAsked: true, OBFErrCode: OBFMeetingInvalid}
		}, []string{"meeting_not_found"}, Error},
		{"external without obf", func(f *Facts) { f.Zoom.Details = zoomapi.Details{} }, []string{"meeting_external"}, Error},
		{"external not connected", func(f *Facts) { f.Zoom.Details = zoomapi.Details{}; f.Site.OBF = true }, []string{"meeting_external"}, Error},
		{"external connected", func(f *Facts) {
			f.Zoom.Details = zoomapi.Details{}
			f.Site.OBF, f.User = true, UserFacts{Connected: true, OBFAsked: true}
		}, []string{"meeting_external", "ok"}, Info},
		{"external obf refused for now", func(f *Facts) {
			f.Zoom.Details = zoomapi.Details{}
			f.Site.OBF, f.User = true, UserFacts{Connected: true, OBFAsked: true, OBFErrCode: "obf_rate_limited"}
		}, []string{"meeting_external"}, Warn},
		{"host of external", func(f *Facts) { f.Zoom.Details = zoomapi.Details{}; f.Role = 1 }, []string{"host_external_meeting"}, Error},
		{"registration", func(f *Facts) { f.Zoom.Details.ApprovalType = ptr(0) }, []string{"registration_required"}, Error},
		{"registration with step", func(f *Facts) {
			f.Zoom.Details.ApprovalType = ptr(0)
			f.Site.Registrant, f.Site.RegistrantEmail = true, "bob@example.com"
		}, []string{"ok"}, Info},
		{"registration without email", func(f *Facts) { f.Zoom.Details.ApprovalType = ptr(0); f.Site.Registrant = true }, []string{"registration_required"}, Error},
		{"manual approval", func(f *Facts) { f.Zoom.Details.ApprovalType = ptr(1); f.Site.Registrant = true }, []string{"registration_needs_approval"}, Error},
		{"authenticated only", func(f *Facts) { f.Zoom.Details.MeetingAuthentication = true }, []string{"meeting_authenticated_only"}, Error},
		{"host's web client setting", func(f *Facts) { f.Zoom.Details.HostOnlyAuthenticatedFromWeb = true }, []string{"meeting_authenticated_only"}, Error},
		{"authenticated only, host with ZAK", func(f *Facts) { f.Zoom.Details.MeetingAuthentication = true; f.Role = 1 }, []string{"ok"}, Info},
		{"webinar without email", func(f *Facts) { f.Zoom.Details.Webinar = true }, []string{"webinar_email_required"}, Warn},
		{"webinar empty email", func(f *Facts) { f.Zoom.Details.Webinar = true; f.Join.Email = ptr("") }, []string{"webinar_email_required"}, Error},
		{"webinar host email", func(f *Facts) { f.Zoom.Details.Webinar = true; f.Join.Email = ptr("Alice@Example.com") }, []string{"webinar_host_email"}, Error},
		{"webinar filled email", func(f *Facts) { f.Zoom.Details.Webinar = true; f.Site.FillsEmail = true }, []string{"ok"}, Info},
		{"passcode not filled", func(f *Facts) { f.Site.PasscodeMode = "" }, []string{"passcode_missing"}, Warn},
		{"passcode empty", func(f *Facts) { f.Join.Passcode = ptr("") }, []string{"passcode_missing"}, Error},
		{"passcode wrong", func(f *Facts) { f.Join.Passcode = ptr("nope") }, []string{"passcode_mismatch"}, Error},
		{"passcode right", func(f *Facts) { f.Join.Passcode = ptr("e3Rf9k"); f.Site.PasscodeMode = "" }, []string{"ok"}, Info},
		{"passcode filled, SDK says wrong", func(f *Facts) { f.Site.PasscodeMode = "fill"; f.SDKCode = 3004 }, []string{"passcode_mismatch"}, Warn},
		{"passcode filled", func(f *Facts) { f.Site.PasscodeMode = "fill" }, []string{"ok"}, Info},
		{"demo credentials", func(f *Facts) { f.Site.Demo = true }, []string{"signature_invalid"}, Error},
		{"waiting", func(f *Facts) { f.Zoom.Details.JoinBeforeHost = false }, []string{"waiting_for_host"}, Warn},
		{"started", func(f *Facts) { f.Zoom.Details.JoinBeforeHost, f.Zoom.Details.Status = false, "started" }, []string{"ok"}, Info},
		{"host inactive", func(f *Facts) { f.Zoom.Details.Host.Active = false }, []string{"host_inactive"}, Error},
		{"zak of another user", func(f *Facts) { f.Role = 1; f.Site.ZAKUser = "bob@example.com" }, []string{"zak_not_host"}, Error},
		{"zak of an alternative host", func(f *Facts) {
			f.Role = 1
			f.Site.ZAKUser = "bob@example.com"
			f.Zoom.Details.AlternativeHosts = []string{"carol@example.com", "bob@example.com"}
		}, []string{"ok"}, Info},
		{"zak owner by id", func(f *Facts) {
			f.Role = 1
			f.Site.ZAKUser = "host-1-by-other-name"
			f.Zoom.ZAKOwner = &zoomapi.User{ID: "host-1", Email: "alice@example.com", Active: true}
		}, []string{"ok"}, Info},
		{"host without zak", func(f *Facts) { f.Role = 1; f.Site.ZAK = false }, []string{"zak_not_host"}, Warn},
		{"e2ee", func(f *Facts) { f.Zoom.Details.EncryptionType = "e2ee" }, []string{"meeting_e2ee"}, Error},
		{"sdk older than tested", func(f *Facts) { f.SDKVersion = "6.1.2" }, []string{"sdk_too_old"}, Warn},
		{"sdk below minimum", func(f *Facts) { f.SDKVersion = "3.13.2" }, []string{"sdk_too_old"}, Error},
		{"sdk current", func(f *Facts) { f.SDKVersion = "6.2.0" }, []string{"ok"}, Info},
		{"sdk newer", func(f *Facts) { f.SDKVersion = "7.0.1" }, []string{"ok"}, Info},
		{"sdk version garbage", func(f *Facts) { f.SDKVersion = "latest" }, []string{"ok"}, Info},
		{"obf with an sdk before obfToken", func(f *Facts) {
			f.Zoom.Details = zoomapi.Details{}
			f.Site.OBF, f.User = true, UserFacts{Connected: true, OBFAsked: true}
			f.SDKVersion = "4.0.0"
		}, []string{"sdk_too_old", "meeting_external"}, Error},
		{"several, the SDK code's first", func(f *Facts) {
			f.Zoom.Details.EncryptionType = "e2ee"
			f.Zoom.Details.ApprovalType = ptr(0)
			f.Zoom.Details.JoinBeforeHost = false
			f.SDKCode = 3008
		}, []string{"waiting_for_host", "registration_required", "meeting_e2ee"}, Warn},
		{"several, errors before warnings", func(f *Facts) {
			f.Zoom.Details.JoinBeforeHost = false
			f.Zoom.Details.EncryptionType = "e2ee"
		}, []string{"meeting_e2ee", "waiting_for_host"}, Error},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := healthy()
			tt.edit(&f)
			r := Diagnose(f)
			if got := r.Codes(); !slices.Equal(got, tt.codes) {
				t.Fatalf("codes = %v, want %v\n%+v", got, tt.codes, r.Findings)
			}
			if r.Findings[0].Severity != tt.sev {
				t.Errorf("severity = %s, want %s", r.Findings[0].Severity, tt.sev)
			}
			if r.Meeting != f.Meeting {
				t.Errorf("meeting = %q", r.Meeting)
			}
			for _, x := range r.Findings {
				if x.Cause == "" || (x.Severity != Info && x.Fix == "") || len(x.Evidence) == 0 {
					t.Errorf("%s: a finding names its cause, fix and evidence: %+v", x.Code, x)
				}
			}
		})
	}
}

// The passcode is the meeting's secret: no finding says it, whatever the
// join sent.
func TestDiagnoseKeepsThePasscode(t *testing.T) {
	for _, sent := range []*string{nil, ptr(""), ptr("wrong1"), ptr("e3Rf9k")} {
		f := healthy()
		f.Site.PasscodeMode = ""
		f.Join.Passcode = sent
		b, _ := json.Marshal(Diagnose(f))
		if strings.Contains(string(b), "e3Rf9k") {
			t.Fatalf("the report holds the passcode: %s", b)
		}
	}
}

func TestReportJSON(t *testing.T) {
	f := healthy()
	f.Zoom.Details.EncryptionType = "e2ee"
	b, err := json.Marshal(Diagnose(f))
	if err != nil {
		t.Fatal(err)
	}
	var back struct {
		Meeting  string `json:"meeting"`
		Findings []struct {
			Code     string   `json:"code"`
			Severity string   `json:"severity"`
			SDKCodes []int    `json:"sdkCodes"`
			Cause    string   `json:"cause"`
			Fix      string   `json:"fix"`
			Evidence []string `json:"evidence"`
		} `json:"findings"`
	}
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.Meeting != "85746065432" || len(back.Findings) != 1 {
		t.Fatalf("%s", b)
	}
	x := back.Findings[0]
	if x.Code != "meeting_e2ee" || x.Severity != "error" || !slices.Equal(x.SDKCodes, []int{3603, 3611}) {
		t.Fatalf("%s", b)
	}
	var s Severity
	if err := json.Unmarshal([]byte(`"warn"`), &s); err != nil || s != Warn {
		t.Fatalf("severity round trip: %v %v", s, err)
	}
	if json.Unmarshal([]byte(`"fatal"`), &s) == nil {
		t.Fatal("an unknown severity is refused")
	}
}

// The catalogue lists the SDK codes of the table (and no finding
// claims a code twice for no reason).
func TestCodes(t *testing.T) {
	want := map[string][]int{
		"signature_invalid": {3712, 3705, 3706, 3708}, "clock_skew": {3712, 3705},
		"meeting_not_found": {3001, 3610, 3707}, "meeting_external": {4012, 4011}, "host_external_meeting": {3711},
		"registration_required": {3099}, "registration_needs_approval": {3099},
		"meeting_authenticated_only": {3100, 3051, 3052, 6024, 3034},
		"webinar_email_required":     {3005}, "webinar_host_email": {3627},
		"passcode_missing": {3004}, "passcode_mismatch": {3004}, "waiting_for_host": {3008}, "host_inactive": {3625},
		"zak_not_host": {3003, 3709, 3624}, "meeting_e2ee": {3603, 3611}, "sdk_too_old": {10000},
		"zoom_api_credentials": nil, "zoom_api_scope_missing": nil, "ok": nil,
	}
	got := Codes()
	for code, sdk := range want {
		g, ok := got[code]
		if !ok || !slices.Equal(g, sdk) && !(len(g) == 0 && len(sdk) == 0) {
			t.Errorf("%s: %v, want %v", code, g, sdk)
		}
	}
	if !Explains("meeting_external", 4012) || Explains("meeting_external", 3712) {
		t.Error("Explains")
	}
}
