package signature

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
)

// GeoRegions are the Video SDK's allowed data-centre regions.
var GeoRegions = []string{"AU", "BR", "CA", "CN", "DE", "HK", "IN", "JP", "MX", "NL", "SG", "US"}

// Video holds the claims of a Video SDK JWT. Nil pointers and empty
// optional strings are left out of the payload, as the sample does.
type Video struct {
	SessionName string
	Role        int
	IssuedAt    int64 // Unix seconds
	ExpiresIn   int64 // seconds

	UserIdentity           *string
	SessionKey             *string
	GeoRegions             []string // cleaned region codes
	CloudRecordingOption   *int
	CloudRecordingElection *int
	TelemetryTrackingID    *string
	// TelemetryTrackingNull signs "telemetry_tracking_id":null, as the
	// sample does for a null in the request.
	TelemetryTrackingNull bool
	VideoWebRTCMode       *int
	AudioWebRTCMode       *int
}

// Video mints a Video SDK JWT with the sample's payload key order.
func (s *Signer) Video(v Video) (string, error) {
	if err := v.Check(); err != nil {
		return "", err
	}
	return s.mintVideo(v), nil
}

// Check validates the claims against the sample's limits (role, session
// name, lifetime, lengths, regions, the 0/1 options).
func (v Video) Check() error {
	var errs problems
	checkZeroOne(&errs, CodeInvalidRole, "role", v.Role)
	if v.SessionName == "" {
		errs.add(CodeMissingField, "sessionName", "Value must not be empty; send the Video SDK session name")
	} else if n := utf16Len(v.SessionName); n > 200 {
		errs.add(CodeInvalidField, "sessionName", maxLength(n, 200))
	} else if reason := SessionNameReason(v.SessionName); reason != "" {
		errs.add(CodeInvalidSessionName, "sessionName", reason)
	}
	checkLifetime(&errs, v.ExpiresIn)
	if v.UserIdentity != nil && utf16Len(*v.UserIdentity) > 35 {
		errs.add(CodeInvalidField, "userIdentity", maxLength(utf16Len(*v.UserIdentity), 35))
	}
	if v.SessionKey != nil && utf16Len(*v.SessionKey) > 36 {
		errs.add(CodeInvalidField, "sessionKey", maxLength(utf16Len(*v.SessionKey), 36))
	}
	if v.GeoRegions != nil {
		checkGeoRegions(&errs, v.GeoRegions)
	}
	for _, f := range []struct {
		name string
		v    *int
	}{
		{"cloudRecordingOption", v.CloudRecordingOption},
		{"cloudRecordingElection", v.CloudRecordingElection},
		{"videoWebRtcMode", v.VideoWebRTCMode},
		{"audioWebRtcMode", v.AudioWebRTCMode},
	} {
		if f.v != nil {
			checkZeroOne(&errs, CodeInvalidField, f.name, *f.v)
		}
	}
	return errs.err()
}

// TopicRefused are the printable ASCII characters a Video SDK session
// name (tpc, the topic of join()) may not hold: the Video SDK auth doc
// (its copy in @zoom/videosdk 2.5.0: skill/references/auth.md) allows
// "alphanumeric characters, spaces, and standard visible symbols" and
// lists those symbols, and these five are the printable ASCII ones it
// leaves out. Zoom answers a topic it cannot take with "Parse lite sdk
// topic and pwd fail", which the SDK shows as "Topic is invalid".
const TopicRefused = "\"'*/`"

// SessionNameReason says why name is not a session name the Video SDK
// joins, or "" when it is: it may not hold a control character (C0, DEL or
// C1; a tab or a newline included) or one of TopicRefused. Other
// characters, letters of any script and emoji included, are left to Zoom:
// the SDK sends the topic as UTF-8 and nothing Zoom publishes refuses
// them. The length is checked beside it (200, the sample's and join()'s
// limit).
func SessionNameReason(name string) string {
	for i, r := range name {
		if unicode.IsControl(r) || strings.ContainsRune(TopicRefused, r) {
			return fmt.Sprintf("the session name has %q at byte %d, which Video SDK session names do not take (Zoom answers \"Topic is invalid\"); use letters, digits, spaces and the symbols ! # $ %% & ( ) + - : ; < = . > ? @ [ ] ^ _ { } | ~ , \\ only", r, i)
		}
	}
	return ""
}

