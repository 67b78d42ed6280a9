package caddymodule

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// TestConfigRules holds every config rule to one message for JSON and the
// Caddyfile: each case is written both ways, by hand, and must be refused
// by both with the same message, the Caddyfile's at the line of the option
// at fault (or of the block that misses one).
func TestConfigRules(t *testing.T) {
	const s2s = `"zoom_api":{"account_id":"a","client_id":"c","client_secret":"s"}`
	const s2sCaddy = "zoom_api {\n\t\t\taccount_id a\n\t\t\tclient_id c\n\t\t\tclient_secret s\n\t\t}"
	const oauth = `"oauth":{"client_id":"c","client_secret":"s","redirect_uri":"https://app.example.com/zoom/connect/callback"},"seal_keys":["{env.K}"]`
	const oauthCaddy = "oauth {\n\t\t\tclient_id c\n\t\t\tclient_secret s\n\t\t\tredirect_uri https://app.example.com/zoom/connect/callback\n\t\t}\n\t\tseal_keys {env.K}"
	cases := []struct {
		name string
		// The global zoom block's options and the route's handler block's
		// options, as Caddyfile lines; handler may be zoom_connect's.
		global, handler []string
		directive       string // default zoom_signature
		// The same config as JSON: the zoom app and the handler.
		appJSON, handlerJSON string
		want                 string // what the message must say
		// The Caddyfile line at fault: in the global block (g) or the
		// handler's (h), 0-based among the block's lines; -1 for the
		// block's own line.
		where string
		index int
	}{
		{name: "sdk_key missing", handler: []string{"name x"}, handlerJSON: `{"name":"x"}`,
			want: "sdk_key is required", where: "h", index: -1},
		{name: "sdk_secret missing", handler: []string{"sdk_key k"}, handlerJSON: `{"sdk_key":"k"}`,
			want: "sdk_secret is required", where: "h", index: -1},
		{name: "sdk_app unknown", global: []string{"sdk_key k", "sdk_secret s"}, handler: []string{"sdk_app video"},
			appJSON: `{"sdk":{"sdk_key":"k","sdk_secret":"s"}}`, handlerJSON: `{"sdk_app":"video"}`,
			want: `sdk_app "video" is not an SDK app`, where: "h", index: 0},
		{name: "sdk_app and sdk_key", global: []string{"sdk_key k", "sdk_secret s"}, handler: []string{"sdk_key k", "sdk_secret s", "sdk_app video"},
			appJSON: `{"sdk":{"sdk_key":"k","sdk_secret":"s"}}`, handlerJSON: `{"sdk_key":"k","sdk_secret":"s","sdk_app":"video"}`,
			want: "keep one of them", where: "h", index: 2},
		{name: "mode unknown", handler: []string{"sdk_key k", "sdk_secret s", "mode proxy"}, handlerJSON: `{"sdk_key":"k","sdk_secret":"s","mode":"proxy"}`,
			want: `mode "proxy" is not known`, where: "h", index: 2},
		{name: "mode connect", handler: []string{"sdk_key k", "sdk_secret s", "mode connect"}, handlerJSON: `{"sdk_key":"k","sdk_secret":"s","mode":"connect"}`,
			want: "write the connect routes as zoom_connect", where: "h", index: 2},
		{name: "sdk unknown", handler: []string{"sdk_key k", "sdk_secret s", "sdk meetings"}, handlerJSON: `{"sdk_key":"k","sdk_secret":"s","sdk":"meetings"}`,
			want: "meetings", where: "h", index: 2},
		{name: "endpoint without meetings", handler: []string{"sdk_key k", "sdk_secret s", "mode endpoint"}, handlerJSON: `{"sdk_key":"k","sdk_secret":"s","mode":"endpoint"}`,
			want: "endpoint mode needs meetings", where: "h", index: 2},
		{name: "inject option in endpoint mode", handler: []string{"sdk_key k", "sdk_secret s", "mode endpoint", "meetings any", "role_field r"},
			handlerJSON: `{"sdk_key":"k","sdk_secret":"s","mode":"endpoint","meetings":["any"],"role_field":"r"}`,
			want:        "role_field is for inject mode", where: "h", index: 4},
		{name: "cors_origins in inject mode", handler: []string{"sdk_key k", "sdk_secret s", "cors_origins https://a.example.com"},
			handlerJSON: `{"sdk_key":"k","sdk_secret":"s","cors_origins":["https://a.example.com"]}`,
			want:        "cors_origins is for endpoint mode", where: "h", index: 2},
		{name: "host_when without placeholder", handler: []string{"sdk_key k", "sdk_secret s", "host_when alice bob"},
			handlerJSON: `{"sdk_key":"k","sdk_secret":"s","host_when":{"placeholder":"alice","values":["bob"]}}`,
			want:        `host_when "alice" is not a placeholder`, where: "h", index: 2},
		{name: "expires out of range", handler: []string{"sdk_key k", "sdk_secret s", "expires 72h"}, handlerJSON: `{"sdk_key":"k","sdk_secret":"s","expires":259200000000000}`,
			want: "expires 72h0m0s is outside Zoom's limits", where: "h", index: 2},
		{name: "backdate out of range", handler: []string{"sdk_key k", "sdk_secret s", "backdate 1h"}, handlerJSON: `{"sdk_key":"k","sdk_secret":"s","backdate":3600000000000}`,
			want: "backdate 1h0m0s is out of range", where: "h", index: 2},
		{name: "max_body too large", handler: []string{"sdk_key k", "sdk_secret s", "max_body 4GiB"}, handlerJSON: `{"sdk_key":"k","sdk_secret":"s","max_body":1073741825}`,
			want: "max_body 1073741825 is not a size between 1B and 1GiB", where: "h", index: 2},
		{name: "meetings not numbers", handler: []string{"sdk_key k", "sdk_secret s", "meetings 12"}, handlerJSON: `{"sdk_key":"k","sdk_secret":"s","meetings":["12"]}`,
			want: `meetings: "12" is not a meeting number`, where: "h", index: 2},
		{name: "identity not a placeholder", handler: []string{"sdk_key k", "sdk_secret s", "identity alice"}, handlerJSON: `{"sdk_key":"k","sdk_secret":"s","identity":"alice"}`,
			want: `identity "alice" is not a placeholder`, where: "h", index: 2},
		{name: "zak without zoom_api", handler: []string{"sdk_key k", "sdk_secret s", "zak {\n\t\t\tfield zak\n\t\t}"},
			handlerJSON: `{"sdk_key":"k","sdk_secret":"s","zak":{"field":"zak"}}`,
			want:        "zak needs zoom_api", where: "h", index: 2},
		{name: "passcode without zoom_api", handler: []string{"sdk_key k", "sdk_secret s", "passcode fill"}, handlerJSON: `{"sdk_key":"k","sdk_secret":"s","passcode":"fill"}`,
			want: "passcode needs zoom_api", where: "h", index: 2},
		{name: "passcode unknown", global: []string{s2sCaddy}, handler: []string{"sdk_key k", "sdk_secret s", "passcode sometimes"},
			appJSON: "{" + s2s + "}", handlerJSON: `{"sdk_key":"k","sdk_secret":"s","passcode":"sometimes"}`,
			want: `passcode "sometimes" is not known`, where: "h", index: 2},
		{name: "obf when unknown", global: []string{s2sCaddy, oauthCaddy}, handler: []string{"sdk_key k", "sdk_secret s", "obf {\n\t\t\twhen sometimes\n\t\t}"},
			appJSON: "{" + s2s + "," + oauth + "}", handlerJSON: `{"sdk_key":"k","sdk_secret":"s","obf":{"when":"sometimes"}}`,
			want: `obf when "sometimes" is not known`, where: "h", index: 3},
		{name: "obf external without zoom_api", global: []string{oauthCaddy}, handler: []string{"sdk_key k", "sdk_secret s", "obf"},
			appJSON: "{" + oauth + "}", handlerJSON: `{"sdk_key":"k","sdk_secret":"s","obf":{}}`,
			want: "obf when external needs zoom_api", where: "h", index: 2},
		{name: "obf without oauth", global: []string{s2sCaddy}, handler: []string{"sdk_key k", "sdk_secret s", "obf"},
			appJSON: "{" + s2s + "}", handlerJSON: `{"sdk_key":"k","sdk_secret":"s","obf":{}}`,
			want: "obf needs the user OAuth app", where: "h", index: 2},
		{name: "obf with video", global: []string{s2sCaddy, oauthCaddy}, handler: []string{"sdk video", "sdk_key k", "sdk_secret s", "obf"},
			appJSON: "{" + s2s + "," + oauth + "}", handlerJSON: `{"sdk":"video","sdk_key":"k","sdk_secret":"s","obf":{}}`,
			want: "obf is for the Meeting SDK", where: "h", index: 3},
		{name: "fill not a placeholder", handler: []string{"sdk_key k", "sdk_secret s", "fill userName alice"},
			handlerJSON: `{"sdk_key":"k","sdk_secret":"s","fill":[{"path":"userName","value":"alice"}]}`,
			want:        `fill userName: "alice" is not a placeholder`, where: "h", index: 2},
		{name: "session_jwt without key", handler: []string{"sdk_key k", "sdk_secret s", "session_jwt {\n\t\t\tissuer x\n\t\t}"},
			handlerJSON: `{"sdk_key":"k","sdk_secret":"s","session_jwt":{"issuer":"x"}}`,
			want:        "session_jwt needs exactly one of", where: "h", index: 2},
		{name: "zoom_api incomplete", global: []string{"zoom_api {\n\t\t\taccount_id a\n\t\t}"}, handler: []string{"sdk_key k", "sdk_secret s"},
			appJSON: `{"zoom_api":{"account_id":"a"}}`, handlerJSON: `{"sdk_key":"k","sdk_secret":"s"}`,
			want: "zoom_api needs account_id, client_id and client_secret", where: "g", index: 0},
		{name: "zoom_api timeout out of range", global: []string{"zoom_api {\n\t\t\taccount_id a\n\t\t\tclient_id c\n\t\t\tclient_secret s\n\t\t\ttimeout 1ms\n\t\t}"}, handler: []string{"sdk_key k", "sdk_secret s"},
			appJSON: `{"zoom_api":{"account_id":"a","client_id":"c","client_secret":"s","timeout":1000000}}`, handlerJSON: `{"sdk_key":"k","sdk_secret":"s"}`,
			want: "zoom_api timeout 1ms is out of range", where: "g", index: 4},
		{name: "zak_lifetime short", global: []string{"zoom_api {\n\t\t\taccount_id a\n\t\t\tclient_id c\n\t\t\tclient_secret s\n\t\t\tzak_lifetime 6m\n\t\t}"}, handler: []string{"sdk_key k", "sdk_secret s"},
			appJSON: `{"zoom_api":{"account_id":"a","client_id":"c","client_secret":"s","zak_lifetime":360000000000}}`, handlerJSON: `{"sdk_key":"k","sdk_secret":"s"}`,
			want: "zoom_api zak_lifetime 6m0s is too short", where: "g", index: 4},
		{name: "zoom_api plain http", global: []string{"zoom_api {\n\t\t\taccount_id a\n\t\t\tclient_id c\n\t\t\tclient_secret s\n\t\t\tapi_url http://api.zoom.us/v2\n\t\t}"}, handler: []string{"sdk_key k", "sdk_secret s"},
			appJSON: `{"zoom_api":{"account_id":"a","client_id":"c","client_secret":"s","api_url":"http://api.zoom.us/v2"}}`, handlerJSON: `{"sdk_key":"k","sdk_secret":"s"}`,
			want: "uses plain http", where: "g", index: 4},
		{name: "oauth without seal_keys", global: []string{"oauth {\n\t\t\tclient_id c\n\t\t\tclient_secret s\n\t\t\tredirect_uri https://app.example.com/cb\n\t\t}"}, handler: []string{"sdk_key k", "sdk_secret s"},
			appJSON: `{"oauth":{"client_id":"c","client_secret":"s","redirect_uri":"https://app.example.com/cb"}}`, handlerJSON: `{"sdk_key":"k","sdk_secret":"s"}`,
			want: "oauth needs seal_keys", where: "g", index: -1},
		{name: "oauth per_minute out of range", global: []string{"oauth {\n\t\t\tclient_id c\n\t\t\tclient_secret s\n\t\t\tredirect_uri https://app.example.com/cb\n\t\t\tper_minute 601\n\t\t}", "seal_keys {env.K}"}, handler: []string{"sdk_key k", "sdk_secret s"},
			appJSON: `{"oauth":{"client_id":"c","client_secret":"s","redirect_uri":"https://app.example.com/cb","per_minute":601},"seal_keys":["{env.K}"]}`, handlerJSON: `{"sdk_key":"k","sdk_secret":"s"}`,
			want: "oauth per_minute 601 is out of range", where: "g", index: 4},
		{name: "oauth connect_url off-site", global: []string{"oauth {\n\t\t\tclient_id c\n\t\t\tclient_secret s\n\t\t\tredirect_uri https://app.example.com/cb\n\t\t\tconnect_url //evil.example\n\t\t}", "seal_keys {env.K}"}, handler: []string{"sdk_key k", "sdk_secret s"},
			appJSON: `{"oauth":{"client_id":"c","client_secret":"s","redirect_uri":"https://app.example.com/cb","connect_url":"//evil.example"},"seal_keys":["{env.K}"]}`, handlerJSON: `{"sdk_key":"k","sdk_secret":"s"}`,
			want: "read by browsers as another host", where: "g", index: 4},
		{name: "state lookups unknown", global: []string{s2sCaddy, "state {\n\t\t\tlookups redis\n\t\t}"}, handler: []string{"sdk_key k", "sdk_secret s"},
			appJSON: "{" + s2s + `,"state":{"lookups":"redis"}}`, handlerJSON: `{"sdk_key":"k","sdk_secret":"s"}`,
			want: `state lookups "redis" is not known`, where: "g", index: 6},
		{name: "state lock_timeout out of range", global: []string{"seal_keys {env.K}", "state {\n\t\t\tlock_timeout 1h\n\t\t}"}, handler: []string{"sdk_key k", "sdk_secret s"},
			appJSON: `{"seal_keys":["{env.K}"],"state":{"lock_timeout":3600000000000}}`, handlerJSON: `{"sdk_key":"k","sdk_secret":"s"}`,
			want: "state lock_timeout 1h0m0s is out of range", where: "g", index: 2},
		{name: "connect without oauth", directive: "zoom_connect", handler: []string{"done_url /"}, handlerJSON: `{"done_url":"/"}`,
			want: "zoom_connect needs the user OAuth app", where: "h", index: -1},
		{name: "connect done_url backslash", directive: "zoom_connect", global: []string{oauthCaddy}, handler: []string{`done_url /\evil.example`},
			appJSON: "{" + oauth + "}", handlerJSON: `{"done_url":"/\\evil.example"}`,
			want: "read by browsers as another host", where: "h", index: 0},
		{name: "connect done_url other origin", directive: "zoom_connect", global: []string{oauthCaddy}, handler: []string{"done_url https://evil.example/"},
			appJSON: "{" + oauth + "}", handlerJSON: `{"done_url":"https://evil.example/"}`,
			want: "leaves the site", where: "h", index: 0},
	}
	t.Setenv("K", base64Std(strings.Repeat("k", 32)))
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			directive := cmpOr(tc.directive, "zoom_signature")
			// The Caddyfile: the global block first, then the route.
			var b strings.Builder
			b.WriteString("{\n\tadmin off\n")
			global := 2
			if tc.global != nil {
				b.WriteString("\tzoom {\n\t\t" + strings.Join(tc.global, "\n\t\t") + "\n\t}\n")
				global = 3
			}
			b.WriteString("}\n\n:0 {\n\t" + directive + " {\n\t\t" + strings.Join(tc.handler, "\n\t\t") + "\n\t}\n}\n")
			text := b.String()
			if got := string(caddyfile.Format([]byte(text))); got != text {
				t.Fatalf("the case's Caddyfile is not as caddy fmt writes it:\n%s", got)
			}
			start := strings.Count(text[:strings.Index(text, directive+" {")], "\n") + 1
			if tc.where == "g" {
				start = global
			}
			line := start
			if tc.index >= 0 {
				line = start + 1 + tc.index
			}
			_, cerr := adapt(t, text)
			if cerr == nil {
				t.Fatal("the Caddyfile adapted")
			}
			msg, ok := strings.CutSuffix(cerr.Error(), fmt.Sprintf(", at Caddyfile:%d", line))
			if !ok {
				t.Fatalf("the Caddyfile's error is not at line %d: %v\n%s", line, cerr, text)
			}
			// Caddy's adapter names the directive or option it was parsing.
			if _, after, ok := strings.Cut(msg, "': "); ok && strings.HasPrefix(msg, "parsing caddyfile tokens for '") {
				msg = after
			}
			if !strings.Contains(msg, tc.want) {
				t.Fatalf("the Caddyfile's error %q does not say %q", msg, tc.want)
			}

			// JSON: the same config, loaded as caddy run would (provisioned,
			// not started).
			apps := `"http":{"servers":{"s":{"listen":["127.0.0.1:0"],"routes":[{"handle":[` + handlerJSONWith(directive, tc.handlerJSON) + `]}]}}}`
			if tc.appJSON != "" {
				apps += `,"zoom":` + tc.appJSON
			}
			var cfg caddy.Config
			if err := json.Unmarshal([]byte(`{"admin":{"disabled":true},"apps":{`+apps+`}}`), &cfg); err != nil {
				t.Fatal(err)
			}
			jerr := caddy.Validate(&cfg)
			if jerr == nil {
				t.Fatal("the JSON config was accepted")
			}
			if !strings.HasSuffix(jerr.Error(), msg) {
				t.Fatalf("JSON and the Caddyfile disagree:\nJSON:      %v\nCaddyfile: %s", jerr, msg)
			}
		})
	}
}

// handlerJSONWith adds the handler's name to a handler object.
func handlerJSONWith(directive, obj string) string {
	inner := strings.TrimSuffix(strings.TrimPrefix(obj, "{"), "}")
	if inner != "" {
		inner = "," + inner
	}
	return `{"handler":"` + directive + `"` + inner + "}"
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
