// Package jsondepth bounds the nesting of a JSON document before a parser
// sees it. gjson and segmentio/encoding validate by recursion, so a body of
// ten million '[' overflows the goroutine stack, which kills the whole
// process (a fatal error, not a recoverable panic). One linear pass that
// counts brackets outside strings settles it first, in constant stack.
package jsondepth

import (
	"bytes"
	"strconv"
)

// Max is the nesting the module accepts in any JSON it is handed: a join
// config, a request body, a token's header or payload. Real ones nest
// three or four levels.
const Max = 64

// Error says how deep a document went.
type Error struct{ Limit int }

func (e *Error) Error() string {
	return "the JSON nests deeper than " + strconv.Itoa(e.Limit) + " levels"
}

// Check returns an *Error when b nests arrays and objects deeper than
// limit. It does not validate anything else: unbalanced or malformed
// input is left for the parser to refuse.
func Check(b []byte, limit int) error {
	depth := 0
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '"':
			// Skip the string: find its closing quote, one not escaped.
			for {
				q := bytes.IndexByte(b[i+1:], '"')
				if q < 0 {
					return nil
				}
				i += q + 1
				bs := 0
				for k := i - 1; k >= 0 && b[k] == '\\'; k-- {
					bs++
				}
				if bs%2 == 0 {
					break
				}
			}
		case '[', '{':
			if depth++; depth > limit {
				return &Error{Limit: limit}
			}
		case ']', '}':
			depth--
		}
	}
	return nil
}
