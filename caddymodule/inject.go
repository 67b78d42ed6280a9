package caddymodule

import (
	"bytes"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/zoomsig/caddy-zoom-signature/caddymodule/join"
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/joinconfig"
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/problem"
)

// ServeHTTP signs in inject mode and answers in endpoint mode.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	if h.mode == endpoint {
		return h.serveEndpoint(w, r)
	}
	return h.serveInject(w, r, next)
}

// serveInject is the heart of the module: authenticate, prepare the
// request, call the backend, read what it asks, sign, write.
func (h *Handler) serveInject(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	t := h.startTimer()
	defer t.observe()
	repl := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	p, err := h.authenticate(r, repl)
	if err != nil {
		return h.writeRefusal(w, r, p, err)
	}

	prepareBackendRequest(r)

	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	defer putBuf(buf)
	// Not pooled: the next handler holds the recorder as its
	// ResponseWriter, and a handler that keeps it past its return (a
	// flush timer, a plugin's goroutine) must not find it reused.
	rec := &recorder{ResponseWriterWrapper: caddyhttp.ResponseWriterWrapper{ResponseWriter: w}, maxBody: h.MaxBody, head: r.Method == http.MethodHead, buf: buf}
	t.pause()
	nextErr, aborted := callNext(next, rec, r)
	t.resume()
	switch {
	case rec.state == tooLarge:
		return h.writeRefusal(w, r, p, problem.New(problem.Backend, codeUpstreamTooLarge, "body",
			"the backend's join config is larger than max_body ("+strconv.FormatInt(h.MaxBody, 10)+" bytes); raise max_body or shrink the response"))
	case aborted || (nextErr != nil && rec.state == buffering):
		return h.writeRefusal(w, r, p, problem.New(problem.Backend, codeUpstreamUnreadable, "body",
			"the backend's join config could not be read to its end (the connection broke, the body was shorter than its Content-Length, or it was not in its Content-Encoding); check the backend's logs and the proxy between"))
	case nextErr != nil:
		return nextErr
	case rec.state == undecided:
		h.passed(repl, passEmpty)
		return nil
	case rec.state == passing:
		h.passed(repl, rec.passReason)
		return nil
	}

	doc := docPool.Get().(*joinconfig.Doc)
	defer func() { doc.Release(); docPool.Put(doc) }()
	ask, err := h.readAsk(rec.Header(), buf.Bytes(), doc)
	if err != nil {
		return h.writeRefusal(w, r, p, err)
	}
	res, err := h.sign(r, p, ask)
	if err != nil {
		return h.writeRefusal(w, r, p, err)
	}

	// The edits' text (signature, key, credentials) in a buffer of its
	// own, from a pool of its own: from the body pool it would be handed
	// bodies' buffers, and a request would hold two of them.
	added := addedPool.Get().(*bytes.Buffer)
	added.Reset()
	added.Grow(2 << 10)
	defer putAdded(added)
	var editsArr [12]joinconfig.Edit // on the stack: Splice keeps none
	var signed joinconfig.Spliced
	if aerr := doc.Splice(&signed, added.AvailableBuffer(), h.edits(editsArr[:0], r, repl, p, ask, res, doc)...); aerr != nil {
		return h.writeRefusal(w, r, p, problem.New(problem.Backend, codeUpstreamInvalid, "body",
			"the signature could not be written into the join config: "+aerr.Error()))
	}
	writeSigned(rec, buf, &signed)
	h.signed(repl, p, ask, res)
	return nil
}

// callNext calls the backend. reverse_proxy aborts the connection
// (panic(http.ErrAbortHandler)) when the backend's body fails midway: a
// reset, a body shorter than its Content-Length, a Content-Encoding the
// body does not have. While nothing has reached the client, that is a
// backend fault like any other, owed a JSON 502 rather than a dropped
// connection; once a passed-through response has started, the abort
// stands.
func callNext(next caddyhttp.Handler, rec *recorder, r *http.Request) (err error, aborted bool) {
	defer func() {
		if v := recover(); v != nil {
			if v != http.ErrAbortHandler || rec.state == passing {
				panic(v)
			}
			err, aborted = nil, true
		}
	}()
	return next.ServeHTTP(rec, r), false
}

// sign runs the join core on what is asked, and logs what did not stop the
// join (a host join signed without a ZAK).
func (h *Handler) sign(r *http.Request, p join.Principal, ask join.Ask) (join.Result, *problem.Error) {
	res, err := h.join.Sign(r.Context(), p, ask)
	if err == nil {
		h.warn(p, res.Credentials.Warnings)
	}
	if h.doc != nil && h.doc.doctored.Load() && (err == nil || slices.Contains(doctorExplains, err.Code())) {
		// The user's own join, for the doctor route (ownJoin).
		h.doc.asked.note(p.ID, ask.Meeting, h.now())
	}
	return res, err
}

