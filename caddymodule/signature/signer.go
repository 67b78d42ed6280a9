package signature

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"hash"
	"sync"
	"unsafe"
)

// Lifetime limits that Zoom enforces on exp - iat, in seconds.
const (
	MinLifetime     = 1800
	MaxLifetime     = 172800
	DefaultLifetime = 7200
)

// jwtHeader is base64url({"alg":"HS256","typ":"JWT"}), the exact header of
// both samples.
const jwtHeader = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"

// Signer mints tokens for one SDK key and secret. It is safe for concurrent
// use. The HMAC key is always the UTF-8 bytes of the secret; see HMACKey for
// where Zoom's Node sample differs.
type Signer struct {
	key  string
	macs sync.Pool
}

// NewSigner returns a Signer for the SDK key (client ID) and secret.
func NewSigner(sdkKey, secret string) (*Signer, error) {
	if sdkKey == "" {
		return nil, errors.New("the SDK key is empty; set it to your Meeting SDK or Video SDK app's client ID")
	}
	if secret == "" {
		return nil, errors.New("the SDK secret is empty; set it to your app's client secret")
	}
	mac := []byte(secret)
	return &Signer{
		key:  sdkKey,
		macs: sync.Pool{New: func() any { return &macState{h: hmac.New(sha256.New, mac)} }},
	}, nil
}

// Key returns the SDK key the Signer signs for.
func (s *Signer) Key() string { return s.key }

// String keeps the secret out of logs and panics.
func (s *Signer) String() string { return "signature.Signer{key: " + s.key + ", secret: [redacted]}" }

// GoString keeps the secret out of %#v.
func (s *Signer) GoString() string { return s.String() }

// jwt finishes an HS256 token over payload.
func (s *Signer) jwt(payload []byte) string {
	enc := base64.RawURLEncoding
	out := make([]byte, 0, len(jwtHeader)+2+enc.EncodedLen(len(payload))+43)
	out = append(out, jwtHeader...)
	out = append(out, '.')
	out = enc.AppendEncode(out, payload)
	out = append(out, '.')
	m := s.macs.Get().(*macState)
	out = enc.AppendEncode(out, m.sum(out[:len(out)-1]))
	s.macs.Put(m)
	// out is never written again, so it can back the string without a
	// copy, as strings.Builder does.
	return unsafe.String(unsafe.SliceData(out), len(out))
}

func (s *Signer) hmac(dst, msg []byte) []byte {
	m := s.macs.Get().(*macState)
	dst = append(dst, m.sum(msg)...)
	s.macs.Put(m)
	return dst
}

// macState is a pooled HMAC with room for its sum: a sum buffer on the
// caller's stack would escape through hash.Hash's Sum.
type macState struct {
	h   hash.Hash
	buf [sha256.Size]byte
}

func (m *macState) sum(msg []byte) []byte {
	m.h.Reset()
	m.h.Write(msg)
	return m.h.Sum(m.buf[:0])
}

// HMACKey is the key this package uses for secret: its UTF-8 bytes.
func HMACKey(secret string) []byte { return []byte(secret) }

// SampleHMACKey is the key Zoom's Node samples (jsrsasign 11) derive from
// secret: an even-length all-hex secret is hex-decoded, and otherwise each
// UTF-16 code unit contributes its low byte. For plain ASCII secrets, which
// all real Zoom secrets are, it equals HMACKey.
func SampleHMACKey(secret string) []byte {
	if isEvenHex(secret) {
		out := make([]byte, len(secret)/2)
		for i := range out {
			out[i] = byte(hexVal(secret[2*i])<<4 | hexVal(secret[2*i+1]))
		}
		return out
	}
	out := make([]byte, 0, len(secret))
	for _, r := range secret {
		if r >= 0x10000 {
			r -= 0x10000
			out = append(out, byte(0xd800+(r>>10)), byte(0xdc00+(r&0x3ff)))
			continue
		}
		out = append(out, byte(r))
	}
	return out
}

// SecretAmbiguous reports whether libraries disagree on secret's key bytes:
// it is hex-looking (jsrsasign decodes it) or not plain ASCII.
func SecretAmbiguous(secret string) bool {
	if isEvenHex(secret) {
		return true
	}
	for i := 0; i < len(secret); i++ {
		if secret[i] >= 0x80 {
			return true
		}
	}
	return false
}

func isEvenHex(s string) bool {
	if s == "" || len(s)%2 != 0 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if hexVal(s[i]) > 15 {
			return false
		}
	}
	return true
}

func hexVal(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10
	}
	return 255
}
