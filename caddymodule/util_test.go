package caddymodule

import (
	"strconv"
	"testing"

	"github.com/tidwall/gjson"
)

func itoa(n int) string { return strconv.Itoa(n) }

func jsonInt(t *testing.T, doc []byte, path string) int64 {
	t.Helper()
	r := gjson.GetBytes(doc, path)
	if !r.Exists() {
		t.Fatalf("%s missing in %s", path, doc)
	}
	return r.Int()
}
