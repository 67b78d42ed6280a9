package caddymodule

import (
	"bytes"
	"compress/gzip"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zoomsig/caddy-zoom-signature/caddymodule/join"
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/signature"
)

// The differential suite replays the public set of generated requests in
// ../shared/vectors/differential against endpoint mode in a real Caddy, and
// classifies each answer against what Zoom's own samples answered: the
// same, a difference the README lists (checked to be exactly as listed),
// or a failure.

type diffFile struct {
	Credentials struct {
		SDKKey    string `json:"sdk_key"`
		SDKSecret string `json:"sdk_secret"`
	} `json:"credentials"`
	PinnedMS int64 `json:"sample_pinned_now_ms"`
	Configs  map[string]struct {
		SDK      string `json:"sdk"`
		Expires  int64  `json:"expires"`
		Backdate int64  `json:"backdate"`
	} `json:"configs"`
	Cases []diffCase `json:"cases"`
}

type diffCase struct {
	ID      string `json:"id"`
	SDK     string `json:"sdk"`
	Config  string `json:"config"`
	Kind    string `json:"kind"`
	Request struct {
		Method  string      `json:"method"`
		Path    string      `json:"path"`
		Headers [][2]string `json:"headers"`
		Body    []byte      `json:"body_b64"`
		Text    string      `json:"body_text"`
	} `json:"request"`
	Sample *sampleAnswer `json:"sample"`
	Twin   *sampleAnswer `json:"sample_json_twin"`
}

type sampleAnswer struct {
	Status      int             `json:"status"`
	ContentType string          `json:"content_type"`
	Body        []byte          `json:"body_b64"`
	JSON        json.RawMessage `json:"json"`
	Token       *struct {
		Header      string  `json:"header"`
		Payload     string  `json:"payload"`
		IAT         float64 `json:"iat"`
		EXP         float64 `json:"exp"`
		ExpMinusIAT float64 `json:"exp_minus_iat"`
	} `json:"token"`
}

// errorPairs are an answer's errors as (property, reason), in order.
func errorPairs(body []byte) [][2]string {
	var e struct {
		Errors []struct {
			Property string `json:"property"`
			Reason   string `json:"reason"`
		} `json:"errors"`
	}
	if json.Unmarshal(body, &e) != nil {
		return nil
	}
	out := make([][2]string, len(e.Errors))
	for i, x := range e.Errors {
		out[i] = [2]string{x.Property, x.Reason}
	}
	return out
}

// loadDiff reads a case file from ../shared, or from the copy in testdata
// (gzipped) in a plain clone; TestDifferentialCopy keeps the two equal.
func loadDiff(t *testing.T, name string) *diffFile {
	t.Helper()
	data := diffData(t, name)
	var f diffFile
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	return &f
}

func diffData(t *testing.T, name string) []byte {
	t.Helper()
	if data, err := os.ReadFile("../../shared/vectors/differential/" + name); err == nil {
		return data
	} else if os.Getenv("CI") == "true" {
		t.Fatalf("CI runs with ../shared beside the checkout, but %s cannot be read: %v", name, err)
	}
	return diffCopy(t, name)
}

func diffCopy(t *testing.T, name string) []byte {
	t.Helper()
	f, err := os.Open("testdata/differential/" + name + ".gz")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestDifferentialCopy(t *testing.T) {
	for _, name := range []string{"cases-meeting.json", "cases-video.json"} {
		shared, err := os.ReadFile("../../shared/vectors/differential/" + name)
		if err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("CI runs with ../shared beside the checkout: %v", err)
			}
			t.Skipf("no ../shared next to this checkout (%v); the testdata copy is used", err)
		}
		if !bytes.Equal(shared, diffCopy(t, name)) {
			t.Fatalf("testdata/differential/%s.gz differs from ../shared/vectors/differential; copy it again (gzip -9 -n)", name)
		}
	}
}

// ourAnswer is what the module answered.
type ourAnswer struct {
	status int
	hdr    http.Header
	body   []byte
	sentAt time.Time
}

