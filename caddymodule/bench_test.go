package caddymodule

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
)

// joinConfig300 is a realistic join config of about 300 bytes.
var joinConfig300 = []byte(`{"meetingNumber":"85746065432","role":0,"passWord":"e3Rf9k","userName":"Alice Example","userEmail":"alice@example.com","leaveUrl":"https://app.example.com/meetings/85746065432/left","lang":"en-US","china":false,"tk":"","customerKey":"cust-0001","webEndpoint":"zoom.us","patchJsMedia":true}`)

func provisioned(tb testing.TB, h *Handler) *Handler {
	tb.Helper()
	tb.Setenv("ZS_TEST_SECRET", testSecret)
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	tb.Cleanup(cancel)
	if h.SDKKey == "" {
		h.SDKKey, h.SDKSecret = testKey, "{env.ZS_TEST_SECRET}"
	}
	if err := h.Provision(ctx); err != nil {
		tb.Fatal(err)
	}
	// Outside a config, ctx.Logger() is a development logger at debug
	// level; Caddy's default is info, where the debug lines cost a Check.
	h.logger = zap.NewNop()
	return h
}

// newRequest is a request as Caddy hands it to a handler after basic_auth.
func newRequest(method, target, user string, body []byte) *http.Request {
	r := httptest.NewRequest(method, target, bytes.NewReader(body))
	repl := caddyhttp.NewTestReplacer(r)
	if user != "" {
		repl.Set("http.auth.user.id", user)
	}
	return r.WithContext(context.WithValue(r.Context(), caddy.ReplacerCtxKey, repl))
}

// backendFunc answers with body as a JSON join config.
func backendFunc(body []byte) caddyhttp.Handler {
	cl := strconv.Itoa(len(body))
	return caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", cl)
		w.WriteHeader(http.StatusOK)
		_, err := w.Write(body)
		return err
	})
}

func TestInjectInMemory(t *testing.T) {
	h := provisioned(t, &Handler{})
	w := httptest.NewRecorder()
	if err := h.ServeHTTP(w, newRequest("GET", "/join-config", "alice", nil), backendFunc(joinConfig300)); err != nil {
		t.Fatal(err)
	}
	if w.Code != 200 || !bytes.Contains(w.Body.Bytes(), []byte(`"signature":"eyJ`)) || w.Header().Get("Content-Length") != strconv.Itoa(w.Body.Len()) {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	if !bytes.HasPrefix(w.Body.Bytes(), joinConfig300[:len(joinConfig300)-1]) {
		t.Fatal("join config bytes changed")
	}
}

// A panic or a wrong answer here would mean the handler trusted the size
// of what it was given; the backend lies about its Content-Length.
func TestInjectBackendMisreportsLength(t *testing.T) {
	h := provisioned(t, &Handler{MaxBody: 1024})
	w := httptest.NewRecorder()
	next := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", "10")
		_, _ = w.Write([]byte(`{"meetingNumber":"85746065432","pad":"` + strings.Repeat("x", 2000) + `"}`))
		return nil
	})
	if err := h.ServeHTTP(w, newRequest("GET", "/", "alice", nil), next); err != nil {
		t.Fatal(err)
	}
	if w.Code != http.StatusBadGateway || !strings.Contains(w.Body.String(), codeUpstreamTooLarge) {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
}

func BenchmarkInject(b *testing.B) {
	benchInject(b, provisioned(b, &Handler{}), joinConfig300)
}

func benchInject(b *testing.B, h *Handler, body []byte) {
	next := backendFunc(body)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		w := httptest.NewRecorder()
		if err := h.ServeHTTP(w, newRequest("GET", "/join-config", "alice", nil), next); err != nil || w.Code != 200 {
			b.Fatal(err, w.Code)
		}
	}
}

// BenchmarkBaseline is the same request without zoom_signature: the cost
// of the test scaffolding (recorder, request, replacer, backend), to
// subtract from BenchmarkInject.
func BenchmarkBaseline(b *testing.B) {
	next := backendFunc(joinConfig300)
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		if err := next.ServeHTTP(w, newRequest("GET", "/join-config", "alice", nil)); err != nil || w.Code != 200 {
			b.Fatal(err, w.Code)
		}
	}
}

func BenchmarkInject64KiB(b *testing.B) {
	body := []byte(`{"meetingNumber":"85746065432","role":0,"pad":"` + strings.Repeat("x", 64<<10-64) + `"}`)
	benchInject(b, provisioned(b, &Handler{MaxBody: 128 << 10}), body)
}

