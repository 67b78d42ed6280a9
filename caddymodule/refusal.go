package caddymodule

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/zoomsig/caddy-zoom-signature/caddymodule/connect"
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/internal/jsonstr"
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/join"
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/problem"
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/session"
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/signature"
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/state"
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/zoomapi"
)

// Refusal codes of the glue, beyond those of the pure packages (join,
// signature, session, zoomapi). They are stable and listed in the README.
const (
	codeOriginNotAllowed   = "origin_not_allowed"
	codeMethodNotAllowed   = "method_not_allowed"
	codeBodyTooLarge       = "body_too_large"
	codeUpstreamInvalid    = "join_config_invalid"
	codeUpstreamTooLarge   = "join_config_too_large"
	codeUpstreamEncoded    = "join_config_encoded"
	codeUpstreamUnreadable = "join_config_unreadable"
	codeUpstreamDuplicate  = "join_config_duplicate_key"
	codeConnectRoute       = "connect_route_unknown"
)

// statusOf is the one table from refusal codes to HTTP statuses. A code
// not in it gets the status of its fault (faultStatus); TestStatusTable
// checks every code the project has.
var statusOf = map[string]int{
	// Who is asking.
	join.CodeUnauthenticated:  http.StatusUnauthorized,
	session.CodeMissing:       http.StatusUnauthorized,
	session.CodeMalformed:     http.StatusUnauthorized,
	session.CodeBadSignature:  http.StatusUnauthorized,
	session.CodeExpired:       http.StatusUnauthorized,
	session.CodeNotYetValid:   http.StatusUnauthorized,
	session.CodeWrongIssuer:   http.StatusUnauthorized,
	session.CodeWrongAudience: http.StatusUnauthorized,
	session.CodeAlgorithm:     http.StatusUnauthorized,
	session.CodeUnknownKey:    http.StatusUnauthorized,
	session.CodeNoUser:        http.StatusUnauthorized,
	session.CodeCrit:          http.StatusUnauthorized,
	session.CodeJWKSDown:      http.StatusServiceUnavailable,
	// What the policy allows.
	join.CodeHostNotAllowed:       http.StatusForbidden,
	join.CodeMeetingNotAllowed:    http.StatusForbidden,
	join.CodeExpirationNotAllowed: http.StatusForbidden,
	join.CodeZAKMissing:           http.StatusForbidden,
	join.CodeZAKUserMissing:       http.StatusForbidden,
	codeOriginNotAllowed:          http.StatusForbidden,
	// The client's request.
	codeMethodNotAllowed:               http.StatusMethodNotAllowed,
	codeBodyTooLarge:                   http.StatusRequestEntityTooLarge,
	join.CodeMeetingMissing:            http.StatusBadRequest,
	signature.CodeInvalidBody:          http.StatusBadRequest,
	signature.CodeMissingField:         http.StatusBadRequest,
	signature.CodeInvalidField:         http.StatusBadRequest,
	signature.CodeInvalidRole:          http.StatusBadRequest,
	signature.CodeInvalidMeetingNumber: http.StatusBadRequest,
	signature.CodeInvalidExpiration:    http.StatusBadRequest,
	signature.CodeInvalidSessionName:   http.StatusBadRequest,
	// The backend's join config.
	codeUpstreamInvalid:      http.StatusBadGateway,
	codeUpstreamTooLarge:     http.StatusBadGateway,
	codeUpstreamEncoded:      http.StatusBadGateway,
	codeUpstreamUnreadable:   http.StatusBadGateway,
	codeUpstreamDuplicate:    http.StatusBadGateway,
	join.CodeBackendMeeting:  http.StatusBadGateway,
	join.CodeBackendRole:     http.StatusBadGateway,
	join.CodeBackendSession:  http.StatusBadGateway,
	join.CodeBackendPasscode: http.StatusBadGateway,
	// Zoom.
	zoomapi.CodeOAuth:                  http.StatusServiceUnavailable,
	zoomapi.CodeRateLimited:            http.StatusServiceUnavailable,
	zoomapi.CodeAPI:                    http.StatusServiceUnavailable,
	zoomapi.CodeAPIAnswer:              http.StatusBadGateway,
	zoomapi.CodeUserNotFound:           http.StatusForbidden,
	zoomapi.CodeMeetingInvalid:         http.StatusBadGateway,
	zoomapi.CodeMeetingRateLimited:     http.StatusServiceUnavailable,
	zoomapi.CodeMeetingTooMany:         http.StatusTooManyRequests,
	zoomapi.CodeRegistrationFull:       http.StatusConflict,
	zoomapi.CodeRegistrationClosed:     http.StatusConflict,
	zoomapi.CodeRegistrationGone:       http.StatusConflict,
	zoomapi.CodeRegistrationNotAllowed: http.StatusForbidden,
	zoomapi.CodeRegistrantRateLimited:  http.StatusServiceUnavailable,
	join.CodeRegistrationApproval:      http.StatusConflict,
	join.CodeRegistrantEmail:           http.StatusForbidden,
	join.CodeBackendLink:               http.StatusBadGateway,
	// Connected Zoom accounts and OBF tokens.
	connect.CodeNotConnected:    http.StatusConflict,
	connect.CodeGrantRevoked:    http.StatusConflict,
	connect.CodeOAuth:           http.StatusServiceUnavailable,
	connect.CodeStore:           http.StatusServiceUnavailable,
	state.CodeLockTimeout:       http.StatusServiceUnavailable,
	state.CodeUnavailable:       http.StatusServiceUnavailable,
	connect.CodeOBFRateLimit:    http.StatusServiceUnavailable,
	connect.CodeOBFTooMany:      http.StatusTooManyRequests,
	connect.CodeOBFMeeting:      http.StatusBadGateway,
	connect.CodeOBFUnissued:     http.StatusBadGateway,
	connect.CodeStateMissing:    http.StatusBadRequest,
	connect.CodeStateInvalid:    http.StatusBadRequest,
	connect.CodeStateMismatch:   http.StatusForbidden,
	connect.CodeStateReplayed:   http.StatusForbidden,
	connect.CodeUserMismatch:    http.StatusForbidden,
	connect.CodeDenied:          http.StatusForbidden,
	connect.CodeCodeMissing:     http.StatusBadRequest,
	connect.CodeCodeInvalid:     http.StatusBadRequest,
	connect.CodeScopeMissing:    http.StatusForbidden,
	connect.CodeUserInactive:    http.StatusForbidden,
	connect.CodeUnauthorized:    http.StatusUnauthorized,
	codeConnectRoute:            http.StatusNotFound,
	zoomapi.CodeOAuthRefused:    http.StatusServiceUnavailable,
	zoomapi.CodeUserRateLimited: http.StatusServiceUnavailable,
	// The doctor route.
	codeDoctorInput:   http.StatusBadRequest,
	codeDoctorTooMany: http.StatusTooManyRequests,
	codeDoctorHandler: http.StatusInternalServerError,
	codeDoctorJoin:    http.StatusForbidden,
	// This module.
	join.CodeSigningFailed:       http.StatusInternalServerError,
	join.CodeCredentialsConflict: http.StatusInternalServerError,
}

