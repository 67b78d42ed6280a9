package main

import (
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

const (
	videoSDKVersion  = "2.5.0" // the version the Video SDK browser test and demo page load
	videoSDKDir      = ".cache/videosdk"
	videoSDKRegistry = "https://registry.npmjs.org/@zoom/videosdk/"
)

// ensureVideoSDK unpacks @zoom/videosdk into .cache/videosdk/package, as
// npm pack and tar would, unless it is there. Like ensureSDK it trusts the
// tarball only when it matches the registry's sha512 integrity hash.
func ensureVideoSDK() error {
	if _, err := os.Stat(filepath.Join(videoSDKDir, "package", "dist", "index.umd.js")); err == nil {
		return nil
	}
	fmt.Fprintf(os.Stderr, "testall: fetching @zoom/videosdk %s into %s\n", videoSDKVersion, videoSDKDir)
	client := &http.Client{Timeout: 5 * time.Minute}
	var meta struct {
		Dist struct {
			Tarball   string `json:"tarball"`
			Integrity string `json:"integrity"`
		} `json:"dist"`
	}
	resp, err := client.Get(videoSDKRegistry + videoSDKVersion)
	if err != nil {
		return err
	}
	err = json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&meta)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		return fmt.Errorf("the registry's metadata (HTTP %d): %v", resp.StatusCode, err)
	}
	want, ok := strings.CutPrefix(meta.Dist.Integrity, "sha512-")
	if !ok || !strings.HasPrefix(meta.Dist.Tarball, videoSDKRegistry) {
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
	return untar(tgz, videoSDKDir)
}

// fetchVideoSDK is main's one call: the browser suite and the Video SDK
// demo page need the package, as they need the Meeting SDK.
func fetchVideoSDK() {
	if err := ensureVideoSDK(); err != nil {
		fail("fetching the Zoom Video SDK: %v", err)
	}
}
