package workflowcheck

import (
	"fmt"
	"go/ast"
	"go/token"
	"go/types"
	"path/filepath"

	"golang.org/x/tools/go/analysis"
	"golang.org/x/tools/go/types/typeutil"
)

// Analyzer reports what a replay of workflow code would not reproduce; see
// the package doc for the rules.
var Analyzer = &analysis.Analyzer{
	Name: "workflowcheck",
	Doc: `check DurableFuture workflow code for non-determinism

Reports, in functions whose first parameter is workflow.Context and the
functions of the same package they call: go statements (DF2001), Go channels
and select (DF2002), the wall clock (DF2003), random numbers (DF2004), map
ranges that schedule work (DF2005), I/O and printing (DF2006), mutable
package variables (DF2007) and runtime.LockOSThread (DF2008).
//dfvet:ignore DF2003 <reason> on the line or the line above silences a rule
there.`,
	Run: run,
}

func run(pass *analysis.Pass) (any, error) {
	if isSDKPath(pass.Pkg.Path()) {
		return nil, nil // the primitives themselves
	}
	c := &pkgCheck{
		pass:      pass,
		decls:     map[*types.Func]*ast.FuncDecl{},
		units:     map[*types.Func]*unit{},
		sideFuncs: map[ast.Node]bool{},
		sideDecls: map[*types.Func]bool{},
		mutable:   map[*types.Var]token.Pos{},
		schedules: map[*types.Func]*string{},
		reported:  map[report]bool{},
		ignores:   parseIgnores(pass.Fset, pass.Files),
	}
	c.index()
	c.findMutable()
	c.checkWorkflows()
	return nil, nil
}

// A unit is a function checked as workflow code: a workflow or a function
// it calls.
type unit struct {
	name string
	from *unit // the caller it was first reached from; nil for a workflow
}

// where says where a finding is, for the message: "workflow W", or
// "helper (called from workflow W)".
func (u *unit) where() string {
	if u.from == nil {
		return "workflow " + u.name
	}
	root := u.from
	for root.from != nil {
		root = root.from
	}
	if u.from == root {
		return fmt.Sprintf("%s (called from workflow %s)", u.name, root.name)
	}
	return fmt.Sprintf("%s (called from workflow %s via %s)", u.name, root.name, u.from.name)
}

type report struct {
	pos  token.Pos
	code string
}

// pkgCheck is the check of one package.
type pkgCheck struct {
	pass *analysis.Pass

	decls map[*types.Func]*ast.FuncDecl // the package's functions with a body
	units map[*types.Func]*unit         // the functions checked so far
	queue []queued

	// sideFuncs are the function literals given to workflow.SideEffect;
	// sideDecls the functions given to it by name. Neither is checked.
	sideFuncs map[ast.Node]bool
	sideDecls map[*types.Func]bool

	// litRoots are workflow function literals, with the declaration they
	// are in (nil at package level).
	litRoots []litRoot

	mutable   map[*types.Var]token.Pos    // package variables assigned outside init, and where
	schedules map[*types.Func]*string     // memo of funcSchedules; nil value: in progress
	reported  map[report]bool             // each finding once
	ignores   map[string]map[int][]string // file → line → codes (nil: every rule)
}

type queued struct {
	body *ast.BlockStmt
	u    *unit
}

type litRoot struct {
	lit  *ast.FuncLit
	decl *types.Func
}

// index records the package's functions, the workflows among them and the
// functions given to SideEffect.
func (c *pkgCheck) index() {
	for _, f := range c.pass.Files {
		for _, d := range f.Decls {
			c.indexDecl(d)
		}
	}
}

