// Package sessiontest is a real HTTP JWKS endpoint for tests: the test sets
// its keys and its health, and it counts its hits.
package sessiontest

import (
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
)

// JWKS serves an RSA key set at any path.
type JWKS struct {
	*httptest.Server
	Hits atomic.Int64

	mu   sync.Mutex
	keys map[string]*rsa.PublicKey
	down bool
	pad  int
}

// Pad makes every answer n bytes longer (an unknown member), for size
// limits.
func (j *JWKS) Pad(n int) {
	j.mu.Lock()
	j.pad = n
	j.mu.Unlock()
}

// NewJWKS starts a JWKS endpoint with the given keys, by kid.
func NewJWKS(keys map[string]*rsa.PublicKey) *JWKS {
	j := &JWKS{keys: keys}
	j.Server = httptest.NewServer(http.HandlerFunc(j.serve))
	return j
}

// Set makes the endpoint answer 503 (down) or serve keys; nil keys keep the
// current ones.
func (j *JWKS) Set(down bool, keys map[string]*rsa.PublicKey) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.down = down
	if keys != nil {
		j.keys = keys
	}
}

func (j *JWKS) serve(w http.ResponseWriter, _ *http.Request) {
	j.Hits.Add(1)
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.down {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	keys := []map[string]string{}
	for kid, k := range j.keys {
		keys = append(keys, map[string]string{"kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig",
			"n": base64.RawURLEncoding.EncodeToString(k.N.Bytes()),
			"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(k.E)).Bytes())})
	}
	w.Header().Set("Content-Type", "application/json")
	body := map[string]any{"keys": keys}
	if j.pad > 0 {
		body["x-pad"] = strings.Repeat("x", j.pad)
	}
	_ = json.NewEncoder(w).Encode(body)
}
