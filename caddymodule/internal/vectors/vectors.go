// Package vectors is the one loader of Zoom's signature vectors
// (../shared/vectors/zoom-signatures.json, copied into testdata so a plain
// clone tests the same) for every package's tests. The types mirror
// ../shared/vectors/README.md.
package vectors

import (
	_ "embed"
	"encoding/json"
	"testing"
)

//go:embed testdata/zoom-signatures.json
var Data []byte

type File struct {
	Meeting []JWT             `json:"meeting_sdk_jwt"`
	Video   []JWT             `json:"video_sdk_jwt"`
	Legacy  []Legacy          `json:"legacy_web_sdk_signature"`
	HTTP    map[string][]HTTP `json:"http_behaviour"`
}

// JWT is a Meeting SDK or Video SDK vector.
type JWT struct {
	ID       string `json:"id"`
	Category string `json:"category"`
	Input    struct {
		Key     string `json:"sdk_key"`
		Secret  string `json:"sdk_secret"`
		NowMS   int64  `json:"now_ms"`
		Request struct {
			Body string `json:"body"`
		} `json:"request"`
	} `json:"input"`
	Expected struct {
		ResponseBody string `json:"response_body"`
		Signature    string `json:"signature"`
		Payload      string `json:"payload_json"`
		KeyRule      string `json:"hmac_key_rule"`
		KeyHex       string `json:"hmac_key_hex"`
		UTF8Variant  string `json:"signature_if_hmac_key_were_utf8_bytes"`
	} `json:"expected"`
}

// Legacy is a Web SDK 1.x signature vector.
type Legacy struct {
	ID       string `json:"id"`
	Category string `json:"category"`
	Variant  string `json:"variant"`
	Input    struct {
		Key           string          `json:"api_key"`
		Secret        string          `json:"api_secret"`
		NowMS         int64           `json:"now_ms"`
		TimeS         int64           `json:"time_s"`
		MeetingNumber json.RawMessage `json:"meeting_number"`
		Role          int             `json:"role"`
		Request       struct {
			Body string `json:"body"`
		} `json:"request"`
	} `json:"input"`
	Expected struct {
		ResponseBody string `json:"response_body"`
		Signature    string `json:"signature"`
		Decoded      string `json:"decoded_signature"`
		TSMillis     int64  `json:"timestamp_ms"`
	} `json:"expected"`
}

// HTTP is one of the sample endpoints' recorded exchanges.
type HTTP struct {
	ID    string `json:"id"`
	Input struct {
		Request struct {
			Method  string            `json:"method"`
			Headers map[string]string `json:"headers"`
			Body    *string           `json:"body"` // nil: no body was sent
		} `json:"request"`
	} `json:"input"`
	Expected struct {
		Status  int               `json:"status"`
		Headers map[string]string `json:"headers"`
		Body    string            `json:"body"`
		Payload string            `json:"payload_json"`
		JSON    struct {
			Errors []struct {
				Property string `json:"property"`
				Reason   string `json:"reason"`
			} `json:"errors"`
		} `json:"json"`
	} `json:"expected"`
}

// Load decodes the vectors and fails tb when a section is empty, so a
// broken copy cannot pass by testing nothing.
func Load(tb testing.TB) File {
	tb.Helper()
	var f File
	if err := json.Unmarshal(Data, &f); err != nil {
		tb.Fatal(err)
	}
	if len(f.Meeting) == 0 || len(f.Video) == 0 || len(f.Legacy) == 0 || len(f.HTTP) == 0 {
		tb.Fatal("vector file has empty sections")
	}
	return f
}
