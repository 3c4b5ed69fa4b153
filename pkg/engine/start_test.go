package engine_test

// Starts that stop half way (issue 8, "No orphan starts"): a client that
// dies anywhere in StartWorkflow leaves a run that is either invisible or
// completed by whoever next touches it; runs reserved without history by
// older clients can be described, signalled, cancelled, terminated and
// started again without a panic or a silent no-op.

import (
	"context"
	"encoding/json"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/durablefuture/durablefuture/internal/testsrv"
	"github.com/durablefuture/durablefuture/pkg/engine"
	"github.com/durablefuture/durablefuture/pkg/history"
	"github.com/durablefuture/durablefuture/pkg/sdk/client"
	"github.com/durablefuture/durablefuture/pkg/sdk/worker"
	"github.com/durablefuture/durablefuture/pkg/sdk/workflow"
	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"
)

func StartEcho(ctx workflow.Context, s string) (string, error) { return "echo " + s, nil }

func StartWaitSignal(ctx workflow.Context) (string, error) {
	var v string
	workflow.GetSignalChannel(ctx, "go").Receive(ctx, &v)
	return v, nil
}

func startWorker(t *testing.T, c *client.Client) {
	testsrv.RunWorker(t, c, worker.Options{}, func(w *worker.Worker) {
		testsrv.Must(t, w.RegisterWorkflow(StartEcho))
		testsrv.Must(t, w.RegisterWorkflow(StartWaitSignal))
	})
}

// crashStartAt makes the next StartWorkflow stop right after step, as if
// its client died there. Call it before starting a worker: the hook is
// removed after the worker stops.
func crashStartAt(t *testing.T, step string) {
	var fired atomic.Bool
	t.Cleanup(engine.SetTestHookStart(func(s string) bool { return s == step && fired.CompareAndSwap(false, true) }))
}

// waitEntry watches the runs index entry of id until cond holds for it (the
// entry may not exist yet) and returns it.
func waitEntry(t *testing.T, ctx context.Context, c *client.Client, id, what string, cond func(engine.RunInfo) bool) engine.RunInfo {
	t.Helper()
	kv, err := c.Store().JS.KeyValue(ctx, "df_runs")
	testsrv.Must(t, err)
	key, err := history.EncodeID(id)
	testsrv.Must(t, err)
	w, err := kv.Watch(ctx, key)
	testsrv.Must(t, err)
	defer w.Stop()
	var last engine.RunInfo
	for {
		select {
		case e := <-w.Updates():
			if e == nil || e.Operation() != jetstream.KeyValuePut {
				continue
			}
			last = engine.RunInfo{}
			testsrv.Must(t, json.Unmarshal(e.Value(), &last))
			if cond(last) {
				return last
			}
		case <-ctx.Done():
			t.Fatalf("workflow %s: timed out waiting for %s; last entry: %+v", id, what, last)
		}
	}
}

func closedEntry(t *testing.T, ctx context.Context, c *client.Client, id string) engine.RunInfo {
	t.Helper()
	return waitEntry(t, ctx, c, id, "a closed status", func(ri engine.RunInfo) bool { return ri.Status.IsClosed() })
}

// taskCount is the number of messages in the task stream.
func taskCount(t *testing.T, ctx context.Context, c *client.Client) uint64 {
	t.Helper()
	st, err := c.Store().JS.Stream(ctx, "DF_TASKS")
	testsrv.Must(t, err)
	info, err := st.Info(ctx)
	testsrv.Must(t, err)
	return info.State.Msgs
}

