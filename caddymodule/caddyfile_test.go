package caddymodule

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

var update = flag.Bool("update", false, "rewrite the expected JSON of testdata/caddyfile/*.caddyfiletest")

func adapt(t *testing.T, text string) ([]byte, error) {
	t.Helper()
	out, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(text), nil)
	return out, err
}

// TestCaddyfileAdapt runs every testdata/caddyfile/*.caddyfiletest: a
// Caddyfile, a line of ten dashes, and the JSON it must adapt to, as in
// Caddy's own caddytest/integration/caddyfile_adapt.
func TestCaddyfileAdapt(t *testing.T) {
	files, _ := filepath.Glob("testdata/caddyfile/*.caddyfiletest")
	if len(files) < 5 {
		t.Fatalf("only %d adapt tests found", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			in, want, ok := strings.Cut(string(data), "\n----------\n")
			if !ok {
				t.Fatal("no ---------- separator")
			}
			out, err := adapt(t, in)
			if err != nil {
				t.Fatal(err)
			}
			var pretty bytes.Buffer
			if err := json.Indent(&pretty, out, "", "\t"); err != nil {
				t.Fatal(err)
			}
			if *update {
				if err := os.WriteFile(f, []byte(in+"\n----------\n"+pretty.String()+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if strings.TrimSpace(pretty.String()) != strings.TrimSpace(want) {
				t.Fatalf("adapted JSON differs; got:\n%s", pretty.String())
			}
		})
	}
}

// TestCaddyfileErrors checks that caddy adapt names the problem.
func TestCaddyfileErrors(t *testing.T) {
	for _, tc := range []struct{ name, global, block, want string }{
		{"no key", "", "sdk_secret {env.S}", "sdk_key is required"},
		{"no secret", "", "sdk_key k", "sdk_secret is required"},
		{"unknown option", "", "sdk_key k\nsdk_secret s\nsdk_sekret s", `unrecognized subdirective "sdk_sekret"`},
		{"endpoint without meetings", "", "sdk_key k\nsdk_secret s\nmode endpoint", "endpoint mode needs meetings"},
		{"expires too short", "", "sdk_key k\nsdk_secret s\nexpires 10m", "between 30m and 48h"},
		{"expires too long", "", "sdk_key k\nsdk_secret s\nexpires 3d", "between 30m and 48h"},
		{"bad sdk", "", "sdk_key k\nsdk_secret s\nsdk zoom", `sdk "zoom" is not known`},
		{"bad mode", "", "sdk_key k\nsdk_secret s\nmode proxy", `mode "proxy" is not known`},
		{"bad host policy", "", "sdk_key k\nsdk_secret s\non_host_denied ignore", "use deny or downgrade"},
		{"host_when alone", "", "sdk_key k\nsdk_secret s\nhost_when {http.auth.user.id}", "host_when takes"},
		{"identity literal", "", "sdk_key k\nsdk_secret s\nidentity bob", "is not a placeholder"},
		{"bad meeting", "", "sdk_key k\nsdk_secret s\nmeetings 123", "not a meeting number"},
		{"any and list", "", "sdk_key k\nsdk_secret s\nmeetings any 123456789", "'any' cannot be combined"},
		{"cors wildcard", "", "sdk_key k\nsdk_secret s\ncors_origins *", "never for everything"},
		{"public origin with path", "", "sdk_key k\nsdk_secret s\npublic_origin https://x.example/app", "is not an origin"},
		{"bad size", "", "sdk_key k\nsdk_secret s\nmax_body lots", "max_body"},
		{"bad duration", "", "sdk_key k\nsdk_secret s\nbackdate soon", "backdate"},
		{"flag with arg", "", "sdk_key k\nsdk_secret s\nallow_anonymous yes", "wrong argument count"},
		{"inline arg", "", "", "wrong argument count"},
		{"meetings_claim alone", "", "sdk_key k\nsdk_secret s\nmeetings_claim m", "meetings_claim needs session_jwt"},
		{"session two keys", "", "sdk_key k\nsdk_secret s\nsession_jwt {\nhmac_secret x\njwks https://x\n}", "exactly one of"},
		{"session no key", "", "sdk_key k\nsdk_secret s\nsession_jwt {\nissuer x\n}", "exactly one of"},
		{"session jwks without algorithms", "", "sdk_key k\nsdk_secret s\nsession_jwt {\njwks https://x\n}", "needs algorithms"},
		{"session unknown option", "", "sdk_key k\nsdk_secret s\nsession_jwt {\nhmac_secret x\nsecret y\n}", `unrecognized session_jwt subdirective "secret"`},
		{"session bad from", "", "sdk_key k\nsdk_secret s\nsession_jwt {\nhmac_secret x\nfrom query token\n}", "from takes"},
		{"fill literal", "", "sdk_key k\nsdk_secret s\nfill userName Alice", "is not a placeholder"},
		{"zak incomplete", "zoom_api {\naccount_id a\n}", "sdk_key k\nsdk_secret s\nzak {\nfield zak\n}", "zoom_api needs account_id, client_id and client_secret"},
		{"zak unknown option", "", "sdk_key k\nsdk_secret s\nzak {\nsecret a\n}", `unrecognized zak subdirective "secret"`},
		{"zak with video", "zoom_api {\naccount_id a\nclient_id b\nclient_secret c\n}", "sdk video\nsdk_key k\nsdk_secret s\nzak {\nfield zak\n}", "zak is for the Meeting SDK"},
		{"fill one arg", "", "sdk_key k\nsdk_secret s\nfill userName", "fill takes"},
		{"oauth_url not a URL", "zoom_api {\naccount_id a\nclient_id b\nclient_secret c\noauth_url ::bad\n}", "sdk_key k\nsdk_secret s\nzak {\nfield zak\n}", `zoom_api oauth_url "::bad" is not an absolute https URL`},
		{"api_url relative", "zoom_api {\naccount_id a\nclient_id b\nclient_secret c\napi_url /v2\n}", "sdk_key k\nsdk_secret s\nzak {\nfield zak\n}", `zoom_api api_url "/v2" is not an absolute https URL`},
		{"api_url plain http", "zoom_api {\naccount_id a\nclient_id b\nclient_secret c\napi_url http://api.zoom.us/v2\n}", "sdk_key k\nsdk_secret s\nzak {\nfield zak\n}", "uses plain http"},
		{"jwks plain http", "", "sdk_key k\nsdk_secret s\nsession_jwt {\njwks http://id.example.com/jwks\nalgorithms RS256\n}", "uses plain http"},
		{"jwks ftp", "", "sdk_key k\nsdk_secret s\nsession_jwt {\njwks ftp://id.example.com/jwks\nalgorithms RS256\n}", "is not an absolute https URL"},
		{"state unknown option", "state {\nlookup memory\n}", "sdk_key k\nsdk_secret s", `unrecognized state subdirective "lookup"; did you mean "lookups"?`},
		{"state lookups unknown", "zoom_api {\naccount_id a\nclient_id b\nclient_secret c\n}\nstate {\nlookups redis\n}", "sdk_key k\nsdk_secret s", `state lookups "redis" is not known`},
		{"state lookups without zoom_api", "state {\nlookups memory\n}", "sdk_key k\nsdk_secret s", "need zoom_api"},
		{"state lookups storage without seal_keys", "zoom_api {\naccount_id a\nclient_id b\nclient_secret c\n}\nstate {\nlookups storage\n}", "sdk_key k\nsdk_secret s", "state lookups storage needs seal_keys"},
		{"state lock_timeout not a duration", "seal_keys k\nstate {\nlock_timeout soon\n}", "sdk_key k\nsdk_secret s", `lock_timeout "soon" is not a duration`},
		{"state lock_timeout too short", "seal_keys k\nstate {\nlock_timeout 500ms\n}", "sdk_key k\nsdk_secret s", "between 1s and 5m"},
		{"state lock_timeout too long", "seal_keys k\nstate {\nlock_timeout 10m\n}", "sdk_key k\nsdk_secret s", "between 1s and 5m"},
		{"state lock_timeout without seal_keys", "state {\nlock_timeout 5s\n}", "sdk_key k\nsdk_secret s", "only with seal_keys"},
		{"state lookups_per_minute too many", "zoom_api {\naccount_id a\nclient_id b\nclient_secret c\n}\nstate {\nlookups_per_minute 6001\n}", "sdk_key k\nsdk_secret s", "between 1 and 6000"},
		{"state lookups_per_minute negative", "zoom_api {\naccount_id a\nclient_id b\nclient_secret c\n}\nstate {\nlookups_per_minute -1\n}", "sdk_key k\nsdk_secret s", "between 1 and 6000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			text := ":8080 {\n\tzoom_signature {\n" + tc.block + "\n\t}\n}\n"
			if tc.global != "" {
				text = "{\n\tzoom {\n" + tc.global + "\n\t}\n}\n" + text
			}
			if tc.name == "inline arg" {
				text = ":8080 {\n\tzoom_signature /x extra {\n\t}\n}\n"
			}
			_, err := adapt(t, text)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			if tc.name != "inline arg" && !strings.Contains(err.Error(), "Caddyfile:") {
				t.Fatalf("error does not name the line: %v", err)
			}
		})
	}
}

// TestEveryCaddyfileAdapts adapts the root Caddyfile and every example, so
// that no documented config rots.
func TestEveryCaddyfileAdapts(t *testing.T) {
	var files []string
	_ = filepath.WalkDir("..", func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || d.Name() == "node_modules" || strings.HasPrefix(d.Name(), ".")) && p != ".." {
			return filepath.SkipDir
		}
		if !d.IsDir() && (d.Name() == "Caddyfile" || strings.HasSuffix(d.Name(), ".Caddyfile")) {
			files = append(files, p)
		}
		return nil
	})
	if len(files) == 0 {
		t.Fatal("no Caddyfile found")
	}
	for _, f := range files {
		t.Run(f, func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			out, warnings, err := caddyconfig.GetAdapter("caddyfile").Adapt(data, map[string]any{"filename": f})
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			for _, w := range warnings {
				t.Errorf("%s: warning: %s", f, w)
			}
			if !bytes.Contains(out, []byte(`"handler":"zoom_signature"`)) {
				t.Fatalf("%s does not use zoom_signature", f)
			}
			checkExample(t, out)
		})
	}
}