func TestDifferential(t *testing.T) {
	files := []*diffFile{loadDiff(t, "cases-meeting.json"), loadDiff(t, "cases-video.json")}
	cred := files[0].Credentials
	t.Setenv("ZS_DIFF_SECRET", cred.SDKSecret)
	leakWatch.Lock()
	leakWatch.secrets = append(leakWatch.secrets, cred.SDKSecret)
	leakWatch.Unlock()

	var site strings.Builder
	for _, f := range files {
		for name, cfg := range f.Configs {
			fmt.Fprintf(&site, `
	handle_path /%s/* {
		zoom_signature {
			mode endpoint
			sdk %s
			sdk_key %s
			sdk_secret {env.ZS_DIFF_SECRET}
			allow_anonymous
			meetings any
			host_when any
			expires %ds
			backdate %ds
			cors_origins https://app.example.com http://localhost:{PORT}
			public_origin http://127.0.0.1:{PORT}
		}
	}`, name, cfg.SDK, cred.SDKKey, cfg.Expires, cfg.Backdate)
		}
	}
	c := startCaddy(t, site.String(), "")
	port := strings.TrimPrefix(c.base, "http://127.0.0.1:")
	runDifferential(t, files, func(f *diffFile, dc diffCase) (ourAnswer, int64, bool) {
		return c.replayCase(t, dc, port), f.Configs[dc.Config].Backdate, true
	})
}

// TestDifferentialCLI holds `caddy zoom-signature sign` to the same rule,
// on the samples' pinned clock, where a signature that matches matches
// byte for byte. Only the request body reaches the CLI, so the cases about
// HTTP (methods, CORS, body limits) are not its business.
func TestDifferentialCLI(t *testing.T) {
	files := []*diffFile{loadDiff(t, "cases-meeting.json"), loadDiff(t, "cases-video.json")}
	cred := files[0].Credentials
	t.Setenv("ZOOM_SDK_KEY", cred.SDKKey)
	t.Setenv("ZOOM_SDK_SECRET", cred.SDKSecret)
	runDifferential(t, files, func(f *diffFile, dc diffCase) (ourAnswer, int64, bool) {
		want := dc.Sample
		if dc.Twin != nil {
			want = dc.Twin
		}
		if dc.Request.Method != http.MethodPost || (want.Status != http.StatusOK && want.Status != http.StatusBadRequest) || len(dc.Request.Body) > 64<<10 {
			return ourAnswer{}, 0, false
		}
		code, stdout, stderr := runCLI(t, string(dc.Request.Body), "sign", "--sdk", dc.SDK, "--body", "-", "--json", "--issued-at", millis(f.PinnedMS))
		ours := ourAnswer{sentAt: time.UnixMilli(f.PinnedMS)}
		switch code {
		case exitOK:
			ours.status, ours.body = http.StatusOK, []byte(stdout)
		case exitBadInput:
			// With --json, the endpoint's error body on stdout.
			ours.status, ours.body = http.StatusBadRequest, []byte(stdout)
		default:
			t.Fatalf("%s: exit %d: %s", dc.ID, code, stderr)
		}
		return ours, 0, true
	})
}

// runDifferential classifies every case's answer and fails on any that is
// neither identical nor a listed difference. It prints how many fell into
// each class.
func runDifferential(t *testing.T, files []*diffFile, answer func(*diffFile, diffCase) (ourAnswer, int64, bool)) {
	t.Helper()
	classes := map[string][]string{}
	failures, total := 0, 0
	for _, f := range files {
		for _, dc := range f.Cases {
			ours, backdate, ok := answer(f, dc)
			if !ok {
				continue
			}
			total++
			class, detail := classify(t, dc, ours, f.Credentials.SDKKey, f.Credentials.SDKSecret, backdate, f.Configs[dc.Config].Expires)
			classes[class] = append(classes[class], dc.ID)
			if class != "FAIL" {
				continue
			}
			failures++
			want, which := dc.Sample, "sample"
			if dc.Twin != nil {
				want, which = dc.Twin, "sample as JSON"
			}
			t.Errorf("%s (%s %s): %s\n    body %.200q\n    %s %d %.300s\n    ours   %d %.300s", dc.ID, dc.Request.Method, dc.Kind, detail, dc.Request.Text, which, want.Status, sampleText(want), ours.status, ours.body)
		}
	}
	keys := make([]string, 0, len(classes))
	for k := range classes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		t.Logf("%-52s %4d  e.g. %s", k, len(classes[k]), strings.Join(classes[k][:min(3, len(classes[k]))], " "))
	}
	t.Logf("%d cases, %d failures", total, failures)
	if total == 0 {
		t.Fatal("no case was replayed")
	}
}

