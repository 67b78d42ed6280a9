package inspect

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/tidwall/gjson"
)

var formatNames = map[string]string{
	FormatMeeting: "Meeting SDK JWT",
	FormatVideo:   "Video SDK JWT",
	FormatWebSDK1: "legacy Web SDK 1.x signature",
	FormatUnknown: "not recognised",
}

// timeClaims are printed with a readable UTC time beside them.
var timeClaims = map[string]bool{"iat": true, "exp": true, "tokenExp": true, "nbf": true}

// WriteText writes the report for people: the format, the decoded parts
// with readable times, then one line per finding.
func (r Report) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "format:\t%s (%s)\n", r.Format, formatNames[r.Format])
	if r.Header != nil {
		fmt.Fprintf(tw, "header:\t%s\n", r.Header)
	}
	if r.Claims != nil {
		fmt.Fprintln(tw, "claims:")
		gjson.ParseBytes(r.Claims).ForEach(func(k, v gjson.Result) bool {
			extra := ""
			if timeClaims[k.Str] && v.Type == gjson.Number && v.Num < 1e11 {
				extra = "  (" + time.Unix(v.Int(), 0).UTC().Format(time.RFC3339) + ")"
			}
			fmt.Fprintf(tw, "  %s\t%s%s\n", k.Str, v.Raw, extra)
			return true
		})
	}
	if len(r.Findings) == 0 {
		fmt.Fprintln(tw, "findings:\tnone")
	} else {
		fmt.Fprintln(tw, "findings:")
		for _, f := range r.Findings {
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", f.Severity, f.Code, f.Message)
		}
	}
	return tw.Flush()
}
