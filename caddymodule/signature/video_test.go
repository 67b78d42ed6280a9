package signature

import (
	"strings"
	"testing"

	"github.com/zoomsig/caddy-zoom-signature/caddymodule/problem"
)

// TestVideoSDKLimits: what the Video SDK (2.5.0) or Zoom refuses beyond the
// sample is refused before signing, in endpoint mode after the sample's
// own errors (examples/videosdk-notes.md).
func TestVideoSDKLimits(t *testing.T) {
	for _, c := range []struct {
		name, body, code string
	}{
		{"letters, digits and listed symbols", `{"role":0,"sessionName":"Cool Cars #1 (a+b) [x]_~,\\ 中文 é 😀"}`, ""},
		{"slash", `{"role":0,"sessionName":"a/b"}`, CodeInvalidSessionName},
		{"quote", `{"role":0,"sessionName":"it's"}`, CodeInvalidSessionName},
		{"tab", `{"role":0,"sessionName":"a\tb"}`, CodeInvalidSessionName},
		{"C1 control", `{"role":0,"sessionName":"a\u0085b"}`, CodeInvalidSessionName},
		{"too long is the sample's", `{"role":0,"sessionName":"` + strings.Repeat("/", 201) + `"}`, CodeInvalidField},
	} {
		_, err := ParseVideoRequest([]byte(c.body))
		got := ""
		if pe := problem.As(err); pe != nil {
			got = pe.Problems[len(pe.Problems)-1].Code
			if len(pe.Problems) != 1 || !strings.Contains(pe.Reason(), "sessionName") && pe.Problems[0].Property != "sessionName" {
				t.Errorf("%s: %v", c.name, pe.Problems)
			}
		}
		if got != c.code {
			t.Errorf("%s: code %q (%v), want %q", c.name, got, err, c.code)
		}
	}
	// The signer refuses them too, so the CLI and inject mode do.
	for _, name := range []string{"a/b", "it's", "a\tb", "a\u0085b"} {
		if err := (Video{SessionName: name, ExpiresIn: 3600}).Check(); problem.As(err) == nil || problem.As(err).Code() != CodeInvalidSessionName {
			t.Errorf("Check(%q): %v", name, err)
		}
	}
	for pass, bad := range map[string]bool{"": false, "pc-7x": false, "0123456789": false, "01234567890": true, "pässe": true, "a\tb": true, "😀😀😀😀😀😀": true} {
		if got := PasscodeReason(pass) != ""; got != bad {
			t.Errorf("passcode %q: refused %v, want %v", pass, got, bad)
		}
	}
	if r := PasscodeReason("01234567890"); !strings.Contains(r, "at most 10") || !strings.Contains(r, "5013") {
		t.Errorf("reason %q does not name the limit and the SDK's code", r)
	}
}