func sampleText(s *sampleAnswer) string {
	if len(s.JSON) > 0 {
		return string(s.JSON)
	}
	return string(s.Body)
}

// replay sends a case's exact request.
func (c *instance) replayCase(t *testing.T, dc diffCase, port string) ourAnswer {
	t.Helper()
	req, err := http.NewRequest(dc.Request.Method, c.base+"/"+dc.Config+dc.Request.Path, bytes.NewReader(dc.Request.Body))
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range dc.Request.Headers {
		req.Header.Add(h[0], strings.ReplaceAll(h[1], "PORT", port))
	}
	sent := time.Now()
	resp, err := c.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	watchResponse(b, resp.Header)
	return ourAnswer{status: resp.StatusCode, hdr: resp.Header, body: b, sentAt: sent}
}

var timeClaim = regexp.MustCompile(`"(iat|exp|tokenExp)":-?[0-9.e+]+`)

// classify compares one answer with the sample's: identical, a listed
// difference (named by its tag in the README's list, and checked to be
// exactly that), or a failure.
func classify(t *testing.T, dc diffCase, ours ourAnswer, key, secret string, backdate, expires int64) (string, string) {
	want, prefix := dc.Sample, ""
	if dc.Twin != nil {
		// The sample ignored the body for its Content-Type; we parse
		// it as JSON whatever the type, so we answer as the sample does to
		// the same body sent as JSON.
		want, prefix = dc.Twin, "content-type + "
	}
	why := identical(want, ours, secret, backdate, nil)
	if why == "" {
		if prefix != "" {
			return "listed: content-type", ""
		}
		return "identical", ""
	}
	body := parsedBody(dc)
	for _, d := range differences {
		if d.applies(dc, body) {
			if err := d.check(dc, body, want, ours, secret, backdate); err == nil {
				return "listed: " + prefix + d.id, ""
			}
		}
	}
	return "FAIL", why
}

// identical says how ours differs from the sample's answer, or "". A
// signed answer is compared by its decoded token (times substituted); a
// refusal by its errors, the sample's first and in order, ours after; any
// other answer by its status.
func identical(want *sampleAnswer, ours ourAnswer, secret string, backdate int64, fix func(string) string) string {
	switch {
	case want.Token != nil:
		if ours.status != http.StatusOK {
			return fmt.Sprintf("status %d, sample signed", ours.status)
		}
		if err := sameToken(ours, want, secret, backdate, fix); err != nil {
			return err.Error()
		}
		return ""
	case want.Status == http.StatusBadRequest && len(want.JSON) > 0:
		if ours.status != http.StatusBadRequest {
			return fmt.Sprintf("status %d, sample 400", ours.status)
		}
		theirs, mine := errorPairs(want.Body), errorPairs(ours.body)
		for i, p := range theirs {
			if i >= len(mine) || mine[i] != p {
				return fmt.Sprintf("error %d: sample %q, ours %q", i, p, get(mine, i))
			}
		}
		return ""
	case want.Status != ours.status:
		return fmt.Sprintf("status %d, sample %d", ours.status, want.Status)
	}
	return ""
}

// parsedBody is the request body as the sample read it: its members, none
// for a top-level array (whose keys are indexes, which name no field), nil
// when it is not JSON the sample parsed.
func parsedBody(dc diffCase) map[string]json.RawMessage {
	b := bytes.TrimPrefix(dc.Request.Body, []byte("\xef\xbb\xbf"))
	var m map[string]json.RawMessage
	if json.Unmarshal(b, &m) == nil {
		return m
	}
	var a []json.RawMessage
	if json.Unmarshal(b, &a) == nil {
		return map[string]json.RawMessage{}
	}
	return nil
}

// problemsOf are our answer's errors, with codes.
func problemsOf(body []byte) []struct{ Code, Property, Reason string } {
	var e struct {
		Errors []struct{ Code, Property, Reason string } `json:"errors"`
	}
	_ = json.Unmarshal(body, &e)
	return e.Errors
}

