package caddymodule

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"strings"
	"testing"
)

// TestConfigFieldsDocumented: Caddy's website builds its JSON docs from the
// doc comments of the config structs, so every exported field with a JSON
// name needs one of its own (a comment shared by a group of fields leaves
// all but the first blank).
func TestConfigFieldsDocumented(t *testing.T) {
	fset := token.NewFileSet()
	pkgs, err := parser.ParseDir(fset, ".", func(fi fs.FileInfo) bool {
		return !strings.HasSuffix(fi.Name(), "_test.go")
	}, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, p := range pkgs {
		for _, f := range p.Files {
			ast.Inspect(f, func(node ast.Node) bool {
				ts, ok := node.(*ast.TypeSpec)
				if !ok || !ts.Name.IsExported() {
					return true
				}
				st, ok := ts.Type.(*ast.StructType)
				if !ok {
					return true
				}
				for _, fld := range st.Fields.List {
					if fld.Tag == nil || !strings.Contains(fld.Tag.Value, `json:"`) {
						continue
					}
					for _, name := range fld.Names {
						n++
						if fld.Doc == nil || len(fld.Names) > 1 {
							t.Errorf("%s.%s (%s) has no doc comment of its own", ts.Name.Name, name.Name, fset.Position(name.Pos()))
						}
					}
				}
				return true
			})
		}
	}
	if n < 40 {
		t.Fatalf("only %d config fields found", n)
	}
}
