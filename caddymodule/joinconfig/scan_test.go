package joinconfig

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/zoomsig/caddy-zoom-signature/caddymodule/internal/jsondepth"
)

// reference is what Parse must agree with: encoding/json's validity, the
// depth bound, an object, and its top-level members in order.
func reference(doc []byte) (ok bool, keys []string, raws []string) {
	if !json.Valid(doc) || jsondepth.Check(doc, jsondepth.Max) != nil {
		return false, nil, nil
	}
	if t := bytes.TrimLeft(doc, " \t\r\n"); t[0] != '{' {
		return false, nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(doc))
	_, _ = dec.Token() // {
	for dec.More() {
		k, _ := dec.Token()
		var raw json.RawMessage
		_ = dec.Decode(&raw)
		keys = append(keys, k.(string))
		raws = append(raws, string(raw))
	}
	return true, keys, raws
}

func checkParse(t *testing.T, doc []byte) {
	t.Helper()
	var d Doc
	err := Parse(doc, &d)
	ok, keys, raws := reference(doc)
	if (err == nil) != ok {
		t.Fatalf("%.80q: Parse %v, encoding/json valid object %v", doc, err, ok)
	}
	if !ok {
		return
	}
	if len(d.members) != len(keys) {
		t.Fatalf("%.80q: %d members, want %d", doc, len(d.members), len(keys))
	}
	for i, m := range d.members {
		// encoding/json replaces invalid UTF-8 and lone surrogates in keys
		// with U+FFFD, as gjson does; compare only valid ones.
		if !strings.ContainsRune(keys[i], '\uFFFD') && m.key != keys[i] {
			t.Fatalf("%.80q: member %d key %q, want %q", doc, i, m.key, keys[i])
		}
		if got := string(doc[m.at:m.end]); got != raws[i] {
			t.Fatalf("%.80q: member %d value %q, want %q", doc, i, got, raws[i])
		}
	}
	if !bytes.Equal(bytes.TrimRight(doc[:d.end+1], " \t\r\n"), bytes.TrimRight(doc, " \t\r\n")) {
		t.Fatalf("%.80q: end %d", doc, d.end)
	}
}

func TestParse(t *testing.T) {
	deep := func(n int) string { return `{"a":` + strings.Repeat("[", n-1) + strings.Repeat("]", n-1) + `}` }
	for _, doc := range []string{
		`{}`, ` { } `, `{"a":1}`, `{"a":1,"b":[1,2,{"c":null}],"d":"x\"y\\z\u00e9\/"}`,
		`{"meeting\u004eumber":"1"}`, `{"a":-0.5e+10,"b":0,"c":1E5,"d":true,"e":false}`,
		`{"long":"` + strings.Repeat("abcdefgh", 100) + `"}`, `{"é":"ü€😀"}`,
		deep(jsondepth.Max), deep(jsondepth.Max + 1),
		// Not valid, or not an object.
		``, ` `, `[]`, `"s"`, `1`, `null`, `{`, `}`, `{"a"}`, `{"a":}`, `{"a":1,}`, `{"a":1 "b":2}`,
		`{"a":01}`, `{"a":1.}`, `{"a":.5}`, `{"a":1e}`, `{"a":-}`, `{"a":+1}`, `{"a":tru}`, `{"a":nulll}`,
		`{"a":"\x"}`, `{"a":"\u12"}`, "{\"a\":\"\x01\"}", "{\"a\":\"tab\there\"}", `{"a":"unterminated}`,
		`{"a":1}x`, `{"a":1}{}`, `{1:2}`, `{"a":[1,]}`, `{"a":[,1]}`, `{"a":{"b"}}`, `{"a":"` + strings.Repeat("x", 7) + `\"`,
	} {
		checkParse(t, []byte(doc))
	}
}

// FuzzParse holds the one-pass scanner to encoding/json: the same
// documents valid, the same top-level members at the same bounds.
func FuzzParse(f *testing.F) {
	for _, s := range []string{`{"a":1,"b":[1,2,{"c":null}]}`, `{"meetingNumber":"857 4606 5432","role":0,"signature":"x\u0041"}`,
		`{"a":"` + strings.Repeat("é", 9) + `\n"}`, `{"x":[[[[[]]]]],"y":-1.5e-3}`, `[]`, `{"a":"\ud800"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, doc []byte) { checkParse(t, doc) })
}

func BenchmarkParseParticipants(b *testing.B) {
	var sb strings.Builder
	sb.WriteString(`{"participants":[`)
	for i := 0; sb.Len() < 64<<10; i++ {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(`{"id":"u00001","name":"User 1","email":"u1@example.com","role":"attendee","joined":true,"tags":["a","b"],"n":1.5}`)
	}
	sb.WriteString(`],"meetingNumber":"85746065432","role":0}`)
	doc := []byte(sb.String())
	var d Doc
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		if err := Parse(doc, &d); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParsePad(b *testing.B) {
	doc := []byte(`{"meetingNumber":"85746065432","role":0,"pad":"` + strings.Repeat("x", 64<<10-64) + `"}`)
	var d Doc
	b.SetBytes(int64(len(doc)))
	for b.Loop() {
		if err := Parse(doc, &d); err != nil {
			b.Fatal(err)
		}
	}
}

// TestParseReusesSpill: a pooled Doc indexes a config with more top-level
// keys than it holds inline without a new slice each time, and Release
// leaves no view of the old document in it.
func TestParseReusesSpill(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"meetingNumber":"85746065432"`)
	for i := range 30 {
		fmt.Fprintf(&b, `,"k%02d":%d`, i, i)
	}
	b.WriteString("}")
	doc := []byte(b.String())
	var d Doc
	if err := Parse(doc, &d); err != nil {
		t.Fatal(err)
	}
	d.Release()
	for _, m := range d.spill {
		if m.key != "" {
			t.Fatalf("Release kept a key of the old document: %q", m.key)
		}
	}
	allocs := testing.AllocsPerRun(100, func() {
		if err := Parse(doc, &d); err != nil {
			t.Fatal(err)
		}
		d.Release()
	})
	if allocs != 0 {
		t.Fatalf("Parse of a 31-key config into a reused Doc allocates %v times", allocs)
	}
	if err := Parse(doc, &d); err != nil || d.Get("k29").Str != "" || string(d.Get("k29").Raw) != "29" {
		t.Fatalf("the spilled index reads wrong: %v %q", err, d.Get("k29").Raw)
	}
}
