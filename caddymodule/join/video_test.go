package join

import (
	"strings"
	"testing"
)

// TestVideoPasscode: a join config whose passcode the Video SDK's join()
// refuses gets no token, and the refusal names the field and the limit.
func TestVideoPasscode(t *testing.T) {
	f := Fields{SessionName: "sessionName", Role: "role", Passcode: "passWord"}
	for _, c := range []struct{ doc, code string }{
		{`{"sessionName":"Cool Cars","passWord":"pc-7x"}`, ""},
		{`{"sessionName":"Cool Cars","passWord":""}`, ""},
		{`{"sessionName":"Cool Cars","passWord":null}`, ""},
		{`{"sessionName":"Cool Cars"}`, ""},
		{`{"sessionName":"Cool Cars","passWord":"pc-7x-89012"}`, CodeBackendPasscode},
		{`{"sessionName":"Cool Cars","passWord":123456}`, CodeBackendPasscode},
		{`{"sessionName":"Cool Cars","passWord":"pc\u00e97x"}`, CodeBackendPasscode},
		{`{"sessionName":"Cool/Cars"}`, CodeBackendSession},
	} {
		a, err := Video.Format().FromConfig(parsed(t, c.doc), f)
		switch {
		case c.code == "" && err != nil:
			t.Errorf("%s: %v", c.doc, err)
		case c.code != "" && (err == nil || err.Code() != c.code):
			t.Errorf("%s: %v, want %s", c.doc, err, c.code)
		case c.code == CodeBackendPasscode && !strings.Contains(err.Reason(), "passWord"):
			t.Errorf("%s: reason %q does not name the field", c.doc, err.Reason())
		case c.code == CodeBackendPasscode && (strings.Contains(err.Reason(), "123456") || strings.Contains(err.Reason(), "pc") || strings.Contains(err.Reason(), "é")):
			// The passcode is the session's secret: no reason says it.
			t.Errorf("%s: reason %q holds the passcode", c.doc, err.Reason())
		case c.code == "" && a.Meeting != "Cool Cars":
			t.Errorf("%s: %+v", c.doc, a)
		}
	}
}
