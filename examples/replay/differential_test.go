package replay_test

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/durablefuture/durablefuture/examples/scenarios"
	"github.com/durablefuture/durablefuture/internal/testsrv"
	"github.com/durablefuture/durablefuture/pkg/engine"
	"github.com/durablefuture/durablefuture/pkg/history"
	"github.com/durablefuture/durablefuture/pkg/sdk/client"
	"github.com/durablefuture/durablefuture/pkg/sdk/failure"
	"github.com/durablefuture/durablefuture/pkg/sdk/replayer"
	"github.com/durablefuture/durablefuture/pkg/sdk/worker"
	"github.com/durablefuture/durablefuture/pkg/sdk/workflow"
)

// The differential corpus: a recorded workflow and a change to it. Every
// history is judged live (a worker running the changed code answers the
// replay check of the run, as `dfctl replay ID` asks) and offline (the
// replayer on the run's exported version 2 history file); the verdicts
// must be identical, and each change's verdict is the expected one: the
// code of the run's blocked reason (DF1001-DF1005), or compatible. It is
// the catalogue of docs/versioning.md.

// DiffStep is the corpus's activity.
func DiffStep(ctx context.Context, name string) (string, error) { return name, nil }

// DiffOther is the activity a rename calls instead.
func DiffOther(ctx context.Context, name string) (string, error) { return name, nil }

// DiffCharge is the activity whose arguments a change adds to or retypes.
func DiffCharge(ctx context.Context, amount int) (string, error) { return strconv.Itoa(amount), nil }

// DiffImplV1 and DiffImplV2 are two implementations of the activity
// "DiffImpl": the recording worker runs the first, the changed one the
// second.
func DiffImplV1(ctx context.Context, name string) (string, error) { return name, nil }

// DiffImplV2: see DiffImplV1.
func DiffImplV2(ctx context.Context, name string) (string, error) { return strings.ToUpper(name), nil }

// DiffChild is the child workflow of the corpus.
func DiffChild(ctx workflow.Context, name string) (string, error) { return name, nil }

// DiffNext is the workflow a run continues as new in.
func DiffNext(ctx workflow.Context, name string) error { return dstep(ctx, name) }

func dstep(ctx workflow.Context, name string) error {
	return workflow.ExecuteActivity(ctx, DiffStep, name).Get(ctx, nil)
}

func dwait(ctx workflow.Context) { workflow.GetSignalChannel(ctx, "go").Receive(ctx, nil) }

// diffCase is one change of the corpus.
type diffCase struct {
	name     string
	recorded func(ctx workflow.Context) error
	changed  func(ctx workflow.Context) error
	// waits: the recorded code waits for signal "go" after its activities
	// (the last one completed in a decision that commanded nothing).
	waits bool
	// inFlight leaves the run waiting for signal "go" when it is judged;
	// otherwise the signal is sent and the run completes first.
	inFlight bool
	// want is the expected verdict: compatible, or the code of the
	// mismatch (failure.Code*).
	want string
}

const compatible = "compatible"

