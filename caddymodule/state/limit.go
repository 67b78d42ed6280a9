package state

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"math"
	"path"
	"sort"
	"sync"
	"time"
)

// Limiter counts events per key over a sliding window for the whole
// cluster, with no lock, the way caddy-ratelimit's distributed mode does:
// each instance publishes only its own share (the times of the events it
// allowed), reads the others', and adds them up.
//
// Writing the share on every call cost a synchronous storage write per
// join (issue 25: half of Caddy's CPU on file_system, which fsyncs each
// write). So the counts live in memory, and the share is one record per
// limiter holding every key (a digest), written behind by a loop at most
// every FlushEvery, however many calls and keys there were. The loop also
// reads the others' digests and acknowledges them: each digest names the
// time of every other digest its writer had read. That acknowledgement
// is what lets a call be answered with no storage call at all (the fast
// path): an instance answers fast only while fewer than burst(n) (one for
// n under 20) of its events of the key wait for every other instance's
// acknowledgement, so no instance ever holds more allowed events of a key
// than that which the others have not seen. A fast answer therefore
// counts the others' digests plus burst(n) events per other instance,
// and must still fit. Otherwise (near the limit, or a key used again
// before the others acknowledged it) the call takes the slow path:
// its event is written as tentative with the next digest, the call waits
// until every other instance has acknowledged that digest (about two
// FlushEvery), and then decides on the others' newest digests. Those
// count its event already (a fast answer elsewhere counts it, and backs
// off a key with a tentative event), so two instances deciding at once
// cannot both miss each other. With one instance, there is nothing to
// wait for: the fast path is exact, and nothing is written until another
// instance shows up or Close.
//
// The bound: no instance ever allows more than n in a window itself.
// With a storage that reads its own writes (Redis, a local file_system)
// and instances that have listed each other (PeerEvery) and answer
// within AckWait, the cluster allows at most n in any window, for
// sequential and concurrent calls alike. Beyond that, each of these can
// add up to one budget per instance involved: an instance that started
// or resumed less than PeerEvery ago (the others do not list it yet); a
// storage that fails (the instance answers from its own share alone, and
// says so); an instance that is alive but did not acknowledge within
// AckWait (the others take it as gone: its last digest still counts, plus
// burst(n) events of a key while that digest is younger than the window). Clock
// skew between instances moves the window by the skew. So the worst case
// stays at one budget per instance, and the common case is exact.
type Limiter struct {
	rec  *Records // nil: this process only
	self string   // this limiter's name among the instances (hashed)
	now  func() time.Time

	listing sync.Mutex // held while the instances are listed outside the loop
	stepMu  sync.Mutex // one step at a time: the loop's or Close's

	mu       sync.Mutex
	keys     map[uint64]*share
	seq      uint64 // the last event's number
	version  uint64 // bumped by every change the others must see
	stamp    int64  // the last event's time (Unix ms): events are stamped in order
	built    int64  // T of the last digest built: later events are stamped after it
	written  int64  // T of the last digest written
	closedAt int64  // T of the last digest written, when it said closed
	open     int64  // T of the first digest of this run of the loop (0: none yet)
	pub      int64  // T of the last digest that carried new events, or opened
	maxWin   int64  // the longest window asked (ms)
	dirty    bool
	peers    map[string]*peer
	listed   time.Time
	announce time.Time
	lastCall time.Time // real time of the last Allow, for the idle stop
	running  bool
	stop     chan struct{}
	done     chan struct{} // closed when the loop has stopped
	tick     chan struct{} // closed after each step of the loop
	okAt     time.Time     // real time of the last step whose storage calls all succeeded
	stepErr  error         // the last step's storage error
	waiting  int
}

