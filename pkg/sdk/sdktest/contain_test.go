package sdktest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/durablefuture/durablefuture/internal/testsrv"
	"github.com/durablefuture/durablefuture/pkg/history"
	"github.com/durablefuture/durablefuture/pkg/sdk/client"
	"github.com/durablefuture/durablefuture/pkg/sdk/worker"
	"github.com/durablefuture/durablefuture/pkg/sdk/workflow"
	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"
)

// Bad data is contained: a mistyped signal, a garbage record, a forged
// input or a task of a closed run never fails, hangs or grows a run.

// TypedSignalWorkflow reads int signals "n": the first with
// ReceiveWithError, which must hand it the mistyped value as a
// *workflow.ReceiveError, then with Receive, which skips a mistyped value
// and returns the next good one.
func TypedSignalWorkflow(ctx workflow.Context) (string, error) {
	ch := workflow.GetSignalChannel(ctx, "n")
	var n int
	more, err := ch.ReceiveWithError(ctx, &n)
	var re *workflow.ReceiveError
	if !more || !errors.As(err, &re) {
		return "", fmt.Errorf("ReceiveWithError: more=%v err=%v, want a ReceiveError", more, err)
	}
	seen := fmt.Sprintf("%s@%d=%s", re.Channel, re.EventSeq, re.Value)
	ch.Receive(ctx, &n)
	return fmt.Sprintf("%s then %d", seen, n), nil
}

// A signal whose value does not decode into the receiver's type is an
// error the code sees (or a skipped value), never a failure: before, any
// client could kill a run with one (PanicError "decode channel value").
func TestMistypedSignalIsAnErrorTheCodeSees(t *testing.T) {
	s := testsrv.Start(t)
	c := testsrv.Client(t, s)
	logger, logs := testsrv.CaptureLogs(t)
	testsrv.RunWorker(t, c, worker.Options{Logger: logger}, func(w *worker.Worker) {
		testsrv.Must(t, w.RegisterWorkflow(TypedSignalWorkflow))
	})
	ctx := testsrv.Context(t, 30*time.Second)
	run, err := c.ExecuteWorkflow(ctx, client.StartOptions{ID: "typed"}, TypedSignalWorkflow)
	testsrv.Must(t, err)
	for _, v := range []any{"abc", map[string]int{"x": 1}, 7} {
		testsrv.Must(t, c.SignalWorkflow(ctx, "typed", "", "n", v))
	}
	var got string
	testsrv.Must(t, run.Get(ctx, &got))
	if want := `n@2="abc" then 7`; got != want {
		t.Fatalf("result %q, want %q", got, want)
	}
	evs, err := c.History(ctx, "typed", "")
	testsrv.Must(t, err)
	checkWellFormed(t, evs)
	n := 0
	for _, ev := range evs {
		if ev.Type == history.SignalReceived {
			n++
		}
	}
	if n != 3 || evs[len(evs)-1].Type != history.WorkflowCompleted {
		t.Fatalf("history: %d signals, ends with %s: %v", n, evs[len(evs)-1].Type, types(evs))
	}
	// The value Receive skipped is in the worker's log once (replays are
	// silent), naming the signal and its event.
	skipped := logs.Count(func(r testsrv.LogRecord) bool {
		return r.Level == slog.LevelWarn && strings.Contains(r.Attrs["err"], `signal "n" (event 3)`)
	})
	if skipped != 1 {
		t.Fatalf("%d log lines for the skipped signal, want 1: %+v", skipped, logs.Records(nil))
	}
	// The same history replays to the same outcome.
	replayFile(t, c, "typed", TypedSignalWorkflow)
}

// NapWorkflow sleeps d on a durable timer.
func NapWorkflow(ctx workflow.Context, d time.Duration) error { return workflow.Sleep(ctx, d) }

