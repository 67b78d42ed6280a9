package signature

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"sync"
	"unsafe"

	"github.com/tidwall/gjson"

	"github.com/zoomsig/caddy-zoom-signature/caddymodule/internal/jsondepth"
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/internal/jsonstr"
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/joinconfig"
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/problem"
)

// ParseMeetingRequest reads the body that Zoom's meetingsdk-auth-endpoint-
// sample accepts ({"meetingNumber","role","expirationSeconds",
// "videoWebRtcMode"}) with the sample's coercion and validation, error texts
// and order; this package's stricter checks follow the sample's errors. A
// body with neither meetingNumber nor role gives a Native request, as the
// sample does. IssuedAt is left for the caller, and so is ExpiresIn when the
// body has no expirationSeconds (it is 0 then; the sample uses 7200).
func ParseMeetingRequest(body []byte) (Meeting, error) {
	return parseMeetingRequest(body, false)
}

// ParseWebMeetingRequest is ParseMeetingRequest for a web join, which needs
// mn and role: a body with neither is refused with CodeMeetingNumberMissing
// whatever else is wrong with it, after the sample's own errors and before
// this package's other checks (the README's native difference).
func ParseWebMeetingRequest(body []byte) (Meeting, error) {
	return parseMeetingRequest(body, true)
}

func parseMeetingRequest(body []byte, web bool) (Meeting, error) {
	fields, err := parseObject(body, "meetingNumber", "role", "expirationSeconds", "videoWebRtcMode")
	if err != nil {
		return Meeting{}, err
	}
	mnF, roleF, expF, modeF := fields[0], fields[1], fields[2], fields[3]

	var errs, extra problems
	m := Meeting{Native: !mnF.Exists() && !roleF.Exists()}
	if web && m.Native {
		extra.add(CodeMeetingNumberMissing, "meetingNumber", `the request has neither meetingNumber nor role; send {"meetingNumber":"85746065432","role":0} as a JSON body (web joins need both, and this endpoint never signs native-SDK tokens)`)
	}
	if mnF.Exists() != roleF.Exists() {
		errs.add(CodeMissingField, "$schema", "If one of the following properties is present, all or none must be present: meetingNumber, role")
	}
	if roleF.Exists() {
		m.Role = zeroOne(&errs, &extra, CodeInvalidRole, "role", roleF)
	}
	if expF.Exists() {
		m.ExpiresIn = lifetime(&errs, &extra, expF)
	}
	if modeF.Exists() {
		v := zeroOne(&errs, &extra, CodeInvalidField, "videoWebRtcMode", modeF)
		m.VideoWebRTCMode = &v
	}
	if mnF.Exists() {
		mn, err := meetingNumberFrom(mnF)
		if err != nil {
			extra = append(extra, problem.As(err).Problems...)
		}
		m.MeetingNumber = mn
	}
	return m, append(errs, extra...).err()
}

// ParseVideoRequest reads the body that Zoom's videosdk-auth-endpoint-sample
// accepts, with the sample's rules, as ParseMeetingRequest does; ExpiresIn
// is 0 when the body has none.
func ParseVideoRequest(body []byte) (Video, error) {
	fields, err := parseObject(body, "role", "sessionName", "expirationSeconds", "userIdentity", "sessionKey",
		"geoRegions", "cloudRecordingOption", "cloudRecordingElection", "videoWebRtcMode",
		"audioCompatibleMode", "audioWebRtcMode", "telemetryTrackingId")
	if err != nil {
		return Video{}, err
	}
	roleF, nameF, expF, idF, keyF, geoF := fields[0], fields[1], fields[2], fields[3], fields[4], fields[5]

	var errs, extra problems
	var v Video
	if !roleF.Exists() {
		errs.add(CodeMissingField, "role", "Property required, but not present in request body")
	} else {
		v.Role = zeroOne(&errs, &extra, CodeInvalidRole, "role", roleF)
	}
	if !nameF.Exists() {
		errs.add(CodeMissingField, "sessionName", "Property required, but not present in request body")
	} else if s, ok := str(&errs, "sessionName", nameF, 200); ok {
		v.SessionName = s
		if s == "" {
			extra.add(CodeMissingField, "sessionName", "Value must not be empty; send the Video SDK session name")
		} else if reason := SessionNameReason(s); reason != "" {
			extra.add(CodeInvalidSessionName, "sessionName", reason)
		}
	}
	if expF.Exists() {
		v.ExpiresIn = lifetime(&errs, &extra, expF)
	}
	if idF.Exists() {
		if s, ok := str(&errs, "userIdentity", idF, 35); ok {
			v.UserIdentity = &s
		}
	}
	if keyF.Exists() {
		if s, ok := str(&errs, "sessionKey", keyF, 36); ok {
			v.SessionKey = &s
		}
	}
	if geoF.Exists() {
		v.GeoRegions = geoRegions(&errs, geoF)
	}
	opt := func(name string, f gjson.Result) *int {
		if !f.Exists() {
			return nil
		}
		n := zeroOne(&errs, &extra, CodeInvalidField, name, f)
		return &n
	}
	v.CloudRecordingOption = opt("cloudRecordingOption", fields[6])
	v.CloudRecordingElection = opt("cloudRecordingElection", fields[7])
	v.VideoWebRTCMode = opt("videoWebRtcMode", fields[8])
	compat := opt("audioCompatibleMode", fields[9])
	v.AudioWebRTCMode = opt("audioWebRtcMode", fields[10])
	// The sample writes audioWebRtcMode ?? audioCompatibleMode (vsdk-pub-06/07).
	if v.AudioWebRTCMode == nil || fields[10].Type == gjson.Null {
		v.AudioWebRTCMode = compat
	}
	switch t := fields[11]; {
	case !t.Exists():
	case t.Type == gjson.Null:
		v.TelemetryTrackingNull = true // the sample signs null as it came
	case t.Type != gjson.String:
		// The sample passes any JSON value through; we sign strings only.
		extra.add(CodeInvalidField, "telemetryTrackingId", "Value "+jsString(t)+" not allowed, must be of type string")
	default:
		s := jsonstr.Decode(t.Raw)
		v.TelemetryTrackingID = &s
	}
	return v, append(errs, extra...).err()
}

