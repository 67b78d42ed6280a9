package caddymodule

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/zoomsig/caddy-zoom-signature/caddymodule/zoomapi"
)

// ZAKConfig fetches the host's ZAK from Zoom's REST API with a
// Server-to-Server OAuth app, for role-1 joins that start the meeting.
type ZAKConfig struct {
	// The Server-to-Server OAuth app's credentials. Use placeholders such
	// as {env.ZOOM_CLIENT_SECRET}; they are resolved when the config loads
	// and never logged.
	AccountID    string `json:"account_id,omitempty"`
	ClientID     string `json:"client_id,omitempty"`
	ClientSecret string `json:"client_secret,omitempty"`

	// The Zoom user (ID or email) whose ZAK is fetched, as a placeholder.
	// Default {http.zoom_signature.user.id}; with session_jwt, often
	// {http.zoom_signature.user.email}.
	User string `json:"user,omitempty"`

	// Where the ZAK is written in the join config. Default zak.
	Field string `json:"field,omitempty"`

	// Zoom's endpoints; change them for ZoomGov (https://zoomgov.com/oauth/token,
	// https://api.zoomgov.com/v2) or tests.
	OAuthURL string `json:"oauth_url,omitempty"`
	APIURL   string `json:"api_url,omitempty"`

	// How long a ZAK lives; it is refetched 5 minutes before. Default 2h.
	Lifetime caddy.Duration `json:"lifetime,omitempty"`
}

// Refusal codes of the host-start step.
const (
	codeZAKUserMissing = "zak_user_missing"
	codeZAKMissing     = "zak_missing"
)

func (h *Handler) provisionZAK() error {
	h.zakField = "zak"
	z := h.Zak
	if z == nil {
		return nil
	}
	if z.Field != "" {
		h.zakField = z.Field
	}
	if z.User == "" {
		z.User = "{http.zoom_signature.user.id}"
	}
	repl := caddy.NewReplacer()
	c, err := zoomapi.New(zoomapi.Config{
		AccountID:    repl.ReplaceAll(z.AccountID, ""),
		ClientID:     repl.ReplaceAll(z.ClientID, ""),
		ClientSecret: repl.ReplaceAll(z.ClientSecret, ""),
		OAuthURL:     z.OAuthURL,
		APIURL:       z.APIURL,
		ZAKLifetime:  time.Duration(z.Lifetime),
		OnFetch:      metricZoomAPI,
	})
	if err != nil {
		return fmt.Errorf("zak: %w (placeholders resolved to empty values?)", err)
	}
	h.zak = c
	return nil
}

// hostZAK returns the ZAK for a role-1 join, fetching it when zak is
// configured. With require_zak_for_host, a host join without one (here or
// already in the backend's join config, present) is refused: never a
// silent host join that cannot start the meeting.
func (h *Handler) hostZAK(ctx context.Context, repl *caddy.Replacer, role int, present string) (string, *refusal) {
	if role != 1 {
		return "", nil
	}
	if h.zak == nil {
		if h.RequireZAKForHost && present == "" {
			return "", refuse(http.StatusForbidden, codeZAKMissing, "zak",
				"role 1 needs the host's ZAK and none is configured or in the join config; add a zak block, or have the backend provide "+h.zakField)
		}
		return "", nil
	}
	user := repl.ReplaceAll(h.Zak.User, "")
	if user == "" {
		if h.RequireZAKForHost {
			return "", refuse(http.StatusForbidden, codeZAKUserMissing, "zak",
				"role 1 needs the host's ZAK, but the zak user "+h.Zak.User+" is empty for this user; map the user to a Zoom user ID or email")
		}
		return "", nil
	}
	zak, err := h.zak.ZAK(ctx, user)
	if err != nil {
		if h.RequireZAKForHost {
			return "", refuse(err.Status, err.Code, "zak", err.Reason)
		}
		h.logger.Warn("host join signed without a ZAK", zap.String("code", err.Code), zap.String("reason", err.Reason))
		return "", nil
	}
	return zak, nil
}
