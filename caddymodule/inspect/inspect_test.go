package inspect

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/zoomsig/caddy-zoom-signature/caddymodule/signature"
)

const (
	key    = "aB3dE5gH7jK9mN1pQ3sT5v"
	secret = "Zx9Cv8Bn7Mm6Ll5Kk4Jj3Hh2Gg1Ff0Dd"
	iat    = 1717171717
)

var at = time.Unix(iat+60, 0)

// hs256 signs an arbitrary payload, to build the broken tokens that
// package signature refuses to mint.
func hs256(header, payload, secret string) string {
	enc := base64.RawURLEncoding
	msg := enc.EncodeToString([]byte(header)) + "." + enc.EncodeToString([]byte(payload))
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(msg))
	return msg + "." + enc.EncodeToString(m.Sum(nil))
}

const hdr = `{"alg":"HS256","typ":"JWT"}`

func payload(extra string) string {
	return `{"appKey":"` + key + `","sdkKey":"` + key + `","mn":"85746065432","role":0,"iat":1717171717,"exp":1717178917,"tokenExp":1717178917` + extra + `}`
}

func good(t *testing.T, role int) string {
	t.Helper()
	s, _ := signature.NewSigner(key, secret)
	tok, err := s.Meeting(signature.Meeting{MeetingNumber: signature.MeetingNumber{Digits: "85746065432"}, Role: role, IssuedAt: iat, ExpiresIn: 7200})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestGoodTokenPasses(t *testing.T) {
	r := Inspect(good(t, 0), Options{Secret: secret, SDKKey: key, MeetingNumber: "857 4606 5432", Role: new(0), At: at})
	if r.Format != FormatMeeting || len(r.Findings) != 0 {
		t.Fatalf("good token: format %s, findings %+v", r.Format, r.Findings)
	}
	// A host token with a ZAK passes too.
	r = Inspect(good(t, 1), Options{Secret: secret, ZAKPresent: true, At: at})
	if len(r.Findings) != 0 {
		t.Fatalf("host token with ZAK: %+v", r.Findings)
	}
}

func TestEveryCode(t *testing.T) {
	s, _ := signature.NewSigner(key, secret)
	legacy, _ := s.WebSDK1(signature.MeetingNumber{Digits: "85746065432"}, 0, iat*1000-30000, false)
	legacyURL, _ := s.WebSDK1(signature.MeetingNumber{Digits: "85746065432"}, 0, iat*1000-30000, true)
	undefinedLegacy := base64.StdEncoding.EncodeToString([]byte(key + ".undefined.1717171687123.undefined.abc="))
	video, _ := s.Video(signature.Video{SessionName: "Cool Cars", Role: 1, IssuedAt: iat, ExpiresIn: 7200})
	hexSecret := "0123456789abcdef0123456789ABCDEF"

	for _, c := range []struct {
		name, token, code, severity string
		o                           Options
	}{
		{"empty", "", "not_a_token", Error, Options{}},
		{"json object", `{"signature":"x"}`, "not_a_token", Error, Options{}},
		{"garbage", "hello world", "not_a_token", Error, Options{}},
		{"three parts not json", "a.b.c", "not_a_token", Error, Options{}},
		{"standard base64", strings.Replace(good(t, 0), "J9", "J9==", 1), "not_a_token", Error, Options{}},
		{"legacy", legacy, "legacy_format", Error, Options{}},
		{"legacy url-safe", legacyURL, "legacy_format", Error, Options{Secret: secret}},
		{"legacy undefined", undefinedLegacy, "meeting_number_invalid", Error, Options{}},
		{"legacy bad hmac", legacy, "bad_signature", Error, Options{Secret: "other"}},
		{"alg", hs256(`{"alg":"none","typ":"JWT"}`, payload(""), secret), "alg_not_hs256", Error, Options{}},
		{"bad signature", good(t, 0), "bad_signature", Error, Options{Secret: "wrong"}},
		{"trailing newline", good(t, 0), "bad_signature", Error, Options{Secret: secret + "\n"}},
		{"sdk key mismatch", good(t, 0), "sdk_key_mismatch", Error, Options{SDKKey: "otherKey"}},
		{"app key missing", hs256(hdr, `{"sdkKey":"k","mn":"85746065432","role":0,"iat":1717171717,"exp":1717178917,"tokenExp":1717178917}`, secret), "app_key_missing", Error, Options{}},
		{"mn missing (native)", hs256(hdr, `{"appKey":"k","sdkKey":"k","iat":1717171717,"exp":1717178917,"tokenExp":1717178917}`, secret), "meeting_number_missing", Error, Options{}},
		{"mn spaces", hs256(hdr, strings.Replace(payload(""), `"85746065432"`, `"857 4606 5432"`, 1), secret), "meeting_number_invalid", Error, Options{}},
		{"mn undefined", hs256(hdr, strings.Replace(payload(""), `"85746065432"`, `"undefined"`, 1), secret), "meeting_number_invalid", Error, Options{}},
		{"mn empty", hs256(hdr, strings.Replace(payload(""), `"85746065432"`, `""`, 1), secret), "meeting_number_invalid", Error, Options{}},
		{"mn mismatch", good(t, 0), "meeting_number_mismatch", Error, Options{MeetingNumber: "123456789"}},
		{"role missing", hs256(hdr, strings.Replace(payload(""), `"role":0,`, ``, 1), secret), "role_missing", Error, Options{}},
		{"role string", hs256(hdr, strings.Replace(payload(""), `"role":0`, `"role":"0"`, 1), secret), "role_invalid", Error, Options{}},
		{"role 2", hs256(hdr, strings.Replace(payload(""), `"role":0`, `"role":2`, 1), secret), "role_invalid", Error, Options{}},
		{"role mismatch", good(t, 0), "role_mismatch", Error, Options{Role: new(1)}},
		{"milliseconds", hs256(hdr, `{"appKey":"k","sdkKey":"k","mn":"85746065432","role":0,"iat":1717171717000,"exp":1717178917000,"tokenExp":1717178917000}`, secret), "times_in_milliseconds", Error, Options{}},
		{"times as strings", hs256(hdr, `{"appKey":"k","sdkKey":"k","mn":"85746065432","role":0,"iat":"1717171717","exp":1717178917,"tokenExp":1717178917}`, secret), "times_invalid", Error, Options{}},
		{"issued in future", good(t, 0), "issued_in_future", Error, Options{At: time.Unix(iat-120, 0)}},
		{"expired", good(t, 0), "expired", Error, Options{At: time.Unix(iat+7200, 0)}},
		{"too short", hs256(hdr, `{"appKey":"k","sdkKey":"k","mn":"85746065432","role":0,"iat":1717171717,"exp":1717172717,"tokenExp":1717172717}`, secret), "lifetime_too_short", Error, Options{}},
		{"too long", hs256(hdr, `{"appKey":"k","sdkKey":"k","mn":"85746065432","role":0,"iat":1717171717,"exp":1717471717,"tokenExp":1717471717}`, secret), "lifetime_too_long", Error, Options{}},
		{"tokenExp differs", hs256(hdr, `{"appKey":"k","sdkKey":"k","mn":"85746065432","role":0,"iat":1717171717,"exp":1717178917,"tokenExp":1717178000}`, secret), "token_exp_mismatch", Error, Options{}},
		{"host without zak", good(t, 1), "host_without_zak", Warning, Options{}},
		{"video without tpc", hs256(hdr, `{"app_key":"k","role_type":0,"version":1,"iat":1717171717,"exp":1717178917}`, secret), "session_name_missing", Error, Options{}},
		{"video empty tpc", hs256(hdr, `{"app_key":"k","role_type":0,"tpc":"","version":1,"iat":1717171717,"exp":1717178917}`, secret), "session_name_missing", Error, Options{}},
		{"hex secret", hs256(hdr, payload(""), hexSecret), "secret_encoding_ambiguous", Warning, Options{Secret: hexSecret}},
		{"non-ascii secret", hs256(hdr, payload(""), "sécret"), "secret_encoding_ambiguous", Warning, Options{Secret: "sécret"}},
		{"no secret", good(t, 0), "signature_not_checked", Info, Options{}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.o.At.IsZero() {
				c.o.At = at
			}
			r := Inspect(c.token, c.o)
			for _, f := range r.Findings {
				if f.Code == c.code {
					if f.Severity != c.severity {
						t.Fatalf("%s has severity %s, want %s", c.code, f.Severity, c.severity)
					}
					if f.Message == "" || strings.Contains(f.Message, secret) {
						t.Fatalf("bad message: %q", f.Message)
					}
					if r.HasErrors() != (c.severity == Error || hasError(r)) {
						t.Fatal("HasErrors disagrees with the findings")
					}
					return
				}
			}
			t.Fatalf("no %s finding; got %+v", c.code, r.Findings)
		})
	}
	// The Video SDK has no ZAK: a video host token gets no ZAK warning, and
	// a video token never reads as a meeting without a number.
	for _, f := range Inspect(video, Options{At: at}).Findings {
		if f.Code == "host_without_zak" || f.Code == "meeting_number_missing" {
			t.Errorf("video host token: %+v", f)
		}
	}
}

