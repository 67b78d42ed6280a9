package jsonstr

import (
	"encoding/json"
	"testing"
)

func TestDecodeAppend(t *testing.T) {
	for _, c := range []struct {
		raw, js string // a JSON token, and JSON.stringify(JSON.parse(token))
		units   int
	}{
		{`"plain"`, `"plain"`, 5},
		{`"a\"b\\c\/d"`, `"a\"b\\c/d"`, 7},
		{`"\u00e9\u4e2d"`, `"é中"`, 2},
		{`"\ud83d\ude00"`, `"😀"`, 2},
		{`"\ud83d"`, `"\ud83d"`, 1},             // a lone high surrogate stays itself
		{`"x\udfffy"`, `"x\udfffy"`, 3},         // a lone low one too
		{`"\ud83d\u0041"`, `"\ud83dA"`, 2},      // a high surrogate before a non-low unit
		{`"\ude00\ud83d"`, `"\ude00\ud83d"`, 2}, // the wrong order is two lone ones
		{`"\u2028<&>"`, "\"\u2028<&>\"", 4},     // JSON.stringify leaves these raw
		{`"\t\n\u0001"`, `"\t\n\u0001"`, 3},
	} {
		s := Decode(c.raw)
		if got := string(Append(nil, s)); got != c.js {
			t.Errorf("Append(Decode(%s)) = %s, want %s", c.raw, got, c.js)
		}
		if n := UTF16Len(s); n != c.units {
			t.Errorf("UTF16Len(Decode(%s)) = %d, want %d", c.raw, n, c.units)
		}
	}
	// Without lone surrogates, Decode agrees with encoding/json.
	for _, raw := range []string{`"a\u00e9\ud83d\ude00\"\\\/\b\f\n\r\t"`, `""`, `"\u0000"`} {
		var want string
		_ = json.Unmarshal([]byte(raw), &want)
		if got := Decode(raw); got != want {
			t.Errorf("Decode(%s) = %q, want %q", raw, got, want)
		}
	}
}

func FuzzDecode(f *testing.F) {
	for _, s := range []string{`"a"`, `"\ud83d"`, `"\ud83d\ude00"`, `"\u12"`, `"\"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		if !json.Valid([]byte(raw)) || len(raw) < 2 || raw[0] != '"' {
			return
		}
		s := Decode(raw)
		out := Append(nil, s)
		// What Append writes is valid JSON and parses back to the same
		// string, lone surrogates aside (which Go reads as U+FFFD).
		if !json.Valid(out) {
			t.Fatalf("Append(Decode(%q)) = %q, not JSON", raw, out)
		}
		if Decode(string(out)) != s {
			t.Fatalf("round trip of %q changed it", raw)
		}
	})
}

func TestPrintable(t *testing.T) {
	if got := Printable(Decode(`"a\ud800b\ud83d\ude00"`)); got != `a\ud800b😀` {
		t.Errorf("Printable = %q", got)
	}
	if s := "plain é"; Printable(s) != s {
		t.Error("Printable changed valid UTF-8")
	}
}
