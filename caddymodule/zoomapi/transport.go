package zoomapi

import (
	"net"
	"net/http"
	"sync"
	"time"
)

// Bounds of the shared transport. A call's own deadline (the http.Client's
// Timeout, default 10s, or the request's context) is usually the shorter;
// these bound what a call with a long one may wait for.
const (
	// IdlePerHost is how many idle connections are kept per Zoom host. Go's
	// default of 2 made nearly half of all OBF joins under 32 concurrent
	// joins dial (and, against api.zoom.us, shake hands) anew (issue 25).
	IdlePerHost = 128

	dialTimeout           = 5 * time.Second
	tlsTimeout            = 5 * time.Second
	responseHeaderTimeout = 60 * time.Second
	idleTimeout           = 90 * time.Second
)

var shared = sync.OnceValue(newTransport)

// Transport is the process's one transport to Zoom: the Server-to-Server
// OAuth token source, the REST client, the users' OAuth exchanges and
// refreshes, their OBF tokens and /users/me all go through it, so that
// every handler of every config load reuses the same kept connections.
// It keeps IdlePerHost idle connections per host, speaks HTTP/2 where the
// server offers it, bounds the dial, the TLS handshake and the wait for an
// answer's headers, and takes its proxy from the environment, as Go's
// default transport does. Timeouts of a call stay on its http.Client or
// its request's context.
func Transport() *http.Transport { return shared() }

func newTransport() *http.Transport {
	return &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: (&net.Dialer{
			Timeout:   dialTimeout,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		// A custom DialContext turns HTTP/2 off unless asked for.
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          4 * IdlePerHost,
		MaxIdleConnsPerHost:   IdlePerHost,
		IdleConnTimeout:       idleTimeout,
		TLSHandshakeTimeout:   tlsTimeout,
		ResponseHeaderTimeout: responseHeaderTimeout,
		ExpectContinueTimeout: time.Second,
	}
}

// NewClient is an http.Client on the shared Transport with a call's
// timeout.
func NewClient(timeout time.Duration) *http.Client {
	return &http.Client{Timeout: timeout, Transport: Transport()}
}