// A garbage record in a run's history (anyone with publish rights on the
// subject can write one) blocks that run, with the record's stream
// sequence in the runs index, is retried on the blocked back-off (not every
// second for ever), and leaves the other runs of the worker alone.
func TestGarbageRecordBlocksOnlyItsRun(t *testing.T) {
	s := testsrv.Start(t)
	c := testsrv.Client(t, s)
	startWorker(t, c, func(w *worker.Worker) {
		testsrv.Must(t, w.RegisterWorkflow(NapWorkflow))
		testsrv.Must(t, w.RegisterWorkflow(CollectWorkflow))
		testsrv.Must(t, w.RegisterWorkflow(SumWorkflow))
		testsrv.Must(t, w.RegisterActivity(Add))
	})
	ctx := testsrv.Context(t, 60*time.Second)
	run, err := c.ExecuteWorkflow(ctx, client.StartOptions{ID: "garbled"}, NapWorkflow, 2*time.Second)
	testsrv.Must(t, err)
	testsrv.WaitFor(t, ctx, "the timer started", func() bool {
		evs, err := c.History(ctx, "garbled", "")
		return err == nil && len(evs) >= 2
	})
	subj, err := c.Store().Log.Subject("garbled", run.RunID())
	testsrv.Must(t, err)
	ack, err := c.Store().JS.Publish(ctx, subj, []byte("\x00 not a record"))
	testsrv.Must(t, err)
	// When the timer fires, the worker's decision finds the history moved
	// on and reads it again.
	mark := fmt.Sprintf("stream seq %d", ack.Sequence)
	testsrv.WaitFor(t, ctx, "the run blocked, naming the bad record", func() bool {
		ri, err := c.Describe(ctx, "garbled", "")
		return err == nil && strings.Contains(ri.Blocked, mark)
	})

	// Other runs on the same worker go on.
	other, err := c.ExecuteWorkflow(ctx, client.StartOptions{ID: "clean-sum"}, SumWorkflow, 4)
	testsrv.Must(t, err)
	var sum int
	testsrv.Must(t, other.Get(ctx, &sum))
	collect, err := c.ExecuteWorkflow(ctx, client.StartOptions{ID: "clean-collect"}, CollectWorkflow, 1)
	testsrv.Must(t, err)
	testsrv.Must(t, c.SignalWorkflow(ctx, "clean-collect", "", "item", 5))
	var items []int
	testsrv.Must(t, collect.Get(ctx, &items))
	if sum != 6 || len(items) != 1 || items[0] != 5 {
		t.Fatalf("other runs: sum %d, items %v", sum, items)
	}

	// Only the blocked run's task is left: each delivery of it is at least
	// the blocked back-off after the previous one.
	cons, err := c.Store().JS.Consumer(ctx, taskStream(c), "wf_default")
	testsrv.Must(t, err)
	delivered := func() uint64 {
		info, err := cons.Info(ctx)
		testsrv.Must(t, err)
		return info.Delivered.Consumer
	}
	d0 := delivered()
	testsrv.WaitFor(t, ctx, "a redelivery of the blocked run's task", func() bool { return delivered() > d0 })
	t1, d1 := time.Now(), delivered()
	testsrv.WaitFor(t, ctx, "the next redelivery", func() bool { return delivered() > d1 })
	if gap := time.Since(t1); gap < 1500*time.Millisecond {
		t.Fatalf("the blocked run's task came back after %v: retried like a transient error", gap)
	}

	// What can be read of the run is still there, and the bad record named.
	recs, bad, err := c.Store().Log.ReadTolerant(ctx, subj, 0)
	testsrv.Must(t, err)
	if len(recs) == 0 || recs[0].Events[0].Type != history.WorkflowStarted || len(bad) != 1 || bad[0].Seq != ack.Sequence {
		t.Fatalf("tolerant read: %d records, bad %v", len(recs), bad)
	}
	if _, err := c.Store().Log.ReadFrom(ctx, subj, 0); !errors.As(err, new(*history.BadRecordError)) {
		t.Fatalf("strict read of a history with a bad record: %v, want a BadRecordError", err)
	}
}

