package jsondepth

import (
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	deep := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	for _, c := range []struct {
		doc string
		ok  bool
	}{
		{`{"a":[1,{"b":2}]}`, true},
		{deep(Max), true},
		{deep(Max + 1), false},
		{`{"s":"` + strings.Repeat("[", 1000) + `"}`, true},     // brackets in strings do not count
		{`{"s":"\"` + strings.Repeat("{", 1000) + `\\"}`, true}, // nor after an escaped quote
		{`{"s":"\\"` + strings.Repeat(",[", 1000) + `}`, false}, // an escaped backslash ends the string
		{`"unterminated ` + strings.Repeat("[", 1000), true},    // left for the parser
		{strings.Repeat("[", 10_000_000), false},                // the 10-million-level document
	} {
		err := Check([]byte(c.doc), Max)
		if (err == nil) != c.ok {
			t.Errorf("Check(%.40q...) = %v, want ok=%v", c.doc, err, c.ok)
		}
		if err != nil && err.Error() != "the JSON nests deeper than 64 levels" {
			t.Errorf("error text %q", err)
		}
	}
}

func FuzzCheck(f *testing.F) {
	for _, s := range []string{`{}`, `[[[]]]`, `"\\"`, `{"a":"[\"]"}`, strings.Repeat("{", 70)} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		// Never panics; a document within the bound by a plain count of
		// its brackets is never refused.
		err := Check(b, 8)
		if err == nil {
			return
		}
		if !strings.ContainsAny(string(b), "[{") {
			t.Fatalf("refused %q, which has no brackets", b)
		}
	})
}
