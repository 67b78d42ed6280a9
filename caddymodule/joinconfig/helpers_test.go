package joinconfig

// Whole-document forms of Parse and the Doc methods, for the tests: the
// module parses once and uses the Doc.

func Check(doc []byte) error {
	var d Doc
	return Parse(doc, &d)
}

func Get(doc []byte, path string) Value {
	var d Doc
	if Parse(doc, &d) != nil {
		return Value{}
	}
	return d.Get(path)
}

func Read(doc []byte, paths []string, out []Value) {
	var d Doc
	if Parse(doc, &d) != nil {
		clear(out)
		return
	}
	d.Read(paths, out)
}

func Duplicated(doc []byte, paths []string) string {
	var d Doc
	if Parse(doc, &d) != nil {
		return ""
	}
	return d.Duplicated(paths)
}

// Apply is Parse, Splice and AppendTo: the edited document in one piece.
func Apply(dst, doc []byte, edits ...Edit) ([]byte, error) {
	var d Doc
	if err := Parse(doc, &d); err != nil {
		return nil, err
	}
	var s Spliced
	if err := d.Splice(&s, nil, edits...); err != nil {
		return nil, err
	}
	return s.AppendTo(dst), nil
}
