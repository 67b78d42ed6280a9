package inspect

import (
	"strings"
	"testing"
	"time"

	"github.com/zoomsig/caddy-zoom-signature/caddymodule/signature"
)

// TestVideoSDKFindings: inspect names what the Video SDK or Zoom refuses in
// a Video SDK token, as the module refuses it before signing.
func TestVideoSDKFindings(t *testing.T) {
	at := time.Unix(1700000000, 0)
	s, _ := signature.NewSigner("vkey", "vsecret")
	tok := func(p string) string { return hs256(`{"alg":"HS256","typ":"JWT"}`, p, "vsecret") }
	good, _ := s.Video(signature.Video{SessionName: "Cool Cars", IssuedAt: at.Unix() - 30, ExpiresIn: 7200})
	meeting, _ := s.Meeting(signature.Meeting{MeetingNumber: signature.MeetingNumber{Digits: "85746065432"}, IssuedAt: at.Unix() - 30, ExpiresIn: 7200})
	long, bad := strings.Repeat("x", 11), "pc"
	for _, c := range []struct {
		name  string
		token string
		o     Options
		want  string
	}{
		{"topic without case", good, Options{MeetingNumber: "cool cars"}, ""},
		{"other topic", good, Options{MeetingNumber: "Other"}, "meeting_number_mismatch"},
		{"Meeting SDK token to the Video SDK", meeting, Options{SDK: FormatVideo}, "wrong_sdk"},
		{"passcode over 10", good, Options{Passcode: &long}, "passcode_invalid"},
		{"passcode fine", good, Options{Passcode: &bad}, ""},
		{"slash in tpc", tok(`{"app_key":"vkey","role_type":0,"tpc":"a/b","version":1,"iat":1699999970,"exp":1700007170}`), Options{}, "session_name_invalid"},
		{"tpc over 200", tok(`{"app_key":"vkey","role_type":0,"tpc":"` + strings.Repeat("a", 201) + `","version":1,"iat":1699999970,"exp":1700007170}`), Options{}, "session_name_too_long"},
		{"no role_type", tok(`{"app_key":"vkey","tpc":"a","version":1,"iat":1699999970,"exp":1700007170}`), Options{}, "role_missing"},
		{"role_type string", tok(`{"app_key":"vkey","role_type":"0","tpc":"a","version":1,"iat":1699999970,"exp":1700007170}`), Options{}, "role_invalid"},
		{"session_key over 36", tok(`{"app_key":"vkey","role_type":0,"tpc":"a","version":1,"iat":1699999970,"exp":1700007170,"session_key":"` + strings.Repeat("k", 37) + `"}`), Options{}, "session_key_too_long"},
		{"over 48 hours", tok(`{"app_key":"vkey","role_type":0,"tpc":"a","version":1,"iat":1699999970,"exp":1700172771}`), Options{}, "lifetime_too_long"},
	} {
		c.o.At = at
		r := Inspect(c.token, c.o)
		if c.want == "" {
			for _, f := range r.Findings {
				if f.Severity == Error {
					t.Errorf("%s: %+v", c.name, f)
				}
			}
			continue
		}
		if !r.Has(c.want) {
			t.Errorf("%s: no %s in %+v", c.name, c.want, r.Findings)
		}
	}
}