// A client that dies at any step of a start leaves a run that a worker
// completes, with its input, within seconds.
func TestStartStoppedHalfWayIsCompleted(t *testing.T) {
	for _, step := range []string{"task", "reserved", "appended"} {
		t.Run(step, func(t *testing.T) {
			s := testsrv.Start(t)
			c := testsrv.Client(t, s)
			crashStartAt(t, step)
			startWorker(t, c)
			ctx := testsrv.Context(t, 15*time.Second)
			id := "half-" + step
			_, err := c.ExecuteWorkflow(ctx, client.StartOptions{ID: id}, StartEcho, "in")
			if !errors.Is(err, engine.ErrTestCrash) {
				t.Fatalf("start: %v, want the simulated crash", err)
			}
			ri := closedEntry(t, ctx, c, id)
			if ri.Status != engine.StatusCompleted || string(ri.Result) != `"echo in"` {
				t.Fatalf("run %s: %s with %s, want completed with \"echo in\"", ri.RunID, ri.Status, ri.Result)
			}
			evs, err := c.History(ctx, id, "")
			testsrv.Must(t, err)
			if evs[0].Type != history.WorkflowStarted || string(evs[0].Input) != `["in"]` {
				t.Fatalf("first event %s with input %s", evs[0].Type, evs[0].Input)
			}
		})
	}
}

// The execution timeout of a start whose client died before scheduling it
// is scheduled by the worker that completes the start.
func TestStartStoppedHalfWayKeepsItsTimeout(t *testing.T) {
	s := testsrv.Start(t)
	c := testsrv.Client(t, s)
	crashStartAt(t, "reserved")
	startWorker(t, c)
	ctx := testsrv.Context(t, 15*time.Second)
	const id = "half-timeout"
	_, err := c.ExecuteWorkflow(ctx, client.StartOptions{ID: id, WorkflowExecutionTimeout: time.Hour}, StartWaitSignal)
	if !errors.Is(err, engine.ErrTestCrash) {
		t.Fatalf("start: %v", err)
	}
	ri, err := c.Store().GetRun(ctx, id) // the index entry as it is (Describe would complete the start)
	testsrv.Must(t, err)
	st, err := c.Store().JS.Stream(ctx, "DF_TASKS")
	testsrv.Must(t, err)
	sched := "df.task.sched." + ri.RunID + ".timeout"
	testsrv.WaitFor(t, ctx, "the execution timeout's schedule", func() bool {
		_, err := st.GetLastMsgForSubject(ctx, sched)
		return err == nil
	})
}

// With no worker running, the next command that touches a half-started run
// (describe, a second start, signal) completes its start from the stored
// start task; a refused start withdraws its own task.
func TestStartStoppedHalfWayCompletedByNextTouch(t *testing.T) {
	s := testsrv.Start(t)
	c := testsrv.Client(t, s)
	crashStartAt(t, "reserved")
	ctx := testsrv.Context(t, 15*time.Second)
	const id = "touched"
	_, err := c.ExecuteWorkflow(ctx, client.StartOptions{ID: id}, StartWaitSignal)
	if !errors.Is(err, engine.ErrTestCrash) {
		t.Fatalf("start: %v", err)
	}
	ri, err := c.Describe(ctx, id, "")
	testsrv.Must(t, err)
	if ri.Status != engine.StatusRunning {
		t.Fatalf("describe: %s", ri.Status)
	}
	evs, err := c.History(ctx, id, "")
	if err != nil || len(evs) != 1 || evs[0].Type != history.WorkflowStarted {
		t.Fatalf("describe did not complete the start: %v %v", evs, err)
	}
	tasks := taskCount(t, ctx, c)
	if _, err := c.ExecuteWorkflow(ctx, client.StartOptions{ID: id}, StartWaitSignal); !errors.Is(err, engine.ErrWorkflowAlreadyRunning) {
		t.Fatalf("second start: %v, want ErrWorkflowAlreadyRunning", err)
	}
	if n := taskCount(t, ctx, c); n != tasks {
		t.Fatalf("the refused start left its task: %d tasks, %d before", n, tasks)
	}
	testsrv.Must(t, c.SignalWorkflow(ctx, id, "", "go", "done"))
	startWorker(t, c)
	if ri := closedEntry(t, ctx, c, id); ri.Status != engine.StatusCompleted || string(ri.Result) != `"done"` {
		t.Fatalf("%s %s", ri.Status, ri.Result)
	}
}

