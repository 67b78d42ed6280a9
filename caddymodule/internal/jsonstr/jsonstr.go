// Package jsonstr reads and writes JSON strings the way JavaScript's
// JSON.parse and JSON.stringify do, which is what Zoom's samples sign.
//
// Writing: only '"', '\' and C0 controls are escaped, and everything else
// stays raw UTF-8 (encoding/json also escapes <, >, & and U+2028/9, which
// would change the token bytes). Reading: a JavaScript string is UTF-16,
// so "\ud83d" alone is a string of one code unit, which UTF-8 cannot hold;
// Decode keeps such a lone surrogate in WTF-8 (its three-byte form, which
// valid UTF-8 never contains) and Append writes it back as \ud83d, as
// JSON.stringify does. A Go string from anywhere else is valid UTF-8 and
// never meets that case.
package jsonstr

import (
	"strconv"
	"unicode/utf8"
)

const hex = "0123456789abcdef"

// special marks the bytes Append looks at twice: the ones JSON escapes, and
// 0xED, which leads a surrogate's WTF-8 form. One table load a byte keeps
// the loop as fast as it was with three comparisons.
var special = func() (t [256]bool) {
	for c := range 0x20 {
		t[c] = true
	}
	t['"'], t['\\'], t[0xed] = true, true, true
	return t
}()

// Append appends s to b as a JSON string.
func Append(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !special[c] {
			continue
		}
		if c == 0xed {
			if u, ok := surrogateAt(s, i); ok {
				b = append(b, s[start:i]...)
				b = append(b, '\\', 'u', hex[u>>12], hex[u>>8&0xf], hex[u>>4&0xf], hex[u&0xf])
				i += 2
				start = i + 1
			}
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\b':
			b = append(b, '\\', 'b')
		case '\f':
			b = append(b, '\\', 'f')
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// Printable writes the lone surrogates of s as \udXXX, for text that is
// printed rather than sent as JSON (a terminal cannot show them).
func Printable(s string) string {
	for i := 0; i < len(s); i++ {
		if _, ok := surrogateAt(s, i); ok {
			var b []byte
			for j := 0; j < len(s); j++ {
				if u, ok := surrogateAt(s, j); ok {
					b = append(b, '\\', 'u', hex[u>>12], hex[u>>8&0xf], hex[u>>4&0xf], hex[u&0xf])
					j += 2
					continue
				}
				b = append(b, s[j])
			}
			return string(b)
		}
	}
	return s
}

// surrogateAt reports the UTF-16 surrogate whose WTF-8 form starts at
// s[i]: ED A0..BF 80..BF.
func surrogateAt(s string, i int) (uint16, bool) {
	if i+2 >= len(s) || s[i] != 0xed || s[i+1] < 0xa0 || s[i+1] > 0xbf || s[i+2] < 0x80 || s[i+2] > 0xbf {
		return 0, false
	}
	return 0xd000 | uint16(s[i+1]&0x3f)<<6 | uint16(s[i+2]&0x3f), true
}

// Decode reads the JSON string token raw (quotes included) as JSON.parse
// does, keeping lone surrogates in WTF-8. raw must be a valid token.
func Decode(raw string) string {
	if len(raw) < 2 {
		return ""
	}
	body := raw[1 : len(raw)-1]
	i := 0
	for i < len(body) && body[i] != '\\' {
		i++
	}
	if i == len(body) {
		return body
	}
	out := make([]byte, 0, len(body))
	out = append(out, body[:i]...)
	for i < len(body) {
		c := body[i]
		if c != '\\' || i+1 >= len(body) {
			out = append(out, c)
			i++
			continue
		}
		i++
		switch e := body[i]; e {
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			u, ok := unit(body, i+1)
			if !ok {
				out = append(out, '\\', 'u')
				break
			}
			i += 4
			if u >= 0xd800 && u < 0xdc00 && i+2 < len(body) && body[i+1] == '\\' && body[i+2] == 'u' {
				if lo, ok := unit(body, i+3); ok && lo >= 0xdc00 && lo < 0xe000 {
					out = utf8.AppendRune(out, 0x10000+(rune(u)-0xd800)<<10+(rune(lo)-0xdc00))
					i += 6
					break
				}
			}
			if u >= 0xd800 && u < 0xe000 {
				// A lone surrogate, in WTF-8.
				out = append(out, 0xe0|byte(u>>12), 0x80|byte(u>>6&0x3f), 0x80|byte(u&0x3f))
			} else {
				out = utf8.AppendRune(out, rune(u))
			}
		default: // '"', '\\', '/'
			out = append(out, e)
		}
		i++
	}
	return string(out)
}

func unit(s string, at int) (uint16, bool) {
	if at+4 > len(s) {
		return 0, false
	}
	v, err := strconv.ParseUint(s[at:at+4], 16, 16)
	return uint16(v), err == nil
}

// UTF16Len is JavaScript's String.prototype.length of s, lone surrogates
// (in WTF-8) counting one each.
func UTF16Len(s string) int {
	n := 0
	for i := 0; i < len(s); {
		if _, ok := surrogateAt(s, i); ok {
			n++
			i += 3
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r >= 0x10000 {
			n += 2
		} else {
			n++
		}
		i += size
	}
	return n
}
