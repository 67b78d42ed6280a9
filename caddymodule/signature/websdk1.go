package signature

import (
	"encoding/base64"
	"strconv"
)

// WebSDK1 mints a legacy Web SDK 1.x signature (JWT-app API key and secret):
//
//	base64(key.mn.ts.role.base64(HMAC-SHA256(secret, base64(key+mn+ts+role))))
//
// ts is in milliseconds. The outer encoding is standard padded base64, as
// Zoom's Node sample writes it, or base64url without padding (urlSafe), as
// the forum thread's PHP does. Zoom refuses these since Web SDK 2.7; they
// exist so old frontends can migrate.
func (s *Signer) WebSDK1(mn MeetingNumber, role int, tsMillis int64, urlSafe bool) (string, error) {
	var errs problems
	if !validDigits(mn.Digits) {
		errs = append(errs, badMeetingNumber("meetingNumber", strconv.Quote(mn.Digits)))
	}
	checkZeroOne(&errs, CodeInvalidRole, "role", role)
	if err := errs.err(); err != nil {
		return "", err
	}
	ts := strconv.FormatInt(tsMillis, 10)
	r := strconv.Itoa(role)
	msg := base64.StdEncoding.EncodeToString([]byte(s.key + mn.Digits + ts + r))
	var sum [32]byte
	hash := base64.StdEncoding.EncodeToString(s.hmac(sum[:0], []byte(msg)))
	plain := []byte(s.key + "." + mn.Digits + "." + ts + "." + r + "." + hash)
	if urlSafe {
		return base64.RawURLEncoding.EncodeToString(plain), nil
	}
	return base64.StdEncoding.EncodeToString(plain), nil
}