// A start task whose client died before reserving the ID while another run
// held it stays invisible, also after that run closes: a worker never takes
// an ID over from another run (the task could be the leftover of a retried
// start whose retry already ran; taking the ID would start a run nobody
// asked for, as the cluster test saw during a leader election).
func TestStartStoppedBeforeReservingStaysInvisible(t *testing.T) {
	s := testsrv.Start(t)
	c := testsrv.Client(t, s)
	t.Cleanup(engine.SetStartWaitDeliveries(2))
	var crash atomic.Bool // the second start dies after storing its task
	t.Cleanup(engine.SetTestHookStart(func(step string) bool { return step == "task" && crash.CompareAndSwap(true, false) }))
	startWorker(t, c)
	ctx := testsrv.Context(t, 20*time.Second)
	const id = "held"
	holder, err := c.ExecuteWorkflow(ctx, client.StartOptions{ID: id}, StartWaitSignal)
	testsrv.Must(t, err)
	crash.Store(true)
	if _, err := c.ExecuteWorkflow(ctx, client.StartOptions{ID: id}, StartEcho, "next"); !errors.Is(err, engine.ErrTestCrash) {
		t.Fatalf("second start: %v", err)
	}
	testsrv.Must(t, c.SignalWorkflow(ctx, id, holder.RunID(), "go", "first"))
	var got string
	testsrv.Must(t, holder.Get(ctx, &got))
	testsrv.WaitFor(t, ctx, "the task stream to be drained", func() bool { return taskCount(t, ctx, c) == 0 })
	ri, err := c.Store().GetRun(ctx, id)
	testsrv.Must(t, err)
	if ri.RunID != holder.RunID() {
		t.Fatalf("the index shows run %s (%s), not the holder %s: a leftover start took the ID over", ri.RunID, ri.Status, holder.RunID())
	}
}

// A start whose client died before reserving the ID, superseded by a later
// start of the same ID, stays invisible: it never takes the ID over, even
// once the later run has closed.
func TestStartSupersededStaysInvisible(t *testing.T) {
	s := testsrv.Start(t)
	c := testsrv.Client(t, s)
	t.Cleanup(engine.SetStartWaitDeliveries(2))
	crashStartAt(t, "task")
	ctx := testsrv.Context(t, 20*time.Second)
	const id = "superseded"
	if _, err := c.ExecuteWorkflow(ctx, client.StartOptions{ID: id}, StartEcho, "first"); !errors.Is(err, engine.ErrTestCrash) {
		t.Fatalf("first start: %v", err)
	}
	second, err := c.ExecuteWorkflow(ctx, client.StartOptions{ID: id}, StartEcho, "second")
	testsrv.Must(t, err)
	startWorker(t, c)
	var got string
	testsrv.Must(t, second.Get(ctx, &got))
	testsrv.WaitFor(t, ctx, "the task stream to be drained", func() bool { return taskCount(t, ctx, c) == 0 })
	ri, err := c.Store().GetRun(ctx, id)
	testsrv.Must(t, err)
	if ri.RunID != second.RunID() || string(ri.Result) != `"echo second"` {
		t.Fatalf("the superseded start took the ID: %+v", ri)
	}
}

// putEntry writes a runs index entry as an older client left it: the ID
// reserved for a run, started age ago, with no start task and (unless the
// caller writes one) no history.
func putEntry(t *testing.T, ctx context.Context, c *client.Client, id string, age time.Duration) engine.RunInfo {
	t.Helper()
	ri := engine.RunInfo{WorkflowID: id, RunID: uuid.NewString(), Type: "StartWaitSignal", TaskQueue: "default",
		Status: engine.StatusRunning, StartTime: time.Now().UTC().Add(-age), LastEventSeq: 1}
	kv, err := c.Store().JS.KeyValue(ctx, "df_runs")
	testsrv.Must(t, err)
	key, err := history.EncodeID(id)
	testsrv.Must(t, err)
	data, _ := json.Marshal(ri)
	_, err = kv.Put(ctx, key, data)
	testsrv.Must(t, err)
	return ri
}

