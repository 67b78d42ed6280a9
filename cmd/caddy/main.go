// Command caddy is the standard Caddy binary with the zoom_signature module
// built in, so `go run ./cmd/caddy run` serves the root Caddyfile.
package main

import (
	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	// plug in Caddy modules here
	_ "github.com/caddyserver/caddy/v2/modules/standard"
	_ "github.com/zoomsig/caddy-zoom-signature/caddymodule"
)

func main() {
	caddycmd.Main()
}
