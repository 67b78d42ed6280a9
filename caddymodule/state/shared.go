package state

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"golang.org/x/sync/singleflight"
)

// Storage is the part of certmagic.Storage (what a Caddy module gets from
// ctx.Storage()) that Shared uses, so that whatever storage the site
// configured serves: file_system on a shared folder, or a Redis, Consul or
// DynamoDB storage module in a cluster. Lock must block while another
// instance holds the lock, or the cluster fetches twice.
type Storage interface {
	Lock(ctx context.Context, name string) error
	Unlock(ctx context.Context, name string) error
	Store(ctx context.Context, key string, value []byte) error
	Load(ctx context.Context, key string) ([]byte, error)
	Delete(ctx context.Context, key string) error
}

// Shared is a Cache in a storage several Caddy instances share. Each key is
// one record, sealed (the values are secrets: ZAKs, tokens), named by the
// SHA-256 of the key (so no user ID or email shows in a file name). A fetch
// takes the storage's lock for the key, reads the record again (another
// instance may have fetched meanwhile), and only then calls fetch; in this
// process, concurrent callers share one fetch.
type Shared struct {
	store  Storage
	seal   *Sealer
	prefix string
	now    func() time.Time
	flight singleflight.Group
}

var _ Cache = (*Shared)(nil)

// NewShared keeps records under prefix (such as "zoom_signature/state") in
// store, sealed by seal. now is the clock (time.Now when nil).
func NewShared(store Storage, seal *Sealer, prefix string, now func() time.Time) *Shared {
	if now == nil {
		now = time.Now
	}
	return &Shared{store: store, seal: seal, prefix: prefix, now: now}
}

// record is what a key holds, before sealing.
type record struct {
	Value   []byte `json:"v,omitempty"`
	Expires int64  `json:"e,omitempty"` // Unix milliseconds
	Held    int64  `json:"h,omitempty"` // Unix milliseconds
}

func (s *Shared) name(key string) string {
	sum := sha256.Sum256([]byte(key))
	return s.prefix + "/" + hex.EncodeToString(sum[:])
}

// read returns the record under name; a missing, unreadable or unsealable
// record is an empty one, so that it is fetched again and overwritten.
func (s *Shared) read(ctx context.Context, name string) record {
	sealed, err := s.store.Load(ctx, name)
	if err != nil {
		return record{}
	}
	plain, err := s.seal.Open(name, sealed)
	if err != nil {
		return record{}
	}
	var r record
	if json.Unmarshal(plain, &r) != nil {
		return record{}
	}
	return r
}

func (s *Shared) write(ctx context.Context, name string, r record) error {
	plain, err := json.Marshal(r)
	if err != nil {
		return err
	}
	sealed, err := s.seal.Seal(name, plain)
	if err != nil {
		return err
	}
	return s.store.Store(ctx, name, sealed)
}

// fresh returns what a record answers at now: its value, a hold, or
// neither.
func (r record) fresh(now time.Time) ([]byte, error, bool) {
	ms := now.UnixMilli()
	switch {
	case r.Value != nil && ms < r.Expires:
		return r.Value, nil, true
	case ms < r.Held:
		return nil, &HeldError{Until: time.UnixMilli(r.Held)}, true
	}
	return nil, nil, false
}

// Load implements Cache.
func (s *Shared) Load(ctx context.Context, key string, fetch Fetch) ([]byte, error) {
	name := s.name(key)
	if v, err, ok := s.read(ctx, name).fresh(s.now()); ok {
		return v, err
	}
	v, err, _ := s.flight.Do(key, func() (any, error) {
		ctx := context.WithoutCancel(ctx)
		if err := s.store.Lock(ctx, name); err != nil {
			return nil, fmt.Errorf("taking the storage lock: %w", err)
		}
		defer func() { _ = s.store.Unlock(ctx, name) }()
		// Under the lock, again: another instance may have fetched while
		// this one waited.
		r := s.read(ctx, name)
		if v, err, ok := r.fresh(s.now()); ok {
			return v, err
		}
		value, ttl, err := fetch(ctx)
		if err != nil {
			return nil, err
		}
		if ttl > 0 {
			r.Value, r.Expires = value, s.now().Add(ttl).UnixMilli()
			if err := s.write(ctx, name, r); err != nil {
				return nil, fmt.Errorf("storing the value: %w", err)
			}
		}
		return value, nil
	})
	if err != nil {
		return nil, err
	}
	return v.([]byte), nil
}

// Hold implements Cache. It writes without the lock: it is called from a
// fetch, which holds it already (the locks are not reentrant).
func (s *Shared) Hold(key string, until time.Time) {
	ctx := context.Background()
	name := s.name(key)
	r := s.read(ctx, name)
	r.Held = until.UnixMilli()
	_ = s.write(ctx, name, r)
}

// Delete implements Cache (a hold stays: it is the record's, so the record
// is rewritten without its value).
func (s *Shared) Delete(key string) {
	ctx := context.Background()
	name := s.name(key)
	r := s.read(ctx, name)
	if r.Held == 0 {
		_ = s.store.Delete(ctx, name)
		return
	}
	r.Value, r.Expires = nil, 0
	_ = s.write(ctx, name, r)
}
