package cli_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/durablefuture/durablefuture/internal/testsrv"
	"github.com/durablefuture/durablefuture/pkg/engine"
	"github.com/durablefuture/durablefuture/pkg/history"
	"github.com/durablefuture/durablefuture/pkg/sdk/client"
	"github.com/durablefuture/durablefuture/pkg/sdk/failure"
	"github.com/durablefuture/durablefuture/pkg/sdk/worker"
	"github.com/durablefuture/durablefuture/pkg/sdk/workflow"
)

var (
	step1Calls, step2Calls atomic.Int32
	step2Fixed             atomic.Bool
)

func Step1(ctx context.Context, order string) (string, error) {
	step1Calls.Add(1)
	return order + " step1", nil
}

// Step2 has a bug until step2Fixed is set: the fix a reset picks up.
func Step2(ctx context.Context, in string) (string, error) {
	step2Calls.Add(1)
	if !step2Fixed.Load() {
		return "", failure.NewNonRetryableError("step 2 has a bug", "Bug")
	}
	return in + " step2", nil
}

// Pipeline runs Step1 then Step2.
func Pipeline(ctx workflow.Context, order string) (string, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 5 * time.Second})
	var a, b string
	if err := workflow.ExecuteActivity(ctx, Step1, order).Get(ctx, &a); err != nil {
		return "", err
	}
	if err := workflow.ExecuteActivity(ctx, Step2, a).Get(ctx, &b); err != nil {
		return "", err
	}
	return b, nil
}

// Collect returns the inputs of its first two "add" signals.
func Collect(ctx workflow.Context) (string, error) {
	ch := workflow.GetSignalChannel(ctx, "add")
	var a, b string
	ch.Receive(ctx, &a)
	ch.Receive(ctx, &b)
	return a + "," + b, nil
}

// VersionedV1 and VersionedV2 are two versions of the workflow "Versioned":
// V2 schedules another activity first, an incompatible change.
func VersionedV1(ctx workflow.Context) (string, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 5 * time.Second})
	var out string
	if err := workflow.ExecuteActivity(ctx, Hello, "v1").Get(ctx, &out); err != nil {
		return "", err
	}
	workflow.GetSignalChannel(ctx, "go").Receive(ctx, nil)
	return out, nil
}

func VersionedV2(ctx workflow.Context) (string, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 5 * time.Second})
	if err := workflow.ExecuteActivity(ctx, Declined).Get(ctx, nil); err != nil {
		return "", err
	}
	workflow.GetSignalChannel(ctx, "go").Receive(ctx, nil)
	return "v2", nil
}

// newReplayEnv is a server with a worker (identity "base") of the default
// task queue for the test workflows.
func newReplayEnv(t *testing.T) (env, *client.Client) {
	t.Helper()
	step1Calls.Store(0)
	step2Calls.Store(0)
	step2Fixed.Store(false)
	s := testsrv.Start(t)
	c := testsrv.Client(t, s)
	testsrv.RunWorker(t, c, worker.Options{Identity: "base"}, func(w *worker.Worker) {
		for _, fn := range []any{GreetWorkflow, WaitForSignal, Pipeline, Collect} {
			testsrv.Must(t, w.RegisterWorkflow(fn))
		}
		for _, fn := range []any{Hello, Step1, Step2} {
			testsrv.Must(t, w.RegisterActivity(fn))
		}
	})
	return env{url: s.ClientURL()}, c
}

// waitForEvent waits until the latest run of id has an event of type typ.
func waitForEvent(t *testing.T, c *client.Client, id string, typ history.EventType) {
	t.Helper()
	ctx := testsrv.Context(t, 20*time.Second)
	testsrv.WaitFor(t, ctx, id+" to record "+string(typ), func() bool {
		evs, err := c.History(ctx, id, "")
		if err != nil {
			return false
		}
		for _, ev := range evs {
			if ev.Type == typ {
				return true
			}
		}
		return false
	})
}

// showFile writes `dfctl show ID -o json` to a file and returns its path.
func showFile(t *testing.T, e env, id string) string {
	t.Helper()
	r := e.run(t, false, "show", id, "-o", "json")
	expectCode(t, r, 0)
	path := filepath.Join(t.TempDir(), id+".json")
	testsrv.Must(t, os.WriteFile(path, []byte(r.out), 0o644))
	return path
}

