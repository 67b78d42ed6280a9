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
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/internal/jsonstr"
)

// Edit sets the value at Path to the raw JSON Raw, or, when IsString, to
// the JSON string Str, quoted as it is written (no buffer of its own).
type Edit struct {
	Path     string
	Raw      []byte
	Str      string
	IsString bool
}

// String returns an Edit that sets path to the JSON string s.
func String(path, s string) Edit {
	return Edit{Path: path, Str: s, IsString: true}
}

// JSON is the edit's value as JSON text.
func (e Edit) JSON() []byte {
	if e.IsString {
		return jsonstr.Append(make([]byte, 0, len(e.Str)+2), e.Str)
	}
	return e.Raw
}

// Kind is a JSON value's type.
type Kind uint8

// Kinds.
const (
	KindMissing Kind = iota
	KindNull
	KindFalse
	KindTrue
	KindNumber
	KindString
	KindArray
	KindObject
)

// Value is a value read from a join config.
type Value struct {
	Kind Kind
	// Raw is the value's JSON text as it stands in the document; nil when
	// the value is missing.
	Raw []byte
	// Str is the unescaped text of a String.
	Str string
}

// KindName names a kind for messages: "a JSON array", "null".
func KindName(k Kind) string {
	return [...]string{"nothing", "null", "false", "true", "a number", "a string", "a JSON array", "a JSON object"}[k]
}

// Exists reports whether the document has the value.
func (v Value) Exists() bool { return v.Kind != KindMissing }

// value types the JSON text b of one valid value.
func value(b []byte) Value {
	v := Value{Raw: b}
	switch b[0] {
	case 'n':
		v.Kind = KindNull
	case 'f':
		v.Kind = KindFalse
	case 't':
		v.Kind = KindTrue
	case '"':
		v.Kind = KindString
		if bytes.IndexByte(b, '\\') < 0 {
			v.Str = string(b[1 : len(b)-1])
		} else {
			v.Str = gjson.ParseBytes(b).Str
		}
	case '[':
		v.Kind = KindArray
	case '{':
		v.Kind = KindObject
	default:
		v.Kind = KindNumber
	}
	return v
}

// Apply makes the edits on doc, which must have passed Check, as Doc.Apply.
func Apply(dst, doc []byte, edits ...Edit) ([]byte, error) {
	var d Doc
	if err := Parse(doc, &d); err != nil {
		return nil, err
	}
	return d.Apply(dst, edits...)
}

// Apply makes the edits and appends the result to dst, which may be nil or
// a reused buffer; the document is not modified. Values that exist are
// replaced where they stand and new top-level keys are added before the
// closing brace, found in the index and written in one pass; only new
// nested keys go through sjson, which reparses the document per edit. The
// paths must have passed CheckPath.
func (d *Doc) Apply(dst []byte, edits ...Edit) ([]byte, error) {
	var (
		arr   [8]splice
		sp    = arr[:0]
		extra = 0
		slow  []Edit
	)
	doc, end := d.Raw, d.end
	for _, e := range edits {
		var at, stop int = -1, -1
		if strings.IndexByte(e.Path, '.') < 0 {
			if m, ok := d.lookup(e.Path); ok {
				at, stop = m.at, m.end
			}
		} else if r := gjson.GetBytes(doc, e.Path); r.Exists() && r.Index > 0 {
			at, stop = r.Index, r.Index+len(r.Raw)
		}
		switch {
		case at > 0:
			sp = append(sp, splice{at: at, end: stop, edit: e})
		case strings.IndexByte(e.Path, '.') < 0:
			sp = append(sp, splice{at: end, end: end, key: e.Path, edit: e})
			extra += len(e.Path) + 4
		default:
			slow = append(slow, e)
		}
		extra += len(e.Raw) + len(e.Str) + 2
	}
	slices.SortStableFunc(sp, func(a, b splice) int { return a.at - b.at })
	for i := 1; i < len(sp); i++ {
		if sp[i].at < sp[i-1].end {
			// Overlapping edits, such as a and a.b: let sjson order them.
			sp, slow = sp[:0], edits
			break
		}
	}

	out := slices.Grow(dst, len(doc)+extra)
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
		if s.edit.IsString {
			out = jsonstr.Append(out, s.edit.Str)
		} else {
			out = append(out, s.edit.Raw...)
		}
		last = s.end
	}
	out = append(out, doc[last:]...)

	return applySlow(out, slow)
}

// applySlow makes the edits one by one with sjson.
func applySlow(doc []byte, edits []Edit) ([]byte, error) {
	for _, e := range edits {
		var err error
		if doc, err = sjson.SetRawBytes(doc, e.Path, e.JSON()); err != nil {
			return nil, fmt.Errorf("writing %s: %w", e.Path, err)
		}
	}
	return doc, nil
}

// splice replaces doc[at:end] with the edit's value, as the value of key
// when key is set.
type splice struct {
	at, end int
	key     string
	edit    Edit
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
