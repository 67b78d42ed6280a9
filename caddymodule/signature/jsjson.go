package signature

import (
	"bytes"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/zoomsig/caddy-zoom-signature/caddymodule/internal/jsonstr"
)

// appendJSString appends s as JSON.stringify writes it (vector vsdk-pub-04
// catches encoding/json's extra escapes).
func appendJSString(b []byte, s string) []byte { return jsonstr.Append(b, s) }

// formatJSNumber formats f as JavaScript's Number.prototype.toString does
// for the values that matter here: integers print without exponent below
// 1e21, and -0 prints as 0.
func formatJSNumber(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	case f == 0:
		return "0"
	}
	abs := math.Abs(f)
	if abs >= 1e-6 && abs < 1e21 {
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	s := strconv.FormatFloat(f, 'e', -1, 64)
	// Go writes 1e+21 as "1e+21" and 1e-7 as "1e-07"; JavaScript drops the
	// exponent's leading zero.
	mant, exp, _ := strings.Cut(s, "e")
	sign := exp[:1]
	digits := strings.TrimLeft(exp[1:], "0")
	return mant + "e" + sign + digits
}

// parseInt is JavaScript's parseInt(s) with no radix, which the samples
// apply to numeric fields sent as strings: leading white space and a sign
// are skipped, 0x switches to hex, and the longest digit prefix counts.
// full reports whether the whole trimmed string was consumed.
func parseInt(s string) (v float64, full bool) {
	s = strings.TrimLeftFunc(s, isJSSpace)
	neg := false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		s = s[1:]
	}
	base := 10.0
	if len(s) >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') {
		base = 16
		s = s[2:]
	}
	n := 0
	for n < len(s) && digitValue(s[n]) < base {
		v = v*base + digitValue(s[n])
		n++
	}
	if n == 0 {
		return math.NaN(), false
	}
	if neg {
		v = -v
	}
	rest := strings.TrimRightFunc(s[n:], isJSSpace)
	return v, rest == ""
}

func digitValue(c byte) float64 {
	switch {
	case c >= '0' && c <= '9':
		return float64(c - '0')
	case c >= 'a' && c <= 'z':
		return float64(c-'a') + 10
	case c >= 'A' && c <= 'Z':
		return float64(c-'A') + 10
	}
	return 99
}

// isJSSpace is JavaScript's WhiteSpace and LineTerminator set.
func isJSSpace(r rune) bool {
	switch r {
	case '\t', '\n', '\v', '\f', '\r', ' ', 0xa0, 0x1680, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000, 0xfeff:
		return true
	}
	return r >= 0x2000 && r <= 0x200a
}

// utf16Len is JavaScript's String.prototype.length, which the Video SDK
// sample uses for its length limits.
func utf16Len(s string) int { return jsonstr.UTF16Len(s) }

// allDigits reports whether s is plain decimal digits: the one form in
// which this package accepts a number sent as a string.
func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// asBodyParser turns a request body into the text body-parser hands the
// samples: a UTF-8 byte-order mark is dropped, and every ill-formed UTF-8
// sequence becomes U+FFFD, one per maximal subpart, as the WHATWG
// Encoding Standard (and Node's decoder) replace them.
func asBodyParser(body []byte) []byte {
	body = bytes.TrimPrefix(body, []byte("\xef\xbb\xbf"))
	if utf8.Valid(body) {
		return body
	}
	out := make([]byte, 0, len(body)+16)
	for i := 0; i < len(body); {
		if body[i] < 0x80 {
			out = append(out, body[i])
			i++
			continue
		}
		r, size := utf8.DecodeRune(body[i:])
		if r != utf8.RuneError || size > 1 {
			out = append(out, body[i:i+size]...)
			i += size
			continue
		}
		out = append(out, "\uFFFD"...)
		i += maximalSubpart(body[i:])
	}
	return out
}

// maximalSubpart is the length of the ill-formed sequence at the start of
// b that the WHATWG decoder replaces with one U+FFFD: a lead byte and the
// continuation bytes that could still have completed it.
func maximalSubpart(b []byte) int {
	c := b[0]
	var need int
	lo, hi := byte(0x80), byte(0xbf)
	switch {
	case c >= 0xc2 && c <= 0xdf:
		need = 1
	case c >= 0xe0 && c <= 0xef:
		need = 2
		if c == 0xe0 {
			lo = 0xa0
		} else if c == 0xed {
			hi = 0x9f
		}
	case c >= 0xf0 && c <= 0xf4:
		need = 3
		if c == 0xf0 {
			lo = 0x90
		} else if c == 0xf4 {
			hi = 0x8f
		}
	default:
		return 1 // a continuation byte or a byte that never starts one
	}
	n := 1
	for ; n <= need && n < len(b); n++ {
		if b[n] < lo || b[n] > hi {
			break
		}
		lo, hi = 0x80, 0xbf
	}
	return n
}
