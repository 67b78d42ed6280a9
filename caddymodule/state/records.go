package state

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// Records is the one seam between the module and Caddy's storage: every
// record the module keeps there (grants, used connect states, meeting
// lookups, registrant tokens, Zoom's holds, limit shares) is read, written,
// locked and swept through it. Records are sealed (the name they are kept
// under is the seal's additional data) and named by a hash, so no user or
// meeting shows in a name. Every storage call runs under a deadline: a lock
// that cannot be had in time is a *LockError, a storage that does not
// answer in time is a *StoreError, never a hang. Locks are advisory (no
// storage module gives a fencing token, and a holder frozen past its lease
// loses the lock without knowing): code above re-reads under the lock and
// checks generations before it writes.
type Records struct {
	store    Storage
	seal     *Sealer
	prefix   string
	wait     time.Duration
	now      func() time.Time
	log      *zap.Logger
	kind     string // the storage's type, named in log lines
	maxAge   map[string]time.Duration
	modified func(ctx context.Context, key string) (time.Time, error)

	unsealable atomic.Int64
	downUntil  atomic.Int64 // Unix ms: the storage failed; calls fail fast until then
	warnMu     sync.Mutex
	warned     time.Time
	nextSweep  atomic.Int64 // Unix ms
}

// RecordsConfig configures Records.
type RecordsConfig struct {
	// Prefix is the folder of every record, such as "zoom_signature".
	Prefix string
	// Wait bounds every lock wait and every storage call. Default 15s:
	// more than file_system's 10 s before a dead holder's lock is stale,
	// plus its 1 s poll.
	Wait time.Duration
	// MaxAge is, per folder under Prefix, how long after its last write
	// a record is swept: every record expires.
	MaxAge map[string]time.Duration
	// Modified says when a key was last written (certmagic.Storage's
	// Stat); Sweep needs it.
	Modified func(ctx context.Context, key string) (time.Time, error)
	Now      func() time.Time
	Logger   *zap.Logger
}

// DefaultWait is RecordsConfig.Wait's default.
const DefaultWait = 15 * time.Second

// NewRecords keeps sealed records in store.
func NewRecords(store Storage, seal *Sealer, c RecordsConfig) *Records {
	if c.Wait <= 0 {
		c.Wait = DefaultWait
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	if c.Prefix == "" {
		c.Prefix = "zoom_signature"
	}
	return &Records{store: store, seal: seal, prefix: c.Prefix, wait: c.Wait, now: c.Now, log: c.Logger,
		kind: fmt.Sprintf("%T", store), maxAge: c.MaxAge, modified: c.Modified}
}

// ErrNotFound: no record under the name.
var ErrNotFound = errors.New("no record")

// LockError is a lock that could not be had within the deadline.
type LockError struct {
	Storage, Name string
	Wait          time.Duration
}

func (e *LockError) Error() string {
	return fmt.Sprintf("the storage lock %s was not had within %s (%s)", e.Name, e.Wait, e.Storage)
}

// StoreError is a storage that failed or did not answer in time.
type StoreError struct {
	Storage, Op, Name string
	Err               error
}

func (e *StoreError) Error() string {
	return fmt.Sprintf("%s %s in %s: %v", e.Op, e.Name, e.Storage, e.Err)
}

func (e *StoreError) Unwrap() error { return e.Err }

// Name is the record name of key in folder: prefix/folder/SHA-256(folder,
// key).
func (r *Records) Name(folder, key string) string {
	sum := sha256.Sum256([]byte(folder + "\x00" + key))
	return r.prefix + "/" + folder + "/" + hex.EncodeToString(sum[:])
}

// Folder is the path of a folder of records.
func (r *Records) Folder(folder string) string { return r.prefix + "/" + folder }

// Wait is the deadline of each lock wait and storage call.
func (r *Records) Wait() time.Duration { return r.wait }

// Sealer is the key ring records are sealed with.
func (r *Records) Sealer() *Sealer { return r.seal }

// Down is how long calls fail fast after the storage failed or did not
// answer in time, so that requests queued behind a stalled storage are
// answered at once instead of each waiting out the deadline.
const Down = 2 * time.Second

var errDown = errors.New("the storage failed a moment ago; failing fast")

func (r *Records) isDown() bool { return r.now().UnixMilli() < r.downUntil.Load() }

func (r *Records) failed(op, name string, err error) error {
	r.downUntil.Store(r.now().Add(Down).UnixMilli())
	return &StoreError{Storage: r.kind, Op: op, Name: name, Err: err}
}

func (r *Records) bounded(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), r.wait)
}