// Every operation works on a run reserved without history by an older
// client: no panic, no silent no-op, and the ID is freed.
func TestUnstartedRunOperations(t *testing.T) {
	s := testsrv.Start(t)
	c := testsrv.Client(t, s)
	startWorker(t, c)
	ctx := testsrv.Context(t, 30*time.Second)
	old := time.Minute

	t.Run("terminate", func(t *testing.T) {
		ri := putEntry(t, ctx, c, "orphan-terminate", old)
		testsrv.Must(t, c.TerminateWorkflow(ctx, ri.WorkflowID, "", "cleanup"))
		got, err := c.Describe(ctx, ri.WorkflowID, "")
		testsrv.Must(t, err)
		if got.Status != engine.StatusTerminated || got.Failure == nil || got.Failure.Message != "terminated: cleanup" {
			t.Fatalf("after terminate: %+v", got)
		}
		evs, err := c.History(ctx, ri.WorkflowID, "")
		testsrv.Must(t, err)
		if len(evs) != 2 || evs[0].Type != history.WorkflowStarted || evs[1].Type != history.WorkflowTerminated {
			t.Fatalf("history %v", evs)
		}
	})
	t.Run("terminate young", func(t *testing.T) {
		ri := putEntry(t, ctx, c, "orphan-terminate-young", 0)
		testsrv.Must(t, c.TerminateWorkflow(ctx, ri.WorkflowID, "", ""))
		if got, _ := c.Describe(ctx, ri.WorkflowID, ""); got == nil || got.Status != engine.StatusTerminated {
			t.Fatalf("after terminate: %+v", got)
		}
	})
	for _, op := range []string{"cancel", "signal"} {
		t.Run(op, func(t *testing.T) {
			ri := putEntry(t, ctx, c, "orphan-"+op, old)
			var err error
			if op == "cancel" {
				err = c.CancelWorkflow(ctx, ri.WorkflowID, "", "stop")
			} else {
				err = c.SignalWorkflow(ctx, ri.WorkflowID, "", "go", "x")
			}
			if !errors.Is(err, engine.ErrWorkflowClosed) {
				t.Fatalf("%s of a run that never started: %v, want ErrWorkflowClosed", op, err)
			}
			got, err := c.Describe(ctx, ri.WorkflowID, "")
			testsrv.Must(t, err)
			if got.Status != engine.StatusFailed || got.Failure == nil || got.Failure.Type != "StartAbandoned" {
				t.Fatalf("after %s: %+v", op, got)
			}
		})
		t.Run(op+" young", func(t *testing.T) {
			ri := putEntry(t, ctx, c, "orphan-young-"+op, 0)
			var err error
			if op == "cancel" {
				err = c.CancelWorkflow(ctx, ri.WorkflowID, "", "stop")
			} else {
				err = c.SignalWorkflow(ctx, ri.WorkflowID, "", "go", "x")
			}
			if !errors.Is(err, engine.ErrRunStarting) {
				t.Fatalf("%s of a run an older client is still starting: %v, want ErrRunStarting", op, err)
			}
		})
	}
	t.Run("describe", func(t *testing.T) {
		ri := putEntry(t, ctx, c, "orphan-describe", old)
		got, err := c.Describe(ctx, ri.WorkflowID, "")
		testsrv.Must(t, err)
		if got.Status != engine.StatusFailed || got.Failure == nil || got.Failure.Type != "StartAbandoned" {
			t.Fatalf("describe: %+v", got)
		}
		young := putEntry(t, ctx, c, "orphan-describe-young", 0)
		if got, err := c.Describe(ctx, young.WorkflowID, ""); err != nil || got.Status != engine.StatusRunning {
			t.Fatalf("describe of a young reservation: %+v %v", got, err)
		}
	})
	t.Run("start again", func(t *testing.T) {
		ri := putEntry(t, ctx, c, "orphan-start", old)
		run, err := c.ExecuteWorkflow(ctx, client.StartOptions{ID: ri.WorkflowID}, StartEcho, "again")
		testsrv.Must(t, err)
		var got string
		testsrv.Must(t, run.Get(ctx, &got))
		if got != "echo again" {
			t.Fatalf("result %q", got)
		}
	})
	t.Run("reset", func(t *testing.T) {
		ri := putEntry(t, ctx, c, "orphan-reset", 0)
		_, err := c.Store().ResetWorkflow(ctx, engine.ResetRequest{WorkflowID: ri.WorkflowID, ToEvent: 1})
		if err == nil {
			t.Fatal("reset of a run without history succeeded")
		}
		ri = putEntry(t, ctx, c, "orphan-reset-old", old)
		if _, err := c.Store().ResetWorkflow(ctx, engine.ResetRequest{WorkflowID: ri.WorkflowID, ToEvent: 1}); err == nil {
			t.Fatal("reset of a run that never started succeeded")
		}
	})
	t.Run("only started", func(t *testing.T) {
		// An older client died after WorkflowStarted, before the task.
		ri := putEntry(t, ctx, c, "orphan-started", old)
		subj, err := c.Store().Log.Subject(ri.WorkflowID, ri.RunID)
		testsrv.Must(t, err)
		rec := history.Record{Kind: history.KindInput, Events: []history.Event{{Seq: 1, Time: ri.StartTime, Type: history.WorkflowStarted,
			InputID: "start", Name: "StartEcho", WorkflowID: ri.WorkflowID, RunID: ri.RunID, TaskQueue: "default", Input: json.RawMessage(`["woken"]`)}}}
		_, err = c.Store().Log.Append(ctx, subj, history.Tail{}, &rec)
		testsrv.Must(t, err)
		if _, err := c.Describe(ctx, ri.WorkflowID, ""); err != nil {
			t.Fatal(err)
		}
		if got := closedEntry(t, ctx, c, ri.WorkflowID); got.Status != engine.StatusCompleted || string(got.Result) != `"echo woken"` {
			t.Fatalf("%s %s", got.Status, got.Result)
		}
	})
}

