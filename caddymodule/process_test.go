package caddymodule

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// process is a real `caddy run` process, built from cmd/caddy.
type process struct {
	base    string
	cmd     *exec.Cmd
	logPath string
	client  *http.Client
}

// runCaddy starts `caddy run --config cfgPath` with env added to this
// process's environment, the admin API on CADDY_ADMIN (a free port) and
// SITE_ADDRESS set to http://localhost:<free port>, which the examples
// read ({SITE} in env is that address). Its log goes to a file the leak
// scan reads. It returns once the site answers.
func runCaddy(t *testing.T, cfgPath string, env ...string) *process {
	t.Helper()
	return runCaddyBin(t, buildCaddy(t), cfgPath, env...)
}

// runCaddyBin is runCaddy with another caddy binary, each process in a
// data folder (XDG_DATA_HOME) of its own, so that each has its own
// instance ID.
func runCaddyBin(t *testing.T, bin, cfgPath string, env ...string) *process {
	t.Helper()
	port, admin := freePort(t), freePort(t)
	home := t.TempDir()
	logPath := filepath.Join(logDir, fmt.Sprintf("process-%d.log", port))
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "run", "--config", cfgPath, "--adapter", "caddyfile")
	cmd.Env = append(os.Environ(), "ZS_TEST_SECRET="+testSecret, "HOME="+home, "XDG_DATA_HOME="+home, "XDG_CONFIG_HOME="+home,
		fmt.Sprintf("CADDY_ADMIN=127.0.0.1:%d", admin), fmt.Sprintf("SITE_ADDRESS=http://localhost:%d", port))
	for _, kv := range env {
		cmd.Env = append(cmd.Env, strings.ReplaceAll(kv, "{SITE}", fmt.Sprintf("http://localhost:%d", port)))
	}
	cmd.Stderr, cmd.Stdout = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	leakWatch.Lock()
	leakWatch.logs = append(leakWatch.logs, logPath)
	leakWatch.started = true
	leakWatch.Unlock()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		logFile.Close()
	})
	p := &process{base: fmt.Sprintf("http://localhost:%d", port), cmd: cmd, logPath: logPath, client: &http.Client{Timeout: 30 * time.Second}}
	for range 300 {
		if resp, err := http.Get(p.base); err == nil {
			resp.Body.Close()
			return p
		}
		if cmd.ProcessState != nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	b, _ := os.ReadFile(logPath)
	t.Fatalf("caddy did not start:\n%s", b)
	return nil
}

// instance is the process as the in-process helpers see it, so that c.do
// and the leak watch serve both.
func (p *process) instance(t *testing.T) *instance {
	return &instance{t: t, base: p.base, logPath: p.logPath, client: p.client}
}