func diffCorpus() []diffCase {
	steps := func(names ...string) func(ctx workflow.Context) error {
		return func(ctx workflow.Context) error {
			for _, n := range names {
				if err := dstep(ctx, n); err != nil {
					return err
				}
			}
			return nil
		}
	}
	// then runs the code parts one after the other; dwaitStep is the
	// signal wait as a part.
	then := func(parts ...func(ctx workflow.Context) error) func(ctx workflow.Context) error {
		return func(ctx workflow.Context) error {
			for _, p := range parts {
				if err := p(ctx); err != nil {
					return err
				}
			}
			return nil
		}
	}
	dwaitStep := func(ctx workflow.Context) error { dwait(ctx); return nil }
	aWaitB := then(steps("a"), dwaitStep, steps("b"))
	aB := steps("a", "b")
	aSleepB := func(d time.Duration) func(ctx workflow.Context) error {
		return then(steps("a"), func(ctx workflow.Context) error { return workflow.Sleep(ctx, d) }, steps("b"))
	}
	parallel := func(first, second any, arg1, arg2 string) func(ctx workflow.Context) error {
		return func(ctx workflow.Context) error {
			f1 := workflow.ExecuteActivity(ctx, first, arg1)
			f2 := workflow.ExecuteActivity(ctx, second, arg2)
			if err := f1.Get(ctx, nil); err != nil {
				return err
			}
			return f2.Get(ctx, nil)
		}
	}
	// charge calls DiffCharge by name with args, as v1 (an int) and the
	// changed code (more or other arguments) would.
	charge := func(args ...any) func(ctx workflow.Context) error {
		return then(steps("a"), func(ctx workflow.Context) error {
			return workflow.ExecuteActivity(ctx, "DiffCharge", args...).Get(ctx, nil)
		})
	}
	child := func(input string) func(ctx workflow.Context) error {
		return func(ctx workflow.Context) error {
			return workflow.ExecuteChildWorkflow(ctx, DiffChild, input).Get(ctx, nil)
		}
	}
	continueAsNew := func(input string) func(ctx workflow.Context) error {
		return then(steps("a"), func(ctx workflow.Context) error {
			return workflow.NewContinueAsNewError(ctx, DiffNext, input)
		})
	}
	// perKey calls DiffStep once per key, in the order of keys, keeping
	// each result under its key. A range over a map[string]T meets the keys
	// in an order Go randomises on every run, so a replay can meet them in
	// another order than the recorded run did: the corpus pins one such
	// pair of orders.
	perKey := func(keys ...string) func(ctx workflow.Context) error {
		return func(ctx workflow.Context) error {
			results := map[string]string{}
			for _, k := range keys {
				var v string
				if err := workflow.ExecuteActivity(ctx, DiffStep, k).Get(ctx, &v); err != nil {
					return err
				}
				results[k] = v
			}
			return nil
		}
	}
	panics := func(ctx workflow.Context) error {
		var cfg map[string]int
		cfg["retries"]++ // the bug of the new code: a nil map
		return nil
	}
	version := func(changeID string) func(ctx workflow.Context) int {
		return func(ctx workflow.Context) int {
			return workflow.GetVersion(ctx, changeID, workflow.DefaultVersion, 1)
		}
	}
	return []diffCase{
		// Incompatible changes.
		{name: "insert-at-wait", recorded: aWaitB, waits: true, inFlight: true, want: failure.CodeExtraCommand,
			changed: then(steps("a", "x"), dwaitStep, steps("b"))},
		{name: "insert-before-wait", recorded: aWaitB, waits: true, want: failure.CodeExtraCommand,
			changed: then(steps("a", "x"), dwaitStep, steps("b"))},
		{name: "move-before-signal", recorded: aWaitB, waits: true, want: failure.CodeExtraCommand,
			changed: then(steps("a", "b"), dwaitStep)},
		{name: "move-before-signal-in-flight", recorded: aWaitB, waits: true, inFlight: true, want: failure.CodeExtraCommand,
			changed: then(steps("a", "b"), dwaitStep)},
		{name: "remove-activity", recorded: then(steps("a", "b"), dwaitStep), waits: true, inFlight: true, want: failure.CodeMissingCommand,
			changed: then(steps("a"), dwaitStep)},
		{name: "remove-parallel-activity", recorded: parallel(DiffStep, DiffStep, "a", "b"), want: failure.CodeMissingCommand,
			changed: steps("a")},
		// The code completes where the history records an activity: a
		// command mismatch (WorkflowCompleted for ActivityScheduled).
		{name: "remove-last-activity", recorded: aB, changed: steps("a"), want: failure.CodeCommandMismatch},
		{name: "rename-activity", recorded: aB, want: failure.CodeCommandMismatch,
			changed: then(steps("a"), func(ctx workflow.Context) error {
				return workflow.ExecuteActivity(ctx, DiffOther, "b").Get(ctx, nil)
			})},
		{name: "activity-argument-added", recorded: charge(10), changed: charge(10, "EUR"), want: failure.CodeInputMismatch},
		{name: "activity-argument-int-to-string", recorded: charge(10), changed: charge("10"), want: failure.CodeInputMismatch},
		{name: "timer-duration", recorded: aSleepB(20 * time.Millisecond), changed: aSleepB(40 * time.Millisecond), want: failure.CodeInputMismatch},
		{name: "extra-timer", recorded: aB, changed: aSleepB(10 * time.Millisecond), want: failure.CodeCommandMismatch},
		{name: "extra-timer-at-wait", recorded: aWaitB, waits: true, inFlight: true, want: failure.CodeExtraCommand,
			changed: then(aSleepB(10*time.Millisecond), dwaitStep)},
		{name: "child-input", recorded: child("x"), changed: child("y"), want: failure.CodeInputMismatch},
		{name: "continue-as-new-input", recorded: continueAsNew("x"), changed: continueAsNew("y"), want: failure.CodeInputMismatch},
		{name: "map-range-order", recorded: perKey("a", "b", "c"), changed: perKey("b", "c", "a"), want: failure.CodeInputMismatch},
		{name: "reorder-parallel", recorded: parallel(DiffStep, DiffOther, "a", "b"), changed: parallel(DiffOther, DiffStep, "b", "a"), want: failure.CodeCommandMismatch},
		{name: "reorder-parallel-same-activity", recorded: parallel(DiffStep, DiffStep, "a", "b"), changed: parallel(DiffStep, DiffStep, "b", "a"), want: failure.CodeInputMismatch},
		// A panic of the new code at a point the run has passed, or waits
		// at: the run is blocked (DF1005), not failed.
		{name: "panic-at-passed-point", recorded: aB, changed: then(steps("a"), panics, steps("b")), want: failure.CodePanic},
		{name: "panic-at-wait", recorded: aWaitB, waits: true, inFlight: true, want: failure.CodePanic,
			changed: then(steps("a"), panics, dwaitStep, steps("b"))},

		// Compatible changes.
		{name: "unchanged-at-wait", recorded: aWaitB, waits: true, changed: aWaitB, inFlight: true, want: compatible},
		{name: "guarded-insert-at-wait", recorded: aWaitB, waits: true, inFlight: true, want: compatible,
			changed: then(steps("a"), func(ctx workflow.Context) error {
				if version("add-x")(ctx) == 1 {
					return dstep(ctx, "x")
				}
				return nil
			}, dwaitStep, steps("b"))},
		{name: "guarded-insert-completed", recorded: aB, want: compatible,
			changed: then(steps("a"), func(ctx workflow.Context) error {
				if version("add-x")(ctx) == 1 {
					return dstep(ctx, "x")
				}
				return nil
			}, steps("b"))},
		{name: "guarded-remove-completed", recorded: aB, want: compatible,
			changed: then(steps("a"), func(ctx workflow.Context) error {
				if version("drop-b")(ctx) == workflow.DefaultVersion {
					return dstep(ctx, "b")
				}
				return nil
			})},
		{name: "guarded-remove-in-flight", recorded: aWaitB, waits: true, inFlight: true, want: compatible,
			changed: then(steps("a"), dwaitStep, func(ctx workflow.Context) error {
				if version("drop-b")(ctx) == workflow.DefaultVersion {
					return dstep(ctx, "b")
				}
				return nil
			})},
		{name: "guarded-argument-change", recorded: charge(10), want: compatible,
			changed: then(steps("a"), func(ctx workflow.Context) error {
				if version("charge-currency")(ctx) == workflow.DefaultVersion {
					return workflow.ExecuteActivity(ctx, "DiffCharge", 10).Get(ctx, nil)
				}
				return workflow.ExecuteActivity(ctx, "DiffCharge", 10, "EUR").Get(ctx, nil)
			})},
		{name: "logging-only", recorded: aWaitB, waits: true, want: compatible,
			changed: func(ctx workflow.Context) error {
				workflow.GetLogger(ctx).Info("starting")
				if err := dstep(ctx, "a"); err != nil {
					return err
				}
				workflow.GetLogger(ctx).Info("waiting")
				dwait(ctx)
				workflow.GetLogger(ctx).Info("signalled")
				return dstep(ctx, "b")
			}},
		// A handler of a new signal, read after the point the run waits at.
		{name: "signal-handler-added", recorded: aWaitB, waits: true, inFlight: true, want: compatible,
			changed: then(aWaitB, func(ctx workflow.Context) error {
				var note string
				for workflow.GetSignalChannel(ctx, "note").ReceiveAsync(&note) {
					workflow.GetLogger(ctx).Info("note", "text", note)
				}
				return nil
			})},
		{name: "query-handler-added", recorded: aWaitB, waits: true, want: compatible,
			changed: func(ctx workflow.Context) error {
				state := "starting"
				if err := workflow.SetQueryHandler(ctx, "state", func() (string, error) { return state, nil }); err != nil {
					return err
				}
				state = "waiting"
				return aWaitB(ctx)
			}},
		// Local variables renamed and the steps moved into a helper.
		{name: "refactor-into-helper", recorded: aWaitB, waits: true, inFlight: true, want: compatible,
			changed: func(ctx workflow.Context) error { return diffRefactored(ctx, []string{"a"}, []string{"b"}) }},
		// The activity's implementation changes (DiffImplV1 → DiffImplV2
		// under "DiffImpl"), its call does not.
		{name: "activity-implementation-changed", recorded: diffImplCall, waits: true, inFlight: true, want: compatible, changed: diffImplCall},
	}
}

