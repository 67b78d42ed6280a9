package state

import (
	"context"
	"encoding/json"
	"errors"
	"path"
	"slices"
	"sync"
	"time"
)

// Limiter counts events per key over a sliding window for the whole
// cluster, with no lock, the way caddy-ratelimit's distributed mode does:
// each instance writes only its own share (the times of the events it
// allowed), reads the other instances' shares, and adds them up. It writes
// its share before it reads the others', so of two instances allowing at
// once at least one sees the other: with a storage that reads its own
// writes (Redis, a local file_system), no more than n events are allowed in
// any window, except for events of an instance that started less than
// PeerEvery ago (the others have not listed it yet) and for clock skew
// between instances. When the storage fails, the instance decides from its
// own share alone, and says so.
type Limiter struct {
	rec  *Records // nil: this process only
	self string   // this instance, hashed
	now  func() time.Time

	// writing serialises this instance's share writes, each of which
	// writes the share as it is then, so that a slower write never
	// replaces a newer share with an older one.
	writing   sync.Mutex
	listing   sync.Mutex // held while the instances are listed
	mu        sync.Mutex
	own       map[string][]int64 // key -> allowed events (Unix ms)
	peers     []string
	listed    time.Time
	announced time.Time
}

// PeerEvery is how often an instance lists the others (and announces
// itself).
const PeerEvery = 10 * time.Second

// NewLimiter counts in rec's "limits" folder; instance names this instance
// (caddy.InstanceID()). With no rec, it counts in this process only.
func NewLimiter(rec *Records, instance string) *Limiter {
	if rec == nil {
		return &Limiter{now: time.Now, own: map[string][]int64{}}
	}
	return &Limiter{rec: rec, now: rec.now, self: path.Base(rec.Name("instances", instance)), own: map[string][]int64{}}
}

// Allow says whether one more event of key fits n per window, and counts
// it if so. err is not nil when the other instances' shares could not be
// read or this one's written: the answer is then this instance's alone.
func (l *Limiter) Allow(ctx context.Context, key string, n int, window time.Duration) (bool, error) {
	now := l.now()
	from := now.Add(-window).UnixMilli()
	l.mu.Lock()
	own := l.own[key][:0:0]
	for _, t := range l.own[key] {
		if t > from {
			own = append(own, t)
		}
	}
	if len(own) >= n {
		l.own[key] = own
		l.mu.Unlock()
		return false, nil
	}
	own = append(own, now.UnixMilli())
	l.own[key] = own
	if len(l.own) > DefaultMaxEntries {
		l.prune(from)
	}
	l.mu.Unlock()
	if l.rec == nil {
		return true, nil
	}
	name := l.share(key, l.self)
	werr := l.write(ctx, key, name)
	peers, perr := l.peerList(ctx)
	total, rerr := len(own), error(nil)
	for _, p := range peers {
		plain, err := l.rec.Get(ctx, l.share(key, p))
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			rerr = err
			continue
		}
		var ts []int64
		_ = json.Unmarshal(plain, &ts)
		for _, t := range ts {
			if t > from {
				total++
			}
		}
	}
	err := errors.Join(werr, perr, rerr)
	if total <= n {
		return true, err
	}
	// Over: this event is not counted after all.
	l.mu.Lock()
	if cur := l.own[key]; len(cur) > 0 {
		if i := slices.Index(cur, now.UnixMilli()); i >= 0 {
			l.own[key] = slices.Delete(slices.Clone(cur), i, i+1)
		}
	}
	l.mu.Unlock()
	if werr == nil {
		_ = l.write(ctx, key, name)
	}
	return false, err
}

func (l *Limiter) share(key, peer string) string {
	return l.rec.Name("limits", key+"\x00"+peer)
}

func (l *Limiter) write(ctx context.Context, key, name string) error {
	l.writing.Lock()
	defer l.writing.Unlock()
	l.mu.Lock()
	b, _ := json.Marshal(l.own[key])
	l.mu.Unlock()
	return l.rec.Put(ctx, name, b)
}

// prune drops the keys with no event in the window. l.mu is held.
func (l *Limiter) prune(from int64) {
	for k, ts := range l.own {
		if len(ts) == 0 || ts[len(ts)-1] <= from {
			delete(l.own, k)
		}
	}
}

// peerList is the other instances, listed at most every PeerEvery; this
// instance announces itself as often. While the list is stale, callers
// wait for the one listing: one that went on with the old list (made
// before the others announced themselves) would count its events alone,
// and under load the listing takes long enough for many to do so.
func (l *Limiter) peerList(ctx context.Context) ([]string, error) {
	now := l.rec.now()
	l.mu.Lock()
	fresh := now.Sub(l.listed) < PeerEvery
	peers := l.peers
	announce := now.Sub(l.announced) >= PeerEvery
	if announce {
		l.announced = now
	}
	l.mu.Unlock()
	var err error
	if announce {
		err = l.rec.Put(ctx, l.rec.Folder("instances")+"/"+l.self, []byte(now.UTC().Format(time.RFC3339)))
	}
	if fresh {
		return peers, err
	}
	l.listing.Lock()
	defer l.listing.Unlock()
	l.mu.Lock()
	if now.Sub(l.listed) < PeerEvery { // another caller listed meanwhile
		peers = l.peers
		l.mu.Unlock()
		return peers, err
	}
	l.mu.Unlock()
	keys, lerr := l.rec.List(ctx, "instances")
	if lerr != nil {
		return peers, errors.Join(err, lerr)
	}
	var out []string
	for _, k := range keys {
		if p := path.Base(k); p != l.self {
			out = append(out, p)
		}
	}
	l.mu.Lock()
	l.peers, l.listed = out, now
	l.mu.Unlock()
	return out, err
}
