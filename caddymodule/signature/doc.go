// Package signature mints Zoom SDK signatures byte for byte like Zoom's own
// sample endpoints: the Meeting SDK JWT, the Video SDK JWT and the legacy
// Web SDK 1.x HMAC signature.
//
// It also parses the sample endpoints' request bodies with the samples' own
// coercion and validation rules (and error texts), adding the checks that
// the samples lack: meeting numbers must be 9 to 11 digits, roles 0 or 1,
// and lifetimes within Zoom's limits. Failures are errors, never tokens.
//
// The package imports nothing from Caddy, so the CLI, the HTTP handler and
// the tests all share it.
package signature
