// Package state keeps what the module must remember between requests: values
// that are costly to fetch from Zoom (host ZAKs today, meeting lookups and
// user grants next), each for a time to live, and "hold until" marks for
// keys that Zoom rate-limited. It is one interface, Cache, so that where the
// state lives is a choice of implementation: Memory keeps it in this
// process; an implementation over Caddy's storage (certmagic.Storage, with
// its Lock/Unlock) shares it between instances. Values are opaque bytes, so
// any implementation can store them; one that writes them anywhere must
// seal them first, since they are secrets.
package state

import (
	"context"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// Fetch gets a fresh value, and says how long it may be kept (0: not at
// all).
type Fetch func(ctx context.Context) (value []byte, ttl time.Duration, err error)

// Cache is a store of short-lived values with holds.
type Cache interface {
	// Load returns the value under key while it is fresh. Otherwise it
	// calls fetch, once for all the concurrent callers of the same key, and
	// keeps what fetch returns for the ttl it returns. fetch runs on a
	// context that is not cancelled with the caller's, so that one caller
	// going away does not fail the others. While key is held, Load returns
	// a *HeldError and calls nothing.
	Load(ctx context.Context, key string, fetch Fetch) ([]byte, error)

	// Hold makes Load refuse key until the given time.
	Hold(key string, until time.Time)

	// Delete forgets the value under key (not a hold).
	Delete(key string)
}

// HeldError is the answer for a held key.
type HeldError struct{ Until time.Time }

func (e *HeldError) Error() string {
	return "held until " + e.Until.UTC().Format(time.RFC3339)
}

// DefaultMaxEntries bounds a Memory cache.
const DefaultMaxEntries = 100_000

// Memory is a Cache in this process's memory. It is safe for concurrent use.
type Memory struct {
	now    func() time.Time
	max    int
	flight singleflight.Group

	mu      sync.Mutex
	entries map[string]entry
	holds   map[string]time.Time
}

type entry struct {
	value   []byte
	expires time.Time
}

// NewMemory returns an empty Memory cache that holds at most max values
// and holds (DefaultMaxEntries when max <= 0). now is the clock (time.Now
// when nil).
func NewMemory(now func() time.Time, max int) *Memory {
	if now == nil {
		now = time.Now
	}
	if max <= 0 {
		max = DefaultMaxEntries
	}
	return &Memory{now: now, max: max, entries: map[string]entry{}, holds: map[string]time.Time{}}
}

var _ Cache = (*Memory)(nil)

// Load implements Cache.
func (m *Memory) Load(ctx context.Context, key string, fetch Fetch) ([]byte, error) {
	now := m.now()
	m.mu.Lock()
	e, ok := m.entries[key]
	until, held := m.holds[key]
	m.mu.Unlock()
	if ok && now.Before(e.expires) {
		return e.value, nil
	}
	if held {
		if now.Before(until) {
			return nil, &HeldError{Until: until}
		}
		m.mu.Lock()
		if m.holds[key] == until {
			delete(m.holds, key)
		}
		m.mu.Unlock()
	}
	v, err, _ := m.flight.Do(key, func() (any, error) {
		// A caller that missed the cache just as an earlier flight stored
		// its value takes that value instead of fetching again.
		m.mu.Lock()
		e, ok := m.entries[key]
		m.mu.Unlock()
		if ok && m.now().Before(e.expires) {
			return e.value, nil
		}
		value, ttl, err := fetch(context.WithoutCancel(ctx))
		if err != nil {
			return nil, err
		}
		if ttl > 0 {
			m.mu.Lock()
			if room(m.entries, m.max, func(e entry) bool { return !m.now().Before(e.expires) }) {
				m.entries[key] = entry{value: value, expires: m.now().Add(ttl)}
			}
			m.mu.Unlock()
		}
		return value, nil
	})
	if err != nil {
		return nil, err
	}
	return v.([]byte), nil
}

// Hold implements Cache.
func (m *Memory) Hold(key string, until time.Time) {
	m.mu.Lock()
	if room(m.holds, m.max, func(t time.Time) bool { return !m.now().Before(t) }) {
		m.holds[key] = until
	}
	m.mu.Unlock()
}

// Delete implements Cache.
func (m *Memory) Delete(key string) {
	m.mu.Lock()
	delete(m.entries, key)
	m.mu.Unlock()
}

// Len is the number of values and holds kept, expired or not.
func (m *Memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.entries) + len(m.holds)
}

// room makes space in a full map by dropping what has expired, and says
// whether there is room for one more. A map full of live entries stays as
// it is: the value is still returned, just not kept. m.mu is held.
func room[V any](es map[string]V, max int, expired func(V) bool) bool {
	if len(es) < max {
		return true
	}
	for k, v := range es {
		if expired(v) {
			delete(es, k)
		}
	}
	return len(es) < max
}
