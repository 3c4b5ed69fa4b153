package workflowcheck

import (
	"go/types"
	"strings"
)

// A Rule is one kind of finding.
type Rule struct {
	Code string // stable: DF2001 ...
	Name string // short: go-statement ...
	Doc  string // one line: what it finds
	Fix  string // one line: what to use instead
}

// The rules, in code order.
var (
	GoStatement = Rule{"DF2001", "go-statement", "a go statement", "use workflow.Go"}
	Channel     = Rule{"DF2002", "channel", "Go channels (make, send, receive, close, range) and select", "use workflow.NewChannel and workflow.NewSelector"}
	Time        = Rule{"DF2003", "time", "time.Now, Since, Until, Sleep, After, Tick, NewTimer, NewTicker, AfterFunc", "use workflow.Now, workflow.Sleep, workflow.NewTimer"}
	Random      = Rule{"DF2004", "random", "math/rand, math/rand/v2 and crypto/rand", "use workflow.SideEffect"}
	MapRange    = Rule{"DF2005", "map-range", "a range over a map whose body schedules work", "sort the keys first"}
	IO          = Rule{"DF2006", "io", "I/O (os, net, net/http, io/ioutil, database/sql, os/exec) and printing (fmt.Print*, log, log/slog)", "do it in an activity; log with workflow.GetLogger"}
	GlobalState = Rule{"DF2007", "global-state", "package variables assigned outside init", "pass state through arguments or keep it in the workflow"}
	Thread      = Rule{"DF2008", "thread", "runtime.LockOSThread", "do thread-bound work in an activity"}
)

// Rules lists every rule.
var Rules = []Rule{GoStatement, Channel, Time, Random, MapRange, IO, GlobalState, Thread}

func ruleByCode(code string) (Rule, bool) {
	for _, r := range Rules {
		if r.Code == code {
			return r, true
		}
	}
	return Rule{}, false
}

// The packages whose Context marks workflow code, and whose functions are
// the deterministic primitives. They are known by path, not imported.
const (
	sdkWorkflowPath = "github.com/durablefuture/durablefuture/pkg/sdk/workflow"
	enginePath      = "github.com/durablefuture/durablefuture/pkg/engine"
)

func isSDKPath(path string) bool { return path == sdkWorkflowPath || path == enginePath }

// isWorkflowContext reports whether t is workflow.Context (or the engine's
// Context it aliases).
func isWorkflowContext(t types.Type) bool {
	for {
		var obj *types.TypeName
		switch tt := t.(type) {
		case *types.Alias:
			obj = tt.Obj()
		case *types.Named:
			obj = tt.Obj()
		default:
			return false
		}
		if obj.Name() == "Context" && obj.Pkg() != nil && isSDKPath(obj.Pkg().Path()) {
			return true
		}
		a, ok := t.(*types.Alias)
		if !ok {
			return false
		}
		t = a.Rhs()
	}
}

// firstParamIsWorkflowContext reports whether sig's first parameter (after
// the receiver) is a workflow.Context.
func firstParamIsWorkflowContext(sig *types.Signature) bool {
	return sig != nil && sig.Params().Len() > 0 && isWorkflowContext(sig.Params().At(0).Type())
}

type set map[string]bool

func newSet(names ...string) set {
	s := make(set, len(names))
	for _, n := range names {
		s[n] = true
	}
	return s
}

// timeFuncs are the functions of package time that read or wait on the
// wall clock, with why and what to use instead.
var timeFuncs = map[string]string{
	"Now":       "reads the wall clock, which differs when the code is replayed; use workflow.Now(ctx)",
	"Since":     "reads the wall clock, which differs when the code is replayed; use workflow.Now(ctx).Sub(t)",
	"Until":     "reads the wall clock, which differs when the code is replayed; use t.Sub(workflow.Now(ctx))",
	"Sleep":     "blocks the worker and is not recorded, so a replay sleeps again; use workflow.Sleep(ctx, d), a durable timer",
	"After":     "is a timer the history does not record, firing at another point on replay; use workflow.NewTimer(ctx, d) with workflow.NewSelector",
	"Tick":      "is a ticker the history does not record, firing at other points on replay; use workflow.NewTimer(ctx, d) in a loop",
	"NewTimer":  "is a timer the history does not record, firing at another point on replay; use workflow.NewTimer(ctx, d)",
	"NewTicker": "is a ticker the history does not record, firing at other points on replay; use workflow.NewTimer(ctx, d) in a loop",
	"AfterFunc": "runs its function on a goroutine the history does not record; use workflow.Go with workflow.Sleep(ctx, d)",
}

// randDeterministic are the constructors of math/rand and math/rand/v2 that
// take their seed from the caller: a constant or recorded seed replays.
var randDeterministic = newSet("New", "NewSource", "NewZipf", "NewPCG", "NewChaCha8")

// ioAPI says which parts of a package do I/O.
type ioAPI struct {
	all   bool // every package-level function but those in pure
	pure  set  // with all: the functions that do no I/O
	funcs set  // without all: the functions that do I/O
	// prefixes: without all, the functions whose name starts with one of them
	prefixes []string
	vars     set  // package variables that are I/O handles
	types    set  // types whose methods do I/O
	print    bool // printing: the fix is workflow.GetLogger
}

