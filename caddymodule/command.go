package caddymodule

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/spf13/cobra"

	"github.com/zoomsig/caddy-zoom-signature/caddymodule/doctor"
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/inspect"
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/internal/jsonstr"
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/join"
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/problem"
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/signature"
)

// Exit statuses of the CLI.
const (
	exitOK       = 0
	exitFindings = 1 // inspect found an error-level problem
	exitBadInput = 2
)

const signLong = `
Mints a Zoom SDK signature, byte for byte as Zoom's sample auth endpoints do.

The SDK key comes from --sdk-key or $ZOOM_SDK_KEY. The secret comes from
--secret-file or $ZOOM_SDK_SECRET; it is never taken as a flag value, so it
stays out of shell history and process lists.

The request is either --body, the exact JSON body Zoom's sample endpoint
accepts ("-" reads it from stdin), or built from --meeting, --role,
--expires-in, --session-name and the other flags.

--issued-at is a Unix time in seconds (milliseconds allowed as a fraction)
used as it is: it becomes iat for the JWTs, and round-down(T*1000) is the
websdk1 timestamp. Without it, the current time back-dated by --backdate.

Bad input exits with status 2 and lists every problem on stderr.
`

const inspectLong = `
Decodes a Meeting SDK JWT, a Video SDK JWT or a legacy Web SDK 1.x signature,
prints its header and claims with readable times, and lists each problem with
a stable code, its cause and its fix.

Pass the token as the argument, or "-" to read it from stdin. The optional
context makes more checks possible: --secret-file (or $ZOOM_SDK_SECRET)
checks the HMAC; --sdk-key, --meeting and --role compare with what the join
will use; --zak-present says the join carries a ZAK; --at judges the times
at a Unix time instead of now.

Exits with status 1 if any finding is an error, 2 on bad usage.
`

func signCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sign [--sdk meeting|video|websdk1] [--body JSON|-] [--meeting N] [--role 0|1] [--issued-at T] [--json]",
		Short: "Mints a Zoom SDK signature",
		Long:  signLong,
		// Usage errors exit 2, as the help says; cobra's own argument
		// checks would exit 1, the status for findings.
		Args: cobra.ArbitraryArgs,
	}
	f := cmd.Flags()
	f.String("sdk", "meeting", "signature format: meeting, video or websdk1")
	f.String("sdk-key", "", "SDK key (client ID); default $ZOOM_SDK_KEY")
	f.String("secret-file", "", "file holding the SDK secret; default $ZOOM_SDK_SECRET")
	f.String("body", "", `the sample endpoint's JSON request body, or "-" for stdin`)
	f.String("meeting", "", "meeting number (meeting, websdk1)")
	f.String("role", "", "0 (attendee) or 1 (host)")
	f.String("expires-in", "", "token lifetime: seconds or a duration such as 2h (default 2h)")
	f.String("session-name", "", "Video SDK session name")
	f.String("user-identity", "", "Video SDK user identity")
	f.String("session-key", "", "Video SDK session key")
	f.String("video-webrtc-mode", "", "0 or 1")
	f.String("issued-at", "", "Unix time in seconds (fractions to milliseconds); used as-is")
	f.Duration("backdate", 30*time.Second, "back-dating of the current time when --issued-at is not set")
	f.Bool("urlsafe", false, "websdk1: base64url without padding (PHP flavour)")
	f.Bool("json", false, "print the sample endpoint's response body")
	cmd.RunE = exitWith(runSign)
	return cmd
}

func inspectCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "inspect <token|-> [--secret-file F] [--sdk-key K] [--meeting N] [--role 0|1] [--zak-present] [--at T] [--json]",
		Short: "Decodes a Zoom SDK signature and names what is wrong with it",
		Long:  inspectLong,
		Args:  cobra.ArbitraryArgs,
	}
	f := cmd.Flags()
	f.String("secret-file", "", "file holding the SDK secret, to check the HMAC; default $ZOOM_SDK_SECRET")
	f.String("sdk-key", "", "SDK key the join uses")
	f.String("meeting", "", "meeting number (or Video SDK session name) the join uses")
	f.String("role", "", "role the join uses")
	f.Bool("zak-present", false, "the join carries a ZAK")
	f.String("at", "", "judge the times at this Unix time (default now)")
	f.Bool("json", false, "machine-readable output")
	cmd.RunE = exitWith(runInspect)
	return cmd
}