// diffRefactored is aWaitB refactored: the steps before and after the
// signal wait are parameters.
func diffRefactored(ctx workflow.Context, before, after []string) error {
	for _, step := range before {
		if err := dstep(ctx, step); err != nil {
			return fmt.Errorf("before the signal: %w", err)
		}
	}
	dwait(ctx)
	for _, step := range after {
		if err := dstep(ctx, step); err != nil {
			return fmt.Errorf("after the signal: %w", err)
		}
	}
	return nil
}

func diffImplCall(ctx workflow.Context) error {
	if err := dstep(ctx, "a"); err != nil {
		return err
	}
	dwait(ctx)
	return workflow.ExecuteActivity(ctx, "DiffImpl", "b").Get(ctx, nil)
}

// verdict is a replay verdict as compared: "compatible", or the
// mismatch's message.
func verdictOf(err error) string {
	if err == nil {
		return compatible
	}
	return "mismatch: " + err.Error()
}

func liveVerdict(res *engine.ReplayResult) string {
	if res.Deterministic {
		return compatible
	}
	if res.Mismatch == nil {
		return "mismatch: (no message)"
	}
	return "mismatch: " + res.Mismatch.Message
}

// codeOf is the code a verdict (or a blocked reason) starts with:
// compatible, a DF code, or "" when it has none.
func codeOf(verdict string) string {
	if verdict == compatible {
		return compatible
	}
	code, _, _ := strings.Cut(strings.TrimPrefix(verdict, "mismatch: "), " ")
	if len(code) == 6 && strings.HasPrefix(code, "DF") {
		return code
	}
	return ""
}

