// Command zoomstandin serves the project's local stand-in for Zoom's OAuth
// server and REST API (package zoomtest, the one the tests use), so that
// the examples run without a Zoom account:
//
//	go run ./cmd/zoomstandin -env zoom.env        # keeps running
//	set -a; . ./zoom.env; set +a                  # in another shell
//	go run ./cmd/caddy run --config examples/join-helpers.Caddyfile
//
// It writes the environment the examples read (the Server-to-Server app's
// ZOOM_ACCOUNT_ID, ZOOM_CLIENT_ID and ZOOM_CLIENT_SECRET; the user OAuth
// app's ZOOM_OAUTH_CLIENT_ID, ZOOM_OAUTH_CLIENT_SECRET and
// ZOOM_OAUTH_REDIRECT_URI for -site; ZOOM_AUTHORIZE_URL, ZOOM_OAUTH_URL,
// ZOOM_API_URL; a fresh ZOOM_GRANT_KEY; and demo SDK credentials) and
// serves these meetings of its account: 85746065432 (passcode, no
// registration), 91234567890 (registration required) and 93333333333 (a
// webinar with registration). Any other number is outside the account, so
// its joins need an OBF token; the user who approves the user OAuth app is
// traveler@elsewhere.example. It listens on loopback only.
//
// With -debug 127.0.0.1:<port> it also answers GET /debug/conns there (a
// second loopback listener, apart from the stand-in's Zoom routes) with
// its counters, for the load script: the TCP connections clients have
// opened to the stand-in and the OBF tokens asked of it, as
// {"new_conns":12,"obf_calls":3400}.
package main

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/zoomsig/caddy-zoom-signature/caddymodule/zoomapi/zoomtest"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:9900", "loopback address to listen on")
	envFile := flag.String("env", "", "also write the environment to this file (mode 0600)")
	site := flag.String("site", "http://localhost:8080", "the site's address, for ZOOM_OAUTH_REDIRECT_URI")
	debug := flag.String("debug", "", "loopback address for GET /debug/conns (the stand-in's counters); off when empty")
	flag.Parse()
	if !loopback(*listen) {
		log.Fatalf("-listen %q: the stand-in listens on a loopback address only, such as 127.0.0.1:9900", *listen)
	}
	if *debug != "" && !loopback(*debug) {
		log.Fatalf("-debug %q: the counters are served on a loopback address only, such as 127.0.0.1:9901", *debug)
	}
	l, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	z := zoomtest.Serve(l, "alice@example.com", "bob@example.com")
	defer z.Close()
	if *debug != "" {
		dl, err := net.Listen("tcp", *debug)
		if err != nil {
			log.Fatal(err)
		}
		mux := http.NewServeMux()
		mux.HandleFunc("GET /debug/conns", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, "{\"new_conns\":%d,\"obf_calls\":%d}\n", z.NewConns(), z.OBFCalls())
		})
		// Its own listener, so that reading the counters opens no
		// connection to the stand-in that the counters would include.
		go func() { _ = http.Serve(dl, mux) }()
	}
	// Who approves the user OAuth app on the stand-in's authorize page:
	// a user of another Zoom account, so that her joins need OBF tokens.
	z.AddZoomUser(zoomtest.ZoomUser{ID: "zu-traveler", Email: "traveler@elsewhere.example"})
	start := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	z.AddMeeting("85746065432", zoomtest.Meeting{Passcode: "e3Rf9k", Approval: 2, Start: start, Duration: 60})
	z.AddMeeting("91234567890", zoomtest.Meeting{Passcode: "r3g1st", Approval: 0, Start: start, Duration: 60})
	z.AddMeeting("93333333333", zoomtest.Meeting{Webinar: true, Passcode: "w3b1nr", Approval: 0, Start: start, Duration: 90})

	key := make([]byte, 32)
	_, _ = rand.Read(key)
	env := strings.Join([]string{
		"ZOOM_SDK_KEY=standin-sdk-key",
		"ZOOM_SDK_SECRET=standin-sdk-secret-" + randHex(16),
		"ZOOM_ACCOUNT_ID=" + z.AccountID,
		"ZOOM_CLIENT_ID=" + z.ClientID,
		"ZOOM_CLIENT_SECRET=" + z.ClientSecret,
		"ZOOM_OAUTH_URL=" + z.OAuthURL(),
		"ZOOM_API_URL=" + z.APIURL(),
		"ZOOM_AUTHORIZE_URL=" + z.AuthorizeURL(),
		"ZOOM_OAUTH_CLIENT_ID=" + z.App.ClientID,
		"ZOOM_OAUTH_CLIENT_SECRET=" + z.App.ClientSecret,
		"ZOOM_OAUTH_REDIRECT_URI=" + strings.TrimSuffix(*site, "/") + "/zoom/connect/callback",
		"ZOOM_GRANT_KEY=" + base64.StdEncoding.EncodeToString(key),
	}, "\n") + "\n"
	if *envFile != "" {
		if err := os.WriteFile(*envFile, []byte(env), 0o600); err != nil {
			log.Fatal(err)
		}
	}
	fmt.Print(env)
	log.Printf("Zoom stand-in listening on %s; stop with Ctrl-C", z.URL)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
}

// loopback reports whether addr (host:port) is on a loopback address.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	ip := net.ParseIP(host)
	return err == nil && ip != nil && ip.IsLoopback()
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