func (c *pkgCheck) indexDecl(d ast.Decl) {
	info := c.pass.TypesInfo
	var encl *types.Func // nil: a package-level declaration
	if fd, ok := d.(*ast.FuncDecl); ok {
		encl, _ = info.Defs[fd.Name].(*types.Func)
		if encl != nil && fd.Body != nil {
			c.decls[encl] = fd
		}
	}
	ast.Inspect(d, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.CallExpr:
			if fn := typeutil.StaticCallee(info, n); fn != nil && isSideEffect(fn) && len(n.Args) == 2 {
				switch arg := ast.Unparen(n.Args[1]).(type) {
				case *ast.FuncLit:
					c.sideFuncs[arg] = true
				case *ast.Ident, *ast.SelectorExpr:
					if f, ok := info.Uses[identOf(arg)].(*types.Func); ok {
						c.sideDecls[f.Origin()] = true
					}
				}
			}
		case *ast.FuncLit:
			if sig, ok := info.TypeOf(n).(*types.Signature); ok && firstParamIsWorkflowContext(sig) {
				c.litRoots = append(c.litRoots, litRoot{n, encl})
			}
		}
		return true
	})
}

func identOf(e ast.Expr) *ast.Ident {
	switch e := e.(type) {
	case *ast.Ident:
		return e
	case *ast.SelectorExpr:
		return e.Sel
	}
	return nil
}

// checkWorkflows checks every workflow and, breadth first, the functions
// they call.
func (c *pkgCheck) checkWorkflows() {
	for _, f := range c.pass.Files {
		for _, d := range f.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Body == nil {
				continue
			}
			fn, _ := c.pass.TypesInfo.Defs[fd.Name].(*types.Func)
			if fn == nil || c.sideDecls[fn] || !firstParamIsWorkflowContext(fn.Signature()) {
				continue
			}
			c.enqueue(fn, nil)
		}
	}
	c.drain()
	// A workflow literal inside a checked function was checked with it.
	for _, r := range c.litRoots {
		if c.sideFuncs[r.lit] || (r.decl != nil && c.units[r.decl] != nil) {
			continue
		}
		pos := c.pass.Fset.Position(r.lit.Pos())
		u := &unit{name: fmt.Sprintf("func literal at %s:%d", filepath.Base(pos.Filename), pos.Line)}
		c.queue = append(c.queue, queued{body: r.lit.Body, u: u})
		c.drain()
	}
}

func (c *pkgCheck) enqueue(fn *types.Func, from *unit) {
	fn = fn.Origin()
	decl, ok := c.decls[fn]
	if !ok || c.units[fn] != nil || c.sideDecls[fn] {
		return
	}
	u := &unit{name: funcName(fn), from: from}
	c.units[fn] = u
	c.queue = append(c.queue, queued{body: decl.Body, u: u})
}

func (c *pkgCheck) drain() {
	for len(c.queue) > 0 {
		q := c.queue[0]
		c.queue = c.queue[1:]
		c.checkBody(q.body, q.u)
	}
}

// funcName is F, or T.M for a method.
func funcName(fn *types.Func) string {
	if fn.Signature().Recv() != nil {
		if n := recvTypeName(fn.Signature()); n != "" {
			return n + "." + fn.Name()
		}
	}
	return fn.Name()
}

