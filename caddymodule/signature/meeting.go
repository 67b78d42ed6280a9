package signature

import (
	"strconv"
	"strings"

	"github.com/zoomsig/caddy-zoom-signature/caddymodule/problem"
)

// MeetingNumber is a normalised Zoom meeting number: 9 to 11 digits.
// Numeric records whether it came as a JSON number, because the sample keeps
// mn's JSON type and "123" and 123 give different tokens.
type MeetingNumber struct {
	Digits  string
	Numeric bool
}

// ParseMeetingNumber removes dashes and white space (every character
// JavaScript's \s matches) from s and checks that 9 to 11 digits remain.
func ParseMeetingNumber(s string) (MeetingNumber, error) {
	if d := stripSeparators(s); validDigits(d) {
		return MeetingNumber{Digits: d}, nil
	}
	return MeetingNumber{}, fail(badMeetingNumber("meetingNumber", strconv.Quote(s)))
}

// MeetingNumberFromFloat accepts a meeting number sent as a JSON number.
func MeetingNumberFromFloat(f float64) (MeetingNumber, error) {
	if f >= 1e8 && f < 1e11 && f == float64(int64(f)) {
		return MeetingNumber{Digits: strconv.FormatInt(int64(f), 10), Numeric: true}, nil
	}
	return MeetingNumber{}, fail(badMeetingNumber("meetingNumber", formatJSNumber(f)))
}

func badMeetingNumber(property, got string) problem.Problem {
	return problem.Problem{
		Code:     CodeInvalidMeetingNumber,
		Property: property,
		Reason:   "Value " + got + " is not a Zoom meeting number: expected 9 to 11 digits (dashes and white space are removed); check that the meeting number reached the signer",
	}
}

func stripSeparators(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '-' || isJSSpace(r) {
			return -1
		}
		return r
	}, s)
}

func validDigits(s string) bool {
	if len(s) < 9 || len(s) > 11 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Meeting holds the claims of a Meeting SDK JWT.
type Meeting struct {
	// Native leaves out mn and role: the token native SDKs use to
	// initialise. Web joins need mn and role, so web-facing code never sets it.
	Native          bool
	MeetingNumber   MeetingNumber
	Role            int
	IssuedAt        int64 // Unix seconds
	ExpiresIn       int64 // seconds; exp = IssuedAt + ExpiresIn
	VideoWebRTCMode *int
}

// Meeting mints a Meeting SDK JWT with the sample's payload key order:
// appKey, sdkKey, mn, role, iat, exp, tokenExp, video_webrtc_mode.
func (s *Signer) Meeting(m Meeting) (string, error) {
	var errs problems
	if !m.Native {
		if !validDigits(m.MeetingNumber.Digits) {
			errs = append(errs, badMeetingNumber("meetingNumber", strconv.Quote(m.MeetingNumber.Digits)))
		}
		checkZeroOne(&errs, CodeInvalidRole, "role", m.Role)
	}
	checkLifetime(&errs, m.ExpiresIn)
	if m.VideoWebRTCMode != nil {
		checkZeroOne(&errs, CodeInvalidField, "videoWebRtcMode", *m.VideoWebRTCMode)
	}
	if err := errs.err(); err != nil {
		return "", err
	}

	var arr [320]byte
	p := append(arr[:0], `{"appKey":`...)
	p = appendJSString(p, s.key)
	p = append(p, `,"sdkKey":`...)
	p = appendJSString(p, s.key)
	if !m.Native {
		p = append(p, `,"mn":`...)
		if m.MeetingNumber.Numeric {
			p = append(p, m.MeetingNumber.Digits...)
		} else {
			p = appendJSString(p, m.MeetingNumber.Digits)
		}
		p = append(p, `,"role":`...)
		p = strconv.AppendInt(p, int64(m.Role), 10)
	}
	exp := m.IssuedAt + m.ExpiresIn
	p = append(p, `,"iat":`...)
	p = strconv.AppendInt(p, m.IssuedAt, 10)
	p = append(p, `,"exp":`...)
	p = strconv.AppendInt(p, exp, 10)
	p = append(p, `,"tokenExp":`...)
	p = strconv.AppendInt(p, exp, 10)
	if m.VideoWebRTCMode != nil {
		p = append(p, `,"video_webrtc_mode":`...)
		p = strconv.AppendInt(p, int64(*m.VideoWebRTCMode), 10)
	}
	p = append(p, '}')
	return s.jwt(p), nil
}

func checkZeroOne(errs *problems, code, property string, v int) {
	if v != 0 && v != 1 {
		errs.add(code, property, "Value is not valid. Got "+strconv.Itoa(v)+", expected 0,1")
	}
}

func checkLifetime(errs *problems, seconds int64) {
	if seconds < MinLifetime || seconds > MaxLifetime {
		errs.add(CodeInvalidExpiration, "expirationSeconds", "Value must in between 1800 and 172800")
	}
}