// Raw loads a record as stored (sealed); ErrNotFound when there is none.
func (r *Records) Raw(ctx context.Context, name string) ([]byte, error) {
	if r.isDown() {
		return nil, &StoreError{Storage: r.kind, Op: "loading", Name: name, Err: errDown}
	}
	ctx, cancel := r.bounded(ctx)
	defer cancel()
	b, err := r.store.Load(ctx, name)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, ErrNotFound
	case err != nil:
		return nil, r.failed("loading", name, err)
	}
	return b, nil
}

// Get loads and opens a record: ErrNotFound, ErrUnsealable (counted and
// reported: see Unsealable), or a *StoreError.
func (r *Records) Get(ctx context.Context, name string) ([]byte, error) {
	b, err := r.Raw(ctx, name)
	if err != nil {
		return nil, err
	}
	plain, err := r.seal.Open(name, b)
	if err != nil {
		r.Unopened(name)
		return nil, ErrUnsealable
	}
	return plain, nil
}

// Unopened counts a record that no key of the ring opens, and warns (at
// most once a minute) with the count and the fix.
func (r *Records) Unopened(name string) {
	n := r.unsealable.Add(1)
	now := r.now()
	r.warnMu.Lock()
	due := now.Sub(r.warned) >= time.Minute
	if due {
		r.warned = now
	}
	r.warnMu.Unlock()
	if due {
		r.log.Warn("records in Caddy's storage cannot be opened with any key of seal_keys: they were sealed with a key that is no longer in the ring (or were altered); connected users whose grant is among them show as not connected. Fix: put the old key back in seal_keys after the new one (seal_keys {env.NEW} {env.OLD}) and reload",
			zap.Int64("unopened_reads", n), zap.String("last", name), zap.String("storage", r.kind))
	}
}

// CountUnopened counts the records of folder that no key of the ring
// opens, for a report at start: it reads at most max of them and stops at
// ctx's deadline, saying how many it read. It goes around the storage's
// fail-fast mark and the per-read count (Unopened): it is no request's
// business. A storage that cannot list counts nothing.
func (r *Records) CountUnopened(ctx context.Context, folder string, max int) (unopened, read int, err error) {
	keys, err := r.List(ctx, folder)
	if err != nil {
		return 0, 0, err
	}
	for _, k := range keys {
		if read >= max {
			break
		}
		if !strings.HasPrefix(k, r.Folder(folder)+"/") || !hashName(k[len(r.Folder(folder))+1:]) {
			continue // a subfolder, or not a record of this seam
		}
		if err := ctx.Err(); err != nil {
			return unopened, read, err
		}
		sealed, err := r.store.Load(ctx, k)
		if errors.Is(err, fs.ErrNotExist) {
			continue // swept or deleted since the listing
		}
		if err != nil {
			return unopened, read, &StoreError{Storage: r.kind, Op: "loading", Name: k, Err: err}
		}
		read++
		if _, err := r.seal.Open(k, sealed); err != nil {
			unopened++
		}
	}
	return unopened, read, nil
}

// Unsealable is how many reads found a record no key opens, since start.
func (r *Records) Unsealable() int64 { return r.unsealable.Load() }

// Put seals and stores a record.
func (r *Records) Put(ctx context.Context, name string, plain []byte) error {
	sealed, err := r.seal.Seal(name, plain)
	if err != nil {
		return err
	}
	if r.isDown() {
		return &StoreError{Storage: r.kind, Op: "storing", Name: name, Err: errDown}
	}
	ctx, cancel := r.bounded(ctx)
	defer cancel()
	if err := r.store.Store(ctx, name, sealed); err != nil {
		return r.failed("storing", name, err)
	}
	return nil
}

// Delete removes a record; a missing one is not an error.
func (r *Records) Delete(ctx context.Context, name string) error {
	ctx, cancel := r.bounded(ctx)
	defer cancel()
	if err := r.store.Delete(ctx, name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return r.failed("deleting", name, err)
	}
	return nil
}

