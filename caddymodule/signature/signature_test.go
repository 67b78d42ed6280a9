package signature

import (
	"encoding/base64"
	"encoding/json"
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/problem"
	"strconv"
	"unicode/utf8"

	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestAppendJSString(t *testing.T) {
	for in, want := range map[string]string{
		"plain":              `"plain"`,
		`a"b\c`:              `"a\"b\\c"`,
		"<&>/\u2028\u2029":   "\"<&>/\u2028\u2029\"",
		"\b\f\n\r\t\x01\x1f": `"\b\f\n\r\t\u0001\u001f"`,
		"Café 🚀":             `"Café 🚀"`,
	} {
		if got := string(appendJSString(nil, in)); got != want {
			t.Errorf("appendJSString(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestFormatJSNumber(t *testing.T) {
	for f, want := range map[float64]string{
		0: "0", math.Copysign(0, -1): "0", 1: "1", 85746065432: "85746065432", 0.5: "0.5",
		1e21: "1e+21", 1e-7: "1e-7", math.NaN(): "NaN", -2: "-2",
	} {
		if got := formatJSNumber(f); got != want {
			t.Errorf("formatJSNumber(%v) = %s, want %s", f, got, want)
		}
	}
}

func TestParseInt(t *testing.T) {
	for _, c := range []struct {
		in   string
		want float64
		full bool
	}{
		{"1", 1, true}, {" 1 ", 1, true}, {"-1", -1, true}, {"1abc", 1, false}, {"0x1f", 31, true},
		{"1800abc", 1800, false}, {"1.5", 1, false}, {"abc", math.NaN(), false}, {"", math.NaN(), false},
	} {
		got, full := parseInt(c.in)
		if !(got == c.want || math.IsNaN(got) && math.IsNaN(c.want)) || full != c.full {
			t.Errorf("parseInt(%q) = %v,%v want %v,%v", c.in, got, full, c.want, c.full)
		}
	}
}

func TestMeetingNumbers(t *testing.T) {
	for _, c := range []struct {
		json    string
		want    string
		numeric bool
	}{
		{`"85746065432"`, "85746065432", false},
		{`"857 4606 5432"`, "85746065432", false},
		{`"857-4606-5432"`, "85746065432", false},
		{`" 123456789 "`, "123456789", false},
		{`85746065432`, "85746065432", true},
		{`8.5746065432e10`, "85746065432", true},
		{`123456789`, "123456789", true},
	} {
		mn, err := MeetingNumberFrom([]byte(c.json))
		if err != nil || mn.Digits != c.want || mn.Numeric != c.numeric {
			t.Errorf("MeetingNumberFrom(%s) = %+v, %v; want %s numeric=%v", c.json, mn, err, c.want, c.numeric)
		}
	}
	for _, bad := range []string{`"undefined"`, `""`, `"12345678"`, `"123456789012"`, `"12345678a"`, `null`,
		`true`, `{}`, `[]`, `12345678`, `123456789012`, `123456789.5`, `-123456789`, `"１２３４５６７８９"`} {
		_, err := MeetingNumberFrom([]byte(bad))
		if err == nil {
			t.Errorf("MeetingNumberFrom(%s) accepted", bad)
			continue
		}
		if e := problem.As(err).Problems; e[0].Code != CodeInvalidMeetingNumber || !strings.Contains(e[0].Reason, "9 to 11 digits") {
			t.Errorf("MeetingNumberFrom(%s) error = %+v", bad, e)
		}
	}
	if _, err := MeetingNumberFrom(nil); err == nil {
		t.Error("missing meeting number accepted")
	}
}

// TestMeetingNumberSeparators strips each separator the README's
// meeting-number-normalised entry lists, alone as well as beside a space:
// ParseMeetingNumber once stripped them only when a space, dash, tab or
// no-break space was also present, so "8574606543\n" was refused.
func TestMeetingNumberSeparators(t *testing.T) {
	seps := []rune{'-', ' ', '\t', '\n', '\v', '\f', '\r', 0xa0, 0x1680, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000, 0xfeff}
	for r := rune(0x2000); r <= 0x200a; r++ {
		seps = append(seps, r)
	}
	for _, r := range seps {
		for _, in := range []string{"8574606543" + string(r), "857" + string(r) + "4606" + string(r) + "5432", string(r) + " 8574606543"} {
			want := strings.Map(func(c rune) rune {
				if c >= '0' && c <= '9' {
					return c
				}
				return -1
			}, in)
			mn, err := ParseMeetingNumber(in)
			if err != nil || mn.Digits != want || mn.Numeric {
				t.Errorf("ParseMeetingNumber(%q) = %+v, %v; want %s", in, mn, err, want)
			}
			raw, _ := json.Marshal(in)
			if mn, err := MeetingNumberFrom(raw); err != nil || mn.Digits != want {
				t.Errorf("MeetingNumberFrom(%s) = %+v, %v; want %s", raw, mn, err, want)
			}
		}
	}
	// Not separators: JavaScript's \s has no U+180E (no longer a space
	// since Unicode 6.3), no U+200B, no U+0085, and no other punctuation.
	for _, r := range []rune{0x180e, 0x200b, 0x85, '.', '_', '+', 0x2212} {
		if mn, err := ParseMeetingNumber("8574606543" + string(r)); err == nil {
			t.Errorf("ParseMeetingNumber(%q) = %+v, want an error", "8574606543"+string(r), mn)
		}
	}
}

func TestRoleFrom(t *testing.T) {
	for in, want := range map[string]int{`0`: 0, `1`: 1, `"0"`: 0, `"1"`: 1, `1.0`: 1} {
		if got, err := RoleFrom([]byte(in)); err != nil || got != want {
			t.Errorf("RoleFrom(%s) = %d, %v", in, got, err)
		}
	}
	if got, err := RoleFrom(nil); err != nil || got != 0 {
		t.Errorf("missing role = %d, %v; want 0", got, err)
	}
	for _, bad := range []string{`2`, `-1`, `"2"`, `"1abc"`, `" 1"`, `"host"`, `null`, `true`, `0.5`, `[1]`} {
		if _, err := RoleFrom([]byte(bad)); err == nil {
			t.Errorf("RoleFrom(%s) accepted", bad)
		}
	}
}

// TestStricterThanSample lists what the sample signs and we refuse.
func TestStricterThanSample(t *testing.T) {
	for body, want := range map[string]string{
		`{"meetingNumber":"857 4606 abc","role":0}`:                       "meetingNumber: Value \"857 4606 abc\" is not a Zoom meeting number",
		`{"meetingNumber":"undefined","role":0}`:                          "is not a Zoom meeting number",
		`{"meetingNumber":"","role":0}`:                                   "is not a Zoom meeting number",
		`{"meetingNumber":null,"role":0}`:                                 "Value null is not a Zoom meeting number",
		`{"meetingNumber":123456789,"role":"1abc"}`:                       `role: Value "1abc" is not a plain number`,
		`{"meetingNumber":123456789,"role":0,"expirationSeconds":3600.5}`: "whole number",
		`5`:                     "not an object",
		`"x"`:                   "not an object",
		`{"meetingNumber":"1",`: "not valid JSON",
	} {
		_, err := ParseMeetingRequest([]byte(body))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseMeetingRequest(%s) = %v; want %q", body, err, want)
		}
	}
}

func TestNativeRequests(t *testing.T) {
	for _, body := range []string{``, `{}`, `[]`, "\xef\xbb\xbf", `{"expirationSeconds":86400}`} {
		m, err := ParseMeetingRequest([]byte(body))
		if err != nil || !m.Native {
			t.Errorf("ParseMeetingRequest(%q) = %+v, %v; want native", body, m, err)
		}
	}
	// body-parser refuses a body of white space alone (JSON.parse does),
	// where an empty body is {}.
	for _, body := range []string{" ", "\n\t ", "\xef\xbb\xbf "} {
		if _, err := ParseMeetingRequest([]byte(body)); problem.As(err).Code() != CodeInvalidBody {
			t.Errorf("ParseMeetingRequest(%q) = %v, want invalid_body", body, err)
		}
	}
	m, err := ParseMeetingRequest([]byte(`{"meetingNumber":"123456789","role":0}`))
	if err != nil || m.Native {
		t.Fatalf("meeting request parsed as native: %+v %v", m, err)
	}
}

// TestWebNativeRequests holds a web join to the README's native
// difference: a body with neither meetingNumber nor role is refused with
// meeting_number_missing whatever else is wrong with it, after the
// sample's errors and before our other checks. It once came only when the
// body was otherwise valid, so {"videoWebRtcMode":"\u00a01"} got the
// "plain number" error alone.
func TestWebNativeRequests(t *testing.T) {
	const missing, field, exp = CodeMeetingNumberMissing, CodeInvalidField, CodeInvalidExpiration
	for body, want := range map[string][]string{
		``:                                {missing},
		`{}`:                              {missing},
		`[]`:                              {missing},
		`{"expirationSeconds":86400}`:     {missing},
		`{"videoWebRtcMode":"\u00a01"}`:   {missing, field},
		`{"videoWebRtcMode":" 1"}`:        {missing, field},
		`{"expirationSeconds":5}`:         {exp, missing},
		`{"videoWebRtcMode":"x"}`:         {field, missing},
		`{"expirationSeconds":"1800.5"}`:  {missing, exp},
		`{"meetingNumber":"85746065432"}`: {CodeMissingField},
		`{"role":0}`:                      {CodeMissingField},
		`{"meetingNumber":"8574606543\n","role":0}`: nil,
	} {
		m, err := ParseWebMeetingRequest([]byte(body))
		var got []string
		if pe := problem.As(err); pe != nil {
			for _, p := range pe.Problems {
				got = append(got, p.Code)
			}
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("ParseWebMeetingRequest(%s) = %v; want codes %v", body, err, want)
		}
		if want == nil && (m.Native || m.MeetingNumber.Digits != "8574606543") {
			t.Errorf("ParseWebMeetingRequest(%s) = %+v", body, m)
		}
	}
	// The CLI still mints native tokens.
	if m, err := ParseMeetingRequest([]byte(`{}`)); err != nil || !m.Native {
		t.Errorf("ParseMeetingRequest({}) = %+v, %v; want native", m, err)
	}
}

func TestSignerRefuses(t *testing.T) {
	s := mustSigner(t, "key", "secret")
	mn := MeetingNumber{Digits: "123456789"}
	for name, m := range map[string]Meeting{
		"short lifetime": {MeetingNumber: mn, ExpiresIn: 1799},
		"long lifetime":  {MeetingNumber: mn, ExpiresIn: 172801},
		"role 2":         {MeetingNumber: mn, Role: 2, ExpiresIn: 7200},
		"no number":      {ExpiresIn: 7200},
		"bad mode":       {MeetingNumber: mn, ExpiresIn: 7200, VideoWebRTCMode: new(int(2))},
	} {
		if tok, err := s.Meeting(m); err == nil || tok != "" {
			t.Errorf("%s: got token %q, err %v", name, tok, err)
		}
	}
	if _, err := s.WebSDK1(MeetingNumber{Digits: "undefined"}, 0, 1, false); err == nil {
		t.Error("websdk1 signed undefined")
	}
	if _, err := s.Video(Video{Role: 0, ExpiresIn: 7200}); err == nil {
		t.Error("video signed an empty session name")
	}
	if _, err := NewSigner("", "x"); err == nil {
		t.Error("empty key accepted")
	}
	if _, err := NewSigner("k", ""); err == nil {
		t.Error("empty secret accepted")
	}
}

func TestSignerRedacts(t *testing.T) {
	s := mustSigner(t, "key", "top-secret-value")
	for _, f := range []string{"%v", "%+v", "%#v", "%s"} {
		if out := fmt.Sprintf(f, s); strings.Contains(out, "top-secret-value") {
			t.Errorf("%s leaks the secret: %s", f, out)
		}
	}
}

func BenchmarkMeeting(b *testing.B) {
	s := mustSigner(b, "aB3dE5gH7jK9mN1pQ3sT5v", "Zx9Cv8Bn7Mm6Ll5Kk4Jj3Hh2Gg1Ff0Dd")
	m := Meeting{MeetingNumber: MeetingNumber{Digits: "85746065432"}, Role: 1, IssuedAt: 1717171717, ExpiresIn: 7200}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Meeting(m); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVideo(b *testing.B) {
	s := mustSigner(b, "VidPubAppKey0000000001", "vS1eC2rE3tP4uB5lI6c7V8i9D0e1O2sD")
	id := "user123"
	v := Video{SessionName: "Cool Cars", Role: 1, IssuedAt: 1717171717, ExpiresIn: 7200, UserIdentity: &id}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Video(v); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWebSDK1(b *testing.B) {
	s := mustSigner(b, "Lg4cY_aPiKeY-pUb01xyzA", "r4nD0mL3g4cYs3cR3tPuBl1cAbCdEfGhIjKl")
	mn := MeetingNumber{Digits: "85746065432"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.WebSDK1(mn, 0, 1717171687123, false); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseMeetingRequest(b *testing.B) {
	body := []byte(`{"meetingNumber":"85746065432","role":1,"expirationSeconds":3600}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseMeetingRequest(body); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzParseRequests feeds arbitrary bodies to both sample parsers: they
// must never panic, and whatever they accept must mint, or fail with
// a *problem.Error, never with anything else.
func problemsOf(err error) []problem.Problem {
	if pe := problem.As(err); pe != nil {
		return pe.Problems
	}
	return nil
}

func FuzzParseRequests(f *testing.F) {
	for _, s := range []string{`{"meetingNumber":"85746065432","role":0}`, `{}`, `[]`, `{"role":"0x1"}`,
		`{"sessionName":"Café","role":1,"geoRegions":["US"," DE"]}`, `{"meetingNumber":8.5746065432e10,"role":"1abc"}`, `5`, ``,
		`{"role":` + strings.Repeat("[", 200) + `}`, strings.Repeat(`{"a":`, 70) + `0` + strings.Repeat("}", 70),
		`{"videoWebRtcMode":"\u00a01"}`, `{"meetingNumber":"8574606543\u2028","role":0}`} {
		f.Add([]byte(s))
	}
	s, _ := NewSigner("key", "secret")
	f.Fuzz(func(t *testing.T, body []byte) {
		if m, err := ParseMeetingRequest(body); err == nil {
			if m.ExpiresIn == 0 {
				m.ExpiresIn = DefaultLifetime
			}
			if _, err := s.Meeting(m); err != nil {
				t.Fatalf("accepted %q but could not sign: %v", body, err)
			}
		} else if problem.As(err) == nil {
			t.Fatalf("error of type %T", err)
		}
		// A web join is the same request, refused when it is native.
		m, err := ParseMeetingRequest(body)
		web, werr := ParseWebMeetingRequest(body)
		switch {
		case m.Native && !slices.ContainsFunc(problemsOf(werr), func(p problem.Problem) bool { return p.Code == CodeMeetingNumberMissing }):
			t.Fatalf("web join of native %q not refused: %v", body, werr)
		case !m.Native && (!reflect.DeepEqual(web, m) || (err == nil) != (werr == nil)):
			t.Fatalf("web join of %q = %+v, %v; want %+v, %v", body, web, werr, m, err)
		}
		if v, err := ParseVideoRequest(body); err == nil {
			if v.ExpiresIn == 0 {
				v.ExpiresIn = DefaultLifetime
			}
			if _, err := s.Video(v); err != nil {
				t.Fatalf("accepted %q but could not sign: %v", body, err)
			}
		} else if problem.As(err) == nil {
			t.Fatalf("error of type %T", err)
		}
	})
}

// TestBodyParserText: what body-parser hands the sample is what this
// package parses, byte-order mark and ill-formed UTF-8 included.
func TestBodyParserText(t *testing.T) {
	for in, want := range map[string]string{
		"\xef\xbb\xbf{}":         "{}",
		"ok":                     "ok",
		"a\xffb":                 "a\uFFFDb",
		"a\xe2\x82b":             "a\uFFFDb", // a truncated sequence is one subpart
		"a\xe2\x82\xe2\x82\xacb": "a\uFFFD€b",
		"\xed\xa0\x80":           "\uFFFD\uFFFD\uFFFD", // a surrogate's three bytes: ED is lead only up to 9F
		"\xf0\x9f\x98":           "\uFFFD",
		"\xc0\xaf":               "\uFFFD\uFFFD", // an overlong form: C0 never leads
		"\xf4\x90\x80\x80":       "\uFFFD\uFFFD\uFFFD\uFFFD",
	} {
		if got := string(asBodyParser([]byte(in))); got != want {
			t.Errorf("asBodyParser(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestOneNumericRule: every numeric field takes a JSON number or a string
// of plain digits, nothing else, and says so in the same words.
func TestOneNumericRule(t *testing.T) {
	for _, field := range []string{"role", "videoWebRtcMode", "cloudRecordingOption", "cloudRecordingElection", "audioCompatibleMode", "audioWebRtcMode", "expirationSeconds"} {
		ok, bad := "1", []string{" 1", "+1", "0x1", "1abc", "1.0", "1e0", "1 ", "\u00a01", "0b1", "1_0"}
		if field == "expirationSeconds" {
			ok, bad = "3600", []string{" 3600", "+3600", "0xe10", "3600abc", "3600.0", "3600e0", "3600 "}
		}
		for _, v := range append([]string{ok, "0" + ok}, bad...) {
			body := []byte(`{"role":0,"sessionName":"s",` + strconvQuote(field) + `:` + strconvQuote(v) + `}`)
			if field == "role" {
				body = []byte(`{"sessionName":"s","role":` + strconvQuote(v) + `}`)
			}
			_, err := ParseVideoRequest(body)
			refused := err != nil
			wantRefused := v != ok && v != "0"+ok
			if refused != wantRefused {
				t.Errorf("%s %q: refused = %v (%v), want %v", field, v, refused, err, wantRefused)
				continue
			}
			if refused {
				p := problem.As(err).Problems
				if p[len(p)-1].Property != field || !strings.Contains(p[len(p)-1].Reason, "plain") {
					t.Errorf("%s %q: %v", field, v, p)
				}
			}
		}
	}
}

func strconvQuote(s string) string { return strconv.Quote(s) }

// TestJSStringsSigned: what JSON.parse makes of a string is what is signed,
// lone surrogates included, so tpc is the very string the browser passes to
// join(); a null telemetryTrackingId is signed as null, as the sample does.
func TestJSStringsSigned(t *testing.T) {
	s := mustSigner(t, "key", "secret")
	v, err := ParseVideoRequest([]byte(`{"role":0,"sessionName":"Team \ud83d","userIdentity":"\ud83d\ude00x","telemetryTrackingId":null}`))
	if err != nil {
		t.Fatal(err)
	}
	v.IssuedAt, v.ExpiresIn = 1700000000, 7200
	tok, err := s.Video(v)
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[1])
	for _, want := range []string{`"tpc":"Team \ud83d"`, `"user_identity":"😀x"`, `"telemetry_tracking_id":null`} {
		if !strings.Contains(string(payload), want) {
			t.Errorf("payload %s lacks %s", payload, want)
		}
	}
	if !utf8.Valid(payload) {
		t.Errorf("payload is not valid UTF-8: %q", payload)
	}
	// Lengths count UTF-16 code units, a lone surrogate as one.
	long := `"` + strings.Repeat(`\ud83d`, 200) + `"`
	if _, err := ParseVideoRequest([]byte(`{"role":0,"sessionName":` + long + `}`)); err != nil {
		t.Errorf("200 lone surrogates are 200 units: %v", err)
	}
}
