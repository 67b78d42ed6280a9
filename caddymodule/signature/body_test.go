package signature

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/zoomsig/caddy-zoom-signature/caddymodule/internal/jsondepth"
)

// FuzzParseObject holds the one-pass body reader to encoding/json: the
// same verdict on every body, and for the fields read, the same value
// text as a map decode gives (which, like JSON.parse, keeps the last of
// duplicate keys).
func FuzzParseObject(f *testing.F) {
	for _, s := range []string{`{"meetingNumber":"85746065432","role":0}`, `{}`, `[]`, `[1,{"role":1}]`, `5`, `"x"`, ``, ` `,
		`{"role":0,"role":1}`, `{"rol\u0065":1}`, `{"role":1,}`, `{"a":[1,2,{"b":null}],"role":"1"}`, "\xef\xbb\xbf{\"role\":1}",
		`{"meetingNumber":"a\ud83d","role":1}`, strings.Repeat(`{"a":`, 70) + `0` + strings.Repeat("}", 70)} {
		f.Add([]byte(s))
	}
	names := []string{"meetingNumber", "role", "expirationSeconds", "a"}
	f.Fuzz(func(t *testing.T, body []byte) {
		got, err := parseObject(body, names...)
		text := asBodyParser(body)
		if len(bytes.TrimSpace(text)) == 0 && len(text) > 0 {
			if err == nil {
				t.Fatalf("%q: white space alone was accepted", body)
			}
			return
		}
		if len(text) == 0 {
			if err != nil {
				t.Fatalf("%q: an empty body was refused: %v", body, err)
			}
			return
		}
		valid := json.Valid(text) && jsondepth.Check(text, jsondepth.Max) == nil
		if !valid {
			if err == nil {
				t.Fatalf("%q: accepted, but encoding/json refuses it or it nests too deep", body)
			}
			return
		}
		var m map[string]json.RawMessage
		isObject := json.Unmarshal(text, &m) == nil
		var arr []json.RawMessage
		isArray := !isObject && json.Unmarshal(text, &arr) == nil
		switch {
		case isArray:
			m = nil
		case !isObject:
			if err == nil {
				t.Fatalf("%q: a valid body that is not an object was accepted", body)
			}
			return
		}
		if err != nil {
			t.Fatalf("%q: refused: %v", body, err)
		}
		for i, n := range names {
			want, ok := m[n]
			if got[i].Exists() != ok || got[i].Raw != string(want) {
				t.Fatalf("%q: %s = %q (exists %v), want %q (exists %v)", body, n, got[i].Raw, got[i].Exists(), want, ok)
			}
		}
	})
}
