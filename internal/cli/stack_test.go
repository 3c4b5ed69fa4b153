package cli_test

import (
	"encoding/json"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/durablefuture/durablefuture/pkg/sdk/workflow"
)

// stackReceiveLine is the line of the Receive in StackSignalWorkflow.
var stackReceiveLine int

// StackSignalWorkflow waits for the signal "go".
func StackSignalWorkflow(ctx workflow.Context) (string, error) {
	var v string
	_, _, stackReceiveLine, _ = runtime.Caller(0)
	workflow.GetSignalChannel(ctx, "go").Receive(ctx, &v) // stackReceiveLine + 1
	return v, nil
}

type stackJSON struct {
	WorkflowID string `json:"workflow_id"`
	Closed     bool   `json:"closed"`
	Coroutines []struct {
		Name       string `json:"name"`
		State      string `json:"state"`
		BlockedIn  string `json:"blocked_in"`
		WaitingFor string `json:"waiting_for"`
		Function   string `json:"function"`
		File       string `json:"file"`
		Line       int    `json:"line"`
	} `json:"coroutines"`
	SignalChannels []struct {
		Name     string `json:"name"`
		Buffered int    `json:"buffered"`
	} `json:"signal_channels"`
}

// dfctl stack of a run blocked on a signal names the Receive and the
// line of the workflow code that called it.
func TestStackOfRunBlockedOnSignal(t *testing.T) {
	e := newDiagEnv(t, "stack-worker", "default")
	expectCode(t, e.run(t, false, "start", "StackSignalWorkflow", "--id", "stack-1"), 0)
	// The worker answers once it holds the run (or replays it); before its
	// first decision the code has not run yet.
	r := e.eventually(t, func(r result) bool {
		return r.code == 0 && strings.Contains(r.out, `"blocked_in"`)
	}, "stack", "stack-1", "-o", "json")
	ws := decode[stackJSON](t, r.out)
	if ws.WorkflowID != "stack-1" || ws.Closed || len(ws.Coroutines) != 1 {
		t.Fatalf("stack %+v, want one coroutine of an open run\n%s", ws, r.out)
	}
	c := ws.Coroutines[0]
	if c.Name != "main" || c.State != "blocked" || c.BlockedIn != "Channel.Receive" || c.WaitingFor != `signal channel "go"` {
		t.Errorf("coroutine %+v, want main blocked in Channel.Receive on signal channel \"go\"", c)
	}
	if filepath.Base(c.File) != "stack_test.go" || c.Line != stackReceiveLine+1 || !strings.HasSuffix(c.Function, "StackSignalWorkflow") {
		t.Errorf("at %s:%d (%s), want stack_test.go:%d in StackSignalWorkflow", c.File, c.Line, c.Function, stackReceiveLine+1)
	}
	if len(ws.SignalChannels) != 1 || ws.SignalChannels[0].Name != "go" || ws.SignalChannels[0].Buffered != 0 {
		t.Errorf("signal channels %+v, want go with none waiting", ws.SignalChannels)
	}
	// Text names the same.
	r = e.run(t, false, "stack", "stack-1")
	expectCode(t, r, 0)
	if !strings.Contains(r.out, "main  blocked in Channel.Receive on signal channel \"go\"") || !strings.Contains(r.out, "stack_test.go:") {
		t.Errorf("stack text:\n%s", r.out)
	}
	// The stack query changed nothing: the run goes on with its signal.
	expectCode(t, e.run(t, false, "signal", "stack-1", "go", "--input", `"now"`), 0)
	r = e.run(t, false, "result", "stack-1", "--wait", "-o", "json")
	expectCode(t, r, 0)
	if !strings.Contains(r.out, "now") {
		t.Errorf("result %s, want now", r.out)
	}
	var v json.RawMessage
	_ = json.Unmarshal([]byte(r.out), &v)
}

// Without a worker, stack says so with the query's exit code.
func TestStackWithoutWorker(t *testing.T) {
	e := newDiagEnv(t, "stack-worker", "default")
	expectCode(t, e.run(t, false, "start", "StackSignalWorkflow", "--id", "stack-2", "--task-queue", "nobody"), 0)
	r := e.run(t, false, "stack", "stack-2", "--timeout", "2s")
	expectCode(t, r, 3)
	if !strings.Contains(r.errOut, "no worker of task queue nobody") {
		t.Errorf("stderr %q, want it to say no worker of the task queue answered", r.errOut)
	}
}