// faultStatus is the status of a code the table does not name.
var faultStatus = map[problem.Fault]int{
	problem.Client:  http.StatusBadRequest,
	problem.Backend: http.StatusBadGateway,
	problem.Zoom:    http.StatusServiceUnavailable,
	problem.Issuer:  http.StatusServiceUnavailable,
	problem.Config:  http.StatusInternalServerError,
}

func status(err *problem.Error) int {
	if s, ok := statusOf[err.Code()]; ok {
		return s
	}
	if s, ok := faultStatus[err.Fault]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// responder writes a handler's refusals, log lines and metrics: the
// signing handler's, the connect routes' and the doctor's, alike.
type responder struct {
	name, format string
	logger       *zap.Logger
	sampled      *sampler
	// key finds the handler's doctor route, for the Link of refusals it
	// explains; connectURL is where a user connects, for those a connect
	// cures ("" for none).
	key        handlerKey
	connectURL string
	minted     [2]prometheus.Counter
	duration   prometheus.Observer
}

// newResponder is the responder of a handler named name, signing for sdk
// ("" for none) in mode.
func newResponder(ctx caddy.Context, name, sdk, mode string) (*responder, error) {
	if err := registerMetrics(ctx); err != nil {
		return nil, fmt.Errorf("registering metrics: %w", err)
	}
	r := &responder{name: name, format: sdk, logger: ctx.Logger(), sampled: newSampler(time.Now)}
	r.minted = [2]prometheus.Counter{metricSignatures.WithLabelValues(name, sdk, "0"), metricSignatures.WithLabelValues(name, sdk, "1")}
	r.duration = metricDuration.WithLabelValues(name, mode)
	return r, nil
}

// writeRefusal answers with Zoom's sample error shape plus a code,
// {"errors":[{"code","property","reason"}]}, and logs the refusal once. No
// reason ever contains a secret, a token, a signature or text from Zoom, so
// the body and the log line are safe to keep.
func (h *responder) writeRefusal(w http.ResponseWriter, r *http.Request, p join.Principal, err *problem.Error) error {
	code, st := err.Code(), status(err)
	if repl, _ := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer); repl != nil {
		repl.Set(phResult, resultRefused)
		repl.Set(phCode, code)
	}
	hdr := w.Header()
	for _, k := range []string{"Content-Length", "Content-Encoding", "Etag", "Last-Modified", "Accept-Ranges"} {
		hdr.Del(k)
	}
	hdr.Set("Content-Type", "application/json; charset=utf-8")
	hdr.Set("Cache-Control", "no-store, private")
	hdr.Set("X-Content-Type-Options", "nosniff")
	if st == http.StatusUnauthorized {
		hdr.Set("Www-Authenticate", `Bearer realm="zoom_signature"`)
	}
	if link := connectLink(h.connectURL, code); link != "" {
		hdr.Set("Link", link)
	}
	if link := doctorLink(h.key, code); link != "" {
		hdr.Add("Link", link)
	}
	body := errorBody(err.Problems)
	hdr.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(st)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}

	// As Caddy logs its own 4xx: at debug, for they are the client's
	// business; a 5xx is the server's, at error.
	level := zapcore.DebugLevel
	if st >= 500 {
		level = zapcore.ErrorLevel
	}
	if ce := h.logger.Check(level, "refused"); ce != nil {
		ok, dropped := h.sampled.allow(code)
		if !ok {
			h.metricRefusal(st, code) // counted, not logged
			return nil
		}
		fields := []zap.Field{
			// Matches the access log's line when it appends the same
			// placeholder (log_append request_id {http.request.uuid}).
			zap.String("request_id", requestID(r)),
			zap.String("code", code),
			zap.Int("status", st),
			zap.Stringer("fault", err.Fault),
			zap.String("reason", err.Reason()),
			zap.String("method", r.Method),
			// The path only: the Client View sample puts signatures in the
			// query string.
			zap.String("path", r.URL.Path),
		}
		if p.ID != "" {
			fields = append(fields, zap.String("user", p.ID))
		}
		if dropped > 0 {
			fields = append(fields, zap.Int("suppressed", dropped))
		}
		ce.Write(fields...)
	}
	h.metricRefusal(st, code)
	return nil
}