// Timings of the Limiter.
const (
	// PeerEvery is how often an instance lists the others.
	PeerEvery = 10 * time.Second
	// FlushEvery is how often the loop writes this instance's digest
	// (when it changed or another instance waits for an acknowledgement)
	// and reads the others'. A slow answer waits about two of it.
	FlushEvery = 100 * time.Millisecond
	// AckWait is how long an instance waits for another to acknowledge
	// its digest before taking that one as gone.
	AckWait = 3 * time.Second

	// quietPoll: instances that are closed, gone or not yet written are
	// read this often (the others every FlushEvery).
	quietPoll = 500 * time.Millisecond
	// idleFor: with no call for this long, the loop writes a last digest
	// and stops; the next call starts it again.
	idleFor = 2 * time.Minute
	// announceEvery: a limiter in use renews its entry in "instances"
	// this often, well within that folder's age (an hour) in storage.go.
	announceEvery = 10 * time.Minute
)

var errAckTimeout = errors.New("the other instances did not acknowledge this one's count in time; it answered on what it had read")

// NewLimiter counts in rec's "limits" folder; instance names this instance
// (caddy.InstanceID()). Each limiter gets a name of its own within the
// instance, so that two limiters of one process (two handlers, or the old
// and the new config during a reload) never overwrite each other's share.
// With no rec, it counts in this process only.
func NewLimiter(rec *Records, instance string) *Limiter {
	l := &Limiter{rec: rec, now: time.Now, keys: map[uint64]*share{}, peers: map[string]*peer{}, tick: make(chan struct{})}
	if rec == nil {
		return l
	}
	var nonce [8]byte
	_, _ = rand.Read(nonce[:])
	l.now = rec.now
	l.self = path.Base(rec.Name("instances", instance+"\x00"+hex.EncodeToString(nonce[:])))
	return l
}

// Allow says whether one more event of key fits n per window, and counts
// it if so. err is not nil when the other instances' shares could not be
// read or this one's written: the answer is then this instance's alone.
func (l *Limiter) Allow(ctx context.Context, key string, n int, window time.Duration) (bool, error) {
	h := keyHash(key)
	now := l.now()
	ms, from := now.UnixMilli(), now.Add(-window).UnixMilli()
	var lerr error
	if l.listDue(now) {
		lerr = l.listAlone(ctx, now)
	}
	l.mu.Lock()
	l.maxWin = max(l.maxWin, window.Milliseconds())
	s := l.keys[h]
	if s == nil {
		s = &share{}
		l.keys[h] = s
		if len(l.keys) > DefaultMaxEntries {
			l.prune(ms)
		}
	}
	s.win = window.Milliseconds()
	s.expire(from)
	own := len(s.ev)
	if own >= n {
		l.mu.Unlock()
		return false, lerr
	}
	l.lastCall = time.Now()
	if l.rec == nil || !l.running && !l.anyAwake(ms) {
		// No other instance to count with: exact here, and nothing to
		// write until one shows up (or Close).
		l.add(s, ms, false)
		l.dirty = true
		l.mu.Unlock()
		return true, lerr
	}
	if !l.running {
		l.start()
	}
	acked := l.acked()
	known, tentative, margin := l.others(h, from)
	if l.fast(acked, s, n) && !tentative && own+known+1+margin*burst(n) <= n {
		l.add(s, ms, false)
		l.dirty = true
		l.mu.Unlock()
		return true, lerr
	}
	if l.healthy() && own+known+1 > n {
		// Full on what was read: refusing needs no acknowledgement.
		l.mu.Unlock()
		return false, lerr
	}
	seq := l.add(s, ms, true)
	l.dirty = true
	l.waiting++
	l.mu.Unlock()
	ok, err := l.settle(ctx, h, seq, n, from)
	return ok, errors.Join(lerr, err)
}