func hasError(r Report) bool {
	for _, f := range r.Findings {
		if f.Severity == Error {
			return true
		}
	}
	return false
}

func TestVideoFormat(t *testing.T) {
	s, _ := signature.NewSigner(key, secret)
	tok, _ := s.Video(signature.Video{SessionName: "Cool Cars", Role: 0, IssuedAt: iat, ExpiresIn: 7200})
	r := Inspect(tok, Options{Secret: secret, SDKKey: key, At: at})
	if r.Format != FormatVideo || len(r.Findings) != 0 {
		t.Fatalf("video: %s %+v", r.Format, r.Findings)
	}
	if r = Inspect(tok, Options{MeetingNumber: "Other", At: at}); !r.Has("meeting_number_mismatch") {
		t.Fatalf("video session mismatch not found: %+v", r.Findings)
	}
}

func TestSampleKeyedToken(t *testing.T) {
	// A token signed the way jsrsasign keys a hex-looking secret.
	hexSecret := "0123456789abcdef0123456789ABCDEF"
	enc := base64.RawURLEncoding
	msg := enc.EncodeToString([]byte(hdr)) + "." + enc.EncodeToString([]byte(payload("")))
	m := hmac.New(sha256.New, signature.SampleHMACKey(hexSecret))
	m.Write([]byte(msg))
	tok := msg + "." + enc.EncodeToString(m.Sum(nil))
	r := Inspect(tok, Options{Secret: hexSecret, At: at})
	if !r.Has("bad_signature") || !strings.Contains(r.Findings[len(r.Findings)-1].Message+r.Findings[0].Message+r.Findings[1].Message, "jsrsasign") {
		t.Fatalf("jsrsasign-keyed token not explained: %+v", r.Findings)
	}
}

func TestWriteText(t *testing.T) {
	var b bytes.Buffer
	if err := Inspect(good(t, 1), Options{At: at}).WriteText(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"format:", "meeting (Meeting SDK JWT)", "2024-05-31T16:08:37Z", "host_without_zak", `"85746065432"`} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("text output lacks %q:\n%s", want, b.String())
		}
	}
}

func FuzzInspect(f *testing.F) {
	s, _ := signature.NewSigner(key, secret)
	legacy, _ := s.WebSDK1(signature.MeetingNumber{Digits: "85746065432"}, 0, iat*1000, false)
	deep := base64.RawURLEncoding.EncodeToString([]byte(strings.Repeat("[", 200)))
	for _, seed := range []string{good(&testing.T{}, 0), legacy, "", "a.b.c", "{}", "e30.e30.e30", "..", "eyJ9.eyJ9.x", "e30." + deep + ".x", deep + ".e30.x"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		r := Inspect(tok, Options{Secret: secret, SDKKey: key, MeetingNumber: "85746065432", Role: new(1), At: at})
		if r.Format == "" || r.Findings == nil {
			t.Fatal("empty report")
		}
		var b bytes.Buffer
		if err := r.WriteText(&b); err != nil {
			t.Fatal(err)
		}
	})
}