func BenchmarkEndpoint(b *testing.B) {
	h := provisioned(b, &Handler{Mode: modeEndpoint, Meetings: []string{"any"}})
	body := []byte(`{"meetingNumber":"85746065432","role":0}`)
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		if err := h.ServeHTTP(w, newRequest("POST", "/signature", "alice", body), nil); err != nil || w.Code != 200 {
			b.Fatal(err, w.Code, w.Body)
		}
	}
}

// sinkWriter is a reusable ResponseWriter, so that the benchmark below
// measures the handler and not the scaffolding.
type sinkWriter struct {
	hdr    http.Header
	status int
	n      int
}

func (s *sinkWriter) Header() http.Header         { return s.hdr }
func (s *sinkWriter) WriteHeader(code int)        { s.status = code }
func (s *sinkWriter) Write(p []byte) (int, error) { s.n += len(p); return len(p), nil }

// BenchmarkInjectHandler is the whole inject path for a 300-byte join
// config with the request and the writer reused: what remains is the
// handler itself plus a backend that writes two headers and the body.
func BenchmarkInjectHandler(b *testing.B) {
	h := provisioned(b, &Handler{})
	next := backendFunc(joinConfig300)
	r := newRequest("GET", "/join-config", "alice", nil)
	w := &sinkWriter{hdr: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.hdr)
		w.n = 0
		if err := h.ServeHTTP(w, r, next); err != nil || w.status != 200 || w.n < len(joinConfig300) {
			b.Fatal(err, w.status)
		}
	}
}

// BenchmarkBackendOnly is the backend of BenchmarkInjectHandler alone.
func BenchmarkBackendOnly(b *testing.B) {
	next := backendFunc(joinConfig300)
	r := newRequest("GET", "/join-config", "alice", nil)
	w := &sinkWriter{hdr: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.hdr)
		if err := next.ServeHTTP(w, r); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEndpointHandler is endpoint mode with the writer reused; the
// request is rebuilt only where it must be (its body is read).
func BenchmarkEndpointHandler(b *testing.B) {
	benchEndpoint(b, provisioned(b, &Handler{Mode: modeEndpoint, Meetings: []string{"any"}}), []byte(`{"meetingNumber":"85746065432","role":0}`))
}

// benchEndpoint runs h in endpoint mode on body with the writer reused;
// the request is rebuilt only where it must be (its body is read).
func benchEndpoint(b *testing.B, h *Handler, body []byte) {
	r := newRequest("POST", "/signature", "alice", body)
	rd := bytes.NewReader(body)
	w := &sinkWriter{hdr: http.Header{}}
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		clear(w.hdr)
		rd.Reset(body)
		r.Body = io.NopCloser(rd)
		if err := h.ServeHTTP(w, r, nil); err != nil || w.status != 200 {
			b.Fatal(err, w.status)
		}
	}
}

// participants64KiB is a 64 KiB join config whose bulk is an array of
// small objects before the keys the module reads: the shape where a scan
// that descends into nested values, or walks the document more than once,
// costs the most.
var participants64KiB = participants(64 << 10)

// BenchmarkInjectHandler64KiB is BenchmarkInjectHandler for
// participants64KiB: the module's cost for a large, nested join config.
func BenchmarkInjectHandler64KiB(b *testing.B) {
	benchHandler(b, provisioned(b, &Handler{MaxBody: 128 << 10}), participants64KiB)
}