var ioPackages = map[string]ioAPI{
	"os": {
		all:   true,
		pure:  newSet("IsExist", "IsNotExist", "IsPermission", "IsTimeout", "IsPathSeparator", "NewSyscallError", "Expand"),
		vars:  newSet("Stdin", "Stdout", "Stderr", "Args"),
		types: newSet("File", "Process", "Root"),
	},
	"os/exec": {all: true, types: newSet("Cmd")},
	"io/ioutil": {
		funcs: newSet("ReadFile", "WriteFile", "ReadDir", "TempFile", "TempDir"),
	},
	"net": {
		prefixes: []string{"Dial", "Listen", "Lookup", "Resolve", "Interface", "File"},
		vars:     newSet("DefaultResolver"),
		types: newSet("Conn", "PacketConn", "Listener", "Dialer", "Resolver", "ListenConfig", "TCPConn",
			"UDPConn", "UnixConn", "IPConn", "TCPListener", "UnixListener", "Interface"),
	},
	"net/http": {
		funcs: newSet("Get", "Head", "Post", "PostForm", "ListenAndServe", "ListenAndServeTLS", "Serve", "ServeTLS"),
		vars:  newSet("DefaultClient", "DefaultTransport"),
		types: newSet("Client", "Transport", "Server", "RoundTripper"),
	},
	"database/sql": {
		funcs: newSet("Open", "OpenDB"),
		types: newSet("DB", "Tx", "Conn", "Stmt", "Rows", "Row"),
	},
	"fmt": {funcs: newSet("Print", "Printf", "Println"), print: true},
	"log": {
		prefixes: []string{"Print", "Fatal", "Panic", "Output"},
		types:    newSet("Logger"),
		print:    true,
	},
	"log/slog": {
		// Not the methods of *slog.Logger: workflow.GetLogger returns one.
		funcs: newSet("Debug", "DebugContext", "Info", "InfoContext", "Warn", "WarnContext",
			"Error", "ErrorContext", "Log", "LogAttrs"),
		print: true,
	},
}

// ioUse reports whether obj, used in workflow code, does I/O, and whether it
// prints.
func ioUse(obj types.Object) (isIO, prints bool) {
	if obj.Pkg() == nil {
		return false, false
	}
	api, ok := ioPackages[obj.Pkg().Path()]
	if !ok {
		return false, false
	}
	switch obj := obj.(type) {
	case *types.Func:
		sig := obj.Signature()
		if sig.Recv() != nil {
			return api.types[recvTypeName(sig)], api.print
		}
		name := obj.Name()
		if api.all {
			return !api.pure[name], api.print
		}
		if api.funcs[name] {
			return true, api.print
		}
		for _, p := range api.prefixes {
			if strings.HasPrefix(name, p) {
				return true, api.print
			}
		}
	case *types.Var:
		return obj.Parent() == obj.Pkg().Scope() && api.vars[obj.Name()], api.print
	}
	return false, false
}

// recvTypeName is the name of the type of a method's receiver, pointer or
// not.
func recvTypeName(sig *types.Signature) string {
	t := sig.Recv().Type()
	if p, ok := t.(*types.Pointer); ok {
		t = p.Elem()
	}
	switch t := types.Unalias(t).(type) {
	case *types.Named:
		return t.Obj().Name()
	}
	return ""
}

// mapsIterators are the functions of package maps that iterate in map order.
var mapsIterators = newSet("Keys", "Values", "All")

// Scheduling calls: what a map range must not do in map order.
var (
	schedulingFuncs   = newSet("ExecuteActivity", "ExecuteChildWorkflow", "NewTimer", "Sleep", "Go", "SideEffect", "GetVersion")
	schedulingMethods = map[string]set{
		"Channel":  newSet("Send", "Receive", "ReceiveAsync", "ReceiveWithError", "ReceiveAsyncWithError"),
		"Selector": newSet("AddFuture", "AddReceive", "Select"),
	}
)

// isScheduling reports whether fn schedules work or waits on a signal or
// channel, so that calling it in map order changes the history.
func isScheduling(fn *types.Func) bool {
	if fn.Pkg() == nil || !isSDKPath(fn.Pkg().Path()) {
		return false
	}
	sig := fn.Signature()
	if sig.Recv() == nil {
		return schedulingFuncs[fn.Name()]
	}
	return schedulingMethods[recvTypeName(sig)][fn.Name()]
}

// isSideEffect reports whether fn is workflow.SideEffect, whose function
// argument may read the clock or random numbers.
func isSideEffect(fn *types.Func) bool {
	return fn.Pkg() != nil && isSDKPath(fn.Pkg().Path()) && fn.Name() == "SideEffect" && fn.Signature().Recv() == nil
}

// qualifiedName is pkg.Name, or pkg.Type.Method for a method.
func qualifiedName(obj types.Object) string {
	prefix := ""
	switch {
	case obj.Pkg() != nil && isSDKPath(obj.Pkg().Path()):
		prefix = "workflow." // what users import, for the engine's methods too
	case obj.Pkg() != nil:
		prefix = obj.Pkg().Name() + "."
	}
	if fn, ok := obj.(*types.Func); ok && fn.Signature().Recv() != nil {
		if n := recvTypeName(fn.Signature()); n != "" {
			prefix += n + "."
		}
	}
	return prefix + obj.Name()
}
