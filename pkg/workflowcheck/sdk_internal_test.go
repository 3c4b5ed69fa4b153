package workflowcheck

import (
	"go/types"
	"testing"

	"golang.org/x/tools/go/packages"
)

// TestSDKNames: the names the checker knows (scheduling functions and
// methods, SideEffect, Context) exist in the real pkg/sdk/workflow, so the
// stubs of the test corpus cannot drift from it unnoticed.
func TestSDKNames(t *testing.T) {
	pkgs, err := packages.Load(&packages.Config{Mode: packages.NeedTypes | packages.NeedName}, sdkWorkflowPath)
	if err != nil || len(pkgs) != 1 || len(pkgs[0].Errors) > 0 {
		t.Fatalf("load %s: %v %v", sdkWorkflowPath, err, pkgs)
	}
	scope := pkgs[0].Types.Scope()
	ctx, ok := scope.Lookup("Context").(*types.TypeName)
	if !ok || !isWorkflowContext(ctx.Type()) {
		t.Errorf("workflow.Context: %v, not recognised", ctx)
	}
	for name := range schedulingFuncs {
		fn, ok := scope.Lookup(name).(*types.Func)
		if !ok {
			t.Errorf("workflow.%s: not a function", name)
			continue
		}
		if !isScheduling(fn) {
			t.Errorf("workflow.%s: not recognised as scheduling", name)
		}
	}
	if fn, ok := scope.Lookup("SideEffect").(*types.Func); !ok || !isSideEffect(fn) {
		t.Errorf("workflow.SideEffect: %v, not recognised", fn)
	}
	for typ, methods := range schedulingMethods {
		tn, ok := scope.Lookup(typ).(*types.TypeName)
		if !ok {
			t.Errorf("workflow.%s: not a type", typ)
			continue
		}
		for m := range methods {
			obj, _, _ := types.LookupFieldOrMethod(tn.Type(), true, nil, m)
			fn, ok := obj.(*types.Func)
			if !ok || !isScheduling(fn) {
				t.Errorf("workflow.%s.%s: %v, not recognised as scheduling", typ, m, obj)
			}
		}
	}
}