// exitWith turns a run function's status into the process exit status.
// caddycmd only passes statuses above 1 through its own error type, and
// inspect needs 1, so the status is applied here.
func exitWith(run func(*cobra.Command, []string) int) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		if code := run(cmd, args); code != exitOK {
			os.Exit(code)
		}
		return nil
	}
}

func runSign(cmd *cobra.Command, args []string) int {
	f := cmd.Flags()
	stderr := cmd.ErrOrStderr()
	asJSON, _ := f.GetBool("json")
	bodyFlag, _ := f.GetString("body")
	fromFlags := bodyFlag == ""
	fail := func(err error) int {
		pe := problem.As(err)
		switch {
		case pe != nil && asJSON:
			// The endpoint's error body, byte for byte, on stdout.
			_, _ = cmd.OutOrStdout().Write(append(errorBody(pe.Problems), '\n'))
		case pe != nil:
			for _, p := range pe.Problems {
				prop := p.Property
				if flag, ok := flagOf[prop]; ok && fromFlags {
					prop = flag // the user wrote a flag, not a body
				}
				fmt.Fprintf(stderr, "%s: %s (%s)\n", prop, jsonstr.Printable(p.Reason), p.Code)
			}
		default:
			fmt.Fprintln(stderr, "error:", err)
		}
		return exitBadInput
	}

	if len(args) > 0 {
		return fail(fmt.Errorf("sign takes no arguments (got %q); pass the request as --body, or --meeting and --role", args[0]))
	}
	key, secret, err := credentials(cmd, true)
	if err != nil {
		return fail(err)
	}
	s, err := signature.NewSigner(key, secret)
	if err != nil {
		return fail(err)
	}
	sdkName, _ := f.GetString("sdk")
	sdk, err := join.ParseSDK(sdkName)
	if err != nil {
		return fail(fmt.Errorf("unknown --sdk %q; use meeting, video or websdk1", sdkName))
	}
	body, err := signBody(cmd)
	if err != nil {
		return fail(err)
	}
	nowMS, err := issuedAtMillis(cmd)
	if err != nil {
		return fail(err)
	}

	urlSafe, _ := f.GetBool("urlsafe")
	token, err := mint(s, sdk, body, nowMS, urlSafe)
	if err != nil {
		return fail(err)
	}

	out := cmd.OutOrStdout()
	if asJSON {
		resp := struct {
			Signature string `json:"signature"`
			SDKKey    string `json:"sdkKey,omitempty"`
		}{Signature: token}
		if _, at := sdk.Format().KeyFields(); at != "" {
			resp.SDKKey = key
		}
		enc := json.NewEncoder(out)
		enc.SetEscapeHTML(false)
		_ = enc.Encode(resp)
		return exitOK
	}
	fmt.Fprintln(out, token)
	return exitOK
}

// mint signs what the sample would, native-SDK tokens included, so it
// calls the signer directly rather than a join.Format, which only ever
// signs web joins.
func mint(s *signature.Signer, sdk join.SDK, body []byte, nowMS int64, urlSafe bool) (string, error) {
	switch sdk {
	case join.Video:
		v, err := signature.ParseVideoRequest(body)
		if err != nil {
			return "", err
		}
		v.IssuedAt = floorDiv(nowMS, 1000)
		v.ExpiresIn = orDefault(v.ExpiresIn)
		return s.Video(v)
	case join.WebSDK1:
		m, err := signature.ParseMeetingRequest(body)
		if err == nil && m.Native {
			err = errors.New("websdk1 signatures need a meeting number and a role; pass --meeting and --role")
		}
		if err != nil {
			return "", err
		}
		return s.WebSDK1(m.MeetingNumber, m.Role, nowMS, urlSafe)
	}
	m, err := signature.ParseMeetingRequest(body)
	if err != nil {
		return "", err
	}
	m.IssuedAt = floorDiv(nowMS, 1000)
	m.ExpiresIn = orDefault(m.ExpiresIn)
	return s.Meeting(m)
}

