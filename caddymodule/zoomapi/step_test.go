package zoomapi

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/zoomsig/caddy-zoom-signature/caddymodule/problem"
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/zoomapi/zoomtest"
)

// TestRefusalProperty: a refusal names the property of the step that
// failed, whatever failed in it (Zoom's API, its OAuth server, the
// network): the meeting number for a meeting lookup and the doctor's
// details, tk for a registration, zak for a ZAK and the zak user. Every
// one of them used to say "zak".
func TestRefusalProperty(t *testing.T) {
	ctx := context.Background()
	const mtg = "91234567890"
	steps := []struct {
		name, property string
		do             func(c *Client) *problem.Error
	}{
		{"zak", "zak", func(c *Client) *problem.Error { _, err := c.ZAK(ctx, "host@example.com"); return err }},
		{"meeting", "meetingNumber", func(c *Client) *problem.Error { _, err := c.Meeting(ctx, mtg); return err }},
		{"registrant", "tk", func(c *Client) *problem.Error {
			_, err := c.Register(ctx, mtg, MeetingInfo{InAccount: true, RegistrationRequired: true}, Registrant{Email: "alice@example.com"})
			return err
		}},
		{"details", "meetingNumber", func(c *Client) *problem.Error { _, err := c.Details(ctx, mtg); return err }},
		{"user", "zak", func(c *Client) *problem.Error { _, _, _, err := c.User(ctx, "host@example.com"); return err }},
	}
	gone := httptest.NewServer(nil)
	gone.Close()
	failures := []struct {
		name, code string
		fail       func(z *zoomtest.Server, cfg *Config)
	}{
		{"API answers 500", CodeAPIAnswer, func(z *zoomtest.Server, _ *Config) { z.FailAPI(true) }},
		{"OAuth answers 500", CodeOAuth, func(z *zoomtest.Server, _ *Config) { z.FailOAuth(true) }},
		{"API unreachable", CodeAPI, func(_ *zoomtest.Server, cfg *Config) { cfg.APIURL = gone.URL + "/v2" }},
	}
	for _, f := range failures {
		for _, s := range steps {
			t.Run(f.name+"/"+s.name, func(t *testing.T) {
				z := zoomtest.New("host@example.com")
				defer z.Close()
				z.AddMeeting(mtg, zoomtest.Meeting{Approval: 0})
				cfg := Config{AccountID: z.AccountID, ClientID: z.ClientID, ClientSecret: z.ClientSecret, OAuthURL: z.OAuthURL(), APIURL: z.APIURL()}
				f.fail(z, &cfg)
				c, err := New(cfg)
				if err != nil {
					t.Fatal(err)
				}
				perr := s.do(c)
				if perr.Code() != f.code || perr.Problems[0].Property != s.property {
					t.Fatalf("%v (code %q), want code %q and property %q", perr, perr.Code(), f.code, s.property)
				}
			})
		}
	}
}
