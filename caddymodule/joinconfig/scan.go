package joinconfig

import (
	"encoding/binary"
	"errors"
	"math/bits"
	"strings"
	"unsafe"

	"github.com/tidwall/gjson"

	"github.com/zoomsig/caddy-zoom-signature/caddymodule/internal/jsondepth"
)

// Doc is a join config that Parse checked and indexed in one pass over
// its bytes: valid JSON, one object, nested at most jsondepth.Max levels,
// with the bounds of each top-level member. Reads, the duplicate check and
// the edits then look keys up in the index instead of walking the
// document again: for a 64 KiB config with a participants array, the walks
// were most of the module's time. Endpoint mode's request bodies are read
// through it too (package signature). A Doc may be reused; Parse resets it.
type Doc struct {
	Raw     []byte
	members []member
	end     int // the closing brace
	arr     [16]member
	// spill keeps the index of a config with more top-level keys than arr
	// holds (a realistic join config has about 30) for the next Parse of a
	// pooled Doc, which would otherwise grow a new one every time; at most
	// maxSpill members.
	spill []member
}

const maxSpill = 256

type member struct {
	key     string
	at, end int
}

var errInvalid = errors.New("the body is not valid JSON")

// NotObjectError is Parse's answer for a valid document that is not an
// object; Kind says what it is.
type NotObjectError struct{ Kind Kind }

func (e *NotObjectError) Error() string {
	return "the body is " + KindName(e.Kind) + ", not an object"
}

// Parse checks doc and indexes its top-level members into d.
func Parse(doc []byte, d *Doc) error {
	d.Raw, d.members, d.end = doc, d.arr[:0], -1
	if d.spill != nil {
		d.members = d.spill[:0]
	}
	i := skipWS(doc, 0)
	if i >= len(doc) {
		return errInvalid
	}
	if doc[i] != '{' {
		end, err := scanValue(doc, i, 0)
		if err != nil {
			return err
		}
		if skipWS(doc, end) != len(doc) {
			return errInvalid
		}
		return &NotObjectError{Kind: value(doc[i:end]).Kind}
	}
	i = skipWS(doc, i+1)
	if i < len(doc) && doc[i] == '}' {
		d.end = i
		return tail(doc, i+1)
	}
	for {
		if i >= len(doc) || doc[i] != '"' {
			return errInvalid
		}
		kEnd, esc, err := scanString(doc, i)
		if err != nil {
			return err
		}
		// No copy: the key is the document's bytes, which outlive d's use.
		key := unsafeString(doc[i+1 : kEnd-1])
		if esc {
			// JSON.parse reads "sig\u006eature" as signature.
			key = gjson.ParseBytes(doc[i:kEnd]).Str
		}
		i = skipWS(doc, kEnd)
		if i >= len(doc) || doc[i] != ':' {
			return errInvalid
		}
		at := skipWS(doc, i+1)
		end, err := scanValue(doc, at, 1)
		if err != nil {
			return err
		}
		d.members = append(d.members, member{key: key, at: at, end: end})
		i = skipWS(doc, end)
		if i >= len(doc) {
			return errInvalid
		}
		switch doc[i] {
		case ',':
			i = skipWS(doc, i+1)
			continue
		case '}':
			d.end = i
			return tail(doc, i+1)
		}
		return errInvalid
	}
}

// Release drops d's references to its document, so that a pooled Doc
// does not keep a large body alive.
func (d *Doc) Release() {
	if c := cap(d.members); c > len(d.arr) && c <= maxSpill {
		d.spill = d.members[:c]
	}
	// The keys are views of the document: cleared, they keep none alive.
	clear(d.arr[:])
	clear(d.spill)
	d.Raw, d.members = nil, nil
}

// unsafeString views b as a string without a copy; b must not change
// while the string is in use (the document is not edited in place).
func unsafeString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

func tail(doc []byte, i int) error {
	if skipWS(doc, i) != len(doc) {
		return errInvalid
	}
	return nil
}

