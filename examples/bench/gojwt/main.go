// Command gojwt is the load script's plain Go endpoint: net/http,
// encoding/json and golang-jwt, minting the same Meeting SDK JWT as
// zoom_signature's endpoint mode for a signed-in user (X-User), with none
// of Caddy around it. It shows what Caddy's own server costs next to a
// bare Go one; it is not a product.
//
//	go run ./examples/bench/gojwt -listen 127.0.0.1:9107
//
// GET /mallocs answers the process's allocation count, for the script's
// allocations per request.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"runtime"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:9107", "address")
	flag.Parse()
	key, secret := "benchKey0000000000000a", []byte(os.Getenv("ZS_BENCH_SECRET"))
	http.HandleFunc("POST /", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-User") == "" {
			http.Error(w, `{"errors":[{"code":"unauthenticated"}]}`, http.StatusUnauthorized)
			return
		}
		var req struct {
			MeetingNumber string `json:"meetingNumber"`
			Role          int    `json:"role"`
		}
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&req); err != nil || req.MeetingNumber == "" {
			http.Error(w, `{"errors":[{"code":"invalid_body"}]}`, http.StatusBadRequest)
			return
		}
		iat := time.Now().Unix() - 30
		tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
			"appKey": key, "sdkKey": key, "mn": req.MeetingNumber, "role": req.Role,
			"iat": iat, "exp": iat + 7200, "tokenExp": iat + 7200,
		}).SignedString(secret)
		if err != nil {
			http.Error(w, `{"errors":[{"code":"signing_failed"}]}`, http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store, private")
		_ = json.NewEncoder(w).Encode(map[string]string{"signature": tok, "sdkKey": key})
	})
	http.HandleFunc("GET /mallocs", func(w http.ResponseWriter, r *http.Request) {
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		fmt.Fprintln(w, m.Mallocs)
	})
	log.Fatal(http.ListenAndServe(*listen, nil))
}
