# make demo     run the demo from the root Caddyfile (http://localhost:8080)
# make test     every test, browser tests included: go run ./cmd/testall
# make sdk      fetch the Zoom Meeting SDK from the npm registry into .cache/
# make browser  install Debian's Chromium
#
# cmd/testall needs only Go: it fetches the SDK itself and installs
# Chromium with apt-get when it can (as root on Debian or Ubuntu); otherwise
# it says what to install. ZS_CHROMIUM names another Chromium binary.
SDK_VERSION := 6.2.0
SDK_DIR     := .cache/meetingsdk

.PHONY: demo test sdk browser

demo:
	go run ./cmd/testall sdk
	go run ./cmd/caddy run

test:
	go run ./cmd/testall

sdk: $(SDK_DIR)/package/dist/zoom-meeting-embedded-ES5.min.js

$(SDK_DIR)/package/dist/zoom-meeting-embedded-ES5.min.js:
	@command -v npm >/dev/null || { echo "npm is missing: the browser suite needs it to fetch @zoom/meetingsdk $(SDK_VERSION) (on Debian: apt-get install -y npm)"; exit 1; }
	mkdir -p $(SDK_DIR)
	cd $(SDK_DIR) && npm pack --silent @zoom/meetingsdk@$(SDK_VERSION) >/dev/null && tar xzf zoom-meetingsdk-$(SDK_VERSION).tgz && rm zoom-meetingsdk-$(SDK_VERSION).tgz

browser:
	@if [ -n "$$ZS_CHROMIUM" ] || command -v chromium >/dev/null; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else \
		echo "Chromium is missing: install it (sudo apt-get install -y chromium on Debian or Ubuntu), or set ZS_CHROMIUM to a Chromium binary, then run make test again."; \
		echo "go test ./... runs everything else now and skips the browser suite, naming what it lacks."; \
		exit 1; \
	fi
