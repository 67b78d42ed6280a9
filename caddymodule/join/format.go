package join

import (
	"fmt"
	"strconv"

	"github.com/zoomsig/caddy-zoom-signature/caddymodule/joinconfig"
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/problem"
	"github.com/zoomsig/caddy-zoom-signature/caddymodule/signature"
)

// SDK is a signature format.
type SDK uint8

// Formats.
const (
	// Meeting is the Meeting SDK JWT, the default.
	Meeting SDK = iota
	// Video is the Video SDK JWT.
	Video
	// WebSDK1 is the legacy Web SDK 1.x signature, refused by Web SDK 2.7
	// and later; it exists so old frontends can migrate.
	WebSDK1
)

var sdkNames = [...]string{"meeting", "video", "websdk1"}

func (s SDK) String() string {
	if int(s) < len(sdkNames) {
		return sdkNames[s]
	}
	return "sdk(" + strconv.Itoa(int(s)) + ")"
}

// ParseSDK reads a format's name; "" is Meeting.
func ParseSDK(name string) (SDK, error) {
	if name == "" {
		return Meeting, nil
	}
	for i, n := range sdkNames {
		if n == name {
			return SDK(i), nil
		}
	}
	return 0, fmt.Errorf("sdk %q is not known; use meeting, video or websdk1", name)
}

// Format returns the format's implementation.
func (s SDK) Format() Format { return formats[s] }

var formats = [...]Format{Meeting: meetingFormat{}, Video: videoFormat{}, WebSDK1: webSDK1Format{}}

// Fields are the JSON paths of a join config that the formats read.
type Fields struct {
	MeetingNumber, Role, SessionName, UserIdentity, SessionKey string
	// ZAK is where a ZAK stands; read only when the policy needs one.
	ZAK string
	// JoinURL is where an invite link stands, read when the meeting
	// number is missing; Passcode is where the passcode stands, read to
	// know whether the backend left it empty. "" for not read.
	JoinURL, Passcode string
	// OBFFlag is where the backend says a join needs an OBF token (true);
	// "" for not read.
	OBFFlag string
}

// Format is one kind of signature: how to read what is asked from a join
// config (inject mode) or from a request body shaped like Zoom's sample
// (endpoint mode), and how to mint what is granted.
type Format interface {
	SDK() SDK
	// FromConfig reads the Ask of a backend's join config, parsed and
	// indexed by joinconfig.Parse. Its faults are the backend's.
	FromConfig(d *joinconfig.Doc, f Fields) (Ask, *problem.Error)
	// FromRequest parses a sample-shaped request body. Its faults are the
	// client's, with the sample's texts and order.
	FromRequest(body []byte) (Ask, *problem.Error)
	// Mint signs a granted Ask, issued at iatMillis.
	Mint(keys *signature.Signer, a Ask, g Grant, iatMillis int64) (string, *problem.Error)
	// KeyFields are where the SDK key goes by default: in a join config,
	// and in an endpoint answer ("" for nowhere).
	KeyFields() (config, answer string)
}

type meetingFormat struct{}

func (meetingFormat) SDK() SDK { return Meeting }

func (meetingFormat) KeyFields() (string, string) { return "sdkKey", "sdkKey" }