// stricter checks a refusal of ours where the sample signed or refused for
// fewer reasons: a 400 whose errors start with the sample's (if any) and
// include one of ours that pred accepts.
func stricter(want *sampleAnswer, ours ourAnswer, pred func(code, property, reason string) bool) error {
	if ours.status != http.StatusBadRequest {
		return fmt.Errorf("status %d, want 400", ours.status)
	}
	if want.Status == http.StatusBadRequest && len(want.JSON) > 0 {
		if why := identical(want, ours, "", 0, nil); why != "" {
			return errors.New(why)
		}
	}
	for _, p := range problemsOf(ours.body) {
		if pred(p.Code, p.Property, p.Reason) {
			return nil
		}
	}
	return fmt.Errorf("no error of ours for it: %s", ours.body)
}

// difference is one entry of the README's list of deliberate differences
// from Zoom's samples, by its tag there.
type difference struct {
	id      string
	applies func(dc diffCase, body map[string]json.RawMessage) bool
	check   func(dc diffCase, body map[string]json.RawMessage, want *sampleAnswer, ours ourAnswer, secret string, backdate int64) error
}

var numericFields = []string{"role", "expirationSeconds", "videoWebRtcMode", "cloudRecordingOption", "cloudRecordingElection", "audioCompatibleMode", "audioWebRtcMode"}

var plainDigits = regexp.MustCompile(`^"[0-9]+"$`)

// notPlainNumbers are the numeric fields of body sent as anything but a
// JSON number or a string of plain digits, or (expirationSeconds) as a
// fraction.
func notPlainNumbers(dc diffCase, body map[string]json.RawMessage) []string {
	var out []string
	for _, f := range numericFields {
		if f != "role" && f != "expirationSeconds" && dc.SDK != "video" && f != "videoWebRtcMode" {
			continue
		}
		v, ok := body[f]
		if !ok {
			continue
		}
		switch raw := strings.TrimSpace(string(v)); {
		case strings.HasPrefix(raw, `"`) && !plainDigits.MatchString(raw):
			out = append(out, f)
		case f == "expirationSeconds" && !strings.HasPrefix(raw, `"`):
			if n, err := strconv.ParseFloat(raw, 64); err == nil && n != float64(int64(n)) {
				out = append(out, f)
			}
		}
	}
	return out
}

var mnClaim = regexp.MustCompile(`"mn":("(?:[^"\\]|\\.)*"|[-0-9.eE+]+)`)