// scanValue checks the value at doc[i], inside depth containers, and
// returns the index just past it.
func scanValue(doc []byte, i, depth int) (int, error) {
	if i >= len(doc) {
		return 0, errInvalid
	}
	switch c := doc[i]; {
	case c == '"':
		end, _, err := scanString(doc, i)
		return end, err
	case c == '{':
		if depth++; depth > jsondepth.Max {
			return 0, &jsondepth.Error{Limit: jsondepth.Max}
		}
		i = skipWS(doc, i+1)
		if i < len(doc) && doc[i] == '}' {
			return i + 1, nil
		}
		for {
			if i >= len(doc) || doc[i] != '"' {
				return 0, errInvalid
			}
			end, _, err := scanString(doc, i)
			if err != nil {
				return 0, err
			}
			i = skipWS(doc, end)
			if i >= len(doc) || doc[i] != ':' {
				return 0, errInvalid
			}
			if i, err = scanValue(doc, skipWS(doc, i+1), depth); err != nil {
				return 0, err
			}
			i = skipWS(doc, i)
			if i >= len(doc) {
				return 0, errInvalid
			}
			if doc[i] == '}' {
				return i + 1, nil
			}
			if doc[i] != ',' {
				return 0, errInvalid
			}
			i = skipWS(doc, i+1)
		}
	case c == '[':
		if depth++; depth > jsondepth.Max {
			return 0, &jsondepth.Error{Limit: jsondepth.Max}
		}
		i = skipWS(doc, i+1)
		if i < len(doc) && doc[i] == ']' {
			return i + 1, nil
		}
		for {
			var err error
			if i, err = scanValue(doc, i, depth); err != nil {
				return 0, err
			}
			i = skipWS(doc, i)
			if i >= len(doc) {
				return 0, errInvalid
			}
			if doc[i] == ']' {
				return i + 1, nil
			}
			if doc[i] != ',' {
				return 0, errInvalid
			}
			i = skipWS(doc, i+1)
		}
	case c == 't':
		return literal(doc, i, "true")
	case c == 'f':
		return literal(doc, i, "false")
	case c == 'n':
		return literal(doc, i, "null")
	case c == '-' || (c >= '0' && c <= '9'):
		return scanNumber(doc, i)
	}
	return 0, errInvalid
}

func literal(doc []byte, i int, lit string) (int, error) {
	if len(doc)-i < len(lit) || string(doc[i:i+len(lit)]) != lit {
		return 0, errInvalid
	}
	return i + len(lit), nil
}

// scanNumber checks a number as JSON writes it: -?(0|[1-9]d*)(.d+)?([eE][+-]?d+)?
func scanNumber(doc []byte, i int) (int, error) {
	if doc[i] == '-' {
		i++
	}
	switch {
	case i < len(doc) && doc[i] == '0':
		i++
	case i < len(doc) && doc[i] >= '1' && doc[i] <= '9':
		i = digits(doc, i+1)
	default:
		return 0, errInvalid
	}
	if i < len(doc) && doc[i] == '.' {
		j := digits(doc, i+1)
		if j == i+1 {
			return 0, errInvalid
		}
		i = j
	}
	if i < len(doc) && (doc[i] == 'e' || doc[i] == 'E') {
		i++
		if i < len(doc) && (doc[i] == '+' || doc[i] == '-') {
			i++
		}
		j := digits(doc, i)
		if j == i {
			return 0, errInvalid
		}
		i = j
	}
	return i, nil
}

func digits(doc []byte, i int) int {
	for i < len(doc) && doc[i] >= '0' && doc[i] <= '9' {
		i++
	}
	return i
}

// SWAR constants: a byte repeated in every lane of a word.
const (
	lanes01 = 0x0101010101010101
	lanes80 = 0x8080808080808080
)

// special marks the lanes of w that hold a quote, a backslash or a
// control character (below 0x20), the bytes a string scan must stop at;
// zero when there are none. Eight bytes a step: the cost of a long string
// is a pass of word reads, not a branch per byte.
func special(w uint64) uint64 {
	q := w ^ (lanes01 * '"')
	b := w ^ (lanes01 * '\\')
	return ((q-lanes01)&^q | (b-lanes01)&^b | (w-lanes01*0x20)&^w) & lanes80
}