func (meetingFormat) FromConfig(d *joinconfig.Doc, f Fields) (Ask, *problem.Error) {
	// Lookups in the Doc's index; a path that is not configured ("") reads
	// as missing.
	mnField, roleField, zakField, link := d.Get(f.MeetingNumber), d.Get(f.Role), d.Get(f.ZAK), d.Get(f.JoinURL)

	var mn signature.MeetingNumber
	var fromLink bool
	if !mnField.Exists() || mnField.Kind == joinconfig.KindNull || (mnField.Kind == joinconfig.KindString && mnField.Str == "") {
		if link.Kind == joinconfig.KindString && link.Str != "" {
			var err error
			if mn, err = MeetingFromLink(link.Str); err != nil {
				return Ask{}, problem.New(problem.Backend, CodeBackendLink, f.JoinURL,
					"the backend's join config has no meeting number at "+f.MeetingNumber+", and its invite link at "+f.JoinURL+" cannot be read: "+err.Error()+"; send the meeting number, or a link such as https://zoom.us/j/85746065432")
			}
			fromLink = true
		}
	}
	if !fromLink {
		var err error
		if mn, err = meetingNumber(mnField); err != nil {
			return Ask{}, problem.New(problem.Backend, CodeBackendMeeting, f.MeetingNumber,
				"the backend's join config has no valid meeting number at "+f.MeetingNumber+": "+firstReason(err)+"; fix the backend or set meeting_number_field")
		}
	}
	role, perr := roleFrom(roleField, f.Role)
	if perr != nil {
		return Ask{}, perr
	}
	pass := d.Get(f.Passcode)
	a := Ask{
		From:        FromBackend,
		Meeting:     mn.Digits,
		Role:        role,
		HasZAK:      zakField.Kind == joinconfig.KindString && zakField.Str != "",
		HasPasscode: pass.Kind == joinconfig.KindString && pass.Str != "",
		WantsOBF:    d.Get(f.OBFFlag).Kind == joinconfig.KindTrue,
		meeting:     signature.Meeting{MeetingNumber: mn, Role: role},
	}
	// The meeting number is written back normalised, in its own JSON type
	// (a string when it came from a link): the page passes it to join().
	switch {
	case fromLink:
		a.Fixes = append(a.Fixes, joinconfig.String(f.MeetingNumber, mn.Digits))
	case mnField.Kind == joinconfig.KindString && mnField.Str != mn.Digits:
		a.Fixes = append(a.Fixes, joinconfig.String(f.MeetingNumber, mn.Digits))
	case mnField.Kind == joinconfig.KindNumber && string(mnField.Raw) != mn.Digits:
		a.Fixes = append(a.Fixes, joinconfig.Edit{Path: f.MeetingNumber, Raw: []byte(mn.Digits)})
	}
	return a, nil
}

func (meetingFormat) FromRequest(body []byte) (Ask, *problem.Error) {
	m, err := signature.ParseWebMeetingRequest(body)
	if err != nil {
		return Ask{}, clientError(err)
	}
	return Ask{From: FromClient, Meeting: m.MeetingNumber.Digits, Role: m.Role, ExpiresIn: m.ExpiresIn, meeting: m}, nil
}

func (meetingFormat) Mint(keys *signature.Signer, a Ask, g Grant, iatMillis int64) (string, *problem.Error) {
	m := a.meeting
	m.Role, m.ExpiresIn, m.IssuedAt = g.Role, g.ExpiresIn, iatMillis/1000
	tok, err := keys.Meeting(m)
	return tok, mintError(err)
}

// webSDK1Format reads like the Meeting SDK and mints the legacy format.
type webSDK1Format struct{ meetingFormat }

func (webSDK1Format) SDK() SDK { return WebSDK1 }

func (webSDK1Format) KeyFields() (string, string) { return "apiKey", "" }

func (webSDK1Format) Mint(keys *signature.Signer, a Ask, g Grant, iatMillis int64) (string, *problem.Error) {
	tok, err := keys.WebSDK1(a.meeting.MeetingNumber, g.Role, iatMillis, false)
	return tok, mintError(err)
}

type videoFormat struct{}

func (videoFormat) SDK() SDK { return Video }

// The Video SDK does not take the key.
func (videoFormat) KeyFields() (string, string) { return "", "" }

