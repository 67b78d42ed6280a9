# make demo   run the demo from the root Caddyfile (http://localhost:8080)
# make test   every test, browser tests included; installs what they need
# make sdk    fetch the Zoom Meeting SDK from the npm registry into .cache/
# make browser  install Debian's Chromium
SDK_VERSION := 6.2.0
SDK_DIR     := .cache/meetingsdk

.PHONY: demo test sdk browser

demo: sdk
	go run ./cmd/caddy run

test: sdk browser
	go test ./...

sdk: $(SDK_DIR)/package/dist/zoom-meeting-embedded-ES5.min.js

$(SDK_DIR)/package/dist/zoom-meeting-embedded-ES5.min.js:
	mkdir -p $(SDK_DIR)
	cd $(SDK_DIR) && npm pack --silent @zoom/meetingsdk@$(SDK_VERSION) >/dev/null && tar xzf zoom-meetingsdk-$(SDK_VERSION).tgz && rm zoom-meetingsdk-$(SDK_VERSION).tgz

browser:
	@command -v chromium >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null)