// Close writes what this limiter allowed that is not written yet, says
// in its digest that it stopped (so the others no longer wait for it),
// and stops its loop, each storage call bounded by the Records' Wait. The
// owner of the Records calls it when it goes away. A later Allow works
// again (and starts the loop again if it has to); without Close, the loop
// stops by itself after idleFor with no call.
func (l *Limiter) Close() error {
	if l.rec == nil {
		return nil
	}
	l.mu.Lock()
	if l.running {
		l.running, l.open = false, 0
		close(l.stop)
	}
	done := l.done
	l.mu.Unlock()
	if done != nil {
		<-done
	}
	l.mu.Lock()
	running := l.running
	l.mu.Unlock()
	if running { // an Allow started it again meanwhile
		return nil
	}
	return l.step(true)
}

// share is this instance's events of one key.
type share struct {
	ev  []event // in the order they were counted
	win int64   // the window of the last call (ms), to drop old events
}

type event struct {
	t         int64  // Unix ms
	seq       uint64 // its number, in the order counted
	pub       int64  // T of the first digest that carried it; 0: none yet
	tentative bool   // on the slow path, not decided yet
}

// expire drops the events at or before from; undecided ones stay until
// their call settles.
func (s *share) expire(from int64) {
	if len(s.ev) == 0 || s.ev[0].t > from {
		return // events are in time order: none is old
	}
	ev := s.ev[:0]
	for _, e := range s.ev {
		if e.t > from || e.tentative {
			ev = append(ev, e)
		}
	}
	clear(s.ev[len(ev):])
	s.ev = ev
}

// add counts an event of s now, stamped after every digest already built
// (so that "complete as of T" holds) and in order. l.mu is held.
func (l *Limiter) add(s *share, ms int64, tentative bool) uint64 {
	l.seq++
	l.version++
	l.stamp = max(ms, l.stamp, l.built+1)
	s.ev = append(s.ev, event{t: l.stamp, seq: l.seq, tentative: tentative})
	return l.seq
}

// prune drops the keys with no event in their window. l.mu is held.
func (l *Limiter) prune(ms int64) {
	for h, s := range l.keys {
		s.expire(ms - s.win)
		if len(s.ev) == 0 {
			delete(l.keys, h)
		}
	}
}

// keyHash names a key in the digests. Truncated SHA-256: a collision
// would only make two keys share a budget, and cannot be aimed at.
func keyHash(key string) uint64 {
	sum := sha256.Sum256([]byte(key))
	return binary.BigEndian.Uint64(sum[:8])
}

// peer is another limiter, as this one knows it.
type peer struct {
	name   string    // its digest's record name
	d      digest    // what it last wrote (T 0: nothing yet)
	raw    []byte    // its record as last read: an unchanged one is not opened again
	listed int64     // l.now() (ms) when first listed
	polled time.Time // real time of the last read
	acked  int64     // its T this instance last acknowledged in a digest
	seen   int64     // its acknowledgement of this instance at the last step
	behind time.Time // real time since when it has not acknowledged this instance's latest
	silent bool      // it did not acknowledge within AckWait: taken as gone
	read   bool      // raw was read at least once
}

// present: it wrote a digest and did not say it stopped; it may allow.
func (p *peer) present() bool { return p.d.T > 0 && !p.d.Closed }

// waited: it must acknowledge this instance's digests before this one
// answers fast or decides: it may allow, lists this one, and answers.
func (p *peer) waited() bool { return p.present() && p.d.Knows && !p.silent }

// awake: it may matter to a count: it is in use, or its events are still
// in the window, or it was listed lately and may yet write (a limiter
// alone writes nothing until it lists another).
func (p *peer) awake(ms, win int64) bool {
	switch {
	case p.d.T == 0:
		return ms-p.listed < 2*PeerEvery.Milliseconds()
	case p.d.Closed || p.silent:
		return p.d.T > ms-win
	}
	return true
}

// acked is how far every instance that must acknowledge this one has:
// the smallest of their acknowledgements (MaxInt64 when none must).
// l.mu is held.
func (l *Limiter) acked() int64 {
	a := int64(math.MaxInt64)
	for _, p := range l.peers {
		if p.waited() {
			a = min(a, p.d.Self)
		}
	}
	return a
}