type verdict struct {
	engine.ReplayResult
	Error string `json:"error"`
}

func TestReplayDeterministic(t *testing.T) {
	e, _ := newReplayEnv(t)
	expectCode(t, e.run(t, false, "execute", "GreetWorkflow", "--id", "greet-1", "--input", `"Ann"`), 0)

	r := e.run(t, false, "replay", "greet-1")
	expectCode(t, r, 0)
	if r.out != "deterministic\n" {
		t.Fatalf("replay greet-1: %q", r.out)
	}
	r = e.run(t, false, "replay", "greet-1", "-o", "json")
	expectCode(t, r, 0)
	v := decode[verdict](t, r.out)
	if !v.Deterministic || v.WorkflowID != "greet-1" || v.RunID == "" || v.Mismatch != nil || v.Worker != "base" {
		t.Fatalf("replay -o json: %+v", v)
	}
	r = e.run(t, false, "replay", "greet-1", "--run", v.RunID)
	expectCode(t, r, 0)

	// A history file, replayed by a worker of the file's task queue.
	path := showFile(t, e, "greet-1")
	r = e.run(t, false, "replay", "--file", path)
	expectCode(t, r, 0)
	if r.out != "deterministic\n" {
		t.Fatalf("replay --file: %q", r.out)
	}
	r = e.run(t, false, "replay", "--file", path, "--task-queue", "default", "-o", "jsonl")
	expectCode(t, r, 0)
	if v := decode[verdict](t, r.out); !v.Deterministic || v.WorkflowID != "greet-1" {
		t.Fatalf("replay --file -o jsonl: %+v", v)
	}

	// Usage errors, unknown IDs and unreadable files.
	for _, args := range [][]string{
		{"replay"},
		{"replay", "greet-1", "--file", path},
		{"replay", "greet-1", "--type", "GreetWorkflow"},
		{"replay", "--file", path, "--status", "running"},
		{"replay", "--run", v.RunID},
		{"replay", "greet-1", "--task-queue", "default"},
		{"replay", "--type", "GreetWorkflow", "--status", "bogus"},
		{"replay", "--file", filepath.Join(t.TempDir(), "missing.json")},
	} {
		if r := e.run(t, false, args...); r.code != 2 {
			t.Errorf("%q: exit %d, want 2\n%s", args, r.code, r.errOut)
		}
	}
	bad := filepath.Join(t.TempDir(), "bad.json")
	testsrv.Must(t, os.WriteFile(bad, []byte(`{"version":99,"events":[]}`), 0o644))
	r = e.run(t, false, "replay", "--file", bad)
	expectCode(t, r, 2)
	if !strings.Contains(r.errOut, "version 99") {
		t.Fatalf("bad file: %s", r.errOut)
	}
	expectCode(t, e.run(t, false, "replay", "nope"), 4)
	expectCode(t, e.run(t, false, "replay", "greet-1", "--run", "0190d3c2-0000-7000-8000-000000000000"), 4)
}

func TestReplayNoWorker(t *testing.T) {
	e, _ := newReplayEnv(t)
	expectCode(t, e.run(t, false, "start", "GreetWorkflow", "--id", "lonely", "--task-queue", "nobody", "--input", `"x"`), 0)
	r := e.run(t, false, "replay", "lonely")
	expectCode(t, r, 3)
	if !strings.Contains(r.errOut, "task queue nobody") || !strings.Contains(r.errOut, "start a worker") {
		t.Fatalf("no worker: %s", r.errOut)
	}
	path := showFile(t, e, "lonely")
	r = e.run(t, false, "replay", "--file", path)
	expectCode(t, r, 3)
	if !strings.Contains(r.errOut, "task queue nobody") {
		t.Fatalf("no worker for a file: %s", r.errOut)
	}
	r = e.run(t, false, "replay", "--file", path, "-q", "default")
	expectCode(t, r, 0) // the default queue's worker runs GreetWorkflow
	r = e.run(t, false, "replay", "--type", "GreetWorkflow")
	expectCode(t, r, 3)
	if !strings.Contains(r.out, "lonely\t") || !strings.Contains(r.out, "not checked") ||
		!strings.Contains(r.out, "replayed 1 run: 0 compatible, 0 incompatible, 1 not checked") || !strings.Contains(r.errOut, "start a worker") {
		t.Fatalf("--type with no worker:\n%s\n%s", r.out, r.errOut)
	}
}

