package workflow_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"reflect"
	"regexp"
	"testing"

	"github.com/durablefuture/durablefuture/pkg/sdk/activity"
	"github.com/durablefuture/durablefuture/pkg/sdk/client"
	"github.com/durablefuture/durablefuture/pkg/sdk/failure"
	"github.com/durablefuture/durablefuture/pkg/sdk/worker"
	"github.com/durablefuture/durablefuture/pkg/sdk/workflow"
)

// The SDK's struct types are aliases of engine types, so go doc shows no
// fields: each alias's doc comment lists them. This test fails when the
// engine gains a field the comment does not list. (client.ListFilter, still
// growing, lists its main fields and points to the engine's doc.)
func TestAliasDocsListFields(t *testing.T) {
	for _, tc := range []struct {
		dir, name string
		typ       any
	}{
		{"../workflow", "ActivityOptions", workflow.ActivityOptions{}},
		{"../workflow", "RetryPolicy", workflow.RetryPolicy{}},
		{"../workflow", "Info", workflow.Info{}},
		{"../workflow", "ChildWorkflowOptions", workflow.ChildWorkflowOptions{}},
		{"../workflow", "WorkflowExecution", workflow.WorkflowExecution{}},
		{"../activity", "Info", activity.Info{}},
		{"../worker", "Options", worker.Options{}},
		{"../client", "RunInfo", client.RunInfo{}},
		{"../failure", "ApplicationError", failure.ApplicationError{}},
		{"../failure", "PanicError", failure.PanicError{}},
		{"../failure", "ActivityError", failure.ActivityError{}},
		{"../failure", "WorkflowExecutionError", failure.WorkflowExecutionError{}},
		{"../failure", "ChildWorkflowError", failure.ChildWorkflowError{}},
		{"../failure", "NonDeterminismError", failure.NonDeterminismError{}},
		{"../failure", "WorkflowCodeError", failure.WorkflowCodeError{}},
	} {
		doc := aliasDoc(t, tc.dir, tc.name)
		if doc == "" {
			t.Errorf("%s.%s has no doc comment", filepath.Base(tc.dir), tc.name)
			continue
		}
		rt := reflect.TypeOf(tc.typ)
		for i := range rt.NumField() {
			f := rt.Field(i)
			if !f.IsExported() {
				continue
			}
			if !regexp.MustCompile(`\b` + f.Name + `\b`).MatchString(doc) {
				t.Errorf("the doc comment of %s.%s does not list the field %s", filepath.Base(tc.dir), tc.name, f.Name)
			}
		}
	}
}

// aliasDoc returns the doc comment of the type name declared in dir.
func aliasDoc(t *testing.T, dir, name string) string {
	t.Helper()
	pkgs, err := parser.ParseDir(token.NewFileSet(), dir, nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pkgs {
		for _, f := range p.Files {
			for _, d := range f.Decls {
				gd, ok := d.(*ast.GenDecl)
				if !ok || gd.Tok != token.TYPE {
					continue
				}
				for _, s := range gd.Specs {
					ts := s.(*ast.TypeSpec)
					if ts.Name.Name != name {
						continue
					}
					if ts.Doc != nil {
						return ts.Doc.Text()
					}
					if gd.Doc != nil {
						return gd.Doc.Text()
					}
					return ""
				}
			}
		}
	}
	t.Fatalf("no type %s in %s", name, dir)
	return ""
}
