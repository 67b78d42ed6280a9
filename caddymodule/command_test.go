package caddymodule

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/zoomsig/caddy-zoom-signature/caddymodule/internal/vectors"
)

// runCLI runs a zoom-signature subcommand in-process and returns its exit
// status and output.
func runCLI(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var cmd *cobra.Command
	run := runSign
	switch args[0] {
	case "sign":
		cmd = signCommand()
	case "inspect":
		cmd, run = inspectCommand(), runInspect
	}
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetIn(strings.NewReader(stdin))
	if err := cmd.ParseFlags(args[1:]); err != nil {
		t.Fatal(err)
	}
	return run(cmd, cmd.Flags().Args()), out.String(), errOut.String()
}

// millis writes a Unix millisecond time as the --issued-at flag takes it.
func millis(ms int64) string {
	return strconv.FormatInt(ms/1000, 10) + "." + strings.TrimPrefix(strconv.FormatInt(1000+ms%1000, 10), "1")
}

// TestSignVectors mints every standard vector through the CLI, from the
// sample's own request body, and compares the exact response bytes.
func TestSignVectors(t *testing.T) {
	v := vectors.Load(t)
	n := 0
	for _, sdk := range []string{"meeting", "video"} {
		list := v.Meeting
		if sdk == "video" {
			list = v.Video
		}
		for _, x := range list {
			if x.Category != "standard" {
				continue
			}
			n++
			t.Setenv("ZOOM_SDK_KEY", x.Input.Key)
			t.Setenv("ZOOM_SDK_SECRET", x.Input.Secret)
			code, out, errOut := runCLI(t, "", "sign", "--sdk", sdk, "--body", x.Input.Request.Body, "--issued-at", millis(x.Input.NowMS), "--json")
			if code != 0 || strings.TrimSpace(out) != x.Expected.ResponseBody {
				t.Errorf("%s: exit %d\n got %s\nwant %s\n%s", x.ID, code, out, x.Expected.ResponseBody, errOut)
			}
			// The body can come from stdin too, and the default output is the
			// token alone.
			code, out, _ = runCLI(t, x.Input.Request.Body, "sign", "--sdk", sdk, "--body", "-", "--issued-at", millis(x.Input.NowMS))
			if code != 0 || out != x.Expected.Signature+"\n" {
				t.Errorf("%s from stdin: %d %q", x.ID, code, out)
			}
		}
	}
	for _, x := range v.Legacy {
		if x.Category != "standard" {
			continue
		}
		n++
		t.Setenv("ZOOM_SDK_KEY", x.Input.Key)
		t.Setenv("ZOOM_SDK_SECRET", x.Input.Secret)
		args := []string{"sign", "--sdk", "websdk1"}
		if x.Variant == "php_urlsafe_base64_nopad" {
			args = append(args, "--urlsafe", "--meeting", strings.Trim(string(x.Input.MeetingNumber), `"`), "--role", strconv.Itoa(x.Input.Role),
				"--issued-at", millis(x.Input.TimeS*1000-30000))
		} else {
			args = append(args, "--json", "--body", x.Input.Request.Body, "--issued-at", millis(x.Input.NowMS-30000))
		}
		code, out, errOut := runCLI(t, "", args...)
		want := x.Expected.Signature
		if x.Variant != "php_urlsafe_base64_nopad" {
			want = x.Expected.ResponseBody
		}
		if code != 0 || strings.TrimSpace(out) != want {
			t.Errorf("%s: exit %d\n got %s\nwant %s\n%s", x.ID, code, out, want, errOut)
		}
	}
	if n < 20 {
		t.Fatalf("only %d vectors signed", n)
	}
}