// offlineCode is the code of the replayer's error, read from its type.
func offlineCode(err error) string {
	var nde *failure.NonDeterminismError
	var wce *failure.WorkflowCodeError
	switch {
	case err == nil:
		return compatible
	case errors.As(err, &nde):
		return cmp.Or(nde.Code, failure.CodeCommandMismatch)
	case errors.As(err, &wce):
		return wce.Code
	}
	return ""
}

// exportFile writes a run's history as `dfctl show -o json` does and reads
// it back.
func exportFile(t *testing.T, ctx context.Context, c *client.Client, id, runID string) *history.File {
	t.Helper()
	recs, bad, err := c.Store().HistoryTolerant(ctx, id, runID)
	testsrv.Must(t, err)
	if len(bad) > 0 {
		t.Fatalf("%s: %d bad records", id, len(bad))
	}
	var b bytes.Buffer
	testsrv.Must(t, history.NewFile(recs).Encode(&b))
	f, err := history.DecodeFile(&b)
	testsrv.Must(t, err)
	return f
}

// registerDiffActivities registers the corpus's activities, with impl as
// "DiffImpl".
func registerDiffActivities(t *testing.T, w *worker.Worker, impl func(context.Context, string) (string, error)) {
	t.Helper()
	testsrv.Must(t, w.RegisterActivity(DiffStep))
	testsrv.Must(t, w.RegisterActivity(DiffOther))
	testsrv.Must(t, w.RegisterActivity(DiffCharge))
	testsrv.Must(t, w.RegisterActivityWithOptions(impl, worker.RegisterOptions{Name: "DiffImpl"}))
}

// askLive asks a worker of the default queue whose identity is want for
// its verdict on a run.
func askLive(t *testing.T, ctx context.Context, c *client.Client, id, runID, want string) *engine.ReplayResult {
	t.Helper()
	var res *engine.ReplayResult
	var err error
	testsrv.WaitFor(t, ctx, "worker "+want+" to answer the replay check of "+id, func() bool {
		res, err = c.Store().ReplayRun(ctx, id, runID)
		return err == nil && res.Worker == want
	})
	return res
}