func TestReplayMismatch(t *testing.T) {
	e, c := newReplayEnv(t)
	ctx := testsrv.Context(t, 60*time.Second)
	versioned := func(identity string, fn any) func() {
		return testsrv.RunWorker(t, c, worker.Options{Identity: identity, TaskQueues: []string{"versioned"}}, func(w *worker.Worker) {
			testsrv.Must(t, w.RegisterWorkflowWithOptions(fn, worker.RegisterOptions{Name: "Versioned"}))
			testsrv.Must(t, w.RegisterActivity(Hello))
			testsrv.Must(t, w.RegisterActivity(Declined))
		})
	}
	stopV1 := versioned("v1", VersionedV1)
	expectCode(t, e.run(t, false, "start", "Versioned", "--id", "ver-1", "--task-queue", "versioned"), 0)
	expectCode(t, e.run(t, false, "start", "WaitForSignal", "--id", "wait-1"), 0)
	waitForEvent(t, c, "ver-1", history.ActivityCompleted)
	r := e.run(t, false, "replay", "ver-1")
	expectCode(t, r, 0)

	// Deploy V2: wait until its worker answers the replay checks.
	stopV1()
	versioned("v2", VersionedV2)
	testsrv.WaitFor(t, ctx, "the v2 worker to answer", func() bool {
		res, err := c.Store().ReplayRun(ctx, "ver-1", "")
		return err == nil && res.Worker == "v2"
	})

	wantMismatch := func(what, text string) {
		t.Helper()
		for _, want := range []string{"mismatch", "event 2", "ActivityScheduled(Hello)", "ActivityScheduled(Declined)"} {
			if !strings.Contains(text, want) {
				t.Fatalf("%s: %q does not say %q", what, text, want)
			}
		}
	}
	r = e.run(t, false, "replay", "ver-1")
	expectCode(t, r, 1)
	wantMismatch("replay ver-1", r.out)
	t.Logf("dfctl replay ver-1:\n%s", r.out)

	r = e.run(t, false, "replay", "ver-1", "-o", "json")
	expectCode(t, r, 1)
	v := decode[verdict](t, r.out)
	if v.Deterministic || v.Mismatch == nil || v.Mismatch.Type != "NonDeterminismError" || !strings.Contains(v.Mismatch.Message, "event 2") || v.Worker != "v2" {
		t.Fatalf("replay -o json: %+v", v)
	}

	// The same history as a file, replayed by the file's queue (versioned).
	path := showFile(t, e, "ver-1")
	r = e.run(t, false, "replay", "--file", path)
	expectCode(t, r, 1)
	wantMismatch("replay --file", r.out)

	// Every running run: one verdict per run and a summary.
	r = e.run(t, false, "replay", "--status", "running")
	expectCode(t, r, 1)
	lines := strings.Split(strings.TrimSpace(r.out), "\n")
	if len(lines) != 3 || lines[2] != "replayed 2 runs: 1 compatible, 1 incompatible (DF1001 x1)" {
		t.Fatalf("replay --status running:\n%s", r.out)
	}
	for _, l := range lines[:2] {
		f := strings.Split(l, "\t")
		switch {
		case len(f) != 3:
			t.Fatalf("verdict line %q", l)
		case f[0] == "wait-1" && f[2] == "deterministic":
		case f[0] == "ver-1":
			wantMismatch("replay --status running", f[2])
		default:
			t.Fatalf("verdict line %q", l)
		}
	}
	t.Logf("dfctl replay --status running:\n%s", r.out)
	r = e.run(t, false, "replay", "--type", "WaitForSignal")
	expectCode(t, r, 0)
	if !strings.HasSuffix(r.out, "\nreplayed 1 run: 1 compatible, 0 incompatible\n") {
		t.Fatalf("replay --type WaitForSignal:\n%s", r.out)
	}
	r = e.run(t, false, "replay", "--type", "Versioned", "--status", "running", "-o", "jsonl")
	expectCode(t, r, 1)
	if v := decode[verdict](t, strings.TrimSpace(r.out)); v.WorkflowID != "ver-1" || v.Deterministic || v.Mismatch == nil {
		t.Fatalf("replay --type -o jsonl: %s", r.out)
	}
	r = e.run(t, false, "replay", "--status", "running", "-o", "json")
	expectCode(t, r, 1)
	if vs := decode[[]verdict](t, r.out); len(vs) != 2 {
		t.Fatalf("replay --status -o json: %s", r.out)
	}
	r = e.run(t, false, "replay", "--type", "Nothing", "-o", "json")
	expectCode(t, r, 0)
	if strings.TrimSpace(r.out) != "[]" {
		t.Fatalf("no runs -o json: %q", r.out)
	}
}