// scanString checks the string at doc[i] (a quote) and returns the index
// just past it, and whether it holds an escape.
func scanString(doc []byte, i int) (end int, esc bool, err error) {
	i++
	for {
		if i+8 <= len(doc) {
			w := binary.LittleEndian.Uint64(doc[i:])
			q := w ^ (lanes01 * '"')
			q = (q - lanes01) &^ q & lanes80
			m := special(w)
			if m == 0 {
				i += 8
				continue
			}
			// The borrow of the subtractions cannot cross a lane that is
			// not special, so the lowest mark is the first special byte,
			// and the quote marks agree with it there: a closing quote is
			// known without reading the byte again, which shortens the
			// chain of dependent loads from one token to the next.
			low := m & -m
			i += bits.TrailingZeros64(m) / 8
			if q&low != 0 {
				return i + 1, esc, nil
			}
		} else {
			for i < len(doc) && doc[i] >= 0x20 && doc[i] != '"' && doc[i] != '\\' {
				i++
			}
			if i >= len(doc) {
				return 0, false, errInvalid
			}
			if doc[i] == '"' {
				return i + 1, esc, nil
			}
		}
		if doc[i] < 0x20 {
			return 0, false, errInvalid // a raw control character: JSON.parse refuses it
		}
		// A backslash.
		esc = true
		if i+1 >= len(doc) {
			return 0, false, errInvalid
		}
		switch doc[i+1] {
		case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			i += 2
		case 'u':
			if i+6 > len(doc) || !hex4(doc[i+2:i+6]) {
				return 0, false, errInvalid
			}
			i += 6
		default:
			return 0, false, errInvalid
		}
	}
}

func hex4(b []byte) bool {
	for _, c := range b {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

func skipWS(doc []byte, i int) int {
	for i < len(doc) {
		// One comparison for the usual case: compact JSON has no space
		// between tokens, and every byte of a token is above ' '.
		if c := doc[i]; c > ' ' || (c != ' ' && c != '\n' && c != '\r' && c != '\t') {
			return i
		}
		i++
	}
	return i
}

// lookup returns the first top-level member named key.
func (d *Doc) lookup(key string) (member, bool) {
	for _, m := range d.members {
		if m.key == key {
			return m, true
		}
	}
	return member{}, false
}

// Get reads the value at path; "" reads as missing.
func (d *Doc) Get(path string) Value {
	if path == "" {
		return Value{}
	}
	if strings.IndexByte(path, '.') >= 0 {
		if r := gjson.GetBytes(d.Raw, path); r.Exists() {
			return value([]byte(r.Raw))
		}
		return Value{}
	}
	if m, ok := d.lookup(path); ok {
		return value(d.Raw[m.at:m.end])
	}
	return Value{}
}

// Read fills out[i] with the value at paths[i]. As in gjson, the first of
// duplicate keys is read.
func (d *Doc) Read(paths []string, out []Value) {
	for i, p := range paths {
		out[i] = d.Get(p)
	}
}

// Duplicated returns the first of paths whose last key appears more than
// once in its object, or "". JSON.parse keeps the last of duplicate keys
// and this package reads and replaces the first, so the module refuses
// such documents rather than sign one value and hand the page another.
// Top-level keys are counted in the index; a dotted path costs a lookup
// and a scan of its parent.
func (d *Doc) Duplicated(paths []string) string {
	for _, p := range paths {
		i := strings.LastIndexByte(p, '.')
		if i < 0 {
			if d.count(p) > 1 {
				return p
			}
			continue
		}
		// The parent object, indexed by the same scanner.
		var parent Doc
		if r := gjson.GetBytes(d.Raw, p[:i]); r.IsObject() && Parse([]byte(r.Raw), &parent) == nil && parent.count(p[i+1:]) > 1 {
			return p
		}
	}
	return ""
}

// Last returns the JSON text of the last top-level member named key, or
// nil: JSON.parse keeps the last of duplicate keys, as a request body's
// reader must.
func (d *Doc) Last(key string) []byte {
	for i := len(d.members) - 1; i >= 0; i-- {
		if m := d.members[i]; m.key == key {
			return d.Raw[m.at:m.end]
		}
	}
	return nil
}

// count is how many top-level members are named key.
func (d *Doc) count(key string) int {
	n := 0
	for _, m := range d.members {
		if m.key == key {
			n++
		}
	}
	return n
}
