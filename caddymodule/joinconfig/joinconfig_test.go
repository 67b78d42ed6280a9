package joinconfig

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

func TestApplyKeepsOtherBytes(t *testing.T) {
	doc := []byte("{\n  \"meetingNumber\": \"857 4606 5432\",\n  \"role\": 1,\n  \"n\": 1.50e3,\n  \"signature\": \"old\",\n  \"nested\": {\"leaveUrl\": \"/bye\"}\n}")
	out, err := Apply(nil, doc,
		String("meetingNumber", "85746065432"),
		String("signature", "new.jwt.sig"),
		String("sdkKey", "key"),
		String("nested.zak", "z"),
	)
	if err != nil {
		t.Fatal(err)
	}
	want := "{\n  \"meetingNumber\": \"85746065432\",\n  \"role\": 1,\n  \"n\": 1.50e3,\n  \"signature\": \"new.jwt.sig\",\n  \"nested\": {\"leaveUrl\": \"/bye\",\"zak\":\"z\"}\n,\"sdkKey\":\"key\"}"
	if string(out) != want {
		t.Fatalf("got\n%s\nwant\n%s", out, want)
	}
	if Get(out, "nested.leaveUrl").Str != "/bye" {
		t.Fatal("nested value lost")
	}
}

func TestCheck(t *testing.T) {
	for doc, want := range map[string]string{
		`{"a":1}`:   "",
		` {}`:       "",
		`[1]`:       "not an object",
		`"x"`:       "not an object",
		`{"a":`:     "not valid JSON",
		``:          "not valid JSON",
		`{"a":1}{}`: "not valid JSON",
		`[{"a":1}]`: "not an object",
	} {
		err := Check([]byte(doc))
		if (want == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), want) {
			t.Errorf("Check(%q) = %v, want %q", doc, err, want)
		}
	}
}

