package caddymodule

import (
	"errors"
	"net/http"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/zoomsig/caddy-zoom-signature/caddymodule/join"
)

// The collectors exist once per process and are registered into each config
// load's registry, so counters stay monotonic across reloads and a second
// handler instance does not panic (the reverse_proxy and caddy-ratelimit
// pattern).
var (
	metricSignatures = counterVec("signatures_total",
		"Signatures minted, by handler (its name option), SDK format and role.", "handler", "sdk", "role")
	metricRefusals = counterVec("refusals_total",
		"Requests answered with an error instead of a signature, by handler and code.", "handler", "code")
	metricPassThrough = counterVec("passthrough_total",
		"Backend responses passed through unsigned, by handler and reason (head, status, not_json, empty).", "handler", "reason")
	metricUnsignable = counterVec("unsignable_total",
		"Backend JSON join configs that could not be signed (answered 502), by handler and code.", "handler", "code")
	metricJWKS = counterVec("jwks_fetches_total",
		"JWKS fetches for session_jwt, by result (ok, error).", "result")
	metricZoom = counterVec("zoom_api_requests_total",
		"Calls to Zoom, by kind (oauth, zak, meeting, registrant) and result (ok, error).", "kind", "result")
	metricGrants = counterVec("grant_events_total",
		"What happened to connected Zoom accounts, by event: grant_superseded (a refresh found another instance's newer grant), grant_dropped_refused (Zoom refused the newest stored refresh token), grant_dropped_lost (refused while an earlier refresh was unfinished: an instance stopped after Zoom rotated the token and before it stored the new one), grant_dropped_scopes.", "event")
	metricUnopened = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: "caddy", Subsystem: "zoom_signature", Name: "unopened_grant_records",
		Help: "Grant records in Caddy's storage that no key of seal_keys opens, as counted when the config loaded: their users show as not connected until the old key is back in the ring (after the new one).",
	})
	metricDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: "caddy", Subsystem: "zoom_signature", Name: "handler_duration_seconds",
		Help:    "Time spent inside the handler itself, excluding the next handler, by handler and mode. Calls to Zoom and JWKS fetches count, hence the buckets up to 10 s.",
		Buckets: []float64{2e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 1e-3, 1e-2, 0.05, 0.25, 1, 2.5, 10},
	}, []string{"handler", "mode"})

	collectors = []prometheus.Collector{metricSignatures, metricRefusals, metricPassThrough, metricUnsignable, metricJWKS, metricZoom, metricGrants, metricUnopened, metricDuration}
)

func counterVec(name, help string, labels ...string) *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "caddy", Subsystem: "zoom_signature", Name: name, Help: help}, labels)
}

func registerMetrics(ctx caddy.Context) error {
	reg := ctx.GetMetricsRegistry()
	if reg == nil {
		return nil
	}
	for _, c := range collectors {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				return err
			}
		}
	}
	return nil
}

func (h *responder) metricRefusal(status int, code string) {
	metricRefusals.WithLabelValues(h.name, code).Inc()
	if status == http.StatusBadGateway {
		metricUnsignable.WithLabelValues(h.name, code).Inc()
	}
}

// signed records a minted signature in the placeholders and the metrics.
func (h *responder) signed(repl *caddy.Replacer, p join.Principal, a join.Ask, res join.Result) {
	role := res.Grant.Role & 1
	repl.Set(phResult, resultSigned)
	repl.Set(phRole, roleText[role])
	repl.Set(phMeetingNumber, a.Meeting)
	h.minted[role].Inc()
	if ce := h.logger.Check(zapcore.DebugLevel, "signed"); ce != nil {
		ce.Write(zap.String("sdk", h.format), zap.Int("role", role), zap.String("meeting", a.Meeting), zap.String("user", p.ID))
	}
}

func metricJWKSFetch(err error) {
	if err != nil {
		metricJWKS.WithLabelValues("error").Inc()
		return
	}
	metricJWKS.WithLabelValues("ok").Inc()
}

func metricGrantEvent(kind string) { metricGrants.WithLabelValues(kind).Inc() }

func metricZoomAPI(kind string, err error) {
	result := "ok"
	if err != nil {
		result = "error"
	}
	metricZoom.WithLabelValues(kind, result).Inc()
}

// roleText is the role placeholder's values, boxed once: a string put
// into the Replacer's map[string]any would otherwise be boxed per request.
var roleText = [2]any{"0", "1"}

// passed records a response that was not a join config to sign.
func (h *responder) passed(repl *caddy.Replacer, reason string) {
	repl.Set(phResult, resultPassed)
	repl.Set(phCode, reason)
	metricPassThrough.WithLabelValues(h.name, reason).Inc()
	if reason == passNotJSON {
		h.logger.Warn("a 2xx response on a join-config route is not JSON, so it was passed through unsigned; check the route's matcher or the backend's Content-Type")
	}
}

// timer measures the handler's own time, leaving out the next handler.
type timer struct {
	obs     prometheus.Observer
	start   time.Time
	elapsed time.Duration
}

func (h *responder) startTimer() timer { return timer{obs: h.duration, start: time.Now()} }

func (t *timer) pause()  { t.elapsed += time.Since(t.start) }
func (t *timer) resume() { t.start = time.Now() }
func (t *timer) observe() {
	t.elapsed += time.Since(t.start)
	t.obs.Observe(t.elapsed.Seconds())
}