// checkExample holds every example to what the README asks of configs:
// the module's routes catch the path variants a backend serves as the
// same route (or the module cannot guard them), and the servers time out
// slow clients.
func checkExample(t *testing.T, adapted []byte) {
	t.Helper()
	var cfg struct {
		Apps struct {
			HTTP struct {
				Servers map[string]struct {
					ReadTimeout       int64             `json:"read_timeout"`
					ReadHeaderTimeout int64             `json:"read_header_timeout"`
					Routes            []json.RawMessage `json:"routes"`
				} `json:"servers"`
			} `json:"http"`
		} `json:"apps"`
	}
	if err := json.Unmarshal(adapted, &cfg); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	guarded := 0
	for name, srv := range cfg.Apps.HTTP.Servers {
		if srv.ReadTimeout <= 0 || srv.ReadHeaderTimeout <= 0 {
			t.Errorf("server %s sets no read_body and read_header timeouts", name)
		}
		for _, paths := range zoomRoutePaths(t, srv.Routes, nil) {
			if len(paths) == 0 {
				continue // no path matcher: the module sees every path
			}
			guarded++
			m := caddyhttp.MatchPath(paths)
			if err := m.Provision(ctx); err != nil {
				t.Fatal(err)
			}
			base := strings.ReplaceAll(paths[0], "*", "42")
			cut := strings.LastIndexByte(base, '/')
			for _, v := range []string{base, base + "/", base + ";x", base + "%3Bx", base + ".json",
				strings.ToUpper(base), base[:cut] + "%2F" + base[cut+1:], "/" + base} {
				r := httptest.NewRequest("GET", "http://example.com"+v, nil)
				r = r.WithContext(context.WithValue(r.Context(), caddy.ReplacerCtxKey, caddyhttp.NewTestReplacer(r)))
				if ok, err := m.MatchWithError(r); err != nil || !ok {
					t.Errorf("the zoom_signature matcher %v does not catch %s, which a backend may serve as %s", paths, v, base)
				}
			}
		}
	}
	if guarded == 0 && !bytes.Contains(adapted, []byte(`"mode":"endpoint"`)) {
		t.Error("no zoom_signature route with a path matcher was found")
	}
}