func StartCountdown(ctx workflow.Context, n int) (int, error) {
	if n > 0 {
		return 0, workflow.NewContinueAsNewError(ctx, StartCountdown, n-1)
	}
	return 0, nil
}

// A worker can take a start task, complete the start and continue the run
// as new before its client reserves the ID: the client's reservation then
// meets the next run of its own chain, and the start is a success, not
// "already running" (TestContinueAsNewChain in internal/cli saw this). When
// the whole chain has closed by then, the client must not take the ID for
// its first run again: that run's entry would stay "running" and the wait
// for its result would never end (seen under load once the worker waited
// for its client's start record).
func TestStartOvertakenByItsOwnContinuation(t *testing.T) {
	for _, c := range []struct {
		name, id string
		until    func(engine.RunInfo) bool
	}{
		{"chain running", "overtaken", func(ri engine.RunInfo) bool { return ri.ContinuedFrom != "" }},
		{"chain closed", "overtaken-closed", func(ri engine.RunInfo) bool { return ri.ContinuedFrom != "" && ri.Status.IsClosed() }},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := testsrv.Start(t)
			cl := testsrv.Client(t, s)
			ctx := testsrv.Context(t, 20*time.Second)
			// The client pauses after storing its start task until the
			// run it started has continued as new (and, in the second
			// case, the chain has closed).
			var paused atomic.Bool
			t.Cleanup(engine.SetTestHookStart(func(step string) bool {
				if step == "task" && paused.CompareAndSwap(false, true) {
					waitEntry(t, ctx, cl, c.id, "the run continued as new", c.until)
				}
				return false
			}))
			testsrv.RunWorker(t, cl, worker.Options{}, func(w *worker.Worker) { testsrv.Must(t, w.RegisterWorkflow(StartCountdown)) })
			run, err := cl.ExecuteWorkflow(ctx, client.StartOptions{ID: c.id}, StartCountdown, 2)
			testsrv.Must(t, err)
			var out int
			testsrv.Must(t, run.Get(ctx, &out))
			if !paused.Load() {
				t.Fatal("the hook did not run")
			}
			if ri := closedEntry(t, ctx, cl, c.id); ri.RunID == run.RunID() {
				t.Fatalf("the entry names the first run %s again (%s), not the end of its chain", ri.RunID, ri.Status)
			}
		})
	}
}