func TestSignFlagsAndErrors(t *testing.T) {
	t.Setenv("ZOOM_SDK_KEY", testKey)
	t.Setenv("ZOOM_SDK_SECRET", "")
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "secret")
	if err := os.WriteFile(secretFile, []byte(testSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// Flags build the same request as the body.
	_, fromFlags, _ := runCLI(t, "", "sign", "--secret-file", secretFile, "--meeting", "857 4606 5432", "--role", "1", "--expires-in", "1h", "--issued-at", "1717171717")
	_, fromBody, _ := runCLI(t, "", "sign", "--secret-file", secretFile, "--body", `{"meetingNumber":"85746065432","role":1,"expirationSeconds":3600}`, "--issued-at", "1717171717")
	if fromFlags == "" || fromFlags != fromBody {
		t.Fatalf("flags %q != body %q", fromFlags, fromBody)
	}
	// Without --issued-at, iat is now minus the backdate.
	code, out, _ := runCLI(t, "", "sign", "--secret-file", secretFile, "--meeting", "85746065432", "--role", "0", "--backdate", "2m")
	if code != 0 {
		t.Fatal(out)
	}
	code, report, _ := runCLI(t, "", "inspect", strings.TrimSpace(out), "--json")
	var r struct {
		Claims struct{ Iat, Exp int64 }
	}
	_ = json.Unmarshal([]byte(report), &r)
	if code != 0 || r.Claims.Exp-r.Claims.Iat != 7200 {
		t.Fatalf("inspect of a fresh token: %d %s", code, report)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--meeting", "85746065432", "--role", "0"}, "no SDK secret"},
		{[]string{"--secret-file", secretFile, "--meeting", "123", "--role", "0"}, "--meeting: Value \"123\" is not a Zoom meeting number"},
		{[]string{"--secret-file", secretFile, "--meeting", "85746065432", "--role", "2"}, "role: Value is not valid. Got 2, expected 0,1 (invalid_role)"},
		{[]string{"--secret-file", secretFile, "--meeting", "85746065432", "--role", "0", "--expires-in", "10m"}, "Value must in between 1800 and 172800"},
		{[]string{"--secret-file", secretFile, "--body", `{"meetingNumber":`}, "not valid JSON"},
		{[]string{"--secret-file", secretFile, "--body", `{}`, "--meeting", "85746065432"}, "cannot be combined with --body"},
		{[]string{"--secret-file", secretFile, "--sdk", "zoom"}, `unknown --sdk "zoom"`},
		{[]string{"--secret-file", secretFile, "--sdk", "websdk1"}, "need a meeting number"},
		{[]string{"--secret-file", secretFile, "--issued-at", "soon", "--meeting", "85746065432", "--role", "0"}, "--issued-at"},
		{[]string{"--secret-file", filepath.Join(dir, "missing")}, "reading the secret file"},
	} {
		code, out, errOut := runCLI(t, "", append([]string{"sign"}, tc.args...)...)
		if code != exitBadInput || out != "" || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want 2 and %q", tc.args, code, out, errOut, tc.want)
		}
		if strings.Contains(errOut, testSecret) {
			t.Errorf("%v: the secret is in the error output", tc.args)
		}
	}
	// A native token needs a body with neither field, as in the sample.
	if code, out, _ := runCLI(t, "", "sign", "--secret-file", secretFile, "--body", "{}", "--issued-at", "1760000000"); code != 0 || out == "" {
		t.Fatalf("native token: %d", code)
	}
}

func TestInspectCommand(t *testing.T) {
	t.Setenv("ZOOM_SDK_KEY", testKey)
	t.Setenv("ZOOM_SDK_SECRET", testSecret)
	_, tok, _ := runCLI(t, "", "sign", "--meeting", "85746065432", "--role", "0", "--issued-at", "1717171717")
	tok = strings.TrimSpace(tok)

	code, out, _ := runCLI(t, "", "inspect", tok, "--at", "1717171800", "--meeting", "85746065432", "--sdk-key", testKey, "--role", "0")
	if code != 0 || !regexp.MustCompile(`findings:\s+none`).MatchString(out) || !strings.Contains(out, "2024-05-31T16:08:37Z") {
		t.Fatalf("clean token: exit %d\n%s", code, out)
	}
	// Judged later, it has expired: exit 1, and the JSON names the code.
	code, out, _ = runCLI(t, tok+"\n", "inspect", "-", "--at", "1717180000", "--json")
	var r struct {
		Format   string
		Findings []struct{ Severity, Code, Message string }
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	if code != exitFindings || r.Format != "meeting" || len(r.Findings) == 0 || r.Findings[0].Code != "expired" {
		t.Fatalf("expired token: exit %d %+v", code, r)
	}
	// A wrong secret is named.
	t.Setenv("ZOOM_SDK_SECRET", "another-secret")
	if code, out, _ = runCLI(t, "", "inspect", tok, "--at", "1717171800"); code != 1 || !strings.Contains(out, "bad_signature") {
		t.Fatalf("wrong secret: %d %s", code, out)
	}
	if code, _, errOut := runCLI(t, "", "inspect", tok, "--role", "host"); code != exitBadInput || !strings.Contains(errOut, "--role") {
		t.Fatalf("bad --role: %d %s", code, errOut)
	}
	if code, out, _ = runCLI(t, "", "inspect", "not a token"); code != 1 || !strings.Contains(out, "not_a_token") {
		t.Fatalf("garbage: %d %s", code, out)
	}
}

// TestCLIUsage: usage errors exit 2, as the help says; errors about a body
// built from flags name the flags; sign with nothing to sign refuses.
func TestCLIUsage(t *testing.T) {
	secretFile := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secretFile, []byte(testSecret), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("ZOOM_SDK_KEY", testKey)
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"inspect"}, exitBadInput, "inspect takes one argument"},
		{[]string{"inspect", "a.b.c", "extra"}, exitBadInput, "inspect takes one argument"},
		{[]string{"sign", "--secret-file", secretFile}, exitBadInput, "nothing to sign"},
		{[]string{"sign", "--secret-file", secretFile, "stray"}, exitBadInput, "sign takes no arguments"},
		{[]string{"sign", "--secret-file", secretFile, "--meeting", "85746065432", "--role", "0", "--expires-in", "10"}, exitBadInput, "--expires-in: Value must in between 1800 and 172800"},
		{[]string{"sign", "--secret-file", secretFile, "--meeting", "85746065432", "--role", "3"}, exitBadInput, "--role: Value is not valid"},
	} {
		code, _, stderr := runCLI(t, "", c.args...)
		if code != c.code || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, %q; want %d and %q", c.args, code, stderr, c.code, c.want)
		}
	}
	// A body names the body's properties, as the sample does.
	if _, _, stderr := runCLI(t, "", "sign", "--secret-file", secretFile, "--body", `{"meetingNumber":"85746065432","role":0,"expirationSeconds":10}`); !strings.Contains(stderr, "expirationSeconds: Value must in between") {
		t.Errorf("body errors: %q", stderr)
	}
}