var differences = []difference{
	{
		id: "meeting-number-normalised",
		applies: func(dc diffCase, body map[string]json.RawMessage) bool {
			_, err := signature.MeetingNumberFrom(body["meetingNumber"])
			return dc.SDK == "meeting" && body["meetingNumber"] != nil && err == nil
		},
		check: func(dc diffCase, body map[string]json.RawMessage, want *sampleAnswer, ours ourAnswer, secret string, backdate int64) error {
			mn, _ := signature.MeetingNumberFrom(body["meetingNumber"])
			digits := strconv.Quote(mn.Digits)
			if mn.Numeric {
				digits = mn.Digits
			}
			if why := identical(want, ours, secret, backdate, func(p string) string {
				return mnClaim.ReplaceAllString(p, `"mn":`+digits)
			}); why != "" {
				return errors.New(why)
			}
			return nil
		},
	},
	{
		id: "meeting-number-invalid",
		applies: func(dc diffCase, body map[string]json.RawMessage) bool {
			_, err := signature.MeetingNumberFrom(body["meetingNumber"])
			return dc.SDK == "meeting" && body["meetingNumber"] != nil && err != nil
		},
		check: func(_ diffCase, _ map[string]json.RawMessage, want *sampleAnswer, ours ourAnswer, _ string, _ int64) error {
			return stricter(want, ours, func(code, property, _ string) bool {
				return code == signature.CodeInvalidMeetingNumber && property == "meetingNumber"
			})
		},
	},
	{
		id: "native",
		applies: func(dc diffCase, body map[string]json.RawMessage) bool {
			empty := len(bytes.TrimPrefix(dc.Request.Body, []byte("\xef\xbb\xbf"))) == 0
			return dc.SDK == "meeting" && (body != nil || empty) && body["meetingNumber"] == nil && body["role"] == nil
		},
		check: func(_ diffCase, _ map[string]json.RawMessage, want *sampleAnswer, ours ourAnswer, _ string, _ int64) error {
			if p := problemsOf(ours.body); ours.status != http.StatusBadRequest || len(p) == 0 || p[0].Code != join.CodeMeetingMissing {
				return fmt.Errorf("not meeting_number_missing: %d %s", ours.status, ours.body)
			}
			return nil
		},
	},
	{
		id: "numbers",
		applies: func(dc diffCase, body map[string]json.RawMessage) bool {
			return len(notPlainNumbers(dc, body)) > 0
		},
		check: func(dc diffCase, body map[string]json.RawMessage, want *sampleAnswer, ours ourAnswer, _ string, _ int64) error {
			fields := notPlainNumbers(dc, body)
			return stricter(want, ours, func(_, property, reason string) bool {
				return slices.Contains(fields, property) && strings.Contains(reason, "plain")
			})
		},
	},
	{
		id: "empty-session-name",
		applies: func(dc diffCase, body map[string]json.RawMessage) bool {
			return dc.SDK == "video" && string(body["sessionName"]) == `""`
		},
		check: func(_ diffCase, _ map[string]json.RawMessage, want *sampleAnswer, ours ourAnswer, _ string, _ int64) error {
			return stricter(want, ours, func(code, property, _ string) bool {
				return code == signature.CodeMissingField && property == "sessionName"
			})
		},
	},
	{
		id: "telemetry-string",
		applies: func(dc diffCase, body map[string]json.RawMessage) bool {
			v := strings.TrimSpace(string(body["telemetryTrackingId"]))
			return dc.SDK == "video" && v != "" && v != "null" && !strings.HasPrefix(v, `"`)
		},
		check: func(_ diffCase, _ map[string]json.RawMessage, want *sampleAnswer, ours ourAnswer, _ string, _ int64) error {
			return stricter(want, ours, func(code, property, _ string) bool {
				return code == signature.CodeInvalidField && property == "telemetryTrackingId"
			})
		},
	},
	{
		id: "malformed-json",
		applies: func(dc diffCase, body map[string]json.RawMessage) bool {
			return dc.Request.Method == http.MethodPost && body == nil && len(dc.Request.Body) > 0
		},
		check: func(_ diffCase, _ map[string]json.RawMessage, want *sampleAnswer, ours ourAnswer, _ string, _ int64) error {
			p := problemsOf(ours.body)
			if want.Status != http.StatusBadRequest || ours.status != http.StatusBadRequest || len(p) == 0 || p[0].Code != signature.CodeInvalidBody {
				return fmt.Errorf("want the sample's 400 and our invalid_body: sample %d, ours %d %s", want.Status, ours.status, ours.body)
			}
			return nil
		},
	},
	{
		id: "methods",
		applies: func(dc diffCase, _ map[string]json.RawMessage) bool {
			return dc.Request.Method != http.MethodPost && dc.Request.Method != http.MethodOptions
		},
		check: func(_ diffCase, _ map[string]json.RawMessage, want *sampleAnswer, ours ourAnswer, _ string, _ int64) error {
			if want.Status != http.StatusNotFound || ours.status != http.StatusMethodNotAllowed || ours.hdr.Get("Allow") != "POST, OPTIONS" {
				return fmt.Errorf("sample %d, ours %d with Allow %q", want.Status, ours.status, ours.hdr.Get("Allow"))
			}
			return nil
		},
	},
	{
		id: "cors",
		applies: func(dc diffCase, _ map[string]json.RawMessage) bool {
			for _, h := range dc.Request.Headers {
				if strings.EqualFold(h[0], "Origin") && h[1] != "https://app.example.com" && !strings.Contains(h[1], "PORT") {
					return true
				}
			}
			return false
		},
		check: func(_ diffCase, _ map[string]json.RawMessage, _ *sampleAnswer, ours ourAnswer, _ string, _ int64) error {
			if p := problemsOf(ours.body); ours.status != http.StatusForbidden || len(p) == 0 || p[0].Code != codeOriginNotAllowed {
				return fmt.Errorf("an origin outside cors_origins: %d %s", ours.status, ours.body)
			}
			return nil
		},
	},
	{
		id: "body-limit",
		applies: func(dc diffCase, _ map[string]json.RawMessage) bool {
			return len(dc.Request.Body) > 64<<10
		},
		check: func(_ diffCase, _ map[string]json.RawMessage, _ *sampleAnswer, ours ourAnswer, _ string, _ int64) error {
			if p := problemsOf(ours.body); ours.status != http.StatusRequestEntityTooLarge || len(p) == 0 || p[0].Code != codeBodyTooLarge {
				return fmt.Errorf("a body over max_body: %d %s", ours.status, ours.body)
			}
			return nil
		},
	},
}