// others counts the other instances' events of key h after from, says
// whether any of them is tentative, and how many of them may hold events
// this instance has not seen (burst(n) each). l.mu is held.
func (l *Limiter) others(h uint64, from int64) (known int, tentative bool, margin int) {
	for _, p := range l.peers {
		k := p.d.Keys[h]
		known += len(k.ts) - sort.Search(len(k.ts), func(i int) bool { return k.ts[i] > from })
		tentative = tentative || k.tentative > from
		if p.present() && (!p.silent || p.d.T > from) {
			margin++
		}
	}
	return known, tentative, margin
}

// fast: the loop is up to date, every other instance has acknowledged
// this run of it, and fewer than burst(n) of this instance's events of
// the key are not acknowledged yet. l.mu is held.
func (l *Limiter) fast(acked int64, s *share, n int) bool {
	if !l.healthy() || l.open > acked {
		return false
	}
	// Events are written in order, so the ones not acknowledged are the
	// last ones. A tentative one is acknowledged before it is allowed.
	unseen := 0
	for i := len(s.ev) - 1; i >= 0 && unseen < burst(n); i-- {
		switch e := s.ev[i]; {
		case e.tentative:
		case e.pub == 0 || e.pub > acked:
			unseen++
		default:
			return unseen < burst(n)
		}
	}
	return unseen < burst(n)
}

// burst is how many allowed events of a key with limit n an instance may
// hold that the others have not acknowledged, and so how many each other
// instance is counted for on the fast path: one for small limits (six
// OBF tokens a minute), a tenth of larger ones, so that a busy key (the
// anonymous visitors' lookups share one) is not on the slow path for
// every call. Every instance derives it from n alone, so they agree.
func burst(n int) int { return max(1, n/10) }

// healthy: the loop runs and its last good step is recent, well within
// AckWait, so that no other instance takes this one as gone while it
// answers fast. Real time, as the others measure AckWait: a clock set
// forward (or pinned by a test) is no stall. l.mu is held.
func (l *Limiter) healthy() bool {
	return l.running && l.open != 0 && time.Since(l.okAt) < AckWait/2
}

// settle waits until the digest carrying event seq has been acknowledged
// by every other instance, then decides on their newest digests. A storage
// failure decides on this instance's own share; a wait past the Records'
// Wait or ctx counts burst(n) more events for every instance that did not
// acknowledge.
func (l *Limiter) settle(ctx context.Context, h, seq uint64, n int, from int64) (bool, error) {
	deadline := time.Now().Add(l.rec.Wait())
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	l.mu.Lock()
	defer l.mu.Unlock()
	defer func() { l.waiting-- }()
	for {
		s, i := l.find(h, seq)
		if i < 0 {
			return false, nil
		}
		if pub := s.ev[i].pub; pub != 0 && pub <= l.acked() {
			return l.decide(h, s, i, n, from, 0), nil
		}
		if !l.running {
			l.start()
		}
		ch := l.tick
		l.mu.Unlock()
		var stop error
		select {
		case <-ch:
		case <-timer.C:
			stop = errAckTimeout
		case <-ctx.Done():
			stop = ctx.Err()
		}
		l.mu.Lock()
		if s, i = l.find(h, seq); i < 0 {
			return false, nil
		}
		if pub := s.ev[i].pub; pub != 0 && pub <= l.acked() {
			return l.decide(h, s, i, n, from, 0), nil
		}
		if err := l.stepErr; stop == nil && err != nil {
			// The storage failed: the answer is this instance's alone.
			// The event stays counted, and the loop writes it when the
			// storage is back.
			s.ev[i].tentative = false
			return true, err
		}
		if stop != nil {
			return l.decide(h, s, i, n, from, l.unacked(s.ev[i].pub)*burst(n)), stop
		}
	}
}

