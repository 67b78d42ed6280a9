package connect

import (
	"sync"
	"time"
)

// GrantRecheck is how long an opened grant is served from memory before
// the storage is read again. It bounds how long an instance may go on
// using a grant that another instance disconnected (when Zoom has not
// already refused its access token: see Front).
const GrantRecheck = 5 * time.Second

// frontMax bounds the users a Front keeps; past it, it starts over.
const frontMax = 10_000

// Front keeps the opened grants of the users who joined lately, so that a
// warm join does not read and open its grant from the storage (a file
// read, or a network round trip to Redis, and a decryption per join). The
// storage stays the truth, and the front stays correct in a cluster:
//
//   - A refresh on another instance: the access token kept here stays valid
//     at Zoom until it expires (it is then inside the refresh margin, and
//     the storage is read) or until Zoom answers 401, which reads the
//     storage (Authorized). At most GrantRecheck later the storage is read
//     anyway.
//   - A disconnect on another instance: it revokes the grant at Zoom, so the
//     next call with the kept token is refused (401), the storage is read,
//     and the join answers zoom_not_connected at once. If Zoom's revoke
//     failed, the grant is read again, and found gone, at most
//     GrantRecheck after this instance last read it.
//   - A token revoked at Zoom (by the user, or an admin): Zoom's 401 reads
//     the storage and refreshes or drops the grant, as without the front.
//   - A connect, refresh, disconnect or tombstone in this process updates
//     or drops the user's entry at once, for every Manager that shares the
//     front (the glue gives one to every handler on the same storage and
//     seal keys).
//
// A read that began before a drop is not kept (the drops counter), so a
// slow read never brings back a grant just disconnected. It is safe for
// concurrent use.
type Front struct {
	mu    sync.Mutex
	m     map[string]frontEntry
	drops uint64
}

type frontEntry struct {
	g    Grant
	read time.Time // when the storage was read
}

// NewFront makes an empty Front.
func NewFront() *Front { return &Front{m: map[string]frontEntry{}} }

// get returns the user's grant if it was read from the storage less than
// GrantRecheck before now.
func (f *Front) get(siteUser string, now time.Time) (Grant, bool) {
	f.mu.Lock()
	e, ok := f.m[siteUser]
	f.mu.Unlock()
	if !ok || now.Sub(e.read) >= GrantRecheck || now.Before(e.read) {
		return Grant{}, false
	}
	return e.g, true
}

// epoch is taken before a storage read, for put.
func (f *Front) epoch() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.drops
}

// put keeps g, read from the storage at read, unless an entry was dropped
// since epoch, or the entry held is of a newer generation read later.
func (f *Front) put(g Grant, read time.Time, epoch uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.drops != epoch {
		return
	}
	if cur, ok := f.m[g.SiteUser]; ok && cur.g.Gen > g.Gen && cur.read.After(read) {
		return
	}
	if _, ok := f.m[g.SiteUser]; !ok && len(f.m) >= frontMax {
		clear(f.m)
	}
	f.m[g.SiteUser] = frontEntry{g: g, read: read}
}

// forget drops the user's entry: the next access reads the storage.
func (f *Front) forget(siteUser string) {
	f.mu.Lock()
	delete(f.m, siteUser)
	f.drops++
	f.mu.Unlock()
}
