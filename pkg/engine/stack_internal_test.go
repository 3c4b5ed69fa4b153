package engine

import (
	"encoding/json"
	"log/slog"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// BenchmarkYield measures a blocking workflow call: two coroutines pass a
// value over an unbuffered channel, so each iteration blocks (yields) twice.
// It is the cost the capture of where a coroutine blocks (for dfctl stack)
// adds to.
func BenchmarkYield(b *testing.B) {
	r := newRun(slog.New(slog.DiscardHandler))
	r.disp.deadlock = 0
	r.info = Info{WorkflowType: "Bench", RunID: "run-1"}
	ctx := Context(r.root)
	r.started = true
	n := b.N
	r.disp.spawn("main", func() {
		ch := NewChannel(ctx)
		Go(ctx, func(ctx Context) {
			for i := 0; i < n; i++ {
				ch.Receive(ctx, nil)
			}
		})
		for i := 0; i < n; i++ {
			ch.Send(ctx, i)
		}
	})
	b.ResetTimer()
	r.runCode()
	b.StopTimer()
	r.dispose()
}

// The stack query names the call each coroutine blocks in, what it waits
// for and the user's file:line, and leaves the run as it was.
func TestStackQuery(t *testing.T) {
	r := newRun(slog.New(slog.DiscardHandler))
	r.info = Info{WorkflowType: "Test", WorkflowID: "wf", RunID: "run-1"}
	ctx := Context(r.root)
	r.started = true
	var receiveLine, selectLine int
	r.disp.spawn("main", func() {
		Go(ctx, func(ctx Context) {
			s := NewSelector(ctx)
			s.AddReceive(GetSignalChannel(ctx, "stop"), nil)
			_, _, selectLine, _ = runtime.Caller(0)
			s.Select(ctx) // selectLine + 1
		})
		_, _, receiveLine, _ = runtime.Caller(0)
		GetSignalChannel(ctx, "go").Receive(ctx, nil) // receiveLine + 1
		r.finish(nil, nil)
	})
	r.runCode()
	t.Cleanup(r.dispose)
	raw, err := r.stack()
	if err != nil {
		t.Fatal(err)
	}
	var ws WorkflowStack
	if err := json.Unmarshal(raw, &ws); err != nil {
		t.Fatal(err)
	}
	if len(ws.Coroutines) != 2 {
		t.Fatalf("coroutines %+v, want main and one more", ws.Coroutines)
	}
	main, g := ws.Coroutines[0], ws.Coroutines[1]
	if main.Name != "main" || main.State != "blocked" || main.BlockedIn != "Channel.Receive" || main.WaitingFor != `signal channel "go"` ||
		filepath.Base(main.File) != "stack_internal_test.go" || main.Line != receiveLine+1 || !strings.Contains(main.Function, "TestStackQuery") {
		t.Errorf("main: %+v, want blocked in Channel.Receive of signal go at stack_internal_test.go:%d", main, receiveLine+1)
	}
	if g.BlockedIn != "Selector.Select" || g.WaitingFor != `one of: signal channel "stop"` || g.Line != selectLine+1 {
		t.Errorf("goroutine: %+v, want blocked in Selector.Select at line %d", g, selectLine+1)
	}
	if len(ws.SignalChannels) != 2 {
		t.Errorf("signal channels %+v, want go and stop", ws.SignalChannels)
	}
	// A coroutine whose condition holds while no code may run (an input
	// applied, the code not run yet, as in a stopped run) stays where it
	// is when asked: only the dispatcher resumes it.
	r.signalChannel("go").buf = append(r.signalChannel("go").buf, chanValue{v: nil})
	if _, err := r.stack(); err != nil {
		t.Fatal(err)
	}
	if r.closeCmd || r.disp.failed() != nil {
		t.Fatalf("the stack query ran workflow code (close %v, breach %v)", r.closeCmd, r.disp.failed())
	}
	// The run goes on as if nothing asked.
	r.runCode()
	if !r.closeCmd {
		t.Fatal("the main coroutine did not go on after the stack query")
	}
}