// find is event seq of key h. l.mu is held.
func (l *Limiter) find(h, seq uint64) (*share, int) {
	s := l.keys[h]
	if s == nil {
		return nil, -1
	}
	for i, e := range s.ev {
		if e.seq == seq {
			return s, i
		}
	}
	return s, -1
}

// unacked is how many instances that must acknowledge have not
// acknowledged digest pub (all of them when pub is 0). l.mu is held.
func (l *Limiter) unacked(pub int64) int {
	u := 0
	for _, p := range l.peers {
		if p.waited() && (pub == 0 || p.d.Self < pub) {
			u++
		}
	}
	return u
}

// decide counts every event of the key this instance holds (its pending
// ones too: each of them counts this one) and every event in the others'
// digests, plus burst(n) for each instance taken as gone (what it may
// have allowed unseen), and extra more, and keeps or withdraws event i.
// l.mu is held.
func (l *Limiter) decide(h uint64, s *share, i, n int, from int64, extra int) bool {
	total := extra
	for _, e := range s.ev {
		if e.t > from || e.tentative {
			total++
		}
	}
	known, _, _ := l.others(h, from)
	total += known
	for _, p := range l.peers {
		// Not for one that does not list this instance yet: it does not
		// count this one's events either (an instance younger than
		// PeerEvery), and a margin would only refuse exactly n calls at
		// once at start.
		if p.present() && p.silent && p.d.T > from {
			total += burst(n)
		}
	}
	if total <= n {
		// Allowed. The others see it as tentative until the next digest,
		// which only makes them wait: no write just for this.
		s.ev[i].tentative = false
		return true
	}
	s.ev = append(s.ev[:i], s.ev[i+1:]...)
	l.version++
	l.dirty = true // a withdrawn event must leave the others' counts
	return false
}