// prepareBackendRequest makes the backend answer with a complete, plain
// JSON body: without Accept-Encoding, Go's transport asks for gzip itself
// and decompresses it for us; without Range and the conditional headers,
// no 206 or 304 skips the signing.
func prepareBackendRequest(r *http.Request) {
	for _, k := range []string{"Accept-Encoding", "Range", "If-Range", "If-Match", "If-None-Match", "If-Modified-Since", "If-Unmodified-Since"} {
		r.Header.Del(k)
	}
}

// docPool keeps the parsed join configs: a Doc holds the index of its
// top-level members, which a request fills and forgets.
var docPool = sync.Pool{New: func() any { return new(joinconfig.Doc) }}

// readAsk checks that the backend's answer is a plain JSON object and reads
// what it asks to be signed, from one pass over it (joinconfig.Parse:
// validation, the depth bound and the index of its members).
func (h *Handler) readAsk(hdr http.Header, body []byte, doc *joinconfig.Doc) (join.Ask, *problem.Error) {
	if ce := hdr.Get("Content-Encoding"); ce != "" && !strings.EqualFold(ce, "identity") {
		return join.Ask{}, problem.New(problem.Backend, codeUpstreamEncoded, "body",
			"the backend's join config is compressed ("+ce+"); let Caddy negotiate compression (reverse_proxy does by default) instead of forcing it in the backend")
	}
	if err := joinconfig.Parse(body, doc); err != nil {
		return join.Ask{}, problem.New(problem.Backend, codeUpstreamInvalid, "body",
			"the backend's join config cannot be signed: "+err.Error()+"; fix the backend so it answers with a JSON object")
	}
	// JSON.parse keeps the last of duplicate keys and this module reads
	// and replaces the first: with two signatures the page would get the
	// backend's stale one.
	if dup := doc.Duplicated(h.guarded); dup != "" {
		return join.Ask{}, problem.New(problem.Backend, codeUpstreamDuplicate, dup,
			"the backend's join config has the key "+dup+" more than once; browsers read the last one and this module the first, so have the backend write each key once")
	}
	return h.join.Format.FromConfig(doc, h.fields)
}

// edits are what the module writes into the join config: the signature,
// the credentials, the fixes the ask needs, a downgraded role, the SDK
// key, the fill rules and the url_fields.
func (h *Handler) edits(edits []joinconfig.Edit, r *http.Request, repl *caddy.Replacer, p join.Principal, ask join.Ask, res join.Result, doc *joinconfig.Doc) []joinconfig.Edit {
	edits = append(edits, joinconfig.String(h.SignatureField, res.Token))
	for _, v := range res.Credentials.Values {
		// Provision's join.CheckWrites saw that every name has a path.
		edits = append(edits, joinconfig.String(h.credentialAt[v.Name], v.Text))
	}
	edits = append(edits, ask.Fixes...)
	if res.Grant.Downgraded {
		edits = append(edits, joinconfig.Edit{Path: h.RoleField, Raw: []byte("0")})
	}
	if h.sdkKeyAt != "" {
		edits = append(edits, joinconfig.String(h.sdkKeyAt, h.join.Keys.Key()))
	}
	for _, fill := range h.Fill {
		if v := resolve(repl, p, fill.Value); v != "" {
			edits = append(edits, joinconfig.String(fill.Path, v))
		}
	}
	return append(edits, h.urlEdits(r, doc, h.URLFields)...)
}

// writeSigned fixes the headers for the new body and sends it. The
// response is personal and freshly minted: no cache may keep it, and no
// validator or range may refer to the backend's bytes.
//
// A small join config goes out in one write, put together after the
// backend's bytes in the recorder's buffer (buf, which is only ever
// written, so growing it moves nothing the document's slice sees). A
// large one is written span by span from where it stands: no second copy
// of it is made, so a 1 MiB join config holds 1 MiB, not 2.
func writeSigned(rec *recorder, buf *bytes.Buffer, signed *joinconfig.Spliced) {
	hdr := rec.Header()
	hdr.Del("Etag")
	hdr.Del("Last-Modified")
	hdr.Del("Accept-Ranges")
	hdr.Del("Content-Encoding")
	setNoStore(hdr, "", strconv.Itoa(signed.Len()))
	rec.ResponseWriterWrapper.WriteHeader(rec.status)
	if signed.Len() > writeSpansAbove {
		_, _ = signed.WriteTo(&rec.ResponseWriterWrapper) // a pointer: boxing the struct would allocate
		return
	}
	buf.Grow(signed.Len())
	_, _ = rec.ResponseWriterWrapper.Write(signed.AppendTo(buf.AvailableBuffer()))
}

