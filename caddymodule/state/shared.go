package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"strings"
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

// Shared is a Cache in a storage several Caddy instances share, through
// Records: each key is one record, sealed (the values are secrets: tokens,
// passcodes), named by a hash of the key in a folder per kind of key (the
// text before the key's first "/", such as meeting), so that each kind can
// be swept by its own age. A fetch takes the storage's lock for the key
// (bounded by the Records' deadline), reads the record again (another
// instance may have fetched meanwhile), and only then calls fetch; in this
// process, concurrent callers share one fetch.
type Shared struct {
	rec    *Records
	folder string
	flight singleflight.Group
}

var _ Cache = (*Shared)(nil)

// NewShared keeps records under prefix (such as "zoom_signature/state") in
// store, sealed by seal. now is the clock (time.Now when nil).
func NewShared(store Storage, seal *Sealer, prefix string, now func() time.Time) *Shared {
	return NewSharedIn(NewRecords(store, seal, RecordsConfig{Prefix: path.Dir(prefix), Now: now}), path.Base(prefix))
}

// NewSharedIn keeps the records in rec's folder.
func NewSharedIn(rec *Records, folder string) *Shared {
	return &Shared{rec: rec, folder: folder}
}

// Kind is the folder a key's record is kept in, folder/kind, so that each
// kind of record is swept by its own age.
func Kind(folder, key string) string {
	kind, _, _ := strings.Cut(key, "/")
	return folder + "/" + kind
}

// record is what a key holds, before sealing.
type record struct {
	Value   []byte `json:"v,omitempty"`
	Expires int64  `json:"e,omitempty"` // Unix milliseconds
	Held    int64  `json:"h,omitempty"` // Unix milliseconds
}

func (s *Shared) name(key string) string {
	return s.rec.Name(Kind(s.folder, key), key)
}

// read returns the record under name; a missing, unsealable or unreadable
// record is an empty one, so that it is fetched again and overwritten. A
// storage that fails is an error.
func (s *Shared) read(ctx context.Context, name string) (record, error) {
	plain, err := s.rec.Get(ctx, name)
	var se *StoreError
	if errors.As(err, &se) {
		return record{}, err
	}
	var r record
	if err != nil || json.Unmarshal(plain, &r) != nil {
		return record{}, nil
	}
	return r, nil
}

func (s *Shared) write(ctx context.Context, name string, r record) error {
	plain, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return s.rec.Put(ctx, name, plain)
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
	r, err := s.read(ctx, name)
	if err != nil {
		return nil, err
	}
	if v, err, ok := r.fresh(s.rec.now()); ok {
		return v, err
	}
	v, err, _ := s.flight.Do(key, func() (any, error) {
		ctx := context.WithoutCancel(ctx)
		unlock, err := s.rec.Lock(ctx, name)
		if err != nil {
			return nil, err
		}
		defer unlock()
		// Under the lock, again: another instance may have fetched while
		// this one waited.
		r, err := s.read(ctx, name)
		if err != nil {
			return nil, err
		}
		if v, err, ok := r.fresh(s.rec.now()); ok {
			return v, err
		}
		value, ttl, err := fetch(ctx)
		if err != nil {
			return nil, err
		}
		if ttl > 0 {
			r.Value, r.Expires = value, s.rec.now().Add(ttl).UnixMilli()
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
	r, _ := s.read(ctx, name)
	r.Held = until.UnixMilli()
	_ = s.write(ctx, name, r)
}

// Delete implements Cache (a hold stays: it is the record's, so the record
// is rewritten without its value).
func (s *Shared) Delete(key string) {
	ctx := context.Background()
	name := s.name(key)
	r, _ := s.read(ctx, name)
	if r.Held == 0 {
		_ = s.rec.Delete(ctx, name)
		return
	}
	r.Value, r.Expires = nil, 0
	_ = s.write(ctx, name, r)
}