var forgeGate = make(chan struct{})

func ForgeGate(ctx context.Context) (string, error) {
	select {
	case <-forgeGate:
		return "real", nil
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// ForgeTargetWorkflow starts an hour's timer (event 2) and the activity
// ForgeGate (event 3), and returns the activity's result.
func ForgeTargetWorkflow(ctx workflow.Context) (string, error) {
	tctx, cancel := workflow.WithCancel(ctx)
	defer cancel()
	workflow.NewTimer(tctx, time.Hour)
	var out string
	err := workflow.ExecuteActivity(ctx, ForgeGate).Get(ctx, &out)
	return out, err
}

// Inputs on task subjects are checked before they are recorded: before,
// an ActivityCompleted naming any seq, or a TimerFired naming an activity,
// went into the history as it came.
func TestForgedInputsAreNotRecorded(t *testing.T) {
	s := testsrv.Start(t)
	c := testsrv.Client(t, s)
	startWorker(t, c, func(w *worker.Worker) {
		testsrv.Must(t, w.RegisterWorkflow(ForgeTargetWorkflow))
		testsrv.Must(t, w.RegisterActivity(ForgeGate))
	})
	ctx := testsrv.Context(t, 60*time.Second)
	run, err := c.ExecuteWorkflow(ctx, client.StartOptions{ID: "forge-target"}, ForgeTargetWorkflow)
	testsrv.Must(t, err)
	testsrv.WaitFor(t, ctx, "the activity scheduled", func() bool {
		evs, err := c.History(ctx, "forge-target", "")
		return err == nil && len(evs) >= 3
	})
	forged := `"forged"`
	rid := run.RunID()
	for i, task := range []struct {
		wid, rid, inputID string
		ev                map[string]any
	}{
		{"forge-target", rid, "act:99:done", map[string]any{"type": "ActivityCompleted", "cause": 99, "attempt": 1, "result": forged}},
		{"forge-target", rid, "timer:3", map[string]any{"type": "TimerFired", "cause": 3}},
		{"forge-target", rid, "act:2:done", map[string]any{"type": "ActivityCompleted", "cause": 3, "attempt": 1, "result": forged}},
		{"forge-target", rid, "act:2:done", map[string]any{"type": "ActivityCompleted", "cause": 2, "attempt": 1, "result": forged}},
		{"forge-target", rid, "act:3:done", map[string]any{"type": "ActivityCompleted", "cause": 3, "attempt": 0, "result": forged}},
		{"forge-target", rid, "sig:999", map[string]any{"type": "SignalReceived", "name": "x", "signal_seq": 999, "input": forged}},
		{"forge-target", rid, "terminate", map[string]any{"type": "WorkflowTerminated", "reason": "forged"}},
		{"forge-target", rid, "timeout", map[string]any{"type": "WorkflowTimedOut"}},
		{"forge-target", uuid.NewString(), "act:3:done", map[string]any{"type": "ActivityCompleted", "cause": 3, "attempt": 1, "result": forged}},
		{"someone-else", rid, "act:3:done", map[string]any{"type": "ActivityCompleted", "cause": 3, "attempt": 1, "result": forged}},
	} {
		data, err := json.Marshal(map[string]any{"v": 1, "workflow_id": task.wid, "run_id": task.rid, "input_id": task.inputID, "event": task.ev})
		testsrv.Must(t, err)
		if _, err := c.Store().JS.Publish(ctx, c.Store().Config.Prefix+".task.wf.default", data, jetstream.WithMsgID(fmt.Sprintf("forged-%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	// Every forged task is dropped, none retried for ever.
	cons, err := c.Store().JS.Consumer(ctx, taskStream(c), "wf_default")
	testsrv.Must(t, err)
	testsrv.WaitFor(t, ctx, "the forged tasks dropped", func() bool {
		info, err := cons.Info(ctx)
		return err == nil && info.NumPending == 0 && info.NumAckPending == 0
	})
	close(forgeGate)
	var got string
	testsrv.Must(t, run.Get(ctx, &got))
	if got != "real" {
		t.Fatalf("result %q", got)
	}
	evs, err := c.History(ctx, "forge-target", "")
	testsrv.Must(t, err)
	checkWellFormed(t, evs)
	for _, ev := range evs {
		switch {
		case strings.Contains(string(ev.Result), "forged") || strings.Contains(string(ev.Input), "forged"),
			ev.Type == history.TimerFired, ev.Type == history.SignalReceived,
			ev.Type == history.WorkflowTerminated, ev.Type == history.WorkflowTimedOut:
			t.Fatalf("a forged input was recorded: %+v\nhistory: %v", ev, types(evs))
		}
	}
	if ri, err := c.Describe(ctx, "forge-target", ""); err != nil || ri.Status != "completed" {
		t.Fatalf("describe: %+v, %v", ri, err)
	}
}

// Nothing after close: a run of an unknown type is blocked; once it is
// terminated its task is dropped, no event follows WorkflowTerminated and
// the worker stops logging about it. Before, the history got a
// WorkflowTaskFailed after WorkflowTerminated and the worker logged an
// error every minute for ever.
func TestTerminatedRunOfUnknownTypeGetsNothingAfterClose(t *testing.T) {
	s := testsrv.Start(t)
	c := testsrv.Client(t, s)
	logger, logs := testsrv.CaptureLogs(t)
	testsrv.RunWorker(t, c, worker.Options{Logger: logger}, func(w *worker.Worker) {
		testsrv.Must(t, w.RegisterWorkflow(SumWorkflow))
		testsrv.Must(t, w.RegisterActivity(Add))
	})
	ctx := testsrv.Context(t, 60*time.Second)
	run, err := c.ExecuteWorkflow(ctx, client.StartOptions{ID: "ghost"}, "NoSuchWorkflow")
	testsrv.Must(t, err)
	testsrv.WaitFor(t, ctx, "the run blocked", func() bool {
		ri, err := c.Describe(ctx, "ghost", "")
		return err == nil && ri.Blocked != ""
	})
	testsrv.Must(t, c.TerminateWorkflow(ctx, "ghost", "", "no such type"))
	terminated := time.Now()
	cons, err := c.Store().JS.Consumer(ctx, taskStream(c), "wf_default")
	testsrv.Must(t, err)
	testsrv.WaitFor(t, ctx, "the closed run's task dropped", func() bool {
		info, err := cons.Info(ctx)
		return err == nil && info.NumPending == 0 && info.NumAckPending == 0
	})
	evs, err := c.History(ctx, "ghost", "")
	testsrv.Must(t, err)
	if last := evs[len(evs)-1]; last.Type != history.WorkflowTerminated {
		t.Fatalf("events after the close: %v", types(evs))
	}
	// At most one line raced the terminate; none came after the task went.
	late := logs.Count(func(r testsrv.LogRecord) bool {
		return r.Level >= slog.LevelWarn && r.Attrs["run_id"] == run.RunID() && r.Time.After(terminated)
	})
	if late > 1 {
		t.Fatalf("%d warnings or errors about the run after it was terminated: %+v", late, logs.Records(nil))
	}
	// The worker still runs other workflows.
	sumRun, err := c.ExecuteWorkflow(ctx, client.StartOptions{ID: "after-ghost"}, SumWorkflow, 3)
	testsrv.Must(t, err)
	var sum int
	testsrv.Must(t, sumRun.Get(ctx, &sum))
}

func taskStream(c *client.Client) string {
	return strings.ToUpper(c.Store().Config.Prefix) + "_TASKS"
}