// PasscodeReason says why pass is not a session passcode the Video SDK
// takes, or "" when it is: client.join() refuses more than 10 characters
// (UTF-16 units: "The maximum length of password is 10", 5013), and the
// session doc allows printable ASCII only.
func PasscodeReason(pass string) string {
	if n := utf16Len(pass); n > 10 {
		return "the passcode is " + strconv.Itoa(n) + " characters long, and the Video SDK's join() takes at most 10 (it refuses the join with 5013, \"The maximum length of password is 10\"); set a passcode of 10 characters or fewer"
	}
	for i, r := range []rune(pass) {
		if r < 0x20 || r > 0x7e {
			// Its position and code point's class, never the character:
			// the passcode is the session's secret.
			return "the passcode's character " + strconv.Itoa(i+1) + " is not printable ASCII, and Video SDK session passcodes take printable ASCII only (space to ~); set a passcode without it"
		}
	}
	return ""
}

// mintVideo writes the payload of checked claims and signs it.
func (s *Signer) mintVideo(v Video) string {
	var arr [512]byte
	p := append(arr[:0], `{"app_key":`...)
	p = appendJSString(p, s.key)
	p = append(p, `,"role_type":`...)
	p = strconv.AppendInt(p, int64(v.Role), 10)
	p = append(p, `,"tpc":`...)
	p = appendJSString(p, v.SessionName)
	p = append(p, `,"version":1,"iat":`...)
	p = strconv.AppendInt(p, v.IssuedAt, 10)
	p = append(p, `,"exp":`...)
	p = strconv.AppendInt(p, v.IssuedAt+v.ExpiresIn, 10)
	p = appendOptString(p, "user_identity", v.UserIdentity)
	p = appendOptString(p, "session_key", v.SessionKey)
	if v.GeoRegions != nil {
		p = append(p, `,"geo_regions":`...)
		p = appendJSString(p, strings.Join(v.GeoRegions, ","))
	}
	p = appendOptInt(p, "cloud_recording_option", v.CloudRecordingOption)
	p = appendOptInt(p, "cloud_recording_election", v.CloudRecordingElection)
	if v.TelemetryTrackingNull && v.TelemetryTrackingID == nil {
		p = append(p, `,"telemetry_tracking_id":null`...)
	}
	p = appendOptString(p, "telemetry_tracking_id", v.TelemetryTrackingID)
	p = appendOptInt(p, "video_webrtc_mode", v.VideoWebRTCMode)
	p = appendOptInt(p, "audio_webrtc_mode", v.AudioWebRTCMode)
	p = append(p, '}')
	return s.jwt(p)
}

func maxLength(got, limit int) string {
	return "Value exceed max length. Got " + strconv.Itoa(got) + ", expected less than or equal to " + strconv.Itoa(limit)
}

func checkGeoRegions(errs *problems, regions []string) {
	ok := len(regions) > 0
	for _, r := range regions {
		if !contains(GeoRegions, r) {
			ok = false
		}
	}
	if !ok {
		errs.add(CodeInvalidField, "geoRegions", "One or more value(s) not allowed. Got ("+strings.Join(regions, ",")+"), expected ("+strings.Join(GeoRegions, ",")+")")
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func appendOptString(p []byte, key string, v *string) []byte {
	if v == nil {
		return p
	}
	p = append(p, ',', '"')
	p = append(p, key...)
	p = append(p, '"', ':')
	return appendJSString(p, *v)
}

func appendOptInt(p []byte, key string, v *int) []byte {
	if v == nil {
		return p
	}
	p = append(p, ',', '"')
	p = append(p, key...)
	p = append(p, '"', ':')
	return strconv.AppendInt(p, int64(*v), 10)
}