// zoomRoutePaths returns, for every route that runs zoom_signature, the
// path patterns that lead to it (the innermost route's path matcher, or an
// enclosing one's).
func zoomRoutePaths(t *testing.T, routes []json.RawMessage, outer []string) [][]string {
	t.Helper()
	var out [][]string
	for _, raw := range routes {
		var r struct {
			Match  []map[string]json.RawMessage `json:"match"`
			Handle []struct {
				Handler string            `json:"handler"`
				Routes  []json.RawMessage `json:"routes"`
			} `json:"handle"`
		}
		if err := json.Unmarshal(raw, &r); err != nil {
			t.Fatal(err)
		}
		paths := outer
		for _, set := range r.Match {
			if p, ok := set["path"]; ok {
				var list []string
				_ = json.Unmarshal(p, &list)
				paths = list
			}
		}
		for _, h := range r.Handle {
			switch h.Handler {
			case "zoom_signature", "zoom_connect":
				out = append(out, paths)
			case "subroute":
				out = append(out, zoomRoutePaths(t, h.Routes, paths)...)
			}
		}
	}
	return out
}

// TestCaddyfileFormatted keeps the test inputs as caddy fmt writes them.
func TestCaddyfileFormatted(t *testing.T) {
	files, _ := filepath.Glob("testdata/caddyfile/*.caddyfiletest")
	for _, f := range files {
		data, _ := os.ReadFile(f)
		in, _, _ := strings.Cut(string(data), "\n----------\n")
		if got := string(caddyfile.Format([]byte(in))); got != in && got != in+"\n" {
			t.Errorf("%s is not formatted like caddy fmt:\n%s", f, got)
		}
	}
}