// checkBody reports the findings in one function of workflow code and
// queues the functions it calls.
func (c *pkgCheck) checkBody(body *ast.BlockStmt, u *unit) {
	inSelect := map[ast.Node]bool{}        // channel operations of a select's cases: the select is reported
	selStart := map[*ast.Ident]token.Pos{} // a finding on x.Name is reported where x starts
	ast.Inspect(body, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.FuncLit:
			if c.sideFuncs[n] {
				return false // SideEffect's function runs once and is recorded
			}
		case *ast.GoStmt:
			c.report(n.Pos(), GoStatement, u, "go statement",
				"a goroutine runs outside the workflow's scheduler, so a replay cannot reproduce what it does or when; use workflow.Go(ctx, func(ctx workflow.Context) {...})")
		case *ast.SelectStmt:
			c.report(n.Pos(), Channel, u, "select statement",
				"which ready case a Go select takes is random and not recorded, so a replay may take another; use workflow.NewSelector(ctx)")
			for _, cl := range n.Body.List {
				switch comm := cl.(*ast.CommClause).Comm.(type) {
				case *ast.SendStmt:
					inSelect[comm] = true
				case *ast.ExprStmt:
					inSelect[ast.Unparen(comm.X)] = true
				case *ast.AssignStmt:
					inSelect[ast.Unparen(comm.Rhs[0])] = true
				}
			}
		case *ast.SendStmt:
			if !inSelect[n] {
				c.report(n.Pos(), Channel, u, "channel send", channelWhy)
			}
		case *ast.UnaryExpr:
			if n.Op == token.ARROW && !inSelect[n] {
				c.report(n.Pos(), Channel, u, "channel receive", channelWhy)
			}
		case *ast.RangeStmt:
			c.checkRange(n, u)
		case *ast.CallExpr:
			c.checkCall(n, u)
		case *ast.SelectorExpr:
			selStart[n.Sel] = n.Pos()
		case *ast.Ident:
			pos, ok := selStart[n]
			if !ok {
				pos = n.Pos()
			}
			c.checkUse(n, pos, u)
		}
		return true
	})
}

const channelWhy = "a Go channel blocks outside the workflow's scheduler, so a replay cannot reproduce the order of its values; use workflow.NewChannel(ctx)"

func (c *pkgCheck) checkCall(call *ast.CallExpr, u *unit) {
	info := c.pass.TypesInfo
	if b, ok := typeutil.Callee(info, call).(*types.Builtin); ok {
		switch b.Name() {
		case "make":
			if len(call.Args) > 0 {
				if t := info.TypeOf(call.Args[0]); t != nil && isChan(t) {
					c.report(call.Pos(), Channel, u, "make(chan)", channelWhy)
				}
			}
		case "close":
			c.report(call.Pos(), Channel, u, "close of a channel", channelWhy)
		}
		return
	}
	if fn := typeutil.StaticCallee(info, call); fn != nil && fn.Pkg() == c.pass.Pkg {
		c.enqueue(fn, u)
	}
}

func (c *pkgCheck) checkRange(r *ast.RangeStmt, u *unit) {
	info := c.pass.TypesInfo
	t := info.TypeOf(r.X)
	if t == nil {
		return
	}
	var what string
	switch t.Underlying().(type) {
	case *types.Chan:
		c.report(r.Pos(), Channel, u, "range over a channel", channelWhy)
		return
	case *types.Map:
		what = "range over a map"
	default:
		// maps.Keys, Values and All iterate in map order too.
		call, ok := ast.Unparen(r.X).(*ast.CallExpr)
		if !ok {
			return
		}
		fn := typeutil.StaticCallee(info, call)
		if fn == nil || fn.Pkg() == nil || fn.Pkg().Path() != "maps" || !mapsIterators[fn.Name()] {
			return
		}
		what = "range over maps." + fn.Name()
	}
	via, ok := c.bodySchedules(r.Body)
	if !ok {
		return
	}
	c.report(r.Pos(), MapRange, u, what+" that calls "+via,
		"Go randomises map order, so a replay issues the commands in another order than the history; range over the sorted keys: for _, k := range slices.Sorted(maps.Keys(m))")
}

// bodySchedules reports whether n calls a scheduling function, directly or
// through static calls into the package, and names the first one found.
func (c *pkgCheck) bodySchedules(n ast.Node) (via string, ok bool) {
	info := c.pass.TypesInfo
	ast.Inspect(n, func(n ast.Node) bool {
		if ok {
			return false
		}
		call, isCall := n.(*ast.CallExpr)
		if !isCall {
			return true
		}
		fn, _ := typeutil.Callee(info, call).(*types.Func)
		if fn == nil {
			return true
		}
		if isScheduling(fn) {
			via, ok = qualifiedName(fn), true
			return false
		}
		if fn.Pkg() == c.pass.Pkg {
			if v := c.funcSchedules(fn.Origin()); v != "" {
				via, ok = fn.Name()+" → "+v, true
				return false
			}
		}
		return true
	})
	return via, ok
}

