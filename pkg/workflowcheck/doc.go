// Package workflowcheck is a static checker for DurableFuture workflow code:
// a golang.org/x/tools/go/analysis Analyzer that reports what a replay of
// the workflow would not reproduce, and Check, the driver behind dfctl vet.
//
// A workflow function is re-run from its recorded history whenever a worker
// needs its state; every re-run must issue the same commands in the same
// order (see the package doc of pkg/sdk/workflow). The checker finds, in
// workflow code, what breaks that:
//
//	DF2001 go-statement   a go statement                     use workflow.Go
//	DF2002 channel        make(chan), send, receive, close,   use workflow.NewChannel,
//	                      range over a channel, select        workflow.NewSelector
//	DF2003 time           time.Now, Since, Until, Sleep,      use workflow.Now,
//	                      After, Tick, NewTimer, NewTicker,   workflow.Sleep,
//	                      AfterFunc                           workflow.NewTimer
//	DF2004 random         math/rand, math/rand/v2,            use workflow.SideEffect
//	                      crypto/rand
//	DF2005 map-range      a range over a map (or maps.Keys,   sort the keys first
//	                      Values, All) whose body schedules
//	                      work
//	DF2006 io             os, net, net/http, io/ioutil,       do it in an activity; log
//	                      database/sql, os/exec; fmt.Print*,  with workflow.GetLogger
//	                      log and log/slog printing
//	DF2007 global-state   a package variable assigned         pass state as arguments,
//	                      anywhere outside init               keep it in the workflow
//	DF2008 thread         runtime.LockOSThread                do thread-bound work in
//	                                                          an activity
//
// Each diagnostic's message starts with its code, names the workflow (and
// the helper it was found in), says why a replay breaks and what to use
// instead. The code is also the diagnostic's Category.
//
// # Workflow code
//
// Workflow code is every function, method and function literal whose first
// parameter is a workflow.Context (of pkg/sdk/workflow, or the engine's
// Context it aliases), and every function of the same package that such a
// function calls statically, transitively. Activities (a context.Context
// first) are not workflow code unless a workflow calls them as plain
// functions. The function given to workflow.SideEffect is not checked: it is
// where a workflow may read the clock or a random number.
//
// A map range schedules work when its body calls, directly or through a
// static call into the same package: workflow.ExecuteActivity,
// ExecuteChildWorkflow, NewTimer, Sleep, Go, SideEffect or GetVersion, a
// Channel's Send or Receive (signals) or a Selector's AddFuture, AddReceive
// or Select. Ranging over slices.Sorted(maps.Keys(m)) is fine.
//
// # Ignoring a finding
//
// A comment
//
//	//dfvet:ignore DF2003 the value is only logged
//
// on the line of a finding, or on the line above it, silences those rules
// there (several codes: DF2003,DF2004). Without a code,
//
//	//dfvet:ignore reason
//
// silences every rule on that line. Write the reason: it is for the reader.
//
// # Limits
//
// The checker is a static approximation, not a proof:
//   - It follows static calls within the package being checked: a call
//     through an interface or a function value, or into another package, is
//     not followed (a function value that has a workflow.Context first is a
//     workflow itself and is checked).
//   - A package variable is mutable when the same package assigns it, its
//     fields or elements, takes its address or calls a pointer method on it
//     outside init; a variable changed only by another package is not seen.
//   - I/O is recognised by package and name (the functions of os and os/exec,
//     the dialling, listening and lookup functions of net, the clients and
//     servers of net/http, database/sql handles, ioutil's file functions);
//     I/O behind another package's API is not.
//   - math/rand's New, NewSource (and v2's NewPCG, NewChaCha8) are allowed:
//     a generator with a recorded or constant seed replays.
//
// The implementation of the primitives themselves (pkg/engine and
// pkg/sdk/workflow) is not checked.
//
// # Running it
//
// dfctl vet [packages] runs Check and prints file:line:col: DFxxxx message
// lines (-o json for a JSON array). The Analyzer also runs under go vet
// with the small main in cmd/dfvet:
//
//	go build -o dfvet ./cmd/dfvet
//	go vet -vettool=$(pwd)/dfvet ./...
//
// This package must never import pkg/engine or pkg/sdk: it knows them by
// import path, so a vet tool does not link the runtime and NATS.
package workflowcheck
