package caddymodule

import (
	"bytes"
	"errors"
	"net/http"
	"strconv"

	"github.com/caddyserver/caddy/v2"

	"github.com/zoomsig/caddy-zoom-signature/caddymodule/internal/jsonstr"
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/join"
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/problem"
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/signature"
)

// serveEndpoint answers like Zoom's sample auth endpoints (same request
// fields, same {"signature","sdkKey"} response, same error shape), but only
// for signed-in users, within the meetings scope and the host policy:
// CORS → method → authenticate → read the body → what it asks → Sign →
// answer.
func (h *Handler) serveEndpoint(w http.ResponseWriter, r *http.Request) error {
	t := h.startTimer()
	defer t.observe()
	repl := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)

	// Preflights come without credentials, so CORS is settled before
	// authentication.
	done, err := h.cors(w, r)
	if err != nil {
		return h.writeRefusal(w, r, join.Principal{}, err)
	}
	if done {
		return nil
	}
	if r.Method == http.MethodOptions {
		// Not a preflight (those were answered above): say what is
		// allowed, as the sample's cors middleware answers every OPTIONS.
		w.Header().Set("Allow", "POST, OPTIONS")
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST, OPTIONS")
		return h.writeRefusal(w, r, join.Principal{}, problem.New(problem.Client, codeMethodNotAllowed, "method",
			r.Method+" is not allowed; POST the request body as JSON"))
	}
	p, err := h.authenticate(r, repl)
	if err != nil {
		return h.writeRefusal(w, r, p, err)
	}
	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	defer putBuf(buf)
	body, err := h.readBody(w, r, buf)
	if err != nil {
		return h.writeRefusal(w, r, p, err)
	}
	ask, err := h.join.Format.FromRequest(body)
	if err != nil {
		return h.writeRefusal(w, r, p, err)
	}
	res, err := h.sign(r, p, ask)
	if err != nil {
		return h.writeRefusal(w, r, p, err)
	}

	// The body was parsed into copies, so its buffer can hold the answer.
	buf.Reset()
	out := h.answer(buf.AvailableBuffer(), res)
	hdr := w.Header()
	setNoStore(hdr, "application/json; charset=utf-8", strconv.Itoa(len(out)))
	w.WriteHeader(http.StatusOK)
	_, werr := w.Write(out)
	h.signed(repl, p, ask, res)
	return werr
}

// answer is the sample's {"signature","sdkKey"}, with the credentials a
// join needs beyond the sample's answer: a host join that starts the
// meeting needs the host's ZAK.
func (h *Handler) answer(out []byte, res join.Result) []byte {
	out = append(out, `{"signature":`...)
	out = jsonstr.Append(out, res.Token)
	if h.answerKey != "" {
		out = append(out, h.answerKey...)
		out = jsonstr.Append(out, h.join.Keys.Key())
	}
	for _, v := range res.Credentials.Values {
		// The SDK's join option of that name, whatever field inject mode
		// writes. Endpoint mode's sources give only zak and obfToken: the
		// config refuses the inject-only steps (passcode, registrant).
		out = append(out, ',')
		out = jsonstr.Append(out, v.Name)
		out = append(out, ':')
		out = jsonstr.Append(out, v.Text)
	}
	return append(out, '}')
}

// readBody reads at most max_body bytes. The body is parsed as JSON
// whatever its Content-Type says: the sample silently ignores text/plain
// bodies (fetch's default), which is how "undefined" got signed.
func (h *Handler) readBody(w http.ResponseWriter, r *http.Request, buf *bytes.Buffer) ([]byte, *problem.Error) {
	if n := r.ContentLength; n > 0 {
		// One allocation of the announced size (bounded by max_body)
		// instead of doubling up to it: a 1 MiB body grew through 4 MiB.
		// ReadFrom wants bytes.MinRead free to see the end.
		buf.Grow(int(min(n, h.MaxBody+1)) + bytes.MinRead)
	}
	_, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, h.MaxBody))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return nil, problem.New(problem.Client, codeBodyTooLarge, "body",
			"the request body is larger than max_body ("+strconv.FormatInt(h.MaxBody, 10)+" bytes); send only the signing fields")
	case err != nil:
		return nil, problem.New(problem.Client, signature.CodeInvalidBody, "body", "the request body could not be read; send it again")
	}
	return buf.Bytes(), nil
}

// cors applies the cors_origins allowlist. It answers preflights itself
// (done) and refuses requests from any other foreign origin, since the
// endpoint may be authenticated by cookies.
func (h *Handler) cors(w http.ResponseWriter, r *http.Request) (done bool, err *problem.Error) {
	origin := r.Header.Get("Origin")
	preflight := r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != ""
	if origin == "" {
		// Not a browser's cross-origin request: nothing to allow, and an
		// OPTIONS is answered like any other.
		return false, nil
	}
	hdr := w.Header()
	addVary(hdr, "Origin")
	allowed, same := h.originAllowed(r, origin, h.CORSOrigins)
	if !allowed && !same {
		return false, problem.New(problem.Client, codeOriginNotAllowed, "origin",
			"the origin "+origin+" may not call this endpoint; add it to cors_origins")
	}
	if allowed {
		hdr.Set("Access-Control-Allow-Origin", origin)
		hdr.Set("Access-Control-Allow-Credentials", "true")
	}
	if !preflight {
		return false, nil
	}
	hdr.Set("Access-Control-Allow-Methods", "POST, OPTIONS")
	if reqHdr := r.Header.Get("Access-Control-Request-Headers"); reqHdr != "" {
		hdr.Set("Access-Control-Allow-Headers", reqHdr)
		addVary(hdr, "Access-Control-Request-Headers")
	}
	hdr.Set("Access-Control-Max-Age", "600")
	w.WriteHeader(http.StatusNoContent)
	return true, nil
}