// MeetingNumberFrom reads a meeting number from the raw JSON of a value (nil
// when there is none): a string with optional dashes and white space, or an
// integral number, 9 to 11 digits.
func MeetingNumberFrom(raw []byte) (MeetingNumber, error) {
	return meetingNumberFrom(gjson.ParseBytes(raw))
}

func meetingNumberFrom(r gjson.Result) (MeetingNumber, error) {
	switch r.Type {
	case gjson.String:
		return ParseMeetingNumber(r.Str)
	case gjson.Number:
		return MeetingNumberFromFloat(r.Num)
	}
	if !r.Exists() {
		return MeetingNumber{}, fail(problem.Problem{Code: CodeInvalidMeetingNumber, Property: "meetingNumber", Reason: "Property required, but not present; the join config must carry the meeting number"})
	}
	return MeetingNumber{}, fail(badMeetingNumber("meetingNumber", jsString(r)))
}

// RoleFrom reads a role strictly from the raw JSON of a value (nil when
// there is none): the number 0 or 1, or the string "0" or "1". A missing
// role is 0.
func RoleFrom(raw []byte) (int, error) {
	r := gjson.ParseBytes(raw)
	switch {
	case !r.Exists():
		return 0, nil
	case r.Type == gjson.Number && (r.Num == 0 || r.Num == 1):
		return int(r.Num), nil
	case r.Type == gjson.String && (r.Str == "0" || r.Str == "1"):
		return int(r.Str[0] - '0'), nil
	}
	return 0, fail(problem.Problem{Code: CodeInvalidRole, Property: "role", Reason: "Value " + jsString(r) + " is not a Zoom role: expected 0 (attendee) or 1 (host)"})
}

// docPool keeps the index of a body's members (a Doc escapes, and holds
// room for 16 members).
var docPool = sync.Pool{New: func() any { return new(joinconfig.Doc) }}

// parseObject reads the named top-level fields of a JSON object body the way
// body-parser and JSON.parse do: an empty body is {}, a top-level array is
// spread into an object, and the last of duplicate keys wins.
func parseObject(body []byte, names ...string) ([]gjson.Result, error) {
	out := make([]gjson.Result, len(names))
	body = asBodyParser(body)
	if len(body) == 0 {
		return out, nil // body-parser reads an empty body as {}
	}
	// One pass validates, bounds the nesting and indexes the top-level
	// members, so a body near max_body is read once, not four times.
	doc := docPool.Get().(*joinconfig.Doc)
	defer func() { doc.Release(); docPool.Put(doc) }()
	if err := joinconfig.Parse(body, doc); err != nil {
		var deep *jsondepth.Error
		var other *joinconfig.NotObjectError
		switch {
		case errors.As(err, &deep):
			return nil, fail(problem.Problem{Code: CodeInvalidBody, Property: "body", Reason: "The request body nests deeper than " + strconv.Itoa(jsondepth.Max) + " levels; send a flat JSON object such as {\"meetingNumber\":\"85746065432\",\"role\":0}"})
		case !errors.As(err, &other):
			return nil, fail(problem.Problem{Code: CodeInvalidBody, Property: "body", Reason: "The request body is not valid JSON; send a JSON object such as {\"meetingNumber\":\"85746065432\",\"role\":0}"})
		case other.Kind == joinconfig.KindArray:
			return out, nil // its keys are indexes, which name no field
		}
		return nil, fail(problem.Problem{Code: CodeInvalidBody, Property: "body", Reason: "The request body is " + joinconfig.KindName(other.Kind) + ", not an object; send a JSON object such as {\"meetingNumber\":\"85746065432\",\"role\":0}"})
	}
	// The fields outlive the body's buffer (it is reused for the answer),
	// so the values read are copied, together, into one string.
	var arr [16][]byte
	raws, size := arr[:0], 0
	for _, n := range names {
		raw := doc.Last(n) // the last of duplicate keys, as in JSON.parse
		raws = append(raws, raw)
		size += len(raw)
	}
	if size == 0 {
		return out, nil
	}
	copied := make([]byte, 0, size)
	for _, raw := range raws {
		copied = append(copied, raw...)
	}
	text := unsafe.String(unsafe.SliceData(copied), len(copied))
	for i, raw := range raws {
		if raw != nil {
			out[i] = gjson.Parse(text[:len(raw)])
		}
		text = text[len(raw):]
	}
	return out, nil
}