// TestSyntaxBlockInReadme keeps the README's syntax block equal to the
// parser's doc comment, which is where it is written first.
func TestSyntaxBlockInReadme(t *testing.T) {
	for _, c := range []struct{ file, start, readme string }{
		{"caddyfile.go", "zoom_signature [<matcher>] {", "The full syntax"},
		{"caddyfile.go", "zoom {", "**Each Zoom app is written once**"},
		{"connect_handler.go", "zoom_connect [<matcher>] {", "`zoom_connect` takes"},
		{"doctor.go", "zoom_doctor [<matcher>]", "The doctor route's syntax"},
	} {
		src, err := os.ReadFile(c.file)
		if err != nil {
			t.Fatal(err)
		}
		var doc []string
		in := false
		for _, l := range strings.Split(string(src), "\n") {
			switch {
			case strings.HasPrefix(l, "//\t"+c.start):
				in = true
			case in && !strings.HasPrefix(l, "//\t"):
				in = false
			}
			if in {
				doc = append(doc, strings.TrimPrefix(l, "//\t"))
			}
		}
		readme, err := os.ReadFile("../README.md")
		if err != nil {
			t.Fatal(err)
		}
		_, block, _ := strings.Cut(string(readme), c.readme)
		_, block, _ = strings.Cut(block, "```caddy-d\n")
		block, _, _ = strings.Cut(block, "```")
		if want := strings.Join(doc, "\n") + "\n"; len(doc) < 5 || block != want {
			t.Fatalf("the README's syntax block differs from %s's doc comment:\nREADME:\n%s\ndoc:\n%s", c.file, block, want)
		}
	}
}