// signBody returns --body, or a body built from the per-field flags.
// signFields are the flags that build a request body, and the body's names
// for them.
var signFields = []struct{ flag, name string }{
	{"meeting", "meetingNumber"}, {"role", "role"}, {"expires-in", "expirationSeconds"},
	{"session-name", "sessionName"}, {"user-identity", "userIdentity"},
	{"session-key", "sessionKey"}, {"video-webrtc-mode", "videoWebRtcMode"},
}

// flagOf names a body property by the flag that sets it, for errors about
// a body built from flags.
var flagOf = func() map[string]string {
	m := map[string]string{}
	for _, f := range signFields {
		m[f.name] = "--" + f.flag
	}
	return m
}()

func signBody(cmd *cobra.Command) ([]byte, error) {
	f := cmd.Flags()
	fields := signFields
	body, _ := f.GetString("body")
	if body != "" {
		for _, fl := range fields {
			if f.Changed(fl.flag) {
				return nil, fmt.Errorf("--%s cannot be combined with --body; put %s in the body instead", fl.flag, fl.name)
			}
		}
		if body == "-" {
			b, err := io.ReadAll(io.LimitReader(cmd.InOrStdin(), 1<<20))
			if err != nil {
				return nil, fmt.Errorf("reading the body from stdin: %w", err)
			}
			return b, nil
		}
		return []byte(body), nil
	}
	obj := map[string]any{}
	if !slices.ContainsFunc(fields, func(fl struct{ flag, name string }) bool { return f.Changed(fl.flag) }) {
		// An empty body would mint a native-SDK init token, which no web
		// join accepts; that takes --body '{}' on purpose.
		return nil, errors.New("nothing to sign: web joins need a meeting number and a role, so pass --meeting and --role (--session-name and --role for --sdk video), or the whole request as --body; --body '{}' mints a native-SDK init token")
	}
	for _, fl := range fields {
		if !f.Changed(fl.flag) {
			continue
		}
		v, _ := f.GetString(fl.flag)
		switch fl.flag {
		case "role", "video-webrtc-mode":
			n, err := strconv.Atoi(v)
			if err != nil {
				return nil, fmt.Errorf("--%s %q is not a number; use 0 or 1", fl.flag, v)
			}
			obj[fl.name] = n
		case "expires-in":
			secs, err := parseSeconds(v)
			if err != nil {
				return nil, err
			}
			obj[fl.name] = secs
		default:
			obj[fl.name] = v
		}
	}
	return json.Marshal(obj)
}

func parseSeconds(v string) (int64, error) {
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		return n, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("--expires-in %q is neither seconds nor a duration such as 2h", v)
	}
	return int64(d / time.Second), nil
}

// issuedAtMillis is --issued-at, or now minus --backdate, in milliseconds.
func issuedAtMillis(cmd *cobra.Command) (int64, error) {
	f := cmd.Flags()
	if v, _ := f.GetString("issued-at"); v != "" {
		return parseUnixMillis("--issued-at", v)
	}
	back, _ := f.GetDuration("backdate")
	if back < 0 {
		return 0, fmt.Errorf("--backdate %s is negative; a token issued in the future is refused by Zoom", back)
	}
	return time.Now().Add(-back).UnixMilli(), nil
}

// parseUnixMillis reads "1717171717" or "1717171717.123" exactly, without
// going through a float.
func parseUnixMillis(flag, v string) (int64, error) {
	whole, frac, _ := strings.Cut(v, ".")
	sec, err := strconv.ParseInt(whole, 10, 64)
	if err != nil || sec < 0 || len(frac) > 3 || strings.Trim(frac, "0123456789") != "" {
		return 0, fmt.Errorf("%s %q is not a Unix time in seconds with at most 3 decimals (e.g. 1717171717.123)", flag, v)
	}
	ms, _ := strconv.ParseInt((frac + "000")[:3], 10, 64)
	return sec*1000 + ms, nil
}

