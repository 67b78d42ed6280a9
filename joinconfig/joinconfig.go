// Package joinconfig reads and edits the JSON join config that a site's
// backend hands its frontend, without disturbing it: values are read from
// gjson paths and written with sjson, so every byte that is not edited
// (key order, spacing, number forms, unknown fields) stays as it was.
package joinconfig

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
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
	if t := bytes.TrimLeft(doc, " \t\r\n"); t[0] == '{' {
		return nil
	}
	return fmt.Errorf("the body is a JSON %s, not an object", gjson.ParseBytes(doc).Type)
}

// Get reads the value at path.
func Get(doc []byte, path string) gjson.Result { return gjson.GetBytes(doc, path) }

// Apply makes the edits. Values that exist are replaced where they stand
// and new top-level keys are added before the closing brace, in one pass
// over doc; only new nested keys go through sjson, which reparses the
// document per edit. doc must have passed Check, and the paths CheckPath.
func Apply(doc []byte, edits ...Edit) ([]byte, error) {
	var (
		arr   [8]splice
		sp    = arr[:0]
		extra = 0
		slow  []Edit
	)
	end := bytes.LastIndexByte(doc, '}')
	for _, e := range edits {
		r := gjson.GetBytes(doc, e.Path)
		switch {
		case r.Exists() && r.Index > 0:
			sp = append(sp, splice{at: r.Index, end: r.Index + len(r.Raw), raw: e.Raw})
		case strings.IndexByte(e.Path, '.') < 0:
			sp = append(sp, splice{at: end, end: end, key: e.Path, raw: e.Raw})
			extra += len(e.Path) + 4
		default:
			slow = append(slow, e)
		}
		extra += len(e.Raw)
	}
	slices.SortStableFunc(sp, func(a, b splice) int { return a.at - b.at })
	for i := 1; i < len(sp); i++ {
		if sp[i].at < sp[i-1].end {
			// Overlapping edits, such as a and a.b: let sjson order them.
			sp, slow = sp[:0], edits
			break
		}
	}

	out := make([]byte, 0, len(doc)+extra)
	last := 0
	empty := isEmptyObject(doc, end)
	for _, s := range sp {
		out = append(out, doc[last:s.at]...)
		if s.key != "" {
			if !empty {
				out = append(out, ',')
			}
			empty = false
			out = jsonstr.Append(out, s.key)
			out = append(out, ':')
		}
		out = append(out, s.raw...)
		last = s.end
	}
	out = append(out, doc[last:]...)

	for _, e := range slow {
		var err error
		if out, err = sjson.SetRawBytes(out, e.Path, e.Raw); err != nil {
			return nil, fmt.Errorf("writing %s: %w", e.Path, err)
		}
	}
	return out, nil
}

// splice replaces doc[at:end] with raw, as the value of key when key is set.
type splice struct {
	at, end int
	key     string
	raw     []byte
}

// isEmptyObject reports whether only white space stands between the
// object's braces, so that a new key needs no comma.
func isEmptyObject(doc []byte, end int) bool {
	for i := end - 1; i >= 0; i-- {
		switch doc[i] {
		case ' ', '\t', '\r', '\n':
			continue
		case '{':
			return true
		}
		return false
	}
	return false
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