func (videoFormat) FromConfig(d *joinconfig.Doc, f Fields) (Ask, *problem.Error) {
	var v [5]joinconfig.Value
	d.Read([]string{f.SessionName, f.Role, f.UserIdentity, f.SessionKey, f.Passcode}, v[:])
	name, roleField, id, key, pass := v[0], v[1], v[2], v[3], v[4]
	if name.Kind != joinconfig.KindString || name.Str == "" {
		return Ask{}, problem.New(problem.Backend, CodeBackendSession, f.SessionName,
			"the backend's join config has no session name at "+f.SessionName+"; fix the backend or set session_name_field")
	}
	role, err := roleFrom(roleField, f.Role)
	if err != nil {
		return Ask{}, err
	}
	claims := signature.Video{SessionName: name.Str, Role: role}
	if id.Kind == joinconfig.KindString {
		claims.UserIdentity = &id.Str
	}
	if key.Kind == joinconfig.KindString {
		claims.SessionKey = &key.Str
	}
	// The lifetime is the policy's, which the config load checked.
	check := claims
	check.ExpiresIn = signature.DefaultLifetime
	if err := check.Check(); err != nil {
		return Ask{}, problem.As(err).Recode(problem.Backend, CodeBackendSession)
	}
	if perr := videoPasscode(pass, f.Passcode); perr != nil {
		return Ask{}, perr
	}
	return Ask{From: FromBackend, Meeting: name.Str, Role: role, HasPasscode: pass.Kind == joinconfig.KindString && pass.Str != "", video: claims}, nil
}

// videoPasscode refuses a join config whose passcode the Video SDK's
// join() would refuse (5013): not a string, or one it or Zoom does not
// take. The page passes it to join() beside the token, so no token is
// minted for a join that cannot happen.
func videoPasscode(v joinconfig.Value, path string) *problem.Error {
	var reason string
	switch v.Kind {
	case joinconfig.KindString:
		reason = signature.PasscodeReason(v.Str)
	case joinconfig.KindNumber, joinconfig.KindTrue, joinconfig.KindObject, joinconfig.KindArray:
		// join() takes a passcode of type string only ("The maximum
		// length of password is 10" is its text for any other).
		// The value is the session's secret: its kind is named, never it.
		reason = "the passcode is " + joinconfig.KindName(v.Kind) + ", not a string, and the Video SDK's join() refuses it (5013); send it as a JSON string"
	}
	if reason == "" {
		return nil
	}
	return problem.New(problem.Backend, CodeBackendPasscode, path,
		"the backend's join config has a passcode at "+path+" the Video SDK refuses: "+reason)
}

func (videoFormat) FromRequest(body []byte) (Ask, *problem.Error) {
	v, err := signature.ParseVideoRequest(body)
	if err != nil {
		return Ask{}, clientError(err)
	}
	return Ask{From: FromClient, Meeting: v.SessionName, Role: v.Role, ExpiresIn: v.ExpiresIn, video: v}, nil
}

func (videoFormat) Mint(keys *signature.Signer, a Ask, g Grant, iatMillis int64) (string, *problem.Error) {
	v := a.video
	v.Role, v.ExpiresIn, v.IssuedAt = g.Role, g.ExpiresIn, iatMillis/1000
	tok, err := keys.Video(v)
	return tok, mintError(err)
}

// meetingNumber reads a backend's meeting number; a string is parsed as
// Read unescaped it, without a second copy.
func meetingNumber(v joinconfig.Value) (signature.MeetingNumber, error) {
	if v.Kind == joinconfig.KindString {
		return signature.ParseMeetingNumber(v.Str)
	}
	return signature.MeetingNumberFrom(v.Raw)
}

// roleFrom reads the role a backend asked for.
func roleFrom(v joinconfig.Value, path string) (int, *problem.Error) {
	role, err := signature.RoleFrom(v.Raw)
	if err != nil {
		return 0, problem.New(problem.Backend, CodeBackendRole, path,
			"the backend's join config has an invalid role at "+path+": "+firstReason(err))
	}
	return role, nil
}

// mintError: the inputs were checked before minting, so a failure here is
// a bug or a config the load should have refused; no token goes out.
func mintError(err error) *problem.Error {
	if err == nil {
		return nil
	}
	return problem.New(problem.Config, CodeSigningFailed, "signature", "the signature could not be minted: "+firstReason(err))
}

func clientError(err error) *problem.Error {
	if pe := problem.As(err); pe != nil {
		return pe
	}
	return problem.New(problem.Client, signature.CodeInvalidBody, "body", err.Error())
}

func firstReason(err error) string {
	if pe := problem.As(err); pe != nil {
		return pe.Reason()
	}
	return err.Error()
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