// writeSpansAbove is where writing a join config span by span (a write
// for each edit and each stretch between them) becomes cheaper than
// copying it once: net/http copies writes below its 4 KiB buffer anyway.
const writeSpansAbove = 8 << 10

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// putBuf returns buf to the pool unless it grew past poolMax. A pool lets
// go of what two garbage collections saw unused, so a buffer the size of a
// large join config or request body (up to max_body 1MiB) is kept while
// such requests keep coming, instead of allocated, zeroed and collected
// for each; one grown by a body near a raised max_body is dropped.
func putBuf(buf *bytes.Buffer) {
	if buf.Cap() <= poolMax {
		bufPool.Put(buf)
	}
}

const poolMax = 2 << 20

// addedPool keeps the buffers for the edits' text, a few KiB each.
var addedPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func putAdded(buf *bytes.Buffer) {
	if buf.Cap() <= 64<<10 {
		addedPool.Put(buf)
	}
}

// Reasons a response passes through unsigned.
const (
	passHead    = "head"
	passStatus  = "status"
	passNotJSON = "not_json"
	passEmpty   = "empty"
)

// recState is where a recorder is with the backend's response.
type recState uint8

const (
	// undecided: no header written yet.
	undecided recState = iota
	// passing: not a join config to sign; streamed through untouched.
	passing
	// buffering: a 2xx JSON response, held for signing.
	buffering
	// tooLarge: a join config over max_body; the rest is dropped and the
	// client gets a 502.
	tooLarge
)

// recorder buffers the backend's response when it is a 2xx JSON join
// config, up to max_body, and streams everything else through untouched.
// Caddy's ResponseRecorder has no size cap, hence this one.
type recorder struct {
	caddyhttp.ResponseWriterWrapper
	maxBody    int64
	head       bool
	buf        *bytes.Buffer
	state      recState
	status     int
	passReason string
}

func (rr *recorder) WriteHeader(status int) {
	if rr.state != undecided {
		return
	}
	if status >= 100 && status < 200 {
		rr.ResponseWriterWrapper.WriteHeader(status)
		return
	}
	rr.status = status
	if rr.passReason = passReason(rr.head, status, rr.Header()); rr.passReason != "" {
		rr.state = passing
		rr.ResponseWriterWrapper.WriteHeader(status)
		return
	}
	rr.state = buffering
	if n, err := strconv.ParseInt(rr.Header().Get("Content-Length"), 10, 64); err == nil {
		if n > rr.maxBody {
			rr.state = tooLarge
			return
		}
		// One allocation of the announced size instead of doubling up to
		// it; a lie costs at most max_body, as a true length would.
		rr.buf.Grow(int(n))
	}
}

func (rr *recorder) Write(p []byte) (int, error) {
	if rr.state == undecided {
		rr.WriteHeader(http.StatusOK)
	}
	switch rr.state {
	case passing:
		return rr.ResponseWriterWrapper.Write(p)
	case tooLarge:
		return len(p), nil
	}
	if int64(rr.buf.Len()+len(p)) > rr.maxBody {
		// Drop the rest rather than fail the write: reverse_proxy answers a
		// failed write by aborting the connection (caddy#5951), and the
		// client is owed a 502 with a reason.
		rr.state = tooLarge
		return len(p), nil
	}
	return rr.buf.Write(p)
}

// ReadFrom keeps io.Copy from going around Write while buffering.
func (rr *recorder) ReadFrom(r io.Reader) (int64, error) {
	if rr.state == passing {
		return rr.ResponseWriterWrapper.ReadFrom(r)
	}
	return io.Copy(writerOnly{rr}, r)
}

// writerOnly hides ReadFrom, so io.Copy calls Write.
type writerOnly struct{ io.Writer }

// FlushError holds flushes back while buffering; a flushed header would
// commit the backend's Content-Length before the signature is in.
func (rr *recorder) FlushError() error {
	if rr.state == buffering || rr.state == tooLarge {
		return nil
	}
	return http.NewResponseController(rr.ResponseWriterWrapper.ResponseWriter).Flush()
}

func (rr *recorder) Flush() { _ = rr.FlushError() }

// passReason says why a response is not a join config to sign, or "".
func passReason(head bool, status int, hdr http.Header) string {
	switch {
	case head:
		return passHead
	case status < 200 || status > 299 || status == http.StatusNoContent:
		return passStatus
	}
	if !isJSON(hdr.Get("Content-Type")) {
		return passNotJSON
	}
	return ""
}

// isJSON matches application/json and the +json types, with parameters.
func isJSON(ct string) bool {
	mt, _, _ := strings.Cut(ct, ";")
	mt = strings.ToLower(strings.TrimSpace(mt))
	return mt == "application/json" || strings.HasSuffix(mt, "+json")
}