// zoomAPIOpt and oauthOpt are options of the global zoom block for
// TestCaddyfileErrorLines.
const zoomAPIOpt = "zoom_api {\n\t\t\taccount_id a\n\t\t\tclient_id c\n\t\t\tclient_secret s\n\t\t}"

// oauthOpt is an oauth block a line an element, with extra options.
func oauthOpt(extra ...string) []string {
	lines := []string{"oauth {", "\tclient_id c", "\tclient_secret s", "\tredirect_uri https://app.example.com/zoom/connect/callback"}
	for _, e := range extra {
		lines = append(lines, "\t"+e)
	}
	return append(lines, "}")
}

// Where TestCaddyfileErrorLines expects an error that no option line
// holds: the route's block, or the global zoom block (a missing option).
const (
	atBlock       = -1
	atGlobalBlock = -2
)

// TestCaddyfileErrorLines: every config error names the line of the option
// at fault, with the fix.
func TestCaddyfileErrorLines(t *testing.T) {
	for _, tc := range []struct {
		name   string
		dir    string   // the route's directive; default zoom_signature
		global []string // the global zoom block's options, one a line, from line 3
		opts   []string // the route's options, one a line
		bad    int      // the index in global, then opts, of the option at fault; or atBlock, atGlobalBlock
		want   string
	}{
		{"mode typo", "", nil, []string{"sdk_key k", "sdk_secret s", "mode endpiont", "meetings any"}, 2, `mode "endpiont" is not known; use inject or endpoint`},
		{"sdk typo", "", nil, []string{"sdk_key k", "sdk vidoe", "sdk_secret s"}, 1, `sdk "vidoe" is not known`},
		{"expires range", "", nil, []string{"sdk_key k", "expires 10m", "sdk_secret s"}, 1, "between 30m and 48h"},
		{"expires syntax", "", nil, []string{"sdk_key k", "expires 2hours", "sdk_secret s"}, 1, `expires "2hours" is not a duration; write it like 2h`},
		{"backdate range", "", nil, []string{"sdk_key k", "sdk_secret s", "backdate 1h", "host_when any"}, 2, "backdate 1h0m0s is out of range"},
		{"max_body", "", nil, []string{"sdk_key k", "max_body lots", "sdk_secret s"}, 1, `max_body: "lots" is not a size; write it like 64KiB`},
		{"meetings", "", nil, []string{"sdk_key k", "sdk_secret s", "meetings 123", "host_when any"}, 2, "is not a meeting number"},
		{"cors origin", "", nil, []string{"mode endpoint", "sdk_key k", "cors_origins *", "sdk_secret s", "meetings any"}, 2, "never for everything"},
		{"identity", "", nil, []string{"sdk_key k", "identity bob", "sdk_secret s"}, 1, "is not a placeholder"},
		{"endpoint needs meetings", "", nil, []string{"sdk_key k", "mode endpoint", "sdk_secret s"}, 1, "endpoint mode needs meetings"},
		{"repeated host_when", "", nil, []string{"sdk_key k", "sdk_secret s", "host_when any", "host_when {http.auth.user.id} a"}, 3, "host_when is already specified (line 5); give it once"},
		{"repeated sdk_key", "", nil, []string{"sdk_key k", "sdk_secret s", "sdk_key other"}, 2, "sdk_key is already specified (line 3)"},
		{"repeated sdk_secret", "", nil, []string{"sdk_key k", "sdk_secret s", "sdk_secret t"}, 2, "sdk_secret is already specified"},
		{"cors in inject mode", "", nil, []string{"sdk_key k", "cors_origins https://app.example.com", "sdk_secret s"}, 1, "cors_origins is for endpoint mode"},
		{"url_fields in endpoint mode", "", nil, []string{"mode endpoint", "meetings any", "url_fields leaveUrl", "sdk_key k", "sdk_secret s"}, 2, "url_fields is for inject mode"},
		{"fill in endpoint mode", "", nil, []string{"mode endpoint", "meetings any", "sdk_key k", "sdk_secret s", "fill userName {http.auth.user.id}"}, 4, "fill is for inject mode"},
		{"unknown option", "", nil, []string{"sdk_key k", "sdk_secret s", "host_whenn any"}, 2, `unrecognized subdirective "host_whenn"; did you mean "host_when"?`},
		{"passcode typo", "", []string{zoomAPIOpt}, []string{"sdk_key k", "sdk_secret s", "passcode sometimes"}, 3, `passcode "sometimes" is not known; use fill`},
		{"passcode without zoom_api", "", nil, []string{"sdk_key k", "sdk_secret s", "passcode fill"}, 2, "passcode needs zoom_api"},
		{"join_url_field in endpoint mode", "", nil, []string{"mode endpoint", "meetings any", "sdk_key k", "sdk_secret s", "join_url_field link"}, 4, "join_url_field is for inject mode"},
		{"app named twice", "", []string{zoomAPIOpt}, []string{"sdk_key k", "sdk_secret s", "zak {", "\taccount_id a", "\tclient_id c", "\tclient_secret s", "}"}, 4, "zak account_id is written once for every route now, in the app or route it belongs to: { zoom { zoom_api { account_id ... } } }"},
		{"zak without an app", "", nil, []string{"sdk_key k", "sdk_secret s", "zak {", "\tfield zak", "}"}, 2, "zak needs zoom_api, the account's Server-to-Server OAuth app"},
		{"obf without seal_keys", "", oauthOpt(), []string{"sdk_key k", "sdk_secret s", "obf {", "\twhen always", "}"}, atGlobalBlock, "oauth needs seal_keys"},
		{"obf external without zoom_api", "", append(oauthOpt(), "seal_keys {env.K}"), []string{"sdk_key k", "sdk_secret s", "obf"}, 8, "obf when external needs zoom_api"},
		{"obf when typo", "", append(oauthOpt(), "seal_keys {env.K}"), []string{"sdk_key k", "sdk_secret s", "obf {", "\twhen sometimes", "}"}, 9, `obf when "sometimes" is not known`},
		{"zoom_connect without oauth", "zoom_connect", []string{"seal_keys {env.K}"}, []string{"identity {http.auth.user.id}"}, atBlock, "zoom_connect needs the user OAuth app"},
		{"zoom_connect with host_when", "zoom_connect", append(oauthOpt(), "seal_keys {env.K}"), []string{"done_url /", "host_when any"}, 7, `unrecognized zoom_connect option "host_when"`},
		{"passcode for video", "", nil, []string{"sdk video", "sdk_key k", "sdk_secret s", "passcode fill"}, 3, "passcode is for the Meeting SDK"},
		{"unknown, nothing near", "", nil, []string{"sdk_key k", "sdk_secret s", "frobnicate"}, 2, `unrecognized subdirective "frobnicate"`},
		{"oauth per_minute not a number", "", append(oauthOpt("per_minute many"), "seal_keys {env.K}"), []string{"sdk_key k", "sdk_secret s"}, 4, `per_minute "many" is not a whole number`},
		{"oauth timeout range", "", append(oauthOpt("timeout 2m"), "seal_keys {env.K}"), []string{"sdk_key k", "sdk_secret s"}, 4, "oauth timeout 2m0s is out of range"},
		{"sdk_app incomplete", "", []string{"sdk_app video {", "\tsdk_key k", "}"}, []string{"sdk video", "sdk_app video"}, 0, "sdk_app video sdk_secret is required"},
		{"connect option of the oauth app", "zoom_connect", append(oauthOpt(), "seal_keys {env.K}"), []string{"done_url /", "client_id c"}, 7, "{ zoom { oauth { client_id ... } } }"},

		// The options of earlier versions that moved to the global zoom
		// block or to zoom_connect are refused at their own line, naming
		// where they go now.
		{"old zoom_api", "", nil, []string{"sdk_key k", "sdk_secret s", "passcode fill", "zoom_api {", "\taccount_id a", "\tclient_id c", "\tclient_secret s", "}"}, 3,
			"zoom_api is written once for every route now, in the global zoom block: { zoom { zoom_api { account_id ... client_id ... client_secret ... } } }"},
		{"old seal_keys", "", nil, []string{"sdk_key k", "sdk_secret s", "seal_keys {env.K}"}, 2,
			"seal_keys is written once for every route now, in the global zoom block: { zoom { seal_keys {env.ZOOM_GRANT_KEY} } }"},
		{"old state", "", nil, []string{"sdk_key k", "sdk_secret s", "state {", "\tlookups memory", "}"}, 2,
			"state is written once for every route now, in the global zoom block: { zoom { state { lookups storage } } }"},
		{"old zak app", "", nil, []string{"sdk_key k", "sdk_secret s", "zak {", "\tuser {http.auth.user.email}", "\taccount_id a", "\tclient_id c", "\tclient_secret s", "}"}, 4,
			"zak account_id is written once for every route now, in the app or route it belongs to: { zoom { zoom_api { account_id ... } } }"},
		{"old zak lifetime", "", []string{zoomAPIOpt}, []string{"sdk_key k", "sdk_secret s", "zak {", "\tlifetime 2h", "}"}, 4,
			"{ zoom { zoom_api { zak_lifetime ... } } }"},
		{"old obf app", "", nil, []string{"sdk_key k", "sdk_secret s", "obf {", "\twhen always", "\tclient_id c", "\tclient_secret s", "}"}, 4,
			"obf client_id is written once for every route now, in the app or route it belongs to: { zoom { oauth { client_id ... } } }"},
		{"old obf done_url", "", append(oauthOpt(), "seal_keys {env.K}"), []string{"sdk_key k", "sdk_secret s", "obf {", "\tdone_url /", "}"}, 9,
			"zoom_connect { done_url ... }"},
		{"old mode connect", "", nil, []string{"identity {http.auth.user.id}", "mode connect"}, 1,
			"mode connect is now its own handler: write the connect routes as zoom_connect, and the user OAuth app once, in the global zoom block's oauth"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := cmpOr(tc.dir, "zoom_signature")
			text := ":8080 {\n\t" + dir + " {\n\t\t" + strings.Join(tc.opts, "\n\t\t") + "\n\t}\n}\n"
			first := 3 // the line of the route's first option
			if tc.global != nil {
				g := strings.Join(tc.global, "\n\t\t")
				text = "{\n\tzoom {\n\t\t" + g + "\n\t}\n}\n" + text
				first += strings.Count(g, "\n") + 1 + 4
			}
			// Options may be blocks of several lines.
			lineIn := func(list []string, start, i int) int {
				return start + i + strings.Count(strings.Join(list[:i], ""), "\n")
			}
			var n int
			switch {
			case tc.bad == atBlock:
				n = first - 1
			case tc.bad == atGlobalBlock:
				n = 2
			case tc.bad < len(tc.global):
				n = lineIn(tc.global, 3, tc.bad)
			default:
				n = lineIn(tc.opts, first, tc.bad-len(tc.global))
			}
			_, err := adapt(t, text)
			if err == nil {
				t.Fatal("adapted")
			}
			line := fmt.Sprintf(", at Caddyfile:%d", n)
			if !strings.HasSuffix(err.Error(), line) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v\nwant %q at %q in\n%s", err, tc.want, line, text)
			}
			if tc.name == "unknown, nothing near" && strings.Contains(err.Error(), "did you mean") {
				t.Fatalf("a suggestion for nothing near: %v", err)
			}
		})
	}
}