// orDefault is the sample's lifetime when the request named none.
func orDefault(seconds int64) int64 {
	if seconds == 0 {
		return signature.DefaultLifetime
	}
	return seconds
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

// credentials reads the SDK key and the secret. The secret comes from a
// file or the environment only; a trailing newline, as editors leave it, is
// removed the way Caddy's {file.*} placeholder does.
func credentials(cmd *cobra.Command, needKey bool) (key, secret string, err error) {
	f := cmd.Flags()
	key, _ = f.GetString("sdk-key")
	if key == "" {
		key = os.Getenv("ZOOM_SDK_KEY")
	}
	if needKey && key == "" {
		return "", "", errors.New("no SDK key: pass --sdk-key or set ZOOM_SDK_KEY")
	}
	if path, _ := f.GetString("secret-file"); path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return "", "", fmt.Errorf("reading the secret file: %w", err)
		}
		secret = strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
		if secret == "" {
			return "", "", fmt.Errorf("the secret file %s is empty", path)
		}
		return key, secret, nil
	}
	secret = os.Getenv("ZOOM_SDK_SECRET")
	if needKey && secret == "" {
		return "", "", errors.New("no SDK secret: pass --secret-file or set ZOOM_SDK_SECRET")
	}
	return key, secret, nil
}

func runInspect(cmd *cobra.Command, args []string) int {
	f := cmd.Flags()
	stderr := cmd.ErrOrStderr()
	if len(args) != 1 {
		fmt.Fprintln(stderr, `error: inspect takes one argument, the token (or "-" to read it from stdin); see --help`)
		return exitBadInput
	}
	token := args[0]
	if token == "-" {
		b, err := io.ReadAll(io.LimitReader(cmd.InOrStdin(), 1<<20))
		if err != nil {
			fmt.Fprintln(stderr, "error: reading the token from stdin:", err)
			return exitBadInput
		}
		token = string(b)
	}
	_, secret, err := credentials(cmd, false)
	if err != nil {
		fmt.Fprintln(stderr, "error:", err)
		return exitBadInput
	}
	o := inspect.Options{Secret: secret}
	o.SDKKey, _ = f.GetString("sdk-key")
	o.MeetingNumber, _ = f.GetString("meeting")
	o.ZAKPresent, _ = f.GetBool("zak-present")
	if v, _ := f.GetString("role"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || (n != 0 && n != 1) {
			fmt.Fprintf(stderr, "error: --role %q must be 0 or 1\n", v)
			return exitBadInput
		}
		o.Role = &n
	}
	if v, _ := f.GetString("at"); v != "" {
		ms, err := parseUnixMillis("--at", v)
		if err != nil {
			fmt.Fprintln(stderr, "error:", err)
			return exitBadInput
		}
		o.At = time.UnixMilli(ms)
	}

	r := inspect.Inspect(token, o)
	out := cmd.OutOrStdout()
	if asJSON, _ := f.GetBool("json"); asJSON {
		enc := json.NewEncoder(out)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		_ = enc.Encode(r)
	} else {
		_ = r.WriteText(out)
	}
	if r.HasErrors() {
		return exitFindings
	}
	return exitOK
}

const doctorLong = `
Names why a Zoom Meeting SDK join through this site fails, before the join
or right after it, from the site's own config: it loads --config as
"caddy run" would (placeholders resolved, the configured Zoom URLs), finds
the zoom_signature handler (--handler, its name option, when the config has
several), and checks what that handler would do for --user and --meeting:
the policy, the token it would mint, this machine's clock against Zoom's,
the Server-to-Server app, the meeting's settings and host, the user's
connected Zoom account.

It asks Zoom what it must (the meeting, its host, the ZAK's owner and, for
a meeting outside the account, an OBF token with the user's own grant,
which is thrown away), and signs, registers and writes nothing.

Each finding has a stable code, a severity (error, warn, info), the SDK
error codes it explains, the cause, the evidence and the fix. With --code,
the findings that explain that SDK code come first. --passcode and --email
say what the join sent, to compare with the meeting's.

Exits 0 when no finding is an error, 1 when one is, 2 on usage errors.
`

func doctorCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "doctor --config FILE [--adapter caddyfile] [--handler NAME] --meeting N [--user U] [--role 0|1] [--code SDK_CODE] [--json]",
		Short: "Names why a Zoom join through this site fails",
		Long:  doctorLong,
		Args:  cobra.ArbitraryArgs,
	}
	f := cmd.Flags()
	f.String("config", "", "the site's config file (a Caddyfile or JSON)")
	f.String("adapter", "", "the config adapter, such as caddyfile (default: by the file's name)")
	f.String("handler", "", "the zoom_signature handler's name, when the config has several")
	f.String("meeting", "", "the meeting number")
	f.String("user", "", "the site user who joins, as the identity placeholder or session would name them")
	f.String("role", "0", "0 (attendee) or 1 (host)")
	f.String("code", "", "the error code the SDK showed, such as 3712")
	f.String("sdk-version", "", "the page's web SDK version, such as 6.2.0")
	f.String("passcode", "", "the passcode the join sent, to compare with the meeting's (never printed)")
	f.String("email", "", "the userEmail the join sent")
	f.Bool("json", false, `print {"meeting","findings":[...]}`)
	cmd.RunE = exitWith(runDoctor)
	return cmd
}

func runDoctor(cmd *cobra.Command, args []string) int {
	f := cmd.Flags()
	stderr := cmd.ErrOrStderr()
	usage := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "error: "+format+"\n", a...)
		return exitBadInput
	}
	if len(args) != 0 {
		return usage("doctor takes no arguments, only flags; see --help")
	}
	file, _ := f.GetString("config")
	meeting, _ := f.GetString("meeting")
	switch {
	case file == "":
		return usage("--config names the site's config file, such as --config Caddyfile")
	case meeting == "":
		return usage("--meeting names the meeting number, such as --meeting 85746065432")
	}
	role, _ := f.GetString("role")
	code, _ := f.GetString("code")
	body, _ := json.Marshal(map[string]string{"meetingNumber": meeting, "role": role})
	sdkCode := 0
	if code != "" {
		n, err := strconv.Atoi(code)
		if err != nil || n < 0 {
			return usage("--code %q must be the SDK's numeric error code, such as 3712", code)
		}
		sdkCode = n
	}
	adapter, _ := f.GetString("adapter")
	name, _ := f.GetString("handler")
	h, err := loadHandler(file, adapter, name)
	if err != nil {
		return usage("%v", err)
	}
	q, perr := h.doc.doctorQuery(body)
	if perr != nil {
		for _, p := range perr.Problems {
			flag := map[string]string{"meetingNumber": "--meeting", "role": "--role"}[p.Property]
			fmt.Fprintf(stderr, "error: %s: %s (%s)\n", cmp.Or(flag, p.Property), jsonstr.Printable(p.Reason), p.Code)
		}
		return exitBadInput
	}
	if h.mode != endpoint {
		// The operator speaks for the backend, which chooses the meetings.
		q.ask.From = join.FromBackend
	}
	q.sdkCode = sdkCode
	q.sdkVersion, _ = f.GetString("sdk-version")
	if f.Changed("passcode") {
		v, _ := f.GetString("passcode")
		q.passcode = &v
	}
	if f.Changed("email") {
		v, _ := f.GetString("email")
		q.email = &v
	}
	user, _ := f.GetString("user")
	repl, p := h.doc.principalFor(user)
	ctx, cancel := context.WithTimeout(context.Background(), doctorTimeout)
	defer cancel()
	rep := h.doc.diagnose(ctx, repl, p, q)
	out := cmd.OutOrStdout()
	if asJSON, _ := f.GetBool("json"); asJSON {
		enc := json.NewEncoder(out)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		_ = enc.Encode(rep)
	} else {
		writeReport(out, h.Name, rep)
	}
	if rep.HasErrors() {
		return exitFindings
	}
	return exitOK
}

