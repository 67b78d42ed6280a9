package caddymodule

import (
	"net/http"
	"strconv"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/zoomsig/caddy-zoom-signature/caddymodule/internal/jsonstr"
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/signature"
)

// Refusal codes, beyond the validation codes of package signature. They are
// stable and listed in the README.
const (
	codeUnauthenticated      = "unauthenticated"
	codeHostNotAllowed       = "host_not_allowed"
	codeMeetingNotAllowed    = "meeting_not_allowed"
	codeOriginNotAllowed     = "origin_not_allowed"
	codeExpirationNotAllowed = "expiration_not_allowed"
	codeMethodNotAllowed     = "method_not_allowed"
	codeBodyTooLarge         = "body_too_large"
	codeMeetingMissing       = "meeting_number_missing"
	codeUpstreamInvalid      = "join_config_invalid"
	codeUpstreamTooLarge     = "join_config_too_large"
	codeUpstreamEncoded      = "join_config_encoded"
	codeUpstreamMeeting      = "join_config_meeting_number"
	codeUpstreamRole         = "join_config_role"
	codeUpstreamSession      = "join_config_session_name"
	codeSigningFailed        = "signing_failed"
)

// refusal is an answer other than a signature: a status and the problems
// behind it, each with a code, the property at fault and a reason that
// names the cause and the fix.
type refusal struct {
	status   int
	problems signature.Errors
}

func refuse(status int, code, property, reason string) *refusal {
	return &refusal{status: status, problems: signature.Errors{{Code: code, Property: property, Reason: reason}}}
}

func (f *refusal) code() string { return f.problems[0].Code }

// writeRefusal answers with Zoom's sample error shape plus a code,
// {"errors":[{"code","property","reason"}]}, and logs the refusal once. No
// reason ever contains a secret, a token or a signature, so the body and the
// log line are safe to keep.
func (h *Handler) writeRefusal(w http.ResponseWriter, r *http.Request, f *refusal) error {
	repl, _ := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	if repl != nil {
		repl.Set(phResult, resultRefused)
		repl.Set(phCode, f.code())
	}
	hdr := w.Header()
	for _, k := range []string{"Content-Length", "Content-Encoding", "Etag", "Last-Modified", "Accept-Ranges"} {
		hdr.Del(k)
	}
	hdr.Set("Content-Type", "application/json; charset=utf-8")
	hdr.Set("Cache-Control", "no-store, private")
	hdr.Set("X-Content-Type-Options", "nosniff")
	if f.status == http.StatusUnauthorized {
		hdr.Set("Www-Authenticate", `Bearer realm="zoom_signature"`)
	}
	body := errorBody(f.problems)
	hdr.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(f.status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}

	level := zapcore.InfoLevel
	if f.status >= 500 {
		level = zapcore.ErrorLevel
	}
	if ce := h.logger.Check(level, "refused"); ce != nil {
		fields := []zap.Field{
			zap.String("code", f.code()),
			zap.Int("status", f.status),
			zap.String("reason", f.problems[0].Reason),
			zap.String("method", r.Method),
			// The path only: the Client View sample puts signatures in the
			// query string.
			zap.String("path", r.URL.Path),
		}
		if repl != nil {
			if user, _ := repl.GetString(phUserID); user != "" {
				fields = append(fields, zap.String("user", user))
			}
		}
		ce.Write(fields...)
	}
	metricRefusal(f.status, f.code())
	return nil
}

func errorBody(problems signature.Errors) []byte {
	b := append(make([]byte, 0, 256), `{"errors":[`...)
	for i, p := range problems {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"code":`...)
		b = jsonstr.Append(b, p.Code)
		b = append(b, `,"property":`...)
		b = jsonstr.Append(b, p.Property)
		b = append(b, `,"reason":`...)
		b = jsonstr.Append(b, p.Reason)
		b = append(b, '}')
	}
	return append(b, "]}"...)
}