// Refusal lines are sampled per code: a flood of one refusal (a script
// posting oversized bodies, a backend answering garbage) would otherwise
// write a line per request, tens of megabytes a minute. The metrics count
// every refusal all the same.
const (
	sampleWindow  = time.Second
	samplePerCode = 10
)

// sampler lets the first samplePerCode refusal lines of each code through
// every sampleWindow and counts the rest; the next line of that code that
// gets through says how many were left out.
type sampler struct {
	now   func() time.Time
	mu    sync.Mutex
	codes map[string]*sampleState // keys are the project's own codes, a bounded set
}

type sampleState struct {
	start   time.Time
	n       int
	dropped int
}

func newSampler(now func() time.Time) *sampler {
	return &sampler{now: now, codes: map[string]*sampleState{}}
}

// allow says whether a line of code is written, and how many of its lines
// were left out since the last one that was.
func (s *sampler) allow(code string) (bool, int) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.codes[code]
	if st == nil {
		st = &sampleState{start: now}
		s.codes[code] = st
	}
	if now.Sub(st.start) >= sampleWindow {
		st.start, st.n = now, 0
	}
	if st.n++; st.n > samplePerCode {
		st.dropped++
		return false, 0
	}
	dropped := st.dropped
	st.dropped = 0
	return true, dropped
}

// requestID is {http.request.uuid}, which Caddy makes once per request.
func requestID(r *http.Request) string {
	repl, _ := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	if repl == nil {
		return ""
	}
	id, _ := repl.GetString("http.request.uuid")
	return id
}

// warn logs the problems that did not stop a join.
func (h *responder) warn(p join.Principal, warnings []*problem.Error) {
	for _, w := range warnings {
		h.logger.Warn("host join signed without a ZAK",
			zap.String("code", w.Code()), zap.Stringer("fault", w.Fault), zap.String("reason", w.Reason()), zap.String("user", p.ID))
	}
}

func errorBody(problems []problem.Problem) []byte {
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

// The response helpers of every handler of the package: a refusal above,
// and below the headers of a personal answer and a JSON answer.

// setNoStore marks a response as personal and fresh: no cache may keep it,
// and it varies with the credentials. The values share one backing array,
// cut with full slice expressions so that an append by a later handler
// cannot reach the next value; they are never shared across requests,
// since Caddy's header handler rewrites values in place.
// contentLength, when given, is set too, from the same backing array.
func setNoStore(hdr http.Header, contentType string, contentLength ...string) {
	vals := make([]string, 5)
	vals[0], vals[1], vals[2], vals[3] = "no-store, private", "Cookie", "Authorization", contentType
	hdr["Cache-Control"] = vals[0:1:1]
	if contentType != "" {
		hdr["Content-Type"] = vals[3:4:4]
	}
	if len(contentLength) == 1 {
		vals[4] = contentLength[0]
		hdr["Content-Length"] = vals[4:5:5]
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

// writeJSON answers 200 with v, personal and fresh.
func writeJSON(w http.ResponseWriter, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	setNoStore(w.Header(), "application/json; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, err = w.Write(b)
	return err
}
