package caddymodule

import (
	"net/http"
	"slices"

	"github.com/caddyserver/caddy/v2"
)

// Placeholders set for later handlers and access logs.
const (
	phResult        = "http.zoom_signature.result"
	phCode          = "http.zoom_signature.code"
	phRole          = "http.zoom_signature.role"
	phMeetingNumber = "http.zoom_signature.meeting_number"
	phUserID        = "http.zoom_signature.user.id"

	resultSigned  = "signed"
	resultPassed  = "passed"
	resultRefused = "refused"
)

// identify returns the user an earlier auth handler established. The
// candidate placeholders of a failed authentication are never consulted.
func (h *Handler) identify(repl *caddy.Replacer) (string, *refusal) {
	user := repl.ReplaceAll(h.Identity, "")
	if user == "" && !h.AllowAnonymous {
		return "", refuse(http.StatusUnauthorized, codeUnauthenticated, "session",
			"no signed-in user: this route needs an authenticated session (the identity "+h.Identity+" is empty); sign in and try again")
	}
	repl.Set(phUserID, user)
	return user, nil
}

// grantRole applies the host policy to the role asked for.
func (h *Handler) grantRole(repl *caddy.Replacer, asked int) (int, *refusal) {
	if asked != 1 || h.hostAllowed(repl) {
		return asked, nil
	}
	if h.OnHostDenied == hostDowngrade {
		return 0, nil
	}
	reason := "role 1 (host) is not allowed for this user; "
	if h.HostWhen == nil {
		reason += "no host_when rule is configured, so nobody gets role 1 (add host_when <placeholder> <values...>, or host_when any to let the backend decide)"
	} else {
		reason += "the user does not match host_when " + h.HostWhen.Placeholder
	}
	return 0, refuse(http.StatusForbidden, codeHostNotAllowed, "role", reason)
}

func (h *Handler) hostAllowed(repl *caddy.Replacer) bool {
	rule := h.HostWhen
	switch {
	case rule == nil:
		return false
	case rule.Any:
		return true
	}
	v := repl.ReplaceAll(rule.Placeholder, "")
	return v != "" && slices.Contains(rule.Values, v)
}

// inScope reports whether meetings allows the meeting (or session name).
func (h *Handler) inScope(meeting string) bool {
	return h.anyScope || len(h.scope) == 0 && h.Mode == modeInject || slices.Contains(h.scope, meeting)
}

func (h *Handler) outOfScope(meeting string) *refusal {
	what := "meeting"
	if h.SDK == sdkVideo {
		what = "session"
	}
	return refuse(http.StatusForbidden, codeMeetingNotAllowed, "meetingNumber",
		"this "+what+" is not in the meetings this route may sign for; add it to the meetings option or ask for one that is")
}
