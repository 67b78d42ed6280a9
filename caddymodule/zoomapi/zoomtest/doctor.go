package zoomtest

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strings"
	"time"
)

// What the join doctor reads beside the meeting: the account's users and
// their settings, Zoom's clock, the scopes the app was given, and whether
// a meeting number exists anywhere.

// The account's owner, a user of the account from the start and the host
// of every meeting that names no other.
const (
	OwnerID    = "owner-user-id"
	OwnerEmail = "owner@example.com"
)

// AccountUser is a user of the fake's account, as GET /users/{userId} and
// /users/{userId}/settings answer it.
type AccountUser struct {
	ID, Email string
	// Inactive users answer status "inactive".
	Inactive bool
	// OnlyAuthenticatedFromWebclient is the user's setting
	// meeting_security.only_authenticated_can_join_from_webclient: only
	// signed-in users may join the user's meetings from a browser.
	OnlyAuthenticatedFromWebclient bool
}

// AddAccountUser adds (or replaces) a user of the account, who can then be
// read at /users/{id or email} and whose ZAK can be had by ID or email.
func (s *Server) AddAccountUser(u AccountUser) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addAccountUser(u)
}

// addAccountUser is AddAccountUser with s.mu held (or before serving).
func (s *Server) addAccountUser(u AccountUser) {
	if u.ID != "" {
		s.accountUsers[u.ID] = u
		s.users[u.ID] = true
	}
	if u.Email != "" {
		s.accountUsers[strings.ToLower(u.Email)] = u
		s.users[u.Email] = true
	}
}

// accountUser finds a user by ID or email. The users given to New, known
// only by one name, are active users too: an email gets an ID made from
// it, an ID no email. s.mu is held.
func (s *Server) accountUser(id string) (AccountUser, bool) {
	if u, ok := s.accountUsers[id]; ok {
		return u, true
	}
	if u, ok := s.accountUsers[strings.ToLower(id)]; ok && strings.Contains(id, "@") {
		return u, true
	}
	if !s.users[id] {
		return AccountUser{}, false
	}
	if !strings.Contains(id, "@") {
		return AccountUser{ID: id}, true
	}
	// Zoom's user IDs are 22 characters of base64url.
	sum := sha256.Sum256([]byte(strings.ToLower(id)))
	return AccountUser{ID: base64.RawURLEncoding.EncodeToString(sum[:16]), Email: id}, true
}

// UserCalls counts the lookups of user (as asked: an ID or an email) at
// GET /users/{userId}.
func (s *Server) UserCalls(user string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.userCalls[user]
}

// SettingsCalls counts the lookups of user at GET /users/{userId}/settings.
func (s *Server) SettingsCalls(user string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.settingsCalls[user]
}

// ClockOffset runs Zoom's clock d ahead of ours (behind when negative):
// every answer, OAuth and API, carries a Date header of now + d.
func (s *Server) ClockOffset(d time.Duration) { s.mu.Lock(); s.clockOffset = d; s.mu.Unlock() }

// DenyScope takes scope from the Server-to-Server app (or gives it back):
// the calls that need it answer HTTP 400, code 4711, as Zoom does. The
// calls and their scopes: GET /meetings/{id} meeting:read:meeting:admin,
// GET /webinars/{id} webinar:read:webinar:admin, GET /users/{userId}
// user:read:user:admin, GET /users/{userId}/settings
// user:read:settings:admin, and the ZAK user:read:zak:admin.
func (s *Server) DenyScope(scope string, deny bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if deny {
		s.denied[scope] = true
	} else {
		delete(s.denied, scope)
	}
}

// Nonexistent makes the meeting number id nobody's: it leaves the account
// (until AddMeeting puts it back), and the OBF endpoint answers 3001 for
// it instead of taking it for another account's meeting.
func (s *Server) Nonexistent(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.meetings, id)
	s.nonexistent[id] = true
}

// RejectCredentials makes the token endpoint refuse the Server-to-Server
// app (401 invalid_client), as Zoom does for a wrong secret or a
// deactivated app; FailOAuth is a Zoom that is down instead.
func (s *Server) RejectCredentials(reject bool) { s.mu.Lock(); s.rejectCreds = reject; s.mu.Unlock() }

// scoped answers 4711 when the app lacks scope. s.mu is held.
func (s *Server) scoped(w http.ResponseWriter, scope string) bool {
	if s.denied[scope] {
		writeJSON(w, http.StatusBadRequest, map[string]any{"code": 4711, "message": "Invalid access token, does not contain scopes:[" + scope + "]."})
		return false
	}
	return true
}

// userNotFound answers 1001 as Zoom does. s.mu is held.
func (s *Server) userNotFound(w http.ResponseWriter, r *http.Request, user string) {
	msg := "User does not exist: " + user + "."
	if s.echo {
		msg += " Request: Authorization: " + r.Header.Get("Authorization")
	}
	writeJSON(w, http.StatusNotFound, map[string]any{"code": 1001, "message": msg})
}

// user answers GET /users/{userId} (an ID or an email) for the account's
// token.
func (s *Server) user(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("user")
	s.mu.Lock()
	defer s.mu.Unlock()
	s.userCalls[id]++
	if !s.authorized(w, r) || !s.scoped(w, "user:read:user:admin") {
		return
	}
	u, ok := s.accountUser(id)
	if !ok {
		s.userNotFound(w, r, id)
		return
	}
	status := "active"
	if u.Inactive {
		status = "inactive"
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": u.ID, "email": u.Email, "first_name": "Account", "last_name": "User",
		"type": 2, "status": status, "account_id": s.AccountID})
}

// userSettings answers GET /users/{userId}/settings, the parts the doctor
// reads, for the account's token.
func (s *Server) userSettings(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("user")
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settingsCalls[id]++
	if !s.authorized(w, r) || !s.scoped(w, "user:read:settings:admin") {
		return
	}
	u, ok := s.accountUser(id)
	if !ok {
		s.userNotFound(w, r, id)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"meeting_security": map[string]any{
			"only_authenticated_can_join_from_webclient": u.OnlyAuthenticatedFromWebclient,
			"waiting_room":                false,
			"embed_password_in_join_link": false,
		},
		"in_meeting": map[string]any{"e2e_encryption": false},
	})
}
