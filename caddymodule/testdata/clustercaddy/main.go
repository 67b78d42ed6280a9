// Command clustercaddy is cmd/caddy plus the Redis storage module, built by
// the cluster tests only.
package main

import (
	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	_ "github.com/caddyserver/caddy/v2/modules/standard"
	_ "github.com/pberkel/caddy-storage-redis"
	_ "github.com/zoomsig/caddy-zoom-signature/caddymodule"
)

func main() { caddycmd.Main() }
