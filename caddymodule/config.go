package caddymodule

import (
	"errors"
	"fmt"
	"strings"
)

// configError is a config rule's refusal. Its message names the option
// and the fix, the same for JSON and the Caddyfile; option is what the
// Caddyfile adapter looks up to name the option's own line (a nested
// one as "block option", such as "zoom_api timeout").
type configError struct{ option, msg string }

func (e *configError) Error() string { return e.msg }

// errorAt is a refusal about option.
func errorAt(option, msg string) error { return &configError{option: option, msg: msg} }

// optionOf is the option a check's error is about, or "".
func optionOf(err error) string {
	var ce *configError
	if errors.As(err, &ce) {
		return ce.option
	}
	return ""
}

// lineOf is the line a Caddyfile error is reported at: the option's own,
// else its block's (a nested option's block), else the block's opening
// line (where a missing option belongs).
func lineOf(err error, lines map[string]int, blockLine int) int {
	opt := optionOf(err)
	for opt != "" {
		if l, ok := lines[opt]; ok {
			return l
		}
		i := strings.LastIndexByte(opt, ' ')
		if i < 0 {
			break
		}
		opt = opt[:i]
	}
	return blockLine
}

// atLine is err as Caddy's Dispenser.Errf writes it, at file:line.
func atLine(err error, file string, line int) error {
	return fmt.Errorf("%w, at %s:%d", err, file, line)
}