func TestResetFailedRun(t *testing.T) {
	e, c := newReplayEnv(t)
	expectCode(t, e.run(t, false, "execute", "Pipeline", "--id", "pipe-1", "--input", `"o-1"`), 1)
	old, err := c.Describe(testsrv.Context(t, 5*time.Second), "pipe-1", "")
	testsrv.Must(t, err)
	if old.Status != engine.StatusFailed || step1Calls.Load() != 1 || step2Calls.Load() != 1 {
		t.Fatalf("first run: %+v, calls %d %d", old, step1Calls.Load(), step2Calls.Load())
	}

	// The fix is deployed: reset to before the failure.
	step2Fixed.Store(true)
	r := e.run(t, false, "reset", "pipe-1", "--to", "last-failure", "--reason", "step 2 fixed")
	expectCode(t, r, 0)
	t.Logf("dfctl reset pipe-1 --to last-failure:\nstdout: %sstderr: %s", r.out, r.errOut)
	f := strings.Split(strings.TrimSpace(r.out), "\t")
	if len(f) != 2 || f[0] != "pipe-1" || f[1] == "" || f[1] == old.RunID {
		t.Fatalf("reset output: %q", r.out)
	}
	newRun := f[1]
	if strings.Contains(r.errOut, "inside a decision") {
		t.Fatalf("reset before an input was rounded: %s", r.errOut)
	}
	r = e.run(t, false, "result", "pipe-1", "--wait")
	expectCode(t, r, 0)
	if strings.TrimSpace(r.out) != `"o-1 step1 step2"` {
		t.Fatalf("result after reset: %q", r.out)
	}
	if n := step1Calls.Load(); n != 1 {
		t.Fatalf("Step1, completed before the boundary, ran %d times", n)
	}
	if n := step2Calls.Load(); n != 2 {
		t.Fatalf("Step2 ran %d times, want 2", n)
	}
	r = e.run(t, false, "describe", "pipe-1")
	expectCode(t, r, 0)
	if !strings.Contains(r.out, "run_id\t"+newRun+"\n") || !strings.Contains(r.out, "status\tcompleted\n") {
		t.Fatalf("describe after reset:\n%s", r.out)
	}
	evs, err := c.History(testsrv.Context(t, 5*time.Second), "pipe-1", newRun)
	testsrv.Must(t, err)
	var types []string
	for _, ev := range evs {
		types = append(types, string(ev.Type))
	}
	if got := strings.Join(types, ","); got != "WorkflowStarted,ActivityScheduled,ActivityCompleted,ActivityScheduled,ActivityCompleted,WorkflowCompleted" {
		t.Fatalf("new run's history: %s", got)
	}
	if from := evs[0].ResetFrom; from == nil || from.RunID != old.RunID || from.Seq != 4 || evs[0].Reason != "step 2 fixed" {
		t.Fatalf("new run's start: %+v", evs[0])
	}
	r = e.run(t, false, "describe", "pipe-1", "--run", old.RunID)
	expectCode(t, r, 0)
	if !strings.Contains(r.out, "status\tfailed\n") {
		t.Fatalf("the old, closed run changed:\n%s", r.out)
	}

	// To an input event: the code decides again from there.
	r = e.run(t, false, "reset", "pipe-1", "--to-event", "3")
	expectCode(t, r, 0)
	expectCode(t, e.run(t, false, "result", "pipe-1", "--wait"), 0)

	// A run without failure.
	r = e.run(t, false, "reset", "pipe-1", "--to", "last-failure")
	expectCode(t, r, 2)
	if !strings.Contains(r.errOut, "has no failure") {
		t.Fatalf("last-failure without failure: %s", r.errOut)
	}
	// last-failure of a named (old, failed) run.
	r = e.run(t, false, "reset", "pipe-1", "--run", old.RunID, "--to", "last-failure", "-o", "json")
	expectCode(t, r, 0)
	res := decode[engine.ResetResult](t, r.out)
	if res.OldRunID != old.RunID || res.Requested != 4 || res.KeptThrough != 4 || res.OldTerminate {
		t.Fatalf("reset --run -o json: %+v", res)
	}
	expectCode(t, e.run(t, false, "result", "pipe-1", "--wait"), 0)
	if n1, n2 := step1Calls.Load(), step2Calls.Load(); n1 != 1 || n2 != 4 {
		t.Fatalf("Step1 ran %d times, Step2 %d; want 1 and 4", n1, n2)
	}
}

