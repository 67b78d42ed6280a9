package caddymodule

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
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

func loadDiff(t *testing.T, name string) *diffFile {
	t.Helper()
	data, err := os.ReadFile("../../shared/vectors/differential/" + name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI runs with ../shared beside the checkout, but %s cannot be read: %v", name, err)
		}
		t.Skipf("no ../shared/vectors/differential next to this checkout: %v", err)
	}
	var f diffFile
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	return &f
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
	names := []string{}
	for _, f := range files {
		for name, cfg := range f.Configs {
			names = append(names, name)
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
	sort.Strings(names)
	c := startCaddy(t, site.String(), "")
	port := strings.TrimPrefix(c.base, "http://127.0.0.1:")

	classes := map[string][]string{}
	failures := 0
	total := 0
	for _, f := range files {
		for _, dc := range f.Cases {
			total++
			ours := c.replayCase(t, dc, port)
			cfg := f.Configs[dc.Config]
			class, detail := classify(t, dc, ours, cred.SDKKey, cred.SDKSecret, cfg.Backdate, cfg.Expires)
			classes[class] = append(classes[class], dc.ID)
			if strings.HasPrefix(class, "FAIL") {
				failures++
				if failures <= 1000 {
					want, which := dc.Sample, "sample"
					if dc.Twin != nil {
						want, which = dc.Twin, "sample as JSON"
					}
					t.Errorf("%s (%s %s): %s\n    body %.200q\n    %s %d %.300s\n    ours   %d %.300s", dc.ID, dc.Request.Method, dc.Kind, detail, dc.Request.Text, which, want.Status, sampleText(want), ours.status, ours.body)
				}
			}
		}
	}
	keys := make([]string, 0, len(classes))
	for k := range classes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		t.Logf("%-40s %4d  e.g. %s", k, len(classes[k]), strings.Join(classes[k][:min(3, len(classes[k]))], " "))
	}
	t.Logf("%d cases, %d failures", total, failures)
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
	leakWatch.Lock()
	leakWatch.seen.Write(b)
	var sig struct {
		Signature string `json:"signature"`
	}
	if json.Unmarshal(b, &sig) == nil && sig.Signature != "" {
		leakWatch.tokens = append(leakWatch.tokens, sig.Signature)
	}
	leakWatch.Unlock()
	return ourAnswer{status: resp.StatusCode, hdr: resp.Header, body: b, sentAt: sent}
}

var timeClaim = regexp.MustCompile(`"(iat|exp|tokenExp)":-?[0-9.e+]+`)

// classify compares one answer with the sample's.
func classify(t *testing.T, dc diffCase, ours ourAnswer, key, secret string, backdate, expires int64) (string, string) {
	want := dc.Sample
	if dc.Twin != nil {
		want = dc.Twin
	}
	switch {
	case want.Token != nil && ours.status == http.StatusOK:
		if err := sameToken(ours, want, secret, backdate); err != nil {
			return "FAIL token", err.Error()
		}
		return "identical: signed", ""
	case want.Status == http.StatusBadRequest && ours.status == http.StatusBadRequest:
		theirs, mine := errorPairs(want.Body), errorPairs(ours.body)
		if len(theirs) == 0 {
			return "FAIL sample errors unreadable", ""
		}
		for i, p := range theirs {
			if i >= len(mine) || mine[i] != p {
				return "FAIL errors", fmt.Sprintf("error %d: sample %q, ours %q", i, p, get(mine, i))
			}
		}
		if len(mine) > len(theirs) {
			return "identical: refused, stricter errors after", ""
		}
		return "identical: refused", ""
	}
	return fmt.Sprintf("FAIL status %d vs %d", ours.status, want.Status), ""
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
func sameToken(ours ourAnswer, want *sampleAnswer, secret string, backdate int64) error {
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
	substituted := timeClaim.ReplaceAllStringFunc(want.Token.Payload, func(m string) string {
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
