package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"strings"
)

// A suite is a group of tests the summary line names. A test belongs to
// the most specific suite whose package suffix and test-name prefix match.
type suite struct {
	name    string
	group   string // the suites of a group are named together: tunnels (frp, chisel)
	pkg     string // import path suffix; "" for any package
	test    string // top-level test name prefix; "" for any test
	verbose bool   // printed in full even when it passes: its log is the measurement
}

// suites, in the order the summary names them.
var suites = []suite{
	{name: "unit"},
	{name: "integration", pkg: "/caddymodule"},
	{name: "cluster", pkg: "/caddymodule", test: "TestCluster"},
	{name: "browser", pkg: "/caddymodule", test: "TestBrowser"},
	{name: "frp", group: "tunnels", pkg: "/caddymodule", test: "TestTunnelFRP", verbose: true},
	{name: "chisel", group: "tunnels", pkg: "/caddymodule", test: "TestTunnelChisel", verbose: true},
	{name: "localtunnel", group: "tunnels", pkg: "/caddymodule", test: "TestTunnelLocaltunnel", verbose: true},
	{name: "hosted fixtures", group: "tunnels", pkg: "/caddymodule", test: "TestTunnelHosted", verbose: true},
}

func suiteOf(pkg, test string) int {
	best, score := 0, -1
	for i, s := range suites {
		if (s.pkg != "" && !strings.HasSuffix(pkg, s.pkg)) || (s.test != "" && !strings.HasPrefix(test, s.test)) {
			continue
		}
		if n := len(s.pkg) + len(s.test); n > score {
			best, score = i, n
		}
	}
	return best
}

// testEvent is one line of go test -json (cmd/test2json).
type testEvent struct {
	Action     string
	Package    string
	ImportPath string // build-output and build-fail
	Test       string
	Output     string
}

type tally struct {
	ran, failed, skipped int
	reason               string // why the first skipped test was skipped
}

// report turns go test -json back into go test's own output for the CI
// log: package lines, failed tests in full, skipped tests with their
// reason, and the verbose suites in full; passing tests stay quiet, as
// without -v. It counts every top-level test into its suite.
type report struct {
	out      io.Writer
	all      bool                     // -v was asked for: print every test
	pending  map[string]*bytes.Buffer // package + " " + top-level test
	tallies  []tally
	pkgFail  map[string]bool // packages that failed
	testFail map[string]bool // packages where a test failed
}

func newReport(out io.Writer, all bool) *report {
	return &report{out: out, all: all, pending: map[string]*bytes.Buffer{}, tallies: make([]tally, len(suites)), pkgFail: map[string]bool{}, testFail: map[string]bool{}}
}

// read consumes go test -json until EOF.
func (r *report) read(in io.Reader) {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var e testEvent
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil || e.Action == "" {
			fmt.Fprintln(r.out, sc.Text()) // not an event: go test's own words
			continue
		}
		r.event(e)
	}
	for _, b := range r.pending { // a test that never ended (a crash)
		r.out.Write(b.Bytes())
	}
}

func (r *report) event(e testEvent) {
	top, _, _ := strings.Cut(e.Test, "/")
	key := e.Package + " " + top
	switch {
	case e.Action == "build-output":
		io.WriteString(r.out, e.Output)
	case e.Action == "build-fail":
		r.pkgFail[e.ImportPath] = true
	case e.Test == "" && e.Action == "output":
		if e.Output != "PASS\n" {
			io.WriteString(r.out, e.Output)
		}
	case e.Test == "" && e.Action == "fail":
		r.pkgFail[e.Package] = true
		r.flush(e.Package)
	case e.Test == "" && (e.Action == "pass" || e.Action == "skip"):
		r.flush(e.Package)
	case e.Action == "output":
		b := r.pending[key]
		if b == nil {
			b = new(bytes.Buffer)
			r.pending[key] = b
		}
		b.WriteString(e.Output)
	case e.Test == top && (e.Action == "pass" || e.Action == "fail" || e.Action == "skip"):
		i := suiteOf(e.Package, top)
		t := &r.tallies[i]
		b := r.pending[key]
		delete(r.pending, key)
		switch e.Action {
		case "skip":
			t.skipped++
			if t.reason == "" && b != nil {
				t.reason = skipReason(b.String())
			}
		case "fail":
			t.ran++
			t.failed++
			r.testFail[e.Package] = true
		default:
			t.ran++
		}
		if b != nil && (e.Action != "pass" || suites[i].verbose || r.all) {
			r.out.Write(b.Bytes())
		}
	}
}

// flush prints what is left of a finished package's tests.
func (r *report) flush(pkg string) {
	for key, b := range r.pending {
		if strings.HasPrefix(key, pkg+" ") {
			r.out.Write(b.Bytes())
			delete(r.pending, key)
		}
	}
}

var logLine = regexp.MustCompile(`^\s+\S+\.go:\d+: (.*)$`)

// skipReason is the last message a skipped test logged: its t.Skip.
func skipReason(out string) string {
	reason := ""
	for line := range strings.Lines(out) {
		if m := logLine.FindStringSubmatch(strings.TrimRight(line, "\n")); m != nil {
			reason = m[1]
		}
		if strings.HasPrefix(line, "--- SKIP") {
			break
		}
	}
	return reason
}

// summary is the one line that ends testall: the suites that ran, with
// their failures, and the ones skipped, with why.
func (r *report) summary() string {
	for pkg := range r.pkgFail {
		// A package that failed outside its tests (a build error, a
		// crash, the leak scan in TestMain) counts against the suite its
		// tests would have been in.
		if !r.testFail[pkg] {
			i := suiteOf(pkg, "")
			r.tallies[i].failed++
			r.tallies[i].ran++
		}
	}
	var ran, skipped []string
	members := map[string][]string{} // group -> its suites that ran
	for i, s := range suites {
		t := r.tallies[i]
		switch {
		case t.ran > 0:
			name := s.name
			if t.failed > 0 {
				name += fmt.Sprintf(" [%d failed]", t.failed)
			}
			if s.group == "" {
				ran = append(ran, name)
			} else {
				if members[s.group] == nil {
					ran = append(ran, s.group) // its place; filled in below
				}
				members[s.group] = append(members[s.group], name)
			}
			if t.skipped > 0 {
				// Some of its tests skipped: say which part, and why.
				skipped = append(skipped, fmt.Sprintf("%d of %s's tests (%s)", t.skipped, s.name, shorten(t.reason)))
			}
		case t.skipped > 0:
			skipped = append(skipped, fmt.Sprintf("%s (%s)", s.name, shorten(t.reason)))
		default:
			skipped = append(skipped, s.name+" (not selected)")
		}
	}
	for i, name := range ran {
		if m, ok := members[name]; ok {
			ran[i] = name + " (" + strings.Join(m, ", ") + ")"
		}
	}
	line := "testall: ran " + orNone(ran)
	if len(skipped) > 0 {
		line += "; skipped: " + strings.Join(skipped, ", ")
	}
	return line
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "nothing"
	}
	return strings.Join(s, ", ")
}

// shorten keeps a skip reason to its first clause, for one line.
func shorten(reason string) string {
	if reason == "" {
		return "no reason given"
	}
	if i := strings.IndexAny(reason, ";\n"); i > 0 {
		reason = reason[:i]
	}
	if r := []rune(reason); len(r) > 100 {
		reason = string(r[:99]) + "…"
	}
	return reason
}