func TestResetFirstAndFlags(t *testing.T) {
	e, c := newReplayEnv(t)
	expectCode(t, e.run(t, false, "execute", "GreetWorkflow", "--id", "greet-1", "--input", `"Ann"`), 0)
	r := e.run(t, false, "reset", "greet-1", "--to", "first", "-o", "json")
	expectCode(t, r, 0)
	res := decode[engine.ResetResult](t, r.out)
	if res.WorkflowID != "greet-1" || res.Requested != 1 || res.KeptThrough != 1 || res.OldTerminate || res.RunID == "" || res.RunID == res.OldRunID {
		t.Fatalf("reset --to first: %+v", res)
	}
	r = e.run(t, false, "result", "greet-1", "--wait")
	expectCode(t, r, 0)
	if strings.TrimSpace(r.out) != `"Hello, Ann"` {
		t.Fatalf("result after reset --to first: %q", r.out)
	}
	evs, err := c.History(testsrv.Context(t, 5*time.Second), "greet-1", res.RunID)
	testsrv.Must(t, err)
	if len(evs) != 4 || evs[0].ResetFrom == nil || evs[0].ResetFrom.Seq != 1 {
		t.Fatalf("history after reset --to first: %+v", evs)
	}
	// The closing event cannot be kept: the reset keeps the input before it.
	r = e.run(t, false, "reset", "greet-1", "--to-event", "4")
	expectCode(t, r, 0)
	if !strings.Contains(r.errOut, "event 4 is inside a decision: kept events 1..3") {
		t.Fatalf("rounded reset: %s", r.errOut)
	}
	t.Logf("dfctl reset greet-1 --to-event 4:\nstdout: %sstderr: %s", r.out, r.errOut)
	expectCode(t, e.run(t, false, "result", "greet-1", "--wait"), 0)
	r = e.run(t, true, "reset", "greet-1", "--to-event", "2")
	expectCode(t, r, 0)
	if !strings.Contains(r.out, "New run ID:") || !strings.Contains(r.errOut, "Reset greet-1 run") {
		t.Fatalf("reset on a terminal:\n%s\n%s", r.out, r.errOut)
	}

	for _, args := range [][]string{
		{"reset", "greet-1"},
		{"reset", "greet-1", "--to-event", "2", "--to", "first"},
		{"reset", "greet-1", "--to", "middle"},
		{"reset", "greet-1", "--to-event", "0"},
		{"reset", "greet-1", "--to-event", "x"},
		{"reset", "--to", "first"},
	} {
		if r := e.run(t, false, args...); r.code != 2 {
			t.Errorf("%q: exit %d, want 2\n%s", args, r.code, r.errOut)
		}
	}
	expectCode(t, e.run(t, false, "reset", "nope", "--to", "first"), 4)
	expectCode(t, e.run(t, false, "reset", "nope", "--to", "last-failure"), 4)
	expectCode(t, e.run(t, false, "reset", "greet-1", "--run", "0190d3c2-0000-7000-8000-000000000000", "--to", "first"), 4)
}