// TestOfflineEqualsLive runs every example scenario and the corpus of
// changes both ways and asserts identical verdicts.
func TestOfflineEqualsLive(t *testing.T) {
	s := testsrv.Start(t)
	c := testsrv.Client(t, s)
	ctx := testsrv.Context(t, 90*time.Second)
	corpus := diffCorpus()
	typeName := func(dc diffCase) string { return "Diff_" + strings.ReplaceAll(dc.name, "-", "_") }

	// Record: the example scenarios and the corpus's recorded code.
	stopRec := testsrv.RunWorker(t, c, worker.Options{Identity: "recorder", ActivityTaskTimeout: 3 * time.Second}, func(w *worker.Worker) {
		for _, sc := range scenarios.All() {
			testsrv.Must(t, sc.RegisterWorkflows(w))
			testsrv.Must(t, sc.RegisterActivities(w))
		}
		for _, dc := range corpus {
			testsrv.Must(t, w.RegisterWorkflowWithOptions(dc.recorded, worker.RegisterOptions{Name: typeName(dc)}))
		}
		testsrv.Must(t, w.RegisterWorkflow(DiffChild))
		testsrv.Must(t, w.RegisterWorkflow(DiffNext))
		registerDiffActivities(t, w, DiffImplV1)
	})
	type recorded struct{ id, runID string }
	runs := map[string]recorded{}
	for _, sc := range scenarios.All() {
		id := "diff-scenario-" + sc.Name
		run, err := sc.Start(ctx, c, client.StartOptions{ID: id})
		testsrv.Must(t, err)
		runs[id] = recorded{id, run.RunID()}
	}
	for _, dc := range corpus {
		id := "diff-" + dc.name
		run, err := c.StartJSON(ctx, client.StartOptions{ID: id}, typeName(dc), nil)
		testsrv.Must(t, err)
		runs[id] = recorded{id, run.RunID()}
	}
	// The runs that wait for "go": at the wait (in flight), or signalled
	// and completed.
	for _, dc := range corpus {
		id := "diff-" + dc.name
		rr := runs[id]
		if dc.waits {
			// Wait until the run waits: "a" completed in a decision that
			// commanded nothing.
			testsrv.WaitFor(t, ctx, id+" to wait for its signal", func() bool {
				evs, err := c.History(ctx, id, rr.runID)
				if err != nil || len(evs) == 0 {
					return false
				}
				return evs[len(evs)-1].Type == history.ActivityCompleted
			})
			if !dc.inFlight {
				testsrv.Must(t, c.SignalWorkflow(ctx, id, rr.runID, "go", nil))
			}
		}
		if !dc.inFlight {
			ri, err := c.WaitClosed(ctx, id, rr.runID)
			testsrv.Must(t, err)
			if ri.Status != engine.StatusCompleted {
				t.Fatalf("%s ended %s", id, ri.Status)
			}
		}
	}
	for _, sc := range scenarios.All() {
		rr := runs["diff-scenario-"+sc.Name]
		ri, err := c.WaitClosed(ctx, rr.id, rr.runID)
		testsrv.Must(t, err)
		if !sc.Expected(string(ri.Status)) {
			t.Fatalf("%s ended %s", sc.Name, ri.Status)
		}
	}
	files := map[string]*history.File{}
	for id, rr := range runs {
		files[id] = exportFile(t, ctx, c, id, rr.runID)
	}
	stopRec()

	// Deploy the changed code: the scenarios unchanged, the corpus changed.
	register := func(reg func(fn any, name string) error) {
		for _, sc := range scenarios.All() {
			for _, fn := range sc.Workflows {
				testsrv.Must(t, reg(fn, ""))
			}
		}
		for _, dc := range corpus {
			testsrv.Must(t, reg(dc.changed, typeName(dc)))
		}
		testsrv.Must(t, reg(DiffChild, ""))
		testsrv.Must(t, reg(DiffNext, ""))
	}
	testsrv.RunWorker(t, c, worker.Options{Identity: "changed", ActivityTaskTimeout: 3 * time.Second}, func(w *worker.Worker) {
		register(func(fn any, name string) error {
			if name == "" {
				return w.RegisterWorkflow(fn)
			}
			return w.RegisterWorkflowWithOptions(fn, worker.RegisterOptions{Name: name})
		})
		for _, sc := range scenarios.All() {
			testsrv.Must(t, sc.RegisterActivities(w))
		}
		registerDiffActivities(t, w, DiffImplV2)
	})
	rp := replayer.New()
	register(func(fn any, name string) error {
		if name == "" {
			return rp.RegisterWorkflow(fn)
		}
		return rp.RegisterWorkflowWithOptions(fn, worker.RegisterOptions{Name: name})
	})

	judge := func(t *testing.T, id, want string) string {
		rr := runs[id]
		f := files[id]
		live := liveVerdict(askLive(t, ctx, c, id, rr.runID, "changed"))
		offErr := rp.ReplayHistory(f)
		offline := verdictOf(offErr)
		if live != offline {
			t.Fatalf("verdicts differ:\n  live:    %s\n  offline: %s", live, offline)
		}
		// The worker's replay of the file (`dfctl replay --file`).
		res, err := c.Store().ReplayFile(ctx, "default", f)
		testsrv.Must(t, err)
		if viaFile := liveVerdict(res); viaFile != live {
			t.Fatalf("dfctl replay --file says %s; dfctl replay ID says %s", viaFile, live)
		}
		// A version 1 file (the flat events) may miss a mismatch but never
		// approves: it either finds the same kind of verdict or says its
		// limit.
		v1 := &history.File{Version: 1, WorkflowID: f.WorkflowID, RunID: f.RunID, Type: f.Type, TaskQueue: f.TaskQueue, Events: f.Events}
		v1err := rp.ReplayHistory(v1)
		switch {
		case errors.Is(v1err, replayer.ErrVersion1File):
			if live != compatible {
				t.Logf("version 1 file misses the mismatch (%s)", live)
			}
		case offlineCode(v1err) != "":
			if live == compatible {
				t.Fatalf("version 1 file invents a mismatch: %v", v1err)
			}
		default:
			t.Fatalf("version 1 file: %v", v1err)
		}
		// The expected verdict, with its code: in the live message and in
		// the type of the replayer's error.
		if got := codeOf(live); got != want {
			t.Fatalf("live verdict %s, want %s: %s", got, want, live)
		}
		if got := offlineCode(offErr); got != want {
			t.Fatalf("offline verdict %s (%T), want %s: %v", got, offErr, want, offErr)
		}
		t.Logf("%s", live)
		return live
	}
	for _, sc := range scenarios.All() {
		t.Run("scenario/"+sc.Name, func(t *testing.T) { judge(t, "diff-scenario-"+sc.Name, compatible) })
	}
	for _, dc := range corpus {
		t.Run("change/"+dc.name, func(t *testing.T) {
			id := "diff-" + dc.name
			verdict := judge(t, id, dc.want)
			if !dc.inFlight {
				return
			}
			// The decision that applied "a"'s completion and commanded
			// nothing is a record of its own, kept by the file.
			f := files[id]
			last := f.Records[len(f.Records)-1]
			if last.Kind != history.KindDecision || len(last.Events) != 1 || last.Events[0].Type != history.ActivityCompleted {
				t.Fatalf("last record of a run waiting for its signal: %+v", last)
			}
			// A real worker takes the run in flight: the signal makes it
			// load the run with the changed code, which blocks it exactly
			// when the replay check said so.
			rr := runs[id]
			testsrv.Must(t, c.SignalWorkflow(ctx, id, rr.runID, "go", nil))
			testsrv.WaitFor(t, ctx, id+" to be decided by the changed worker", func() bool {
				ri, err := c.Describe(ctx, id, rr.runID)
				return err == nil && (ri.Blocked != "" || ri.Status != engine.StatusRunning)
			})
			ri, err := c.Describe(ctx, id, rr.runID)
			testsrv.Must(t, err)
			if blocked := ri.Blocked != ""; blocked != (verdict != compatible) {
				t.Fatalf("the worker blocked=%v (%q, %s) but the replay check said %s", blocked, ri.Blocked, ri.Status, verdict)
			}
			if ri.Blocked != "" && codeOf(ri.Blocked) != dc.want {
				t.Fatalf("blocked with %q, want code %s", ri.Blocked, dc.want)
			}
			if ri.Blocked == "" && ri.Status != engine.StatusCompleted {
				t.Fatalf("the changed code ended the run %s", ri.Status)
			}
		})
	}

	// Figures for the note: the offline replay of every history of the
	// corpus (the verdicts were checked above), in memory.
	const rounds = 20
	events := 0
	for _, f := range files {
		events += len(f.Events)
	}
	start := time.Now()
	for range rounds {
		for _, f := range files {
			_ = rp.ReplayHistory(f)
		}
	}
	per := time.Since(start) / time.Duration(rounds*len(files))
	t.Logf("corpus: %d changes, %d scenarios; offline replay of %d histories (%d events): %v per history, %v per event",
		len(corpus), len(scenarios.All()), len(files), events, per, per*time.Duration(len(files))/time.Duration(max(events, 1)))
}
