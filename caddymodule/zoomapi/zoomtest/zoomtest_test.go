package zoomtest

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// get asks the fake for path with a bearer token and decodes its JSON.
func get(t *testing.T, s *Server, path, bearer string) (int, map[string]any, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+bearer)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out, resp.Header
}

// appToken is an access token of the Server-to-Server app.
func appToken(t *testing.T, s *Server) string {
	t.Helper()
	form := url.Values{"grant_type": {"account_credentials"}, "account_id": {s.AccountID}}
	req, _ := http.NewRequest(http.MethodPost, s.OAuthURL(), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(s.ClientID, s.ClientSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		AccessToken string `json:"access_token"`
	}
	if json.NewDecoder(resp.Body).Decode(&out) != nil || out.AccessToken == "" {
		t.Fatalf("no app token: HTTP %d", resp.StatusCode)
	}
	return out.AccessToken
}

// userToken runs the user app's authorization-code flow with PKCE for the
// user who authorizes, and returns the user's access token.
func userToken(t *testing.T, s *Server) string {
	t.Helper()
	const redirect, verifier = "https://site.example/callback", "a-code-verifier-long-enough-for-pkce-0123456789"
	sum := sha256.Sum256([]byte(verifier))
	q := url.Values{"client_id": {s.App.ClientID}, "response_type": {"code"}, "redirect_uri": {redirect}, "state": {"st"},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"}}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(s.AuthorizeURL() + "?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	back, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || back.Query().Get("code") == "" {
		t.Fatalf("authorize: %s", resp.Header.Get("Location"))
	}
	form := url.Values{"grant_type": {"authorization_code"}, "code": {back.Query().Get("code")}, "redirect_uri": {redirect}, "code_verifier": {verifier}}
	req, _ := http.NewRequest(http.MethodPost, s.OAuthURL(), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(s.App.ClientID, s.App.ClientSecret)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		AccessToken string `json:"access_token"`
	}
	if json.NewDecoder(resp.Body).Decode(&out) != nil || out.AccessToken == "" {
		t.Fatalf("no user token: HTTP %d", resp.StatusCode)
	}
	return out.AccessToken
}

func TestNonexistentMeetingOBF(t *testing.T) {
	s := New()
	defer s.Close()
	s.AddZoomUser(ZoomUser{ID: "zu-1", Email: "traveler@elsewhere.example"})
	tok := userToken(t, s)
	// By default a number outside the account is another account's.
	if status, body, _ := get(t, s, "/v2/users/me/token?type=onbehalf&meeting_id=81111111111", tok); status != http.StatusOK || body["token"] == "" {
		t.Fatalf("external meeting: %d %v", status, body)
	}
	s.Nonexistent("82222222222")
	if status, body, _ := get(t, s, "/v2/users/me/token?type=onbehalf&meeting_id=82222222222", tok); status != http.StatusNotFound || body["code"] != 3001.0 {
		t.Errorf("nonexistent meeting: %d %v", status, body)
	}
	// The user routes beside /users/{userId}: /users/me still answers
	// the user's token.
	if status, body, _ := get(t, s, "/v2/users/me", tok); status != http.StatusOK || body["id"] != "zu-1" {
		t.Errorf("/users/me: %d %v", status, body)
	}
}

func TestAccountUsersAndSwitches(t *testing.T) {
	s := New()
	defer s.Close()
	s.AddAccountUser(AccountUser{ID: "u-1", Email: "Ann@Example.com", Inactive: true, OnlyAuthenticatedFromWebclient: true})
	tok := appToken(t, s)
	for _, tc := range []struct {
		path   string
		status int
		want   map[string]any
	}{
		{"/v2/users/u-1", 200, map[string]any{"id": "u-1", "email": "Ann@Example.com", "status": "inactive"}},
		{"/v2/users/ann@example.com", 200, map[string]any{"id": "u-1"}},
		{"/v2/users/" + OwnerEmail, 200, map[string]any{"id": OwnerID, "status": "active"}},
		{"/v2/users/nobody", 404, map[string]any{"code": 1001.0}},
		{"/v2/users/nobody/settings", 404, map[string]any{"code": 1001.0}},
		// /users/me is the user OAuth route: the app's token is not one.
		{"/v2/users/me", 401, map[string]any{"code": 124.0}},
	} {
		status, body, _ := get(t, s, tc.path, tok)
		if status != tc.status {
			t.Errorf("%s: %d %v, want %d", tc.path, status, body, tc.status)
		}
		for k, v := range tc.want {
			if body[k] != v {
				t.Errorf("%s: %s = %v, want %v", tc.path, k, body[k], v)
			}
		}
	}
	if _, body, _ := get(t, s, "/v2/users/u-1/settings", tok); body["meeting_security"].(map[string]any)["only_authenticated_can_join_from_webclient"] != true {
		t.Errorf("settings: %v", body)
	}
	if s.UserCalls("u-1") != 1 || s.SettingsCalls("u-1") != 1 {
		t.Errorf("%d user and %d settings calls, want 1 and 1", s.UserCalls("u-1"), s.SettingsCalls("u-1"))
	}
	// An account user's ZAK can be had by ID and by email.
	for _, u := range []string{"u-1", "Ann@Example.com"} {
		if status, body, _ := get(t, s, "/v2/users/"+u+"/token?type=zak", tok); status != http.StatusOK || body["token"] == nil {
			t.Errorf("ZAK of %s: %d %v", u, status, body)
		}
	}

	// DenyScope: 4711 for exactly the calls that need the scope.
	s.AddMeeting("85746065432", Meeting{Approval: 2})
	s.DenyScope("user:read:user:admin", true)
	if status, body, _ := get(t, s, "/v2/users/u-1", tok); status != http.StatusBadRequest || body["code"] != 4711.0 {
		t.Errorf("denied scope: %d %v", status, body)
	}
	if status, body, _ := get(t, s, "/v2/meetings/85746065432", tok); status != http.StatusOK || body["host_id"] != OwnerID || body["status"] != "waiting" {
		t.Errorf("meeting with another scope denied: %d %v", status, body)
	}

	// ClockOffset: every answer's Date is Zoom's clock.
	s.ClockOffset(time.Hour)
	_, _, h := get(t, s, "/v2/meetings/85746065432", tok)
	if d, err := http.ParseTime(h.Get("Date")); err != nil || d.Sub(time.Now()) < 59*time.Minute {
		t.Errorf("Date %q, want an hour ahead", h.Get("Date"))
	}

	// RejectCredentials: 401 invalid_client for the app.
	s.RejectCredentials(true)
	form := url.Values{"grant_type": {"account_credentials"}, "account_id": {s.AccountID}}
	req, _ := http.NewRequest(http.MethodPost, s.OAuthURL(), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(s.ClientID, s.ClientSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("rejected credentials: %d", resp.StatusCode)
	}
}