// TestReadmeSnippetsFormatted: every Caddyfile snippet of the README is as
// caddy fmt writes it, so a user who copies one copies a clean config.
func TestReadmeSnippetsFormatted(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	parts := strings.Split(string(readme), "```caddyfile\n")
	for i, part := range parts[1:] {
		block, rest, _ := strings.Cut(part, "```")
		n++
		if got := string(caddyfile.Format([]byte(block))); got != block {
			if *update {
				parts[i+1] = got + "```" + rest
				continue
			}
			t.Errorf("snippet %d is not caddy fmt-clean (go test -run TestReadmeSnippetsFormatted -update rewrites it):\n%s\ncaddy fmt writes:\n%s", n, block, got)
		}
	}
	if *update {
		if err := os.WriteFile("../README.md", []byte(strings.Join(parts, "```caddyfile\n")), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if n < 5 {
		t.Fatalf("only %d snippets found", n)
	}
}

// TestZakAppServesEveryStep: the global zoom block's zoom_api serves the
// host ZAK, the meeting steps and the OBF lookup (obf when external) of a
// route that names no app of its own; the adapted route carries none of
// the app's options.
func TestZakAppServesEveryStep(t *testing.T) {
	text := "{\n\tzoom {\n\t\tsdk_key k\n\t\tsdk_secret s\n\t\t" +
		"zoom_api {\n\t\t\taccount_id a\n\t\t\tclient_id c\n\t\t\tclient_secret {env.S}\n\t\t}\n\t\t" +
		strings.Join(oauthOpt(), "\n\t\t") + "\n\t\tseal_keys {env.K}\n\t}\n}\n\n" +
		":8080 {\n\tzoom_signature {\n\t\tzak {\n\t\t\tfield zak\n\t\t}\n\t\tpasscode fill\n\t\tregistrant\n\t\tobf {\n\t\t\twhen external\n\t\t}\n\t}\n}\n"
	out, err := adapt(t, text)
	if err != nil {
		t.Fatalf("the global block's zoom_api was not enough: %v", err)
	}
	var cfg struct {
		Apps struct {
			Zoom struct {
				ZoomAPI *ZoomAPIConfig `json:"zoom_api"`
				OAuth   *OAuthApp      `json:"oauth"`
			} `json:"zoom"`
		} `json:"apps"`
	}
	if err := json.Unmarshal(out, &cfg); err != nil {
		t.Fatal(err)
	}
	if z := cfg.Apps.Zoom.ZoomAPI; z == nil || z.AccountID != "a" || z.ClientSecret != "{env.S}" || cfg.Apps.Zoom.OAuth == nil {
		t.Fatalf("apps.zoom lacks the apps: %s", out)
	}
	// The apps are written once, in apps.zoom, and the route holds none.
	for key, want := range map[string]int{`"zoom_api"`: 1, `"account_id"`: 1, `"client_id"`: 2, `"seal_keys"`: 1} {
		if n := bytes.Count(out, []byte(key)); n != want {
			t.Errorf("%s is written %d times, want %d: %s", key, n, want, out)
		}
	}
	// Without the block's zoom_api, each step says it needs it.
	noAPI := strings.Replace(text, "zoom_api {\n\t\t\taccount_id a\n\t\t\tclient_id c\n\t\t\tclient_secret {env.S}\n\t\t}\n\t\t", "", 1)
	for _, step := range []string{"zak {\n\t\t\tfield zak\n\t\t}", "passcode fill", "registrant", "obf {\n\t\t\twhen external\n\t\t}"} {
		only := strings.Replace(noAPI, "zak {\n\t\t\tfield zak\n\t\t}\n\t\tpasscode fill\n\t\tregistrant\n\t\tobf {\n\t\t\twhen external\n\t\t}", step, 1)
		if _, err := adapt(t, only); err == nil || !strings.Contains(err.Error(), "needs zoom_api") {
			t.Errorf("%q without zoom_api: err = %v", step, err)
		}
	}
}