// funcSchedules is bodySchedules of a function of the package, memoised;
// "" when it does not schedule (or is being looked at: recursion).
func (c *pkgCheck) funcSchedules(fn *types.Func) string {
	if v, seen := c.schedules[fn]; seen {
		if v == nil {
			return ""
		}
		return *v
	}
	decl, ok := c.decls[fn]
	if !ok {
		return ""
	}
	c.schedules[fn] = nil
	via, _ := c.bodySchedules(decl.Body)
	c.schedules[fn] = &via
	return via
}

// checkUse reports a use of the clock, random numbers, I/O or a mutable
// package variable. pos is where the name starts (pkg.Name for a qualified
// one).
func (c *pkgCheck) checkUse(id *ast.Ident, pos token.Pos, u *unit) {
	obj := c.pass.TypesInfo.Uses[id]
	if obj == nil || obj.Pkg() == nil {
		return
	}
	path := obj.Pkg().Path()
	fn, isFunc := obj.(*types.Func)
	method := isFunc && fn.Signature().Recv() != nil
	switch {
	case path == "time" && isFunc && !method && timeFuncs[obj.Name()] != "":
		c.report(pos, Time, u, qualifiedName(obj), timeFuncs[obj.Name()])
	case (path == "math/rand" || path == "math/rand/v2") && isFunc && !method && !randDeterministic[obj.Name()],
		path == "crypto/rand" && (isFunc || obj.Parent() == obj.Pkg().Scope()):
		c.report(pos, Random, u, qualifiedName(obj),
			"returns another value when the code is replayed; record it with workflow.SideEffect(ctx, func(ctx workflow.Context) any { ... })")
	case path == "runtime" && isFunc && !method && obj.Name() == "LockOSThread":
		c.report(pos, Thread, u, qualifiedName(obj),
			"ties the workflow goroutine to its OS thread, and the engine switches workflow goroutines without the scheduler, which the runtime refuses for a locked one: the worker process stops at the next blocking workflow call; do thread-bound work in an activity")
	case obj.Pkg() == c.pass.Pkg:
		v, ok := obj.(*types.Var)
		if !ok || v.Parent() != obj.Pkg().Scope() {
			return
		}
		at, ok := c.mutable[v]
		if !ok {
			return
		}
		p := c.pass.Fset.Position(at)
		c.report(pos, GlobalState, u, fmt.Sprintf("package variable %s (assigned at %s:%d)", v.Name(), filepath.Base(p.Filename), p.Line),
			"it is shared by every run in the worker and not recorded, so a replay can see another value; pass state through arguments or keep it in the workflow's local variables")
	default:
		isIO, prints := ioUse(obj)
		switch {
		case prints && isIO:
			c.report(pos, IO, u, qualifiedName(obj),
				"prints again every time the code is replayed; use workflow.GetLogger(ctx), which is silent while replaying")
		case isIO:
			c.report(pos, IO, u, qualifiedName(obj),
				"does I/O that the history does not record, so a replay does it again and may see another result; do it in an activity (workflow.ExecuteActivity)")
		}
	}
}

// report reports one finding, unless already reported or ignored.
func (c *pkgCheck) report(pos token.Pos, r Rule, u *unit, what, whyAndFix string) {
	k := report{pos, r.Code}
	if c.reported[k] {
		return
	}
	c.reported[k] = true
	if c.ignored(pos, r.Code) {
		return
	}
	c.pass.Report(analysis.Diagnostic{
		Pos:      pos,
		Category: r.Code,
		Message:  fmt.Sprintf("%s %s in %s: %s", r.Code, what, u.where(), whyAndFix),
	})
}

func isChan(t types.Type) bool {
	_, ok := t.Underlying().(*types.Chan)
	return ok
}
