// Package joinconfig reads and edits the JSON join config that a site's
// backend hands its frontend, without disturbing it: Parse checks the
// document and indexes its top-level members in one pass, and Splice lays
// the edits out as replaced spans (only new nested keys go through sjson),
// so every byte that is not edited (key order, spacing, number forms,
// unknown fields) stays as it was.
package joinconfig

import (
	"bytes"
	"errors"
	"fmt"
	"io"
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

// Spliced is a document with its edits laid out as cuts: spans of the
// document, in order, each replaced by the JSON text of an edit. It is
// written out as it stands (WriteTo), so a large document is not copied
// to be sent, or appended in one pass (AppendTo).
type Spliced struct {
	doc   []byte
	added []byte // the edits' keys and values as JSON, in the cuts' order
	// The cuts, in the fixed array while they fit: a slice of its own
	// array would make every Spliced escape to the heap.
	fixed  [12]cut
	nfixed int
	more   []cut
	n      int
}

func (s *Spliced) cuts() []cut {
	if s.more != nil {
		return s.more
	}
	return s.fixed[:s.nfixed]
}

func (s *Spliced) add(c cut) {
	switch {
	case s.more != nil:
		s.more = append(s.more, c)
	case s.nfixed < len(s.fixed):
		s.fixed[s.nfixed] = c
		s.nfixed++
	default:
		s.more = append(append(make([]cut, 0, 2*len(s.fixed)), s.fixed[:]...), c)
	}
}

// cut replaces doc[at:end] with added[from:to], from being the previous
// cut's to.
type cut struct{ at, end, to int }

// Len is the length of the edited document.
func (s *Spliced) Len() int { return s.n }

// AppendTo appends the edited document to dst.
func (s *Spliced) AppendTo(dst []byte) []byte {
	dst = slices.Grow(dst, s.n)
	last, from := 0, 0
	for _, c := range s.cuts() {
		dst = append(dst, s.doc[last:c.at]...)
		dst = append(dst, s.added[from:c.to]...)
		last, from = c.end, c.to
	}
	return append(dst, s.doc[last:]...)
}

// WriteTo writes the edited document to w: the document's spans as they
// stand and the edits between them, with no copy of the whole.
func (s *Spliced) WriteTo(w io.Writer) (int64, error) {
	var n int64
	last, from := 0, 0
	for _, c := range s.cuts() {
		if err := writeSpan(w, s.doc[last:c.at], &n); err != nil {
			return n, err
		}
		if err := writeSpan(w, s.added[from:c.to], &n); err != nil {
			return n, err
		}
		last, from = c.end, c.to
	}
	return n, writeSpan(w, s.doc[last:], &n)
}

func writeSpan(w io.Writer, b []byte, n *int64) error {
	if len(b) == 0 {
		return nil
	}
	k, err := w.Write(b)
	*n += int64(k)
	return err
}

// Splice lays the edits out on the document into s; the JSON text of the
// edits goes into scratch (which may be nil or a reused buffer's spare
// room, and must not overlap the document). Values that exist are
// replaced where they stand and new top-level keys are added before the
// closing brace, found in the index; only new nested keys go through
// sjson, which reparses the document per edit, and then the whole result
// is built in scratch as one span. The paths must have passed CheckPath.
func (d *Doc) Splice(s *Spliced, scratch []byte, edits ...Edit) error {
	var (
		arr  [8]splice
		sp   = arr[:0]
		slow []Edit
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
		default:
			slow = append(slow, e)
		}
	}
	slices.SortStableFunc(sp, func(a, b splice) int { return a.at - b.at })
	for i := 1; i < len(sp); i++ {
		if sp[i].at < sp[i-1].end {
			// Overlapping edits, such as a and a.b: let sjson order them.
			sp, slow = sp[:0], edits
			break
		}
	}

	*s = Spliced{doc: doc, added: scratch[:0], n: len(doc)}
	empty := isEmptyObject(doc, end)
	for _, p := range sp {
		if p.key != "" {
			if !empty {
				s.added = append(s.added, ',')
			}
			empty = false
			s.added = jsonstr.Append(s.added, p.key)
			s.added = append(s.added, ':')
		}
		if p.edit.IsString {
			s.added = jsonstr.Append(s.added, p.edit.Str)
		} else {
			s.added = append(s.added, p.edit.Raw...)
		}
		s.add(cut{at: p.at, end: p.end, to: len(s.added)})
		s.n -= p.end - p.at
	}
	s.n += len(s.added)
	if len(slow) == 0 {
		return nil
	}
	// The slow edits need the fast ones' result as one document.
	whole, err := applySlow(s.AppendTo(nil), slow)
	if err != nil {
		return err
	}
	*s = Spliced{doc: whole, n: len(whole)}
	return nil
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
