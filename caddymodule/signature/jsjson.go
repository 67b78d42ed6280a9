package signature

import (
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/internal/jsonstr"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
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
func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		if r >= 0x10000 && r != utf8.RuneError {
			n += 2
		} else {
			n++
		}
	}
	return n
}
