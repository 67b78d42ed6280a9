// Package joinconfig reads and edits the JSON join config that a site's
// backend hands its frontend, without disturbing it: values are read from
// gjson paths and written with sjson, so every byte that is not edited
// (key order, spacing, number forms, unknown fields) stays as it was.
package joinconfig

import (
	"errors"
	"fmt"
	"strings"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"

	"github.com/zoomsig/caddy-zoom-signature/internal/jsonstr"
)

// Edit sets the value at Path to the raw JSON Raw.
type Edit struct {
	Path string
	Raw  []byte
}

// String returns an Edit that sets path to the JSON string s.
func String(path, s string) Edit {
	return Edit{Path: path, Raw: jsonstr.Append(make([]byte, 0, len(s)+2), s)}
}

// Check reports why doc cannot be a join config: it must be one JSON object.
func Check(doc []byte) error {
	if !gjson.ValidBytes(doc) {
		return errors.New("the body is not valid JSON")
	}
	if t := strings.TrimLeft(string(doc), " \t\r\n"); t[0] == '{' {
		return nil
	}
	return fmt.Errorf("the body is a JSON %s, not an object", gjson.ParseBytes(doc).Type)
}

// Get reads the value at path.
func Get(doc []byte, path string) gjson.Result { return gjson.GetBytes(doc, path) }

// Apply makes the edits in order. doc may be reused for the result.
func Apply(doc []byte, edits ...Edit) ([]byte, error) {
	opts := &sjson.Options{Optimistic: true, ReplaceInPlace: true}
	for _, e := range edits {
		out, err := sjson.SetRawBytesOptions(doc, e.Path, e.Raw, opts)
		if err != nil {
			return nil, fmt.Errorf("writing %s: %w", e.Path, err)
		}
		doc = out
	}
	return doc, nil
}

// CheckPath reports whether path can be both read and written: plain keys
// separated by dots, with array indexes allowed. gjson's query syntax
// (wildcards, #, modifiers) reads but cannot be written.
func CheckPath(path string) error {
	if path == "" {
		return errors.New("the path is empty")
	}
	if i := strings.IndexAny(path, "*?#|@!"); i >= 0 {
		return fmt.Errorf("path %q uses %q, which can be read but not written; name the field with plain keys separated by dots (e.g. meeting.number)", path, path[i])
	}
	for _, part := range strings.Split(path, ".") {
		if part == "" {
			return fmt.Errorf("path %q has an empty key", path)
		}
	}
	return nil
}