func TestCheckPath(t *testing.T) {
	for _, ok := range []string{"signature", "meeting.number", "a.0.b"} {
		if err := CheckPath(ok); err != nil {
			t.Errorf("CheckPath(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", "a..b", "a.*", "#", "a|b", "@this"} {
		if err := CheckPath(bad); err == nil {
			t.Errorf("CheckPath(%q) accepted", bad)
		}
	}
}

func FuzzApply(f *testing.F) {
	for _, s := range []string{`{"meetingNumber":"123456789","role":0}`, `{}`, `{"signature":{"a":[1,2]}}`, `{"a":"\u00e9"}`,
		// Deep nesting, which recursive validators overflow on.
		`{"a":` + strings.Repeat("[", 200) + strings.Repeat("]", 200) + `}`, strings.Repeat(`{"a":`, 70) + `1` + strings.Repeat("}", 70),
		`{"signature":1,"signature":2}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		if Check(doc) != nil {
			return
		}
		// The duplicate check never panics, and a document it passes
		// reads the same first and last.
		if Duplicated(doc, []string{"signature", "sdkKey", "a.b"}) == "" {
			var last map[string]json.RawMessage
			if json.Unmarshal(doc, &last) == nil {
				if sig, ok := last["signature"]; ok && string(sig) != string(Get(doc, "signature").Raw) {
					t.Fatalf("Duplicated passed %q, whose last signature %s is not its first %s", doc, sig, Get(doc, "signature").Raw)
				}
			}
		}
		out, err := Apply(nil, doc, String("signature", "x.y.z"), String("sdkKey", "k"))
		if err != nil {
			return
		}
		if Check(out) != nil {
			t.Fatalf("edit broke the document: %q -> %q", doc, out)
		}
		// Written out span by span, it is the same document, of the
		// announced length, also with the edits' text in a reused buffer.
		var d Doc
		var s Spliced
		if Parse(doc, &d) != nil || d.Splice(&s, make([]byte, 3, 64)[3:], String("signature", "x.y.z"), String("sdkKey", "k")) != nil {
			t.Fatalf("Splice refused what Apply took: %q", doc)
		}
		var w bytes.Buffer
		if n, err := s.WriteTo(&w); err != nil || int(n) != s.Len() || s.Len() != len(out) || !bytes.Equal(w.Bytes(), out) {
			t.Fatalf("WriteTo = %q (%d, %v), Len %d; Apply = %q", w.Bytes(), n, err, s.Len(), out)
		}
		if Get(out, "signature").Str != "x.y.z" || Get(out, "sdkKey").Str != "k" {
			t.Fatalf("fields not written: %q", out)
		}
		// Every other top-level member keeps its exact bytes.
		members := func(d []byte) map[string]string {
			m := map[string]string{}
			gjson.ParseBytes(d).ForEach(func(k, v gjson.Result) bool {
				if _, dup := m[k.Str]; !dup {
					m[k.Str] = v.Raw
				}
				return true
			})
			return m
		}
		after := members(out)
		for k, raw := range members(doc) {
			if k != "signature" && k != "sdkKey" && after[k] != raw {
				t.Fatalf("member %q changed from %s to %s in %q", k, raw, after[k], out)
			}
		}
	})
}

func TestApplyCases(t *testing.T) {
	for _, c := range []struct {
		doc   string
		edits []Edit
		want  string
	}{
		{`{}`, []Edit{String("signature", "s")}, `{"signature":"s"}`},
		{"{ \n }", []Edit{String("a", "1"), String("b", "2")}, "{ \n \"a\":\"1\",\"b\":\"2\"}"},
		{`{"a":1}`, []Edit{String("a", "x"), String("b", "y")}, `{"a":"x","b":"y"}`},
		{`{"b":{"c":1},"a":2}`, []Edit{{Path: "a", Raw: []byte("3")}, {Path: "b.c", Raw: []byte("4")}}, `{"b":{"c":4},"a":3}`},
		{`{"b":{}}`, []Edit{String("b.c", "new")}, `{"b":{"c":"new"}}`},
		{`{"x":1}`, []Edit{String("auth.sig", "s")}, `{"x":1,"auth":{"sig":"s"}}`},
		{`{"a":{"b":1}}`, []Edit{String("a", "flat"), String("a.b", "deep")}, `{"a":{"b":"deep"}}`},
		{`{"k":"v"}  `, []Edit{String("s", "<&>")}, `{"k":"v","s":"<&>"}  `},
	} {
		got, err := Apply(nil, []byte(c.doc), c.edits...)
		if err != nil || string(got) != c.want {
			t.Errorf("Apply(%s) = %s, %v; want %s", c.doc, got, err, c.want)
		}
	}
}

func BenchmarkApply(b *testing.B) {
	doc := []byte(`{"meetingNumber":"857 4606 5432","role":0,"passWord":"e3Rf9k","userName":"Alice Example","leaveUrl":"https://app.example.com/left"}`)
	edits := []Edit{String("signature", "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.payload.sig"), String("sdkKey", "aB3dE5gH7jK9mN1pQ3sT5v"), String("meetingNumber", "85746065432")}
	b.ReportAllocs()
	for b.Loop() {
		if Check(doc) != nil {
			b.Fatal("check")
		}
		if _, err := Apply(nil, doc, edits...); err != nil {
			b.Fatal(err)
		}
	}
}

func TestRead(t *testing.T) {
	doc := []byte(`{"a":{"b":[1,{"c":"deep"}]},"mn":857,"s":"x\"y","t":true,"f":false,"n":null,"arr":[1],"mn":"dup","pad":"{\"mn\":1}"}`)
	paths := []string{"mn", "s", "a.b.1.c", "missing", "t", "f", "n", "arr", "a", "a.none"}
	out := make([]Value, len(paths))
	Read(doc, paths, out)
	want := []struct {
		kind Kind
		raw  string
		str  string
	}{
		{KindNumber, "857", ""}, // the first of duplicate keys, as gjson reads it
		{KindString, `"x\"y"`, `x"y`},
		{KindString, `"deep"`, "deep"},
		{KindMissing, "", ""},
		{KindTrue, "true", ""},
		{KindFalse, "false", ""},
		{KindNull, "null", ""},
		{KindArray, "[1]", ""},
		{KindObject, `{"b":[1,{"c":"deep"}]}`, ""},
		{KindMissing, "", ""},
	}
	for i, w := range want {
		if got := out[i]; got.Kind != w.kind || string(got.Raw) != w.raw || got.Str != w.str || got.Exists() != (w.kind != KindMissing) {
			t.Errorf("%s = %+v (raw %s), want %+v", paths[i], got, got.Raw, w)
		}
	}
}

func TestDuplicated(t *testing.T) {
	paths := []string{"meetingNumber", "role", "signature", "nested.leaveUrl"}
	for doc, want := range map[string]string{
		`{"meetingNumber":"1","role":0}`:                        "",
		`{"meetingNumber":"1","signature":"a","signature":"b"}`: "signature",
		`{"role":0,"x":{"role":1},"y":[{"role":1}]}`:            "", // nested keys of the same name are other keys
		`{"meetingNumber":"1","meeting\u004eumber":"2"}`:        "meetingNumber",
		`{"nested":{"leaveUrl":"/a","leaveUrl":"/b"}}`:          "nested.leaveUrl",
		`{"nested":{"leaveUrl":"/a"},"other":1,"other":2}`:      "", // not a key the module uses
		`{"pad":"\"signature\":1,","signature":"x"}`:            "",
		`{"s":"x","role":0,"role":0}`:                           "role",
	} {
		if got := Duplicated([]byte(doc), paths); got != want {
			t.Errorf("Duplicated(%s) = %q, want %q", doc, got, want)
		}
	}
	many := make([]string, 20)
	for i := range many {
		many[i] = "k" + string(rune('a'+i))
	}
	if got := Duplicated([]byte(`{"kt":1,"kt":2}`), many); got != "kt" {
		t.Errorf("the 20th path = %q, want kt", got)
	}
}

// TestSpliceManyEdits: more edits than the fixed room for cuts, both
// replacing and adding, come out in order, written or appended alike.
func TestSpliceManyEdits(t *testing.T) {
	doc := []byte(`{"k0":0,"k1":1,"k2":2,"k3":3,"k4":4,"k5":5,"k6":6,"k7":7,"k8":8,"k9":9}`)
	var edits []Edit
	for i := 0; i < 20; i++ {
		edits = append(edits, String("k"+strconv.Itoa(i), "v"+strconv.Itoa(i)))
	}
	var d Doc
	var s Spliced
	if err := Parse(doc, &d); err != nil {
		t.Fatal(err)
	}
	if err := d.Splice(&s, nil, edits...); err != nil {
		t.Fatal(err)
	}
	var w bytes.Buffer
	if _, err := s.WriteTo(&w); err != nil {
		t.Fatal(err)
	}
	want := `{"k0":"v0","k1":"v1","k2":"v2","k3":"v3","k4":"v4","k5":"v5","k6":"v6","k7":"v7","k8":"v8","k9":"v9"`
	for i := 10; i < 20; i++ {
		want += `,"k` + strconv.Itoa(i) + `":"v` + strconv.Itoa(i) + `"`
	}
	want += `}`
	if got := string(s.AppendTo(nil)); got != want || w.String() != want || s.Len() != len(want) {
		t.Fatalf("AppendTo %s\nWriteTo  %s\nLen %d\nwant     %s", got, w.String(), s.Len(), want)
	}
}