func TestResetReapplySignals(t *testing.T) {
	e, c := newReplayEnv(t)
	ctx := testsrv.Context(t, 30*time.Second)
	for _, id := range []string{"col-1", "col-2"} {
		expectCode(t, e.run(t, false, "start", "Collect", "--id", id), 0)
		expectCode(t, e.run(t, false, "signal", id, "add", "--input", `"a"`), 0)
		waitForEvent(t, c, id, history.SignalReceived)
	}

	// With --reapply-signals the new run gets "a" again; then "b" ends it.
	r := e.run(t, false, "reset", "col-1", "--to", "first", "--reapply-signals", "-o", "json")
	expectCode(t, r, 0)
	res := decode[engine.ResetResult](t, r.out)
	if res.Reapplied != 1 || !res.OldTerminate || res.KeptThrough != 1 {
		t.Fatalf("reset --reapply-signals: %+v", res)
	}
	expectCode(t, e.run(t, false, "signal", "col-1", "add", "--input", `"b"`), 0)
	r = e.run(t, false, "result", "col-1", "--wait")
	expectCode(t, r, 0)
	if strings.TrimSpace(r.out) != `"a,b"` {
		t.Fatalf("result with re-applied signals: %q", r.out)
	}
	old, err := c.Describe(ctx, "col-1", res.OldRunID)
	testsrv.Must(t, err)
	if old.Status != engine.StatusTerminated {
		t.Fatalf("old run: %+v", old)
	}

	// Without it, the signal after the boundary is gone.
	r = e.run(t, false, "reset", "col-2", "--to", "first", "-o", "json")
	expectCode(t, r, 0)
	if res := decode[engine.ResetResult](t, r.out); res.Reapplied != 0 {
		t.Fatalf("reset without --reapply-signals: %+v", res)
	}
	expectCode(t, e.run(t, false, "signal", "col-2", "add", "--input", `"b"`), 0)
	expectCode(t, e.run(t, false, "signal", "col-2", "add", "--input", `"c"`), 0)
	r = e.run(t, false, "result", "col-2", "--wait")
	expectCode(t, r, 0)
	if strings.TrimSpace(r.out) != `"b,c"` {
		t.Fatalf("result without re-applied signals: %q", r.out)
	}
}

// A version 1 history file (a flat event list) is still checked, with its
// limit stated on stderr and in -o json; a version 2 file has none.
func TestReplayFileVersion1(t *testing.T) {
	e, _ := newReplayEnv(t)
	expectCode(t, e.run(t, false, "execute", "GreetWorkflow", "--id", "greet-v1", "--input", `"Ann"`), 0)
	path := showFile(t, e, "greet-v1")
	r := e.run(t, false, "replay", "--file", path)
	expectCode(t, r, 0)
	if strings.Contains(r.errOut, "warning") {
		t.Fatalf("version 2 file: %s", r.errOut)
	}
	data, err := os.ReadFile(path)
	testsrv.Must(t, err)
	f, err := history.DecodeFile(strings.NewReader(string(data)))
	testsrv.Must(t, err)
	if f.Version != history.FileVersion || len(f.Records) == 0 {
		t.Fatalf("show -o json wrote version %d with %d records", f.Version, len(f.Records))
	}
	var v1 strings.Builder
	testsrv.Must(t, (&history.File{Version: 1, WorkflowID: f.WorkflowID, RunID: f.RunID, Type: f.Type, TaskQueue: f.TaskQueue, Events: f.Events}).Encode(&v1))
	old := filepath.Join(t.TempDir(), "v1.json")
	testsrv.Must(t, os.WriteFile(old, []byte(v1.String()), 0o644))
	r = e.run(t, false, "replay", "--file", old)
	expectCode(t, r, 0)
	if r.out != "deterministic\n" || !strings.Contains(r.errOut, "warning: "+history.Version1Warning) {
		t.Fatalf("version 1 file:\n%s\n%s", r.out, r.errOut)
	}
	r = e.run(t, false, "replay", "--file", old, "-o", "json")
	expectCode(t, r, 0)
	type warned struct {
		Deterministic bool   `json:"deterministic"`
		Warning       string `json:"warning"`
	}
	got := decode[warned](t, r.out)
	if !got.Deterministic || got.Warning != history.Version1Warning {
		t.Fatalf("version 1 file -o json: %s", r.out)
	}
}