// joinConfig2KiB is a realistic join config of 2 KiB with 31 top-level
// keys (the load script's medium.json): more keys than a Doc indexes
// inline.
var joinConfig2KiB = []byte(`{"meetingNumber":"85746065432","role":0,"passWord":"e3Rf9k","userName":"Alice Example","userEmail":"alice@example.com","leaveUrl":"https://app.example.com/meetings/85746065432/left","lang":"en-US","china":false,"tk":"","zak":"","customerKey":"cust-0001","webEndpoint":"zoom.us","patchJsMedia":true,"leaveOnPageUnload":true,"debug":false,"isSupportAV":true,"isSupportChat":true,"isSupportQA":true,"isSupportCC":true,"isSupportPolling":true,"isSupportBreakout":true,"screenShare":true,"disableInvite":true,"disableCallOut":true,"disableRecord":true,"disableJoinAudio":false,"audioPanelAlwaysOpen":false,"showMeetingHeader":true,"meetingInfo":["topic","host","mn","pwd","telPwd","invite","participant","dc","enctype"],"customize":{"video":{"isResizable":true,"viewSizes":{"default":{"width":1000,"height":600},"ribbon":{"width":300,"height":700}},"popper":{"disableDraggable":false}},"meetingInfo":["topic","host","mn","participant","dc","enctype"],"toolbar":{"buttons":[{"text":"Help","className":"CustomButton","onClick":"openHelp"},{"text":"Report a problem","className":"CustomButton","onClick":"reportProblem"}]},"chat":{"popper":{"disableDraggable":false,"anchorElement":"chat-anchor","placement":"right"},"notificationCls":{"right":"1rem","top":"4rem"}},"participants":{"popper":{"disableDraggable":false,"anchorElement":"participants-anchor","placement":"left"}},"setting":{"popper":{"disableDraggable":false,"anchorElement":"settings-anchor","placement":"bottom"}},"activeApps":{"popper":{"disableDraggable":true}}},"app":{"meetingTitle":"Quarterly planning: product and platform","course":"Platform Engineering 301","session":"2026-12-03T18:00:00Z","timezone":"Europe/Berlin","tenant":"acme-corp","returnTo":"https://app.example.com/courses/platform-engineering-301/sessions/12","supportUrl":"https://help.example.com/zoom","theme":"dark","features":["captions","reactions","breakouts","polls"],"analytics":{"enabled":true,"sampleRate":0.1,"endpoint":"https://metrics.example.com/v1/joins"},"requestId":"4f1c2b7a-9d1e-4c3b-8a65-2e7f0d9b6c11"}}`)

// BenchmarkInjectHandler2KiB is BenchmarkInjectHandler for joinConfig2KiB.
func BenchmarkInjectHandler2KiB(b *testing.B) {
	benchHandler(b, provisioned(b, &Handler{}), joinConfig2KiB)
}

// benchHandler runs h on body with the request and the writer reused.
func benchHandler(b *testing.B, h *Handler, body []byte) {
	next := backendFunc(body)
	r := newRequest("GET", "/join-config", "alice", nil)
	w := &sinkWriter{hdr: http.Header{}}
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		clear(w.hdr)
		w.n = 0
		if err := h.ServeHTTP(w, r, next); err != nil || w.status != 200 || w.n < len(body) {
			b.Fatal(err, w.status)
		}
	}
}

// BenchmarkCopy64KiB is the floor for BenchmarkInjectHandler64KiB: the
// backend writes the body into the module's buffer, and the module copies
// it out once.
func BenchmarkCopy64KiB(b *testing.B) {
	var in, out bytes.Buffer
	b.SetBytes(int64(len(participants64KiB)))
	b.ReportAllocs()
	for b.Loop() {
		in.Reset()
		out.Reset()
		in.Write(participants64KiB)
		out.Write(in.Bytes())
	}
}

// participants is a join config of about n bytes shaped like
// participants64KiB.
func participants(n int) []byte {
	var b strings.Builder
	b.WriteString(`{"participants":[`)
	for i := 0; b.Len() < n-200; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":"u%05d","name":"User %d","email":"u%d@example.com","role":"attendee","joined":true,"tags":["a","b"],"n":%d.5}`, i, i, i, i)
	}
	b.WriteString(`],"meetingNumber":"85746065432","role":0,"userName":"Alice","leaveUrl":"/left"}`)
	return []byte(b.String())
}

// BenchmarkInjectHandlerSize is the handler for join configs of 16 KiB to
// 1 MiB, so that the cost per KiB shows whether it stays linear.
func BenchmarkInjectHandlerSize(b *testing.B) {
	for _, kib := range []int{16, 64, 256, 1024} {
		body := participants(kib << 10)
		b.Run(fmt.Sprintf("%dKiB", kib), func(b *testing.B) {
			benchHandler(b, provisioned(b, &Handler{MaxBody: 2 << 20}), body)
		})
	}
}

// BenchmarkEndpointHandlerSize is endpoint mode for request bodies of
// 16 KiB to 1 MiB (a valid request padded with a participants array),
// so that the cost per KiB of a body near max_body shows.
func BenchmarkEndpointHandlerSize(b *testing.B) {
	for _, kib := range []int{16, 64, 256, 1024} {
		body := participants(kib << 10)
		b.Run(fmt.Sprintf("%dKiB", kib), func(b *testing.B) {
			benchEndpoint(b, provisioned(b, &Handler{Mode: modeEndpoint, Meetings: []string{"any"}, MaxBody: 2 << 20}), body)
		})
	}
}
