package caddymodule

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/caddyserver/caddy/v2"

	"github.com/zoomsig/caddy-zoom-signature/caddymodule/internal/jsonstr"
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/signature"
)

// serveEndpoint answers like Zoom's sample auth endpoints (same request
// fields, same {"signature","sdkKey"} response, same error shape), but only
// for signed-in users, within the meetings scope and the host policy.
func (h *Handler) serveEndpoint(w http.ResponseWriter, r *http.Request) error {
	t := h.startTimer()
	defer t.observe()
	repl := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)

	// Preflights come without credentials, so CORS is settled before
	// authentication.
	done, f := h.cors(w, r)
	if f != nil {
		return h.writeRefusal(w, r, f)
	}
	if done {
		return nil
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST, OPTIONS")
		return h.writeRefusal(w, r, refuse(http.StatusMethodNotAllowed, codeMethodNotAllowed, "method",
			r.Method+" is not allowed; POST the request body as JSON"))
	}
	if _, f := h.identify(r, repl); f != nil {
		return h.writeRefusal(w, r, f)
	}
	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	defer putBuf(buf)
	body, f := h.readBody(w, r, buf)
	if f != nil {
		return h.writeRefusal(w, r, f)
	}
	token, zak, f := h.signRequest(r.Context(), repl, body)
	if f != nil {
		return h.writeRefusal(w, r, f)
	}

	// The body was parsed into copies, so its buffer can hold the answer.
	buf.Reset()
	out := append(buf.AvailableBuffer(), `{"signature":`...)
	out = jsonstr.Append(out, token)
	if h.SDK == sdkMeeting {
		out = append(out, `,"sdkKey":`...)
		out = jsonstr.Append(out, h.signer.Key())
	}
	if zak != "" {
		// Beyond the sample's response: a host join that starts the
		// meeting needs the host's ZAK.
		out = append(out, `,"zak":`...)
		out = jsonstr.Append(out, zak)
	}
	out = append(out, '}')
	hdr := w.Header()
	hdr["Content-Length"] = []string{strconv.Itoa(len(out))}
	setNoStore(hdr, "application/json; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, err := w.Write(out)
	repl.Set(phResult, resultSigned)
	return err
}

// readBody reads at most max_body bytes. The body is parsed as JSON
// whatever its Content-Type says: the sample silently ignores text/plain
// bodies (fetch's default), which is how "undefined" got signed.
func (h *Handler) readBody(w http.ResponseWriter, r *http.Request, buf *bytes.Buffer) ([]byte, *refusal) {
	_, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, h.MaxBody))
	body := buf.Bytes()
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return nil, refuse(http.StatusRequestEntityTooLarge, codeBodyTooLarge, "body",
			"the request body is larger than max_body ("+strconv.FormatInt(h.MaxBody, 10)+" bytes); send only the signing fields")
	case err != nil:
		return nil, refuse(http.StatusBadRequest, signature.CodeInvalidBody, "body", "the request body could not be read; send it again")
	}
	return body, nil
}

// signRequest validates a sample-shaped request body, applies the policy
// and mints the signature.
func (h *Handler) signRequest(ctx context.Context, repl *caddy.Replacer, body []byte) (token, zak string, f *refusal) {
	if h.SDK == sdkVideo {
		v, err := signature.ParseVideoRequest(body)
		if err != nil {
			return "", "", badRequest(err)
		}
		if !h.inScope(repl, v.SessionName) {
			return "", "", h.outOfScope(v.SessionName)
		}
		if v.Role, f = h.grantRole(repl, v.Role); f != nil {
			return "", "", f
		}
		if v.ExpiresIn, f = h.requestedLifetime(v.ExpiresIn); f != nil {
			return "", "", f
		}
		if token, f = h.mintVideo(v); f == nil {
			h.signed(repl, v.Role, v.SessionName)
		}
		return token, "", f
	}

	m, err := signature.ParseMeetingRequest(body)
	if err != nil {
		return "", "", badRequest(err)
	}
	if m.Native {
		return "", "", refuse(http.StatusBadRequest, codeMeetingMissing, "meetingNumber",
			`the request has neither meetingNumber nor role; send {"meetingNumber":"85746065432","role":0} as a JSON body (web joins need both, and this endpoint never signs native-SDK tokens)`)
	}
	if !h.inScope(repl, m.MeetingNumber.Digits) {
		return "", "", h.outOfScope(m.MeetingNumber.Digits)
	}
	if m.Role, f = h.grantRole(repl, m.Role); f != nil {
		return "", "", f
	}
	if m.ExpiresIn, f = h.requestedLifetime(m.ExpiresIn); f != nil {
		return "", "", f
	}
	if zak, f = h.hostZAK(ctx, repl, m.Role, ""); f != nil {
		return "", "", f
	}
	if token, f = h.mintMeeting(m); f != nil {
		return "", "", f
	}
	h.signed(repl, m.Role, m.MeetingNumber.Digits)
	return token, zak, nil
}

// requestedLifetime is the client's expirationSeconds, bounded by expires;
// 0 (not asked) gives expires.
func (h *Handler) requestedLifetime(asked int64) (int64, *refusal) {
	switch {
	case asked == 0:
		return h.lifetime(), nil
	case asked > h.lifetime():
		return 0, refuse(http.StatusForbidden, codeExpirationNotAllowed, "expirationSeconds",
			"expirationSeconds "+strconv.FormatInt(asked, 10)+" is longer than this route allows ("+strconv.FormatInt(h.lifetime(), 10)+"); ask for less or raise expires")
	}
	return asked, nil
}

func badRequest(err error) *refusal {
	errs, ok := err.(signature.Errors)
	if !ok || len(errs) == 0 {
		errs = signature.Errors{{Code: signature.CodeInvalidBody, Property: "body", Reason: err.Error()}}
	}
	return &refusal{status: http.StatusBadRequest, problems: errs}
}

// cors applies the cors_origins allowlist. It answers preflights itself
// (done) and refuses requests from any other foreign origin, since the
// endpoint may be authenticated by cookies.
func (h *Handler) cors(w http.ResponseWriter, r *http.Request) (done bool, f *refusal) {
	origin := r.Header.Get("Origin")
	preflight := r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != ""
	if origin == "" {
		if preflight {
			return false, refuse(http.StatusForbidden, codeOriginNotAllowed, "origin", "a preflight without an Origin header cannot be answered")
		}
		return false, nil
	}
	hdr := w.Header()
	addVary(hdr, "Origin")
	allowed, same := h.originAllowed(r, origin)
	if !allowed && (preflight || !same) {
		return false, refuse(http.StatusForbidden, codeOriginNotAllowed, "origin",
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