// Lock takes the storage's lock of name, waiting at most Wait; the lock is
// advisory. unlock releases it (with its own deadline).
func (r *Records) Lock(ctx context.Context, name string) (unlock func(), err error) {
	if r.isDown() {
		return nil, &StoreError{Storage: r.kind, Op: "locking", Name: name, Err: errDown}
	}
	lctx, cancel := r.bounded(ctx)
	defer cancel()
	start := r.now()
	if err := r.store.Lock(lctx, name); err != nil {
		// A lock not had in time is a held lock (or a stalled storage:
		// the next call says which); any other failure is the storage's.
		if lctx.Err() != nil {
			r.log.Error("a storage lock was not had within its deadline; the request is refused (503) instead of waiting. With file_system, a lock file that is refreshed but never released is certmagic's handoff deadlock: delete the lock file named here (under the storage's locks/ folder) or restart the instances",
				zap.String("storage", r.kind), zap.String("lock", name), zap.Duration("waited", r.now().Sub(start)))
			return nil, &LockError{Storage: r.kind, Name: name, Wait: r.wait}
		}
		return nil, r.failed("locking", name, err)
	}
	return func() {
		uctx, cancel := r.bounded(ctx)
		defer cancel()
		_ = r.store.Unlock(uctx, name)
	}, nil
}

// Update is the one read-modify-write: under name's lock, it reads the
// record again (found false when there is none or no key opens it), lets
// change decide, and writes what it returns (nil: nothing; Delete: remove).
// The lock is advisory, so change must itself refuse to overwrite what is
// newer than it expects.
func (r *Records) Update(ctx context.Context, name string, change func(plain []byte, found bool) ([]byte, error)) error {
	unlock, err := r.Lock(ctx, name)
	if err != nil {
		return err
	}
	defer unlock()
	plain, err := r.Get(ctx, name)
	found := err == nil
	if err != nil && !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrUnsealable) {
		return err
	}
	next, err := change(plain, found)
	switch {
	case err != nil:
		return err
	case next == nil:
		return nil
	case string(next) == deleteMark:
		return r.Delete(ctx, name)
	}
	return r.Put(ctx, name, next)
}

const deleteMark = "\x00delete"

// Remove is what change returns in Update to delete the record.
var Remove = []byte(deleteMark)

// List names the records of a folder (nil when the storage cannot list).
func (r *Records) List(ctx context.Context, folder string) ([]string, error) {
	lister, ok := r.store.(interface {
		List(ctx context.Context, prefix string, recursive bool) ([]string, error)
	})
	if !ok {
		return nil, nil
	}
	ctx, cancel := r.bounded(ctx)
	defer cancel()
	keys, err := lister.List(ctx, r.Folder(folder), false)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, r.failed("listing", r.Folder(folder), err)
	}
	return keys, nil
}

// SweepEvery is how often one instance sweeps.
const SweepEvery = 10 * time.Minute

// SweepDue says whether this instance should sweep now (at most every
// SweepEvery), and claims the sweep.
func (r *Records) SweepDue() bool {
	now := r.now().UnixMilli()
	next := r.nextSweep.Load()
	return now >= next && r.nextSweep.CompareAndSwap(next, now+SweepEvery.Milliseconds())
}

// Sweep deletes, in every folder of MaxAge, the records last written
// longer ago than the folder's age (by the storage's own modification
// time, RecordsConfig.Modified, so no record needs opening). It reports how
// many it deleted. A storage that cannot list, or no Modified, sweeps
// nothing.
func (r *Records) Sweep(ctx context.Context) int {
	if r.modified == nil {
		return 0
	}
	n := 0
	for folder, age := range r.maxAge {
		keys, err := r.List(ctx, folder)
		if err != nil {
			continue
		}
		cutoff := r.now().Add(-age)
		for _, k := range keys {
			if !strings.HasPrefix(k, r.Folder(folder)+"/") || !hashName(k[len(r.Folder(folder))+1:]) {
				continue // a subfolder, or not a record of this seam
			}
			sctx, cancel := r.bounded(ctx)
			mod, err := r.modified(sctx, k)
			cancel()
			if err == nil && mod.Before(cutoff) && r.Delete(ctx, k) == nil {
				n++
			}
		}
	}
	return n
}

// hashName: 64 hex digits, as Name writes them.
func hashName(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// Refusal codes of the seam, for the glue's table.
const (
	CodeLockTimeout = "state_lock_timeout"
	CodeUnavailable = "state_store_unavailable"
)