// loadHandler loads a config file as caddy run would, provisions it (its
// apps are provisioned, not started: no port is bound) and returns the
// zoom_signature handler named name, or the only one that signs Meeting
// SDK joins.
func loadHandler(file, adapter, name string) (*Handler, error) {
	raw, _, _, err := caddycmd.LoadConfig(file, adapter)
	if err != nil {
		return nil, fmt.Errorf("loading --config %s: %w", file, err)
	}
	var cfg caddy.Config
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return nil, fmt.Errorf("reading --config %s: %w", file, err)
	}
	// The doctor's output is its findings: the config's own logs would
	// bury them, and its log files are the running server's.
	cfg.Logging = &caddy.Logging{Logs: map[string]*caddy.CustomLog{"default": {BaseLog: caddy.BaseLog{Level: "ERROR"}}}}
	ctx, err := caddy.ProvisionContext(&cfg)
	if err != nil {
		return nil, fmt.Errorf("provisioning --config %s: %w", file, err)
	}
	var found []*Handler
	if app, err := ctx.App("http"); err == nil {
		for _, srv := range app.(*caddyhttp.App).Servers {
			found = appendHandlers(found, srv.Routes)
		}
	}
	var names []string
	var pick []*Handler
	for _, h := range found {
		if h.sdk == join.Video {
			continue
		}
		names = append(names, h.Name)
		if name == "" || h.Name == name {
			pick = append(pick, h)
		}
	}
	switch {
	case len(names) == 0:
		return nil, fmt.Errorf("--config %s has no zoom_signature handler that signs Meeting SDK joins", file)
	case len(pick) == 0:
		return nil, fmt.Errorf("--config %s has no zoom_signature handler named %q; its handlers are %s", file, name, strings.Join(names, ", "))
	case len(pick) > 1:
		return nil, fmt.Errorf("--config %s has several zoom_signature handlers (%s); name one with --handler (give each a name option)", file, strings.Join(names, ", "))
	}
	return pick[0], nil
}

// appendHandlers walks routes, and the subroutes that handle, route and
// site blocks make, for zoom_signature handlers.
func appendHandlers(found []*Handler, routes caddyhttp.RouteList) []*Handler {
	for _, rt := range routes {
		for _, mh := range rt.Handlers {
			switch v := mh.(type) {
			case *Handler:
				found = append(found, v)
			case *caddyhttp.Subroute:
				found = appendHandlers(found, v.Routes)
			}
		}
	}
	return found
}

// principalFor is the user the command line names, as the handler would
// resolve them from a request whose identity placeholder holds user. A
// session token's claims are not known here.
func (rd *routeDoctor) principalFor(user string) (*caddy.Replacer, join.Principal) {
	h := rd.h
	repl := caddy.NewReplacer()
	repl.Set("http.auth.user.id", user)
	if h.identityKey != "" {
		repl.Set(h.identityKey, user)
	}
	p := join.Principal{ID: user}
	publish(repl, p)
	return repl, h.derive(repl, p)
}

// writeReport prints the findings for a person.
func writeReport(w io.Writer, handler string, r doctor.Report) {
	fmt.Fprintf(w, "meeting %s through handler %s:\n", r.Meeting, handler)
	for _, f := range r.Findings {
		fmt.Fprintf(w, "\n%-5s %s", f.Severity, f.Code)
		if len(f.SDKCodes) > 0 {
			codes := make([]string, len(f.SDKCodes))
			for i, c := range f.SDKCodes {
				codes[i] = strconv.Itoa(c)
			}
			fmt.Fprintf(w, " (explains %s)", strings.Join(codes, ", "))
		}
		fmt.Fprintf(w, "\n  cause: %s\n", f.Cause)
		for _, e := range f.Evidence {
			fmt.Fprintf(w, "  evidence: %s\n", e)
		}
		if f.Fix != "" {
			fmt.Fprintf(w, "  fix: %s\n", f.Fix)
		}
	}
}
