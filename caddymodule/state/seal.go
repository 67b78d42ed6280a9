package state

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
)

// Sealer seals values at rest with AES-256-GCM and a key ring: the first
// key seals, every key opens, so keys can rotate (put the new key first and
// keep the old one until every record has been rewritten). The name a value
// is stored under is the additional data, so a sealed record moved to
// another name does not open.
type Sealer struct {
	keys []sealKey
}

type sealKey struct {
	id   [8]byte // the first bytes of SHA-256(key): says which key sealed
	aead cipher.AEAD
}

// sealMagic starts every sealed record: the format's version.
var sealMagic = []byte("zs1")

// ErrUnsealable is returned for a record no key of the ring opens, or one
// that was altered or moved.
var ErrUnsealable = errors.New("the record cannot be opened with any key of the ring; it was sealed with another key, altered, or moved")

// NewSealer builds a Sealer from 32-byte keys, the sealing one first.
func NewSealer(keys ...[]byte) (*Sealer, error) {
	if len(keys) == 0 {
		return nil, errors.New("a sealer needs at least one key")
	}
	s := &Sealer{}
	for i, k := range keys {
		if len(k) != 32 {
			return nil, fmt.Errorf("key %d is %d bytes; AES-256 takes 32 (base64 of 32 random bytes, e.g. openssl rand -base64 32)", i+1, len(k))
		}
		block, err := aes.NewCipher(k)
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(k)
		var id [8]byte
		copy(id[:], sum[:])
		s.keys = append(s.keys, sealKey{id: id, aead: aead})
	}
	return s, nil
}

// Seal seals value for the storage name it is kept under.
func (s *Sealer) Seal(name string, value []byte) ([]byte, error) {
	k := s.keys[0]
	nonce := make([]byte, k.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(sealMagic)+len(k.id)+len(nonce)+len(value)+k.aead.Overhead())
	out = append(out, sealMagic...)
	out = append(out, k.id[:]...)
	out = append(out, nonce...)
	return k.aead.Seal(out, nonce, value, []byte(name)), nil
}

// Open opens a record sealed for name.
func (s *Sealer) Open(name string, sealed []byte) ([]byte, error) {
	rest, ok := bytes.CutPrefix(sealed, sealMagic)
	if !ok || len(rest) < 8 {
		return nil, ErrUnsealable
	}
	id, rest := rest[:8], rest[8:]
	for _, k := range s.keys {
		if !bytes.Equal(k.id[:], id) {
			continue
		}
		n := k.aead.NonceSize()
		if len(rest) < n+k.aead.Overhead() {
			return nil, ErrUnsealable
		}
		value, err := k.aead.Open(nil, rest[:n], rest[n:], []byte(name))
		if err != nil {
			return nil, ErrUnsealable
		}
		return value, nil
	}
	return nil, ErrUnsealable
}