func get(p [][2]string, i int) [2]string {
	if i < len(p) {
		return p[i]
	}
	return [2]string{}
}

// sameToken checks a signed answer against the sample's token: the same
// header bytes, the same payload bytes once the times are ours, the same
// lifetime, iat at the request time less the back-dating, and an HMAC that
// verifies.
func sameToken(ours ourAnswer, want *sampleAnswer, secret string, backdate int64, fix func(string) string) error {
	var a struct {
		Signature string `json:"signature"`
		SDKKey    string `json:"sdkKey"`
	}
	if err := json.Unmarshal(ours.body, &a); err != nil {
		return fmt.Errorf("our answer is not JSON: %v", err)
	}
	var w map[string]json.RawMessage
	_ = json.Unmarshal(want.JSON, &w)
	if _, ok := w["sdkKey"]; ok != (a.SDKKey != "") {
		return fmt.Errorf("sdkKey presence differs")
	}
	parts := strings.Split(a.Signature, ".")
	if len(parts) != 3 {
		return fmt.Errorf("not a JWT")
	}
	hdr, _ := base64.RawURLEncoding.DecodeString(parts[0])
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	if string(hdr) != want.Token.Header {
		return fmt.Errorf("header %s, sample %s", hdr, want.Token.Header)
	}
	var times struct{ IAT, EXP int64 }
	var pm map[string]json.RawMessage
	if err := json.Unmarshal(payload, &pm); err != nil {
		return fmt.Errorf("payload is not JSON: %s", payload)
	}
	times.IAT, _ = strconv.ParseInt(string(pm["iat"]), 10, 64)
	times.EXP, _ = strconv.ParseInt(string(pm["exp"]), 10, 64)
	samplePayload := want.Token.Payload
	if fix != nil {
		samplePayload = fix(samplePayload)
	}
	substituted := timeClaim.ReplaceAllStringFunc(samplePayload, func(m string) string {
		name := m[1 : strings.IndexByte(m[1:], '"')+1]
		if name == "iat" {
			return `"iat":` + strconv.FormatInt(times.IAT, 10)
		}
		return `"` + name + `":` + strconv.FormatInt(times.EXP, 10)
	})
	if string(payload) != substituted {
		return fmt.Errorf("payload\n      ours   %s\n      sample %s", payload, substituted)
	}
	if float64(times.EXP-times.IAT) != want.Token.ExpMinusIAT {
		return fmt.Errorf("lifetime %d, sample %v", times.EXP-times.IAT, want.Token.ExpMinusIAT)
	}
	if d := ours.sentAt.Unix() - backdate - times.IAT; d < -1 || d > 1 {
		return fmt.Errorf("iat %d is not the request time less %ds", times.IAT, backdate)
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(parts[0] + "." + parts[1]))
	if base64.RawURLEncoding.EncodeToString(mac.Sum(nil)) != parts[2] {
		return fmt.Errorf("the HMAC does not verify")
	}
	return nil
}

// TestDifferencesListed holds the README's list of differences and the
// differential suite's rules to each other: every rule is a tagged entry,
// every tagged entry a rule, so the list is complete and each entry is
// checked as written.
func TestDifferencesListed(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, _ := strings.Cut(string(readme), "Where we deliberately differ from the sample")
	section, _, _ = strings.Cut(section, "\n## ")
	tagged, untagged, ok := strings.Cut(section, "Not tagged")
	if !ok {
		t.Fatal("the README's list has no 'Not tagged' part")
	}
	tags := func(s string) []string {
		var out []string
		for _, m := range regexp.MustCompile("(?m)^- \\*\\*`([a-z-]+)`\\*\\*").FindAllStringSubmatch(s, -1) {
			out = append(out, m[1])
		}
		sort.Strings(out)
		return out
	}
	rules := []string{"content-type"} // classify's own, by the twin answers
	for _, d := range differences {
		rules = append(rules, d.id)
	}
	sort.Strings(rules)
	if got := tags(tagged); !slices.Equal(got, rules) {
		t.Errorf("README's tagged differences %v, the suite's rules %v", got, rules)
	}
	if got, want := tags(untagged), []string{"authenticated", "backdate", "expiration-cap", "host-policy", "meetings-scope"}; !slices.Equal(got, want) {
		t.Errorf("README's untagged differences %v, want %v", got, want)
	}
}
