package caddymodule

import (
	"fmt"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/zoomsig/caddy-zoom-signature/caddymodule/join"
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/state"
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/zoomapi"
)

// ZAKConfig fetches the host's ZAK from Zoom's REST API with a
// Server-to-Server OAuth app, for role-1 joins that start the meeting.
type ZAKConfig struct {
	// The Server-to-Server OAuth app's account ID, such as
	// {env.ZOOM_ACCOUNT_ID}; placeholders are resolved when the config
	// loads.
	AccountID string `json:"account_id,omitempty"`

	// The Server-to-Server OAuth app's client ID, such as
	// {env.ZOOM_CLIENT_ID}.
	ClientID string `json:"client_id,omitempty"`

	// The Server-to-Server OAuth app's client secret. Write it as
	// {env.ZOOM_CLIENT_SECRET} or {file.*}, resolved when the config loads,
	// never logged, and kept out of Caddy's saved config.
	ClientSecret string `json:"client_secret,omitempty"`

	// The Zoom user (ID or email) whose ZAK is fetched, as a placeholder.
	// Default {http.zoom_signature.user.id}; with session_jwt, often
	// {http.zoom_signature.user.email}.
	User string `json:"user,omitempty"`

	// Where the ZAK is written in the join config. Default zak.
	Field string `json:"field,omitempty"`

	// Zoom's OAuth token endpoint. Default https://zoom.us/oauth/token;
	// https://zoomgov.com/oauth/token for ZoomGov. Absolute https (http only
	// for loopback stand-ins).
	OAuthURL string `json:"oauth_url,omitempty"`

	// Zoom's REST API base. Default https://api.zoom.us/v2;
	// https://api.zoomgov.com/v2 for ZoomGov. Absolute https (http only for
	// loopback stand-ins).
	APIURL string `json:"api_url,omitempty"`

	// How long a ZAK lives; it is refetched 5 minutes before. Default 2h.
	Lifetime caddy.Duration `json:"lifetime,omitempty"`
}

// provisionZAK builds the ZAK client and the credential source that uses
// it; without a zak block there is none.
func (h *Handler) provisionZAK() ([]join.CredentialSource, error) {
	h.zakField = "zak"
	z := h.Zak
	if z == nil {
		return nil, nil
	}
	if z.Field != "" {
		h.zakField = z.Field
	}
	if z.User == "" {
		z.User = "{http.zoom_signature.user.id}"
	}
	warnLiteralSecret(h.logger, "zak client_secret", z.ClientSecret)
	repl := caddy.NewReplacer()
	oauthURL, apiURL := repl.ReplaceAll(z.OAuthURL, ""), repl.ReplaceAll(z.APIURL, "")
	if err := checkServiceURL("zak oauth_url", oauthURL, "https://zoom.us/oauth/token"); err != nil {
		return nil, err
	}
	if err := checkServiceURL("zak api_url", apiURL, "https://api.zoom.us/v2"); err != nil {
		return nil, err
	}
	c, err := zoomapi.New(zoomapi.Config{
		AccountID:    repl.ReplaceAll(z.AccountID, ""),
		ClientID:     repl.ReplaceAll(z.ClientID, ""),
		ClientSecret: repl.ReplaceAll(z.ClientSecret, ""),
		OAuthURL:     oauthURL,
		APIURL:       apiURL,
		ZAKLifetime:  time.Duration(z.Lifetime),
		OnFetch:      metricZoomAPI,
		Cache:        state.NewMemory(nil, 0),
	})
	if err != nil {
		return nil, fmt.Errorf("zak: %w (placeholders resolved to empty values?)", err)
	}
	h.zak = c
	return []join.CredentialSource{join.ZAKSource{Fetcher: c, User: z.User}}, nil
}
