package caddymodule

import (
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/join"

	"context"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
)

// TestProvisionErrors covers what only Provision can see: placeholders that
// resolve to nothing. The errors name the placeholder, never a value.
func TestProvisionErrors(t *testing.T) {
	t.Setenv("ZS_SET", "a-value-that-must-not-leak")
	for _, c := range []struct {
		name string
		h    Handler
		want string
	}{
		{"empty secret", Handler{SDKApp: SDKApp{SDKKey: "k", SDKSecret: "{env.ZS_UNSET}"}}, `sdk_secret "{env.ZS_UNSET}" resolved to an empty value`},
		{"empty key", Handler{SDKApp: SDKApp{SDKKey: "{env.ZS_UNSET}", SDKSecret: "{env.ZS_SET}"}}, `sdk_key "{env.ZS_UNSET}" resolved to an empty value`},
		{"missing secret file", Handler{SDKApp: SDKApp{SDKKey: "k", SDKSecret: "{file./nonexistent/zoom_secret}"}}, "resolved to an empty value"},
		// What the Caddyfile makes of {file.zoom_sdk_secret}.
		{"file shorthand", Handler{SDKApp: SDKApp{SDKKey: "k", SDKSecret: "{http.request.uri.path.file.zoom_sdk_secret}"}}, "{file.zoom_sdk_secret} is the shorthand for the requested path's file name, not the file zoom_sdk_secret; write the file's path with a slash, such as {file../zoom_sdk_secret}"},
		{"empty session secret", Handler{SDKApp: SDKApp{SDKKey: "k", SDKSecret: "{env.ZS_SET}"}, Gate: Gate{SessionJWT: &SessionJWT{HMACSecret: "{env.ZS_UNSET}"}}}, "hmac_secret"},
		{"bad public key file", Handler{SDKApp: SDKApp{SDKKey: "k", SDKSecret: "{env.ZS_SET}"}, Gate: Gate{SessionJWT: &SessionJWT{PublicKey: "/nonexistent.pem", Algorithms: []string{"RS256"}}}}, "public_key"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
			defer cancel()
			err := c.h.Provision(ctx)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want %q", err, c.want)
			}
			if strings.Contains(err.Error(), "a-value-that-must-not-leak") {
				t.Fatal("the error echoes a resolved secret")
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	h := provisioned(t, &Handler{})
	if h.SDK != join.Meeting.String() || h.Mode != modeInject || h.Identity != "{http.auth.user.id}" || h.OnHostDenied != hostDeny ||
		h.Expires != caddy.Duration(7200e9) || h.backdate != 30e9 || h.MaxBody != 64<<10 || h.sdkKeyAt != "sdkKey" ||
		h.MeetingNumberField != "meetingNumber" || h.RoleField != "role" || h.SignatureField != "signature" {
		t.Fatalf("defaults: %+v", h)
	}
	if v := provisioned(t, &Handler{SDK: join.Video.String()}); v.sdkKeyAt != "" {
		t.Fatalf("video writes the key at %q", v.sdkKeyAt)
	}
	if l := provisioned(t, &Handler{SDK: join.WebSDK1.String()}); l.sdkKeyAt != "apiKey" {
		t.Fatalf("websdk1 writes the key at %q", l.sdkKeyAt)
	}
}

func TestServiceURLs(t *testing.T) {
	for raw, ok := range map[string]bool{
		"https://zoom.us/oauth/token": true, "http://127.0.0.1:9000/v2": true, "http://localhost/x": true,
		"http://[::1]:8080": true, "http://127.8.9.10": true, "{env.ZOOM_API_URL}": true, "": true,
		"http://api.zoom.us/v2": false, "::bad": false, "/v2": false, "zoom.us/oauth": false,
		"https://user:pw@zoom.us": false, "ws://127.0.0.1": false, "http://localhost.evil.example": false,
	} {
		if err := checkServiceURL("api_url", raw, "https://api.zoom.us/v2"); (err == nil) != ok {
			t.Errorf("%q: %v, want ok=%v", raw, err, ok)
		}
	}
	if err := checkServiceURL("api_url", "https://user:hunter2@zoom.us/v2", ""); err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("user info: %v", err)
	}
	// A placeholder is checked once resolved.
	t.Setenv("ZS_API", "http://api.zoom.us/v2")
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	a := App{ZoomAPI: &ZoomAPIConfig{AccountID: "a", ClientID: "b", ClientSecret: "c", APIURL: "{env.ZS_API}"}}
	if err := a.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := a.zoomClient(); err == nil || !strings.Contains(err.Error(), "uses plain http") {
		t.Fatalf("resolved api_url: %v", err)
	}
	// Credentials that resolve to nothing are named, never echoed.
	t.Setenv("ZS_SET", "a-value-that-must-not-leak")
	a = App{ZoomAPI: &ZoomAPIConfig{AccountID: "{env.ZS_UNSET}", ClientID: "c", ClientSecret: "{env.ZS_SET}"}}
	if err := a.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := a.zoomClient(); err == nil || !strings.Contains(err.Error(), "zoom_api: ") || strings.Contains(err.Error(), "must-not-leak") {
		t.Fatalf("empty zoom_api credentials: %v", err)
	}
}
