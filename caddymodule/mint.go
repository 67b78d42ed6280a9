package caddymodule

import (
	"net/http"
	"time"

	"github.com/zoomsig/caddy-zoom-signature/caddymodule/signature"
)

// lifetime is the configured exp - iat, in seconds.
func (h *Handler) lifetime() int64 { return int64(time.Duration(h.Expires) / time.Second) }

// issuedAtMillis is now, back-dated for clock skew.
func (h *Handler) issuedAtMillis() int64 { return h.now().Add(-h.backdate).UnixMilli() }

// mintMeeting signs a Meeting SDK JWT, or a Web SDK 1.x signature for sdk
// websdk1, issued now less the back-dating. Inputs were validated before;
// an error here is a bug, answered with 500 and no token.
func (h *Handler) mintMeeting(m signature.Meeting) (string, *refusal) {
	var (
		token string
		err   error
	)
	ms := h.issuedAtMillis()
	if h.SDK == sdkWebSDK1 {
		token, err = h.signer.WebSDK1(m.MeetingNumber, m.Role, ms, false)
	} else {
		m.IssuedAt = ms / 1000
		token, err = h.signer.Meeting(m)
	}
	if err != nil {
		return "", refuse(http.StatusInternalServerError, codeSigningFailed, "signature", "the signature could not be minted: "+problemReason(err))
	}
	return token, nil
}

func (h *Handler) mintVideo(v signature.Video) (string, *refusal) {
	v.IssuedAt = h.issuedAtMillis() / 1000
	token, err := h.signer.Video(v)
	if err != nil {
		errs, _ := err.(signature.Errors)
		if len(errs) == 0 {
			errs = signature.Errors{{Code: codeSigningFailed, Property: "signature", Reason: err.Error()}}
		}
		return "", &refusal{status: http.StatusBadRequest, problems: errs}
	}
	return token, nil
}