// number applies the sample's coercion: strings go through parseInt, other
// types are left as they are. ok is false (with the sample's error) when the
// result is not a number; plain is false when parseInt ignored characters.
func number(errs *problems, property string, r gjson.Result) (v float64, ok, plain bool) {
	switch r.Type {
	case gjson.Number:
		return r.Num, true, true
	case gjson.String:
		// The sample's parseInt reads " 1", "+1", "0x1", "1abc" and
		// "1.9" as numbers; this package takes plain digits only, the one
		// rule for every numeric field (a listed difference).
		v, _ = parseInt(r.Str)
		if !math.IsNaN(v) {
			return v, true, allDigits(r.Str)
		}
	}
	text := "NaN"
	if r.Type != gjson.String {
		text = jsString(r)
	}
	errs.add(CodeInvalidField, property, "Value "+text+" not allowed, must be of type number")
	return 0, false, false
}

func zeroOne(errs, extra *problems, code, property string, r gjson.Result) int {
	v, ok, plain := number(errs, property, r)
	if !ok {
		(*errs)[len(*errs)-1].Code = code
		return 0
	}
	if v != 0 && v != 1 {
		errs.add(code, property, "Value is not valid. Got "+formatJSNumber(v)+", expected 0,1")
		return 0
	}
	if !plain {
		extra.add(code, property, "Value "+strconv.Quote(r.Str)+" is not a plain number; send 0 or 1")
	}
	return int(v)
}

func lifetime(errs, extra *problems, r gjson.Result) int64 {
	v, ok, plain := number(errs, "expirationSeconds", r)
	if !ok {
		(*errs)[len(*errs)-1].Code = CodeInvalidExpiration
		return DefaultLifetime
	}
	if v < MinLifetime || v > MaxLifetime {
		errs.add(CodeInvalidExpiration, "expirationSeconds", "Value must in between 1800 and 172800")
		return DefaultLifetime
	}
	if !plain || v != math.Trunc(v) {
		got := jsString(r)
		if r.Type == gjson.String {
			got = strconv.Quote(got)
		}
		extra.add(CodeInvalidExpiration, "expirationSeconds", "Value "+got+" is not a whole number of seconds in plain digits; send an integer from 1800 to 172800")
	}
	return int64(v)
}

func str(errs *problems, property string, r gjson.Result, limit int) (string, bool) {
	if r.Type != gjson.String {
		errs.add(CodeInvalidField, property, "Value "+jsString(r)+" not allowed, must be of type string")
		return "", false
	}
	s := jsonstr.Decode(r.Raw)
	if n := utf16Len(s); n > limit {
		errs.add(CodeInvalidField, property, maxLength(n, limit))
		return "", false
	}
	return s, true
}

func geoRegions(errs *problems, r gjson.Result) []string {
	var raw []string
	switch {
	case r.Type == gjson.String:
		raw = strings.Split(jsonstr.Decode(r.Raw), ",")
	case r.IsArray():
		for _, e := range r.Array() {
			if e.Type != gjson.String {
				errs.add(CodeInvalidField, "geoRegions", "Value "+jsString(r)+" not allowed, must be of type string or string array")
				return nil
			}
			raw = append(raw, jsonstr.Decode(e.Raw))
		}
	default:
		errs.add(CodeInvalidField, "geoRegions", "Value "+jsString(r)+" not allowed, must be of type string or string array")
		return nil
	}
	out := []string{}
	for _, s := range raw {
		if s = strings.Join(strings.FieldsFunc(s, isJSSpace), ""); s != "" {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		errs.add(CodeInvalidField, "geoRegions", "Property defined, but not value(s) were present")
		return nil
	}
	checkGeoRegions(errs, out)
	return out
}

// jsString is JavaScript's String(v) for a parsed JSON value, which the
// sample's error texts print.
func jsString(r gjson.Result) string {
	switch r.Type {
	case gjson.Null:
		return "null"
	case gjson.True:
		return "true"
	case gjson.False:
		return "false"
	case gjson.Number:
		return formatJSNumber(r.Num)
	case gjson.String:
		return jsonstr.Decode(r.Raw)
	}
	if r.IsArray() {
		parts := []string{}
		for _, e := range r.Array() {
			if e.Type == gjson.Null {
				parts = append(parts, "")
			} else {
				parts = append(parts, jsString(e))
			}
		}
		return strings.Join(parts, ",")
	}
	return "[object Object]"
}