// listDue: the instances are listed by the caller while the loop does
// not run. It waits for the one listing (one that went on with the old
// list, made before the others announced themselves, would count alone).
func (l *Limiter) listDue(now time.Time) bool {
	if l.rec == nil {
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return !l.running && now.Sub(l.listed) >= PeerEvery
}

// listAlone lists the instances and reads their digests once, to learn
// whether any matters to this one's counts.
func (l *Limiter) listAlone(ctx context.Context, now time.Time) error {
	l.listing.Lock()
	defer l.listing.Unlock()
	l.mu.Lock()
	due := !l.running && now.Sub(l.listed) >= PeerEvery
	l.mu.Unlock()
	if !due {
		return nil
	}
	err := l.list(ctx, now, true)
	return errors.Join(err, l.poll(ctx, true))
}

// list lists the instances, and announces this one when it is new, or in
// use (active) and its entry ages: an entry not renewed for an hour is
// swept, and the others stop counting with it.
func (l *Limiter) list(ctx context.Context, now time.Time, active bool) error {
	l.mu.Lock()
	announce := l.announce.IsZero() || now.Sub(l.announce) >= announceEvery && active
	if announce {
		l.announce = now
	}
	l.mu.Unlock()
	var errs []error
	if announce {
		errs = append(errs, l.rec.Put(ctx, l.rec.Folder("instances")+"/"+l.self, []byte(now.UTC().Format(time.RFC3339))))
	}
	keys, err := l.rec.List(ctx, "instances")
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	names := map[string]bool{}
	for _, k := range keys {
		if p := path.Base(k); p != l.self && hashName(p) {
			names[p] = true
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for p := range names {
		if l.peers[p] == nil {
			l.peers[p] = &peer{name: l.rec.Name("limits", "share\x00"+p), listed: now.UnixMilli()}
		}
	}
	for p := range l.peers {
		if !names[p] {
			delete(l.peers, p)
		}
	}
	l.listed = now
	return errors.Join(errs...)
}

// poll reads the digests of the other instances that are due (all: every
// one). Those that may allow are read every step; the rest every
// quietPoll. An unchanged record is not opened again.
func (l *Limiter) poll(ctx context.Context, all bool) error {
	l.mu.Lock()
	var due []*peer
	for _, p := range l.peers {
		if all || p.present() && !p.silent || time.Since(p.polled) >= quietPoll {
			due = append(due, p)
		}
	}
	l.mu.Unlock()
	var errs []error
	for _, p := range due {
		raw, err := l.rec.Raw(ctx, p.name)
		if errors.Is(err, ErrNotFound) {
			raw, err = nil, nil // not written yet, or swept
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		l.mu.Lock()
		same := p.read && bytes.Equal(raw, p.raw)
		l.mu.Unlock()
		var d digest
		if !same && raw != nil {
			plain, err := l.rec.Sealer().Open(p.name, raw)
			if err != nil {
				l.rec.Unopened(p.name)
			} else if d, err = decodeDigest(plain, l.self); err != nil {
				d = digest{}
			}
		}
		l.mu.Lock()
		p.polled = time.Now()
		if !same {
			p.raw, p.read = raw, true
			// A writer's T only grows: an older digest is a stale read.
			if d.T == 0 || d.T >= p.d.T {
				p.d = d
			}
		}
		l.mu.Unlock()
	}
	return errors.Join(errs...)
}

// anyAwake: some other instance matters to the counts. l.mu is held.
func (l *Limiter) anyAwake(ms int64) bool {
	for _, p := range l.peers {
		if p.awake(ms, l.maxWin) {
			return true
		}
	}
	return false
}

// start runs the loop; it first waits for a loop still stopping. l.mu is
// held.
func (l *Limiter) start() {
	stop, done := make(chan struct{}), make(chan struct{})
	prev := l.done
	l.running, l.open, l.stop, l.done = true, 0, stop, done
	go l.run(prev, stop, done)
}

// run is the loop: a step every FlushEvery, until Close, or until no call
// came for idleFor or no other instance matters any more.
func (l *Limiter) run(prev, stop, done chan struct{}) {
	defer close(done)
	if prev != nil {
		<-prev
	}
	t := time.NewTicker(FlushEvery)
	defer t.Stop()
	for {
		select {
		case <-stop: // Close
			_ = l.step(true)
			return
		default:
		}
		_ = l.step(false)
		select {
		case <-stop:
			_ = l.step(true)
			return
		case <-t.C:
		}
		l.mu.Lock()
		idle := l.running && l.stop == stop && l.waiting == 0 && !l.dirty &&
			(time.Since(l.lastCall) > idleFor || !l.anyAwake(l.now().UnixMilli()))
		if idle {
			l.running, l.open = false, 0
		}
		l.mu.Unlock()
		if idle {
			_ = l.step(true)
			return
		}
	}
}

// step is one round of the loop: list the instances when due, read the
// others' digests, then write this one's when it changed, when another
// waits for its acknowledgement, or to open a run of the loop. final
// reads nothing, and writes a last digest that says this limiter stopped
// (with what it allowed) unless there is nothing to say.
func (l *Limiter) step(final bool) error {
	l.stepMu.Lock()
	defer l.stepMu.Unlock()
	ctx := context.Background()
	now := l.now()
	ms := now.UnixMilli()
	var errs []error
	if !final {
		l.mu.Lock()
		due := now.Sub(l.listed) >= PeerEvery
		active := time.Since(l.lastCall) < announceEvery
		l.mu.Unlock()
		if due {
			errs = append(errs, l.list(ctx, now, active))
		}
		errs = append(errs, l.poll(ctx, false))
	}
	l.mu.Lock()
	l.watch()
	var w *write
	if l.mustWrite(final, ms) {
		w = l.build(ms, final)
	}
	l.mu.Unlock()
	if w != nil {
		err := l.rec.Put(ctx, l.rec.Name("limits", "share\x00"+l.self), w.b)
		l.mu.Lock()
		if err != nil {
			errs = append(errs, err)
		} else {
			l.wrote(w)
		}
		l.mu.Unlock()
	}
	err := errors.Join(errs...)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.stepErr = err
	if err == nil && !final {
		if time.Since(l.okAt) >= AckWait/2 && l.open != 0 && (w == nil || w.t != l.open) {
			// The loop stalled: another instance may have taken this one
			// as gone meanwhile, and allowed more than it could see. A new
			// run of acknowledgements, before answering fast again, makes
			// sure it no longer does.
			l.open = 0
		}
		l.okAt = time.Now()
	} else if err != nil {
		l.open = 0
	}
	close(l.tick)
	l.tick = make(chan struct{})
	return err
}

// watch marks the instances that do not acknowledge this one's latest
// digest within AckWait as gone, and any that does again as back. l.mu
// is held.
func (l *Limiter) watch() {
	now := time.Now()
	for _, p := range l.peers {
		switch {
		case !p.present() || !p.d.Knows:
			p.behind, p.silent = time.Time{}, false
		case p.d.Self >= l.pub && p.d.Self >= l.open:
			p.behind, p.silent = time.Time{}, false
		case p.d.Self > p.seen || p.behind.IsZero():
			p.behind, p.silent = now, false
		case now.Sub(p.behind) > AckWait:
			p.silent = true
		}
		p.seen = p.d.Self
	}
}

// mustWrite says whether this step writes a digest. l.mu is held.
func (l *Limiter) mustWrite(final bool, ms int64) bool {
	if final {
		// Keep what was allowed for an instance that comes next, and say
		// that this one stopped, or one that lists it later would wait
		// AckWait for its acknowledgement.
		return l.dirty && l.hasEvents(ms) || l.written != 0 && l.closedAt != l.written
	}
	if l.dirty || l.open == 0 {
		return true
	}
	for _, p := range l.peers {
		if p.present() && p.d.Want && p.d.T > p.acked {
			return true
		}
	}
	return false
}

// hasEvents: some key has an event in its window. l.mu is held.
func (l *Limiter) hasEvents(ms int64) bool {
	for _, s := range l.keys {
		for _, e := range s.ev {
			if e.t > ms-s.win {
				return true
			}
		}
	}
	return false
}

// write is a digest built, to be stored.
type write struct {
	b       []byte
	t       int64
	seq     uint64
	version uint64
	final   bool
	seen    map[*peer]int64
}

const digestVersion = 1

// build encodes this instance's digest as of now. l.mu is held.
//
//	version byte, T uvarint, flags byte (1 closed, 2 want),
//	n uvarint, n × (peer name 32 bytes, its T uvarint),
//	k uvarint, k × (key 8 bytes, m uvarint, m × uvarint((T-t)<<1 | tentative))
func (l *Limiter) build(ms int64, final bool) *write {
	t := max(ms, l.stamp, l.built+1)
	l.built = t
	w := &write{t: t, seq: l.seq, version: l.version, final: final, seen: map[*peer]int64{}}
	// Want asks the others to acknowledge this digest: when it opens a
	// run, carries new events, or some live instance has not acknowledged
	// the last one that did. Not for those taken as gone: two live
	// instances would otherwise ask each other forever behind a dead one.
	want := !final && (l.open == 0 || l.pub > l.acked())
	b := append(make([]byte, 0, 64), digestVersion)
	b = binary.AppendUvarint(b, uint64(t))
	flags := len(b)
	b = append(b, 0)
	// Every instance listed is named, with the T of its digest read (0:
	// none yet): its writer may be waiting for that acknowledgement, and
	// one not named here is not waited for (this one does not list it yet,
	// so waiting would not make the counts meet).
	var seen []byte
	names := 0
	for name, p := range l.peers {
		if raw, err := hex.DecodeString(name); err == nil && len(raw) == 32 {
			seen = binary.AppendUvarint(append(seen, raw...), uint64(p.d.T))
			names++
			if p.d.T > 0 {
				w.seen[p] = p.d.T
			}
		}
	}
	b = binary.AppendUvarint(b, uint64(names))
	b = append(b, seen...)
	l.prune(ms)
	b = binary.AppendUvarint(b, uint64(len(l.keys)))
	for h, s := range l.keys {
		b = binary.BigEndian.AppendUint64(b, h)
		b = binary.AppendUvarint(b, uint64(len(s.ev)))
		for _, e := range s.ev {
			want = want || e.pub == 0 && !final
			d := uint64(t-e.t) << 1
			if e.tentative {
				d |= 1
			}
			b = binary.AppendUvarint(b, d)
		}
	}
	if final {
		b[flags] |= 1
	}
	if want {
		b[flags] |= 2
	}
	w.b = b
	return w
}

// wrote records a digest stored. l.mu is held.
func (l *Limiter) wrote(w *write) {
	l.written = w.t
	if w.final {
		l.closedAt = w.t
	}
	published := false
	for _, s := range l.keys {
		for i := range s.ev {
			if e := &s.ev[i]; e.pub == 0 && e.seq <= w.seq {
				e.pub, published = w.t, true
			}
		}
	}
	if !w.final && l.open == 0 {
		l.open, published = w.t, true
	}
	if published {
		l.pub = w.t
	}
	for p, t := range w.seen {
		p.acked = max(p.acked, t)
	}
	if l.version == w.version {
		l.dirty = false
	}
}

// digest is another instance's digest, as read.
type digest struct {
	T      int64 // Unix ms: every event its writer held at T is in it
	Closed bool  // its writer stopped: nothing unwritten, nothing to acknowledge
	Want   bool  // its writer waits for the others to acknowledge T
	Self   int64 // the T of this instance's digest its writer had read
	Knows  bool  // its writer lists this instance
	Keys   map[uint64]marks
}

// marks are another instance's events of a key.
type marks struct {
	ts        []int64 // Unix ms, in order
	tentative int64   // the time of the last tentative one (0: none)
}

var errDigest = errors.New("malformed limit digest")

// decodeDigest reads a digest built by build; self picks this instance's
// acknowledgement out of it.
func decodeDigest(b []byte, self string) (digest, error) {
	r := reader{b: b}
	if r.byte() != digestVersion {
		return digest{}, errDigest
	}
	d := digest{T: int64(r.uvarint())}
	flags := r.byte()
	d.Closed, d.Want = flags&1 != 0, flags&2 != 0
	selfRaw, _ := hex.DecodeString(self)
	n := r.uvarint()
	if n > uint64(len(b))/33 {
		return digest{}, errDigest
	}
	for range n {
		name := r.bytes(32)
		t := int64(r.uvarint())
		if bytes.Equal(name, selfRaw) {
			d.Self, d.Knows = t, true
		}
	}
	k := r.uvarint()
	if k > uint64(len(b))/9 {
		return digest{}, errDigest
	}
	d.Keys = make(map[uint64]marks, k)
	for range k {
		h := binary.BigEndian.Uint64(r.bytes(8))
		m := r.uvarint()
		if m > uint64(len(r.b)) {
			return digest{}, errDigest
		}
		km := marks{ts: make([]int64, m)}
		for i := range km.ts {
			v := r.uvarint()
			km.ts[i] = d.T - int64(v>>1)
			if v&1 != 0 {
				km.tentative = max(km.tentative, km.ts[i])
			}
			if i > 0 && km.ts[i] < km.ts[i-1] {
				return digest{}, errDigest // counting needs them in order
			}
		}
		d.Keys[h] = km
	}
	if r.err || len(r.b) != 0 {
		return digest{}, errDigest
	}
	return d, nil
}

// reader reads a digest; a short one sets err.
type reader struct {
	b   []byte
	err bool
}

func (r *reader) byte() byte {
	if len(r.b) < 1 {
		r.err = true
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *reader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = true
		r.b = nil
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) bytes(n int) []byte {
	if len(r.b) < n {
		r.err = true
		r.b = nil
		return make([]byte, n)
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}
