package caddymodule

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/tidwall/gjson"

	"github.com/zoomsig/caddy-zoom-signature/caddymodule/joinconfig"
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/signature"
)

// ServeHTTP signs in inject mode and answers in endpoint mode.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	if h.Mode == modeEndpoint {
		return h.serveEndpoint(w, r)
	}
	return h.serveInject(w, r, next)
}

// serveInject is the heart of the module: authenticate, prepare the
// request, call the backend, decide, sign, write.
func (h *Handler) serveInject(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	t := h.startTimer()
	defer t.observe()
	repl := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	if _, f := h.identify(r, repl); f != nil {
		return h.writeRefusal(w, r, f)
	}

	prepareBackendRequest(r)

	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	defer putBuf(buf)
	rec := &recorder{ResponseWriterWrapper: caddyhttp.ResponseWriterWrapper{ResponseWriter: w}, h: h, head: r.Method == http.MethodHead, buf: buf}
	t.pause()
	err := next.ServeHTTP(rec, r)
	t.resume()
	if rec.tooLarge {
		return h.writeRefusal(w, r, refuse(http.StatusBadGateway, codeUpstreamTooLarge, "body",
			"the backend's join config is larger than max_body ("+strconv.FormatInt(h.MaxBody, 10)+" bytes); raise max_body or shrink the response"))
	}
	if err != nil {
		return err
	}
	if !rec.decided {
		h.passed(repl, passEmpty)
		return nil
	}
	if !rec.buffering {
		h.passed(repl, rec.passReason)
		return nil
	}

	out := bufPool.Get().(*bytes.Buffer)
	out.Reset()
	out.Grow(buf.Len() + 512) // room for the signature, so the pooled buffer is reused
	defer putBuf(out)
	doc, f := h.signJoinConfig(r, repl, rec.Header(), buf.Bytes(), out.AvailableBuffer())
	if f != nil {
		return h.writeRefusal(w, r, f)
	}
	writeSigned(rec, doc)
	repl.Set(phResult, resultSigned)
	return nil
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

// signJoinConfig checks the backend's join config against the policy, mints
// the signature and writes it in, leaving every other byte alone.
func (h *Handler) signJoinConfig(r *http.Request, repl *caddy.Replacer, hdr http.Header, doc, dst []byte) ([]byte, *refusal) {
	if ce := hdr.Get("Content-Encoding"); ce != "" && !strings.EqualFold(ce, "identity") {
		return nil, refuse(http.StatusBadGateway, codeUpstreamEncoded, "body",
			"the backend's join config is compressed ("+ce+"); let Caddy negotiate compression (reverse_proxy does by default) instead of forcing it in the backend")
	}
	if err := joinconfig.Check(doc); err != nil {
		return nil, refuse(http.StatusBadGateway, codeUpstreamInvalid, "body",
			"the backend's join config cannot be signed: "+err.Error()+"; fix the backend so it answers with a JSON object")
	}
	var (
		edits []joinconfig.Edit
		f     *refusal
	)
	if h.SDK == sdkVideo {
		edits, f = h.videoEdits(repl, doc)
	} else {
		edits, f = h.meetingEdits(r.Context(), repl, doc)
	}
	if f != nil {
		return nil, f
	}
	if h.sdkKeyAt != "" {
		edits = append(edits, joinconfig.String(h.sdkKeyAt, h.signer.Key()))
	}
	for _, fill := range h.Fill {
		if v := repl.ReplaceAll(fill.Value, ""); v != "" {
			edits = append(edits, joinconfig.String(fill.Path, v))
		}
	}
	edits = append(edits, h.urlEdits(r, doc)...)
	out, err := joinconfig.Apply(dst, doc, edits...)
	if err != nil {
		return nil, refuse(http.StatusBadGateway, codeUpstreamInvalid, "body", "the signature could not be written into the join config: "+err.Error())
	}
	return out, nil
}

func (h *Handler) meetingEdits(ctx context.Context, repl *caddy.Replacer, doc []byte) ([]joinconfig.Edit, *refusal) {
	mnField := joinconfig.Get(doc, h.MeetingNumberField)
	mn, err := signature.MeetingNumberFrom(mnField)
	if err != nil {
		return nil, refuse(http.StatusBadGateway, codeUpstreamMeeting, h.MeetingNumberField,
			"the backend's join config has no valid meeting number at "+h.MeetingNumberField+": "+problemReason(err)+"; fix the backend or set meeting_number_field")
	}
	asked, role, f := h.backendRole(repl, doc, mn.Digits)
	if f != nil {
		return nil, f
	}
	var present string
	if role == 1 && h.zak == nil && h.RequireZAKForHost {
		// Only then does a ZAK from the backend matter; looking up an
		// absent key walks the whole document.
		present = joinconfig.Get(doc, h.zakField).Str
	}
	zak, f := h.hostZAK(ctx, repl, role, present)
	if f != nil {
		return nil, f
	}
	token, f := h.mintMeeting(signature.Meeting{MeetingNumber: mn, Role: role, ExpiresIn: h.lifetime()})
	if f != nil {
		return nil, f
	}
	h.signed(repl, role, mn.Digits)

	edits := make([]joinconfig.Edit, 0, 6)
	edits = append(edits, joinconfig.String(h.SignatureField, token))
	if zak != "" {
		edits = append(edits, joinconfig.String(h.zakField, zak))
	}
	// The frontend passes the meeting number to join() as well; Zoom compares
	// it with mn, so it is written back normalised, in its own JSON type.
	if mnField.Type == gjson.String && mnField.Str != mn.Digits {
		edits = append(edits, joinconfig.String(h.MeetingNumberField, mn.Digits))
	} else if mnField.Type == gjson.Number && mnField.Raw != mn.Digits {
		edits = append(edits, joinconfig.Edit{Path: h.MeetingNumberField, Raw: []byte(mn.Digits)})
	}
	if role != asked {
		edits = append(edits, joinconfig.Edit{Path: h.RoleField, Raw: []byte("0")})
	}
	return edits, nil
}

func (h *Handler) videoEdits(repl *caddy.Replacer, doc []byte) ([]joinconfig.Edit, *refusal) {
	name := joinconfig.Get(doc, h.SessionNameField)
	if name.Type != gjson.String || name.Str == "" {
		return nil, refuse(http.StatusBadGateway, codeUpstreamSession, h.SessionNameField,
			"the backend's join config has no session name at "+h.SessionNameField+"; fix the backend or set session_name_field")
	}
	asked, role, f := h.backendRole(repl, doc, name.Str)
	if f != nil {
		return nil, f
	}
	v := signature.Video{SessionName: name.Str, Role: role, ExpiresIn: h.lifetime()}
	if id := joinconfig.Get(doc, h.UserIdentityField); id.Type == gjson.String {
		v.UserIdentity = &id.Str
	}
	if key := joinconfig.Get(doc, h.SessionKeyField); key.Type == gjson.String {
		v.SessionKey = &key.Str
	}
	token, f := h.mintVideo(v)
	if f != nil {
		f.status = http.StatusBadGateway
		f.problems[0].Code = codeUpstreamSession
		return nil, f
	}
	h.signed(repl, role, name.Str)
	edits := []joinconfig.Edit{joinconfig.String(h.SignatureField, token)}
	if role != asked {
		edits = append(edits, joinconfig.Edit{Path: h.RoleField, Raw: []byte("0")})
	}
	return edits, nil
}

// backendRole reads the role the backend asked for and applies the scope
// and the host policy to it.
func (h *Handler) backendRole(repl *caddy.Replacer, doc []byte, meeting string) (asked, role int, f *refusal) {
	asked, err := signature.RoleFrom(joinconfig.Get(doc, h.RoleField))
	if err != nil {
		return 0, 0, refuse(http.StatusBadGateway, codeUpstreamRole, h.RoleField,
			"the backend's join config has an invalid role at "+h.RoleField+": "+problemReason(err))
	}
	if !h.inScope(repl, meeting) {
		return 0, 0, h.outOfScope(meeting)
	}
	role, f = h.grantRole(repl, asked)
	return asked, role, f
}

// writeSigned fixes the headers for the new body and sends it. The
// response is personal and freshly minted: no cache may keep it, and no
// validator or range may refer to the backend's bytes.
func writeSigned(rec *recorder, doc []byte) {
	hdr := rec.Header()
	hdr.Del("Etag")
	hdr.Del("Last-Modified")
	hdr.Del("Accept-Ranges")
	hdr.Del("Content-Encoding")
	hdr["Content-Length"] = []string{strconv.Itoa(len(doc))}
	setNoStore(hdr, "")
	rec.ResponseWriterWrapper.WriteHeader(rec.status)
	_, _ = rec.ResponseWriterWrapper.Write(doc)
}

// setNoStore marks a response as personal and fresh: no cache may keep it,
// and it varies with the credentials. The values share one backing array,
// cut with full slice expressions so that an append by a later handler
// cannot reach the next value; they are never shared across requests,
// since Caddy's header handler rewrites values in place.
func setNoStore(hdr http.Header, contentType string) {
	vals := make([]string, 4)
	vals[0], vals[1], vals[2], vals[3] = "no-store, private", "Cookie", "Authorization", contentType
	hdr["Cache-Control"] = vals[0:1:1]
	if contentType != "" {
		hdr["Content-Type"] = vals[3:4:4]
	}
	if len(hdr["Vary"]) == 0 {
		hdr["Vary"] = vals[1:3:3]
		return
	}
	addVary(hdr, "Cookie", "Authorization")
}

// addVary adds names to Vary unless they are there already.
func addVary(hdr http.Header, names ...string) {
	have := hdr["Vary"]
	for _, n := range names {
		if !varies(have, n) {
			hdr.Add("Vary", n)
		}
	}
}

func varies(values []string, name string) bool {
	for _, v := range values {
		for _, f := range strings.Split(v, ",") {
			if f = strings.TrimSpace(f); f == "*" || strings.EqualFold(f, name) {
				return true
			}
		}
	}
	return false
}

func problemReason(err error) string {
	if errs, ok := err.(signature.Errors); ok && len(errs) > 0 {
		return errs[0].Reason
	}
	return err.Error()
}

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// putBuf returns buf to the pool unless it grew large, so that one big
// response does not pin its memory for ever.
func putBuf(buf *bytes.Buffer) {
	if buf.Cap() <= 256<<10 {
		bufPool.Put(buf)
	}
}

// Reasons a response passes through unsigned.
const (
	passHead    = "head"
	passStatus  = "status"
	passNotJSON = "not_json"
	passEmpty   = "empty"
)

// recorder buffers the backend's response when it is a 2xx JSON join
// config, up to max_body, and streams everything else through untouched.
// Caddy's ResponseRecorder has no size cap, hence this one.
type recorder struct {
	caddyhttp.ResponseWriterWrapper
	h          *Handler
	head       bool
	buf        *bytes.Buffer
	status     int
	decided    bool
	buffering  bool
	tooLarge   bool
	passReason string
}

func (rr *recorder) WriteHeader(status int) {
	if rr.decided {
		return
	}
	if status >= 100 && status < 200 {
		rr.ResponseWriterWrapper.WriteHeader(status)
		return
	}
	rr.decided, rr.status = true, status
	rr.passReason = rr.h.passReason(rr.head, status, rr.Header())
	if rr.passReason != "" {
		rr.ResponseWriterWrapper.WriteHeader(status)
		return
	}
	rr.buffering = true
	if n, err := strconv.ParseInt(rr.Header().Get("Content-Length"), 10, 64); err == nil && n > rr.h.MaxBody {
		rr.tooLarge = true
	}
}

func (rr *recorder) Write(p []byte) (int, error) {
	if !rr.decided {
		rr.WriteHeader(http.StatusOK)
	}
	if !rr.buffering {
		return rr.ResponseWriterWrapper.Write(p)
	}
	if rr.tooLarge || int64(rr.buf.Len()+len(p)) > rr.h.MaxBody {
		// Drop the rest rather than fail the write: reverse_proxy answers a
		// failed write by aborting the connection (caddy#5951), and the
		// client is owed a 502 with a reason.
		rr.tooLarge = true
		return len(p), nil
	}
	return rr.buf.Write(p)
}

// ReadFrom keeps io.Copy from going around Write while buffering.
func (rr *recorder) ReadFrom(r io.Reader) (int64, error) {
	if rr.decided && !rr.buffering {
		return rr.ResponseWriterWrapper.ReadFrom(r)
	}
	return io.Copy(writerOnly{rr}, r)
}

// writerOnly hides ReadFrom, so io.Copy calls Write.
type writerOnly struct{ io.Writer }

// FlushError holds flushes back while buffering; a flushed header would
// commit the backend's Content-Length before the signature is in.
func (rr *recorder) FlushError() error {
	if rr.buffering {
		return nil
	}
	return http.NewResponseController(rr.ResponseWriterWrapper.ResponseWriter).Flush()
}

func (rr *recorder) Flush() { _ = rr.FlushError() }

// passReason says why a response is not a join config to sign, or "".
func (h *Handler) passReason(head bool, status int, hdr http.Header) string {
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
