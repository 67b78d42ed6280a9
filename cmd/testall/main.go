// Command testall runs every test of caddy-zoom-signature on a machine that
// has only Go: it fetches what the browser suite needs when it is missing
// (the Zoom Meeting SDK from the npm registry, checked against the
// registry's integrity hash; Debian's Chromium with apt-get when it runs as
// root), builds the tunnels the tunnel suites run (frp and chisel from
// caddymodule/testdata/tunneltools, localtunnel with npm ci from its lock
// file), then runs go test ./... with any arguments it was given. It ends
// with one line naming the suites that ran and the ones skipped, and why.
//
//	go run ./cmd/testall            # what the README and CI run
//	go run ./cmd/testall -run TestBrowser ./caddymodule
//	go run ./cmd/testall sdk        # only fetch the SDK, for the demo's Component View page
package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

const (
	sdkVersion = "6.2.0" // the version the browser suite and the demo pages load
	sdkDir     = ".cache/meetingsdk"
	registry   = "https://registry.npmjs.org/@zoom/meetingsdk/"
)

func main() {
	if _, err := os.Stat("go.mod"); err != nil {
		fail("run it from the repository root, where go.mod is")
	}
	if err := ensureSDK(); err != nil {
		fail("fetching the Zoom Meeting SDK: %v", err)
	}
	fetchVideoSDK()
	if len(os.Args) == 2 && os.Args[1] == "sdk" {
		return
	}
	ensureChromium()
	// npm fetches while go builds.
	lt := make(chan string, 1)
	go func() { lt <- ensureLocaltunnel() }()
	if err := ensureTunnelTools(); err != nil {
		fmt.Fprintf(os.Stderr, "testall: %v; the frp and chisel suites will be skipped (or fail under CI=true)\n", err)
	}
	ltUnavailable := <-lt
	if ltUnavailable != "" {
		fmt.Fprintf(os.Stderr, "testall: localtunnel is unavailable (%s); its suite will be skipped\n", ltUnavailable)
	}

	user := os.Args[1:]
	args := append([]string{"test"}, user...)
	if len(user) == 0 {
		args = append(args, "./...")
	}
	// The caddymodule package runs the cluster, tunnel and browser suites
	// besides everything else: several minutes on 2 cores, close to go
	// test's default 10-minute limit per package.
	if !slices.ContainsFunc(user, func(a string) bool { return strings.HasPrefix(a, "-timeout") || strings.HasPrefix(a, "--timeout") }) {
		args = slices.Insert(args, 1, "-timeout", "30m")
	}
	raw := slices.Contains(user, "-json")
	if !raw {
		args = slices.Insert(args, 1, "-json")
	}
	cmd := exec.Command("go", args...)
	cmd.Env = append(os.Environ(), "ZS_LOCALTUNNEL_UNAVAILABLE="+ltUnavailable)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	var rep *report
	var out io.ReadCloser
	if !raw {
		cmd.Stdout = nil
		rep = newReport(os.Stdout, slices.Contains(user, "-v"))
		var err error
		if out, err = cmd.StdoutPipe(); err != nil {
			fail("go test: %v", err)
		}
	}
	if err := cmd.Start(); err != nil {
		fail("go test: %v", err)
	}
	if rep != nil {
		rep.read(out)
	}
	err := cmd.Wait()
	if rep != nil {
		fmt.Println(rep.summary())
	}
	if err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			os.Exit(exit.ExitCode())
		}
		fail("go test: %v", err)
	}
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "testall: "+format+"\n", args...)
	os.Exit(2)
}

// ensureSDK unpacks @zoom/meetingsdk into .cache/meetingsdk/package, as npm
// pack and tar would, unless it is there.
func ensureSDK() error {
	return ensurePackage(registry, sdkVersion, sdkDir, "zoom-meeting-embedded-ES5.min.js")
}

// ensurePackage unpacks the npm package at registry (its URL, ending in
// /) and version into dir/package, unless dist/file is there already. The
// tarball is trusted only when it matches the registry's sha512 integrity
// hash.
func ensurePackage(registry, version, dir, file string) error {
	if _, err := os.Stat(filepath.Join(dir, "package", "dist", file)); err == nil {
		return nil
	}
	name := strings.TrimSuffix(strings.TrimPrefix(registry, "https://registry.npmjs.org/"), "/")
	fmt.Fprintf(os.Stderr, "testall: fetching %s %s into %s\n", name, version, dir)
	client := &http.Client{Timeout: 5 * time.Minute}
	var meta struct {
		Dist struct {
			Tarball   string `json:"tarball"`
			Integrity string `json:"integrity"`
		} `json:"dist"`
	}
	resp, err := client.Get(registry + version)
	if err != nil {
		return err
	}
	err = json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&meta)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		return fmt.Errorf("the registry's metadata (HTTP %d): %v", resp.StatusCode, err)
	}
	want, ok := strings.CutPrefix(meta.Dist.Integrity, "sha512-")
	if !ok || !strings.HasPrefix(meta.Dist.Tarball, registry) {
		return fmt.Errorf("unexpected metadata: tarball %q, integrity %q", meta.Dist.Tarball, meta.Dist.Integrity)
	}
	resp, err = client.Get(meta.Dist.Tarball)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("the tarball: HTTP %d", resp.StatusCode)
	}
	tgz, err := io.ReadAll(io.LimitReader(resp.Body, 200<<20))
	if err != nil {
		return err
	}
	if sum := sha512.Sum512(tgz); base64.StdEncoding.EncodeToString(sum[:]) != want {
		return errors.New("the tarball does not match the registry's integrity hash")
	}
	return untar(tgz, dir)
}

// untar unpacks a gzipped tarball under dir, refusing paths that leave it.
func untar(tgz []byte, dir string) error {
	zr, err := gzip.NewReader(bytes.NewReader(tgz))
	if err != nil {
		return err
	}
	tr := tar.NewReader(zr)
	root, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		path := filepath.Join(root, filepath.FromSlash(h.Name))
		if !strings.HasPrefix(path, root+string(filepath.Separator)) {
			return fmt.Errorf("the tarball holds %q, outside its folder", h.Name)
		}
		switch h.Typeflag {
		case tar.TypeDir:
			err = os.MkdirAll(path, 0o755)
		case tar.TypeReg:
			err = writeFile(path, tr)
		}
		if err != nil {
			return err
		}
	}
}

func writeFile(path string, r io.Reader) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// ensureChromium installs Debian's Chromium when it is missing and it can;
// otherwise it says what to do. The browser suite itself skips without it
// (and fails under CI=true), naming what it lacks.
func ensureChromium() {
	if os.Getenv("ZS_CHROMIUM") != "" {
		return
	}
	if _, err := exec.LookPath("chromium"); err == nil {
		return
	}
	if _, err := exec.LookPath("apt-get"); err != nil || os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "testall: Chromium is missing, so the browser suite will be skipped: install it (sudo apt-get install -y chromium on Debian or Ubuntu) or set ZS_CHROMIUM to a Chromium binary")
		return
	}
	fmt.Fprintln(os.Stderr, "testall: installing Debian's chromium with apt-get")
	for _, args := range [][]string{{"update", "-qq"}, {"install", "-y", "-qq", "chromium"}} {
		cmd := exec.Command("apt-get", args...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		cmd.Stdout, cmd.Stderr = io.Discard, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "testall: apt-get %s: %v; the browser suite will be skipped\n", args[0], err)
			return
		}
	}
}
