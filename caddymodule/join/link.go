package join

import (
	"errors"
	"net/url"
	"strings"

	"github.com/zoomsig/caddy-zoom-signature/caddymodule/signature"
)

// MaxLinkLength bounds an invite link; Zoom's are about 100 bytes.
const MaxLinkLength = 2048

// MeetingFromLink reads the meeting number of a Zoom invite link, such as
// https://us02web.zoom.us/j/85746065432?pwd=...: a join (/j/), webinar or
// registration (/w/) or start (/s/) link on zoom.us, zoomgov.com or one of
// their subdomains (us02web., <company>.). The pwd= parameter is not the
// passcode (it is an encoded form of it, which the SDK refuses as
// passWord), so it is ignored; the passcode comes from a meeting lookup.
func MeetingFromLink(raw string) (signature.MeetingNumber, error) {
	if len(raw) > MaxLinkLength {
		return signature.MeetingNumber{}, errors.New("the invite link is longer than 2048 bytes")
	}
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return signature.MeetingNumber{}, errors.New("the invite link is not an absolute https URL")
	}
	if !zoomHost(strings.ToLower(u.Hostname())) {
		return signature.MeetingNumber{}, errors.New("the invite link's host is not zoom.us, zoomgov.com or a subdomain of them")
	}
	parts := strings.Split(strings.Trim(u.Path, "/"), "/")
	if len(parts) != 2 || (parts[0] != "j" && parts[0] != "w" && parts[0] != "s") {
		return signature.MeetingNumber{}, errors.New("the invite link's path is not /j/<meeting number>, /w/<meeting number> or /s/<meeting number>")
	}
	mn, err := signature.ParseMeetingNumber(parts[1])
	if err != nil {
		return signature.MeetingNumber{}, errors.New("the invite link's meeting number is not 9 to 11 digits")
	}
	return mn, nil
}

func zoomHost(h string) bool {
	for _, base := range []string{"zoom.us", "zoomgov.com"} {
		if h == base || strings.HasSuffix(h, "."+base) {
			return true
		}
	}
	return false
}
