package engine_test

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
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

var onceRuns atomic.Int32

// Charge stands for a side effect that must not happen twice once its
// outcome is recorded.
func Charge(ctx context.Context, n int) (int, error) {
	onceRuns.Add(1)
	return n * 10, nil
}

func ChargeWorkflow(ctx workflow.Context) (int, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 5 * time.Second})
	var v int
	err := workflow.ExecuteActivity(ctx, Charge, 4).Get(ctx, &v)
	return v, err
}

// Invariant 10: an activity worker that dies after reporting the outcome
// and before its ack gets the task back; the history already holds the
// outcome, so the activity is not run again.
func TestActivityNotRerunAfterOutcomeRecorded(t *testing.T) {
	onceRuns.Store(0)
	var crashed atomic.Bool
	defer engine.SetTestHookActivityCrash(func(name string, attempt int, reported bool) bool {
		return reported && crashed.CompareAndSwap(false, true)
	})()
	s := testsrv.Start(t)
	c := testsrv.Client(t, s)
	testsrv.RunWorker(t, c, worker.Options{ActivityTaskTimeout: time.Second}, func(w *worker.Worker) {
		testsrv.Must(t, w.RegisterWorkflow(ChargeWorkflow))
		testsrv.Must(t, w.RegisterActivity(Charge))
	})
	ctx := testsrv.Context(t, 30*time.Second)
	run, err := c.ExecuteWorkflow(ctx, client.StartOptions{ID: "charge-once"}, ChargeWorkflow)
	testsrv.Must(t, err)
	var v int
	testsrv.Must(t, run.Get(ctx, &v))
	if v != 40 {
		t.Fatalf("result %d, want 40", v)
	}
	// The unacked task comes back after the ack wait (1s): wait until the
	// consumer holds nothing, then count.
	testsrv.WaitFor(t, ctx, "the redelivered activity task settled", func() bool {
		return crashed.Load() && actConsumerIdle(ctx, c)
	})
	if n := onceRuns.Load(); n != 1 {
		t.Fatalf("the activity ran %d times; its outcome was recorded after the first", n)
	}
}

func actConsumerIdle(ctx context.Context, c *client.Client) bool {
	info := consumerInfo(ctx, c, "act_default")
	return info != nil && info.NumAckPending == 0 && info.NumPending == 0 && info.NumRedelivered == 0 && info.Delivered.Consumer >= 2
}

// consumerInfo is the state of a consumer of DF_TASKS (nil if unreadable).
func consumerInfo(ctx context.Context, c *client.Client, name string) *jetstream.ConsumerInfo {
	st, err := c.Store().JS.Stream(ctx, "DF_TASKS")
	if err != nil {
		return nil
	}
	cons, err := st.Consumer(ctx, name)
	if err != nil {
		return nil
	}
	info, err := cons.Info(ctx)
	if err != nil {
		return nil
	}
	return info
}

var lostRuns atomic.Int32

func Slowish(ctx context.Context) (string, error) {
	lostRuns.Add(1)
	return "ok", nil
}

func LostAttemptWorkflow(ctx workflow.Context) (string, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 3 * time.Second})
	var s string
	err := workflow.ExecuteActivity(ctx, Slowish).Get(ctx, &s)
	return s, err
}

// A crashed attempt is retried on the task's short ack wait, well within
// its start-to-close timeout plus a second (not after a 30s task timeout),
// and the history shows the lost attempt as timed out: attempts 1, 2 with
// no gap.
func TestCrashedAttemptRetriedAndRecorded(t *testing.T) {
	lostRuns.Store(0)
	var crashedAt atomic.Int64
	defer engine.SetTestHookActivityCrash(func(name string, attempt int, reported bool) bool {
		if name == "Slowish" && attempt == 1 && !reported {
			crashedAt.Store(time.Now().UnixNano())
			return true
		}
		return false
	})()
	s := testsrv.Start(t)
	c := testsrv.Client(t, s)
	testsrv.RunWorker(t, c, worker.Options{}, func(w *worker.Worker) {
		testsrv.Must(t, w.RegisterWorkflow(LostAttemptWorkflow))
		testsrv.Must(t, w.RegisterActivity(Slowish))
	})
	ctx := testsrv.Context(t, 30*time.Second)
	run, err := c.ExecuteWorkflow(ctx, client.StartOptions{ID: "lost-attempt"}, LostAttemptWorkflow)
	testsrv.Must(t, err)
	var out string
	testsrv.Must(t, run.Get(ctx, &out))
	evs, err := c.History(ctx, "lost-attempt", "")
	testsrv.Must(t, err)
	var lost, done *history.Event
	for i := range evs {
		switch evs[i].Type {
		case history.ActivityAttemptFailed:
			lost = &evs[i]
		case history.ActivityCompleted:
			done = &evs[i]
		}
	}
	if lost == nil || lost.Attempt != 1 || lost.Failure == nil || done == nil || done.Attempt != 2 {
		t.Fatalf("want attempt 1 recorded as lost and attempt 2 completed; got %+v / %+v", lost, done)
	}
	if tt, ok := engine.TimeoutOf(engine.FromFailure(lost.Failure)); !ok || tt != engine.TimeoutStartToClose {
		t.Fatalf("lost attempt failure %+v is not a start-to-close timeout", lost.Failure)
	}
	crash := time.Unix(0, crashedAt.Load())
	if late := done.StartedAt.Sub(crash); late > 3*time.Second+time.Second {
		t.Fatalf("attempt 2 started %s after the crash; the bound is start-to-close (3s) + 1s", late)
	}
	if n := lostRuns.Load(); n != 1 {
		t.Fatalf("the activity body ran %d times, want 1 (attempt 1 crashed before it)", n)
	}
}

// No event may follow a close event: Append refuses a closed tail itself.
func TestAppendAfterCloseRefused(t *testing.T) {
	s := testsrv.Start(t)
	c := testsrv.Client(t, s)
	ctx := testsrv.Context(t, 10*time.Second)
	log := c.Store().Log
	subj, err := log.Subject("closed", "r1")
	testsrv.Must(t, err)
	_, err = log.Append(ctx, subj, history.Tail{}, &history.Record{Kind: history.KindInput, Events: []history.Event{{Seq: 1, Type: history.WorkflowStarted}}})
	testsrv.Must(t, err)
	_, err = log.Append(ctx, subj, history.Tail{Seq: 1}, &history.Record{Kind: history.KindInput, Events: []history.Event{{Seq: 2, Type: history.WorkflowTerminated}}})
	testsrv.Must(t, err)
	recs, err := log.ReadFrom(ctx, subj, 0)
	testsrv.Must(t, err)
	_, err = log.Append(ctx, subj, history.TailOf(recs), &history.Record{Kind: history.KindInput, Events: []history.Event{{Seq: 3, Type: history.WorkflowTaskFailed}}})
	if !errors.Is(err, history.ErrClosed) {
		t.Fatalf("append after WorkflowTerminated: %v, want ErrClosed", err)
	}
}

// Invariant 8: a read that does not finish is an error, never an empty
// history; only the stream's own answer means "no record".
func TestIncompleteReadIsNotAbsence(t *testing.T) {
	s := testsrv.Start(t)
	c := testsrv.Client(t, s)
	ctx := testsrv.Context(t, 10*time.Second)
	log := c.Store().Log
	subj, err := log.Subject("reads", "r1")
	testsrv.Must(t, err)
	if recs, err := log.ReadFrom(ctx, subj, 0); err != nil || len(recs) != 0 {
		t.Fatalf("empty subject: %d records, %v; want none and no error", len(recs), err)
	}
	_, err = log.Append(ctx, subj, history.Tail{}, &history.Record{Kind: history.KindInput, Events: []history.Event{{Seq: 1, Type: history.WorkflowStarted}}})
	testsrv.Must(t, err)
	expired, cancel := context.WithDeadline(ctx, time.Now().Add(-time.Second))
	defer cancel()
	recs, err := log.ReadFrom(expired, subj, 0)
	if !errors.Is(err, history.ErrIncompleteRead) {
		t.Fatalf("read that timed out: %d records, err %v; want ErrIncompleteRead", len(recs), err)
	}
	if _, err := log.Read(expired, "reads", "r1"); errors.Is(err, history.ErrNotFound) || err == nil {
		t.Fatalf("Read that timed out said %v; a timeout is not an absence", err)
	}
}

var lateRuns atomic.Int32

func Late(ctx context.Context) (int32, error) {
	return lateRuns.Add(1), nil
}

func LateReportWorkflow(ctx workflow.Context) (int32, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 5 * time.Second})
	var n int32
	err := workflow.ExecuteActivity(ctx, Late).Get(ctx, &n)
	return n, err
}

// An attempt taken for lost (its worker went quiet past the task's ack
// wait) may still report its outcome, late, after the next attempt
// recorded it as lost. That late report is obsolete and dropped; it must
// not stop the next attempt's report from being recorded. Both reports
// carry the input id act:<seq>:done: with one JetStream message id for
// both, the stream discarded the second as a duplicate and the run waited
// forever (the 3-node cluster test under load).
func TestLateReportOfLostAttemptDoesNotHideTheNext(t *testing.T) {
	lateRuns.Store(0)
	release1 := make(chan struct{})
	published1 := make(chan struct{})
	var c *client.Client
	ctx := testsrv.Context(t, 60*time.Second)
	lostRecorded := func() bool {
		evs, err := c.History(ctx, "late-report", "")
		if err != nil {
			return false
		}
		for _, ev := range evs {
			if ev.Type == history.ActivityAttemptFailed && ev.Attempt == 1 {
				return true
			}
		}
		return false
	}
	defer engine.SetTestHookActivityReport(func(name string, attempt int, published bool) {
		if name != "Late" {
			return
		}
		switch {
		case attempt == 1 && !published:
			// Attempt 1 goes quiet past the ack wait before it reports.
			select {
			case <-release1:
			case <-ctx.Done():
			}
		case attempt == 1 && published:
			close(published1)
		case attempt == 2 && !published:
			// Attempt 2 reports only after attempt 1 was recorded as lost
			// and attempt 1's late report is in the stream.
			testsrv.WaitFor(t, ctx, "attempt 1 recorded as lost", lostRecorded)
			close(release1)
			select {
			case <-published1:
			case <-ctx.Done():
			}
		}
	})()
	s := testsrv.Start(t)
	c = testsrv.Client(t, s)
	testsrv.RunWorker(t, c, worker.Options{ActivityTaskTimeout: time.Second}, func(w *worker.Worker) {
		testsrv.Must(t, w.RegisterWorkflow(LateReportWorkflow))
		testsrv.Must(t, w.RegisterActivity(Late))
	})
	run, err := c.ExecuteWorkflow(ctx, client.StartOptions{ID: "late-report"}, LateReportWorkflow)
	testsrv.Must(t, err)
	wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	var n int32
	if err := run.Get(wctx, &n); err != nil {
		t.Fatalf("the run did not complete: %v (the second attempt's outcome was lost)", err)
	}
	evs, err := c.History(ctx, "late-report", "")
	testsrv.Must(t, err)
	var done *history.Event
	for i := range evs {
		if evs[i].Type == history.ActivityCompleted {
			done = &evs[i]
		}
	}
	if done == nil || done.Attempt != 2 {
		t.Fatalf("want the outcome of attempt 2 recorded, got %+v", done)
	}
}

var fencedRuns atomic.Int32

func Fenced(ctx context.Context) (int32, error) { return fencedRuns.Add(1), nil }

func FencedWorkflow(ctx workflow.Context) (int32, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 5 * time.Second})
	var n int32
	err := workflow.ExecuteActivity(ctx, Fenced).Get(ctx, &n)
	return n, err
}

// An attempt whose worker died after publishing its outcome, before its
// ack, is redelivered while no workflow worker has recorded that outcome
// yet. The next attempt declares it lost, but runs only once the history
// says so: here the outcome, first in the task stream, is recorded first,
// and the activity is not run again.
func TestRedeliveredAttemptWaitsForTheHistory(t *testing.T) {
	fencedRuns.Store(0)
	var crashed atomic.Bool
	defer engine.SetTestHookActivityCrash(func(name string, attempt int, reported bool) bool {
		return name == "Fenced" && reported && crashed.CompareAndSwap(false, true)
	})()
	ctx := testsrv.Context(t, 60*time.Second)
	wfStopped := make(chan struct{})
	defer engine.SetTestHookActivityReport(func(name string, attempt int, published bool) {
		if name == "Fenced" && attempt == 1 && !published {
			select { // report only once no workflow worker can record it
			case <-wfStopped:
			case <-ctx.Done():
			}
		}
	})()
	s := testsrv.Start(t)
	c := testsrv.Client(t, s)
	stopWF := testsrv.RunWorker(t, c, worker.Options{}, func(w *worker.Worker) {
		testsrv.Must(t, w.RegisterWorkflow(FencedWorkflow))
	})
	testsrv.RunWorker(t, c, worker.Options{ActivityTaskTimeout: time.Second}, func(w *worker.Worker) {
		testsrv.Must(t, w.RegisterActivity(Fenced))
	})
	run, err := c.ExecuteWorkflow(ctx, client.StartOptions{ID: "fenced"}, FencedWorkflow)
	testsrv.Must(t, err)
	// The activity is scheduled: stop the only workflow worker, so the
	// outcome attempt 1 reports stays unrecorded.
	testsrv.WaitFor(t, ctx, "the activity scheduled", func() bool {
		evs, err := c.History(ctx, "fenced", "")
		return err == nil && len(evs) >= 2
	})
	stopWF()
	close(wfStopped)
	// Attempt 1's report, then attempt 2's report of attempt 1 as lost,
	// wait in the task stream for a workflow worker.
	testsrv.WaitFor(t, ctx, "two reports waiting for a workflow worker", func() bool {
		return crashed.Load() && wfPending(ctx, c) >= 2
	})
	// One task at a time: the reports are recorded in stream order.
	testsrv.RunWorker(t, c, worker.Options{MaxConcurrentWorkflowTasks: 1}, func(w *worker.Worker) {
		testsrv.Must(t, w.RegisterWorkflow(FencedWorkflow))
	})
	var n int32
	testsrv.Must(t, run.Get(ctx, &n))
	testsrv.WaitFor(t, ctx, "the redelivered activity task settled", func() bool { return actConsumerIdle(ctx, c) })
	if got := fencedRuns.Load(); got != 1 || n != 1 {
		t.Fatalf("the activity ran %d times (result %d); its first outcome was in the stream before attempt 2 ran", got, n)
	}
}

// wfPending is how many workflow tasks of the default queue wait.
func wfPending(ctx context.Context, c *client.Client) uint64 {
	info := consumerInfo(ctx, c, "wf_default")
	if info == nil {
		return 0
	}
	return info.NumPending + uint64(info.NumAckPending)
}

var orphanRuns atomic.Int32

func Orphan(ctx context.Context) (int32, error) { return orphanRuns.Add(1), nil }

func OrphanWorkflow(ctx workflow.Context) (int32, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 2 * time.Second})
	var n int32
	err := workflow.ExecuteActivity(ctx, Orphan).Get(ctx, &n)
	return n, err
}

// An attempt taken for lost reports its outcome late, after the history
// records it as lost: the outcome is dropped as obsolete, and the late
// worker acks the task. If the delivery that took it for lost then does
// not run (here it crashes as it starts; in the 3-node cluster test its
// history read failed in a leader change and it gave back a task already
// acked), no task was left and the run waited forever. The workflow
// worker publishes the task again on the late outcome; after the crashed
// attempt's timeout the activity runs once more and the run completes.
func TestLateOutcomeLeavesATaskToRun(t *testing.T) {
	orphanRuns.Store(0)
	var crashed atomic.Bool
	defer engine.SetTestHookActivityCrash(func(name string, attempt int, reported bool) bool {
		// Attempt 2, which took attempt 1 for lost, dies as it starts.
		return name == "Orphan" && attempt == 2 && !reported && crashed.CompareAndSwap(false, true)
	})()
	var c *client.Client
	ctx := testsrv.Context(t, 60*time.Second)
	defer engine.SetTestHookActivityReport(func(name string, attempt int, published bool) {
		if name == "Orphan" && attempt == 1 && !published {
			// Attempt 1 goes quiet past the ack wait, and reports once
			// attempt 2 is gone.
			testsrv.WaitFor(t, ctx, "attempt 2 crashed", crashed.Load)
		}
	})()
	s := testsrv.Start(t)
	c = testsrv.Client(t, s)
	testsrv.RunWorker(t, c, worker.Options{ActivityTaskTimeout: time.Second}, func(w *worker.Worker) {
		testsrv.Must(t, w.RegisterWorkflow(OrphanWorkflow))
		testsrv.Must(t, w.RegisterActivity(Orphan))
	})
	run, err := c.ExecuteWorkflow(ctx, client.StartOptions{ID: "orphan"}, OrphanWorkflow)
	testsrv.Must(t, err)
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var n int32
	if err := run.Get(wctx, &n); err != nil {
		t.Fatalf("the run did not complete: %v (no activity task was left after the late outcome)", err)
	}
	evs, err := c.History(ctx, "orphan", "")
	testsrv.Must(t, err)
	var lost, done []int
	for _, ev := range evs {
		switch ev.Type {
		case history.ActivityAttemptFailed:
			lost = append(lost, ev.Attempt)
		case history.ActivityCompleted:
			done = append(done, ev.Attempt)
		}
	}
	// Attempt 1 lost (its late outcome dropped), attempt 2 lost (crashed),
	// attempt 3 (delivery 2 of the task published again) completes.
	if len(lost) != 2 || lost[0] != 1 || lost[1] != 2 || len(done) != 1 || done[0] != 3 {
		t.Fatalf("attempts recorded as failed %v, completed %v; want [1 2] and [3]", lost, done)
	}
	if got := orphanRuns.Load(); got != 2 || n != 2 {
		t.Fatalf("the activity ran %d times (result %d); want 2: attempt 1 (late) and attempt 3", got, n)
	}
}

// A server killed within 100 ms of a delivery forgets it (a consumer
// writes its state at most every 100 ms): after the restart the task is
// delivered again with a count already given out, as a first delivery
// when the whole delivery was forgotten. Here the activity's task is
// published again as a new message once the run completed, with a fresh
// scheduled time, so it reaches a worker as a fresh first delivery: the
// worker's hot path, which does not read the history. The attempt number
// it carries is claimed already; the delivery takes the next one, reads
// the history, finds the outcome and acks without running the activity.
func TestForgottenDeliveryNotRerunAfterOutcome(t *testing.T) {
	onceRuns.Store(0)
	s := testsrv.Start(t)
	c := testsrv.Client(t, s)
	ctx := testsrv.Context(t, 30*time.Second)
	tasks := make(chan *nats.Msg, 4)
	sub, err := c.Store().NC.ChanSubscribe("df.task.act.>", tasks)
	testsrv.Must(t, err)
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	testsrv.Must(t, c.Store().NC.Flush())
	testsrv.RunWorker(t, c, worker.Options{ActivityTaskTimeout: time.Second}, func(w *worker.Worker) {
		testsrv.Must(t, w.RegisterWorkflow(ChargeWorkflow))
		testsrv.Must(t, w.RegisterActivity(Charge))
	})
	run, err := c.ExecuteWorkflow(ctx, client.StartOptions{ID: "copied"}, ChargeWorkflow)
	testsrv.Must(t, err)
	var n int
	testsrv.Must(t, run.Get(ctx, &n))
	var task *nats.Msg
	select {
	case task = <-tasks:
	case <-ctx.Done():
		t.Fatal("the activity task was not seen on its subject")
	}
	var body map[string]any
	testsrv.Must(t, json.Unmarshal(task.Data, &body))
	body["scheduled_at"] = time.Now().UTC()
	data, err := json.Marshal(body)
	testsrv.Must(t, err)
	if _, err := c.Store().JS.Publish(ctx, task.Subject, data); err != nil {
		t.Fatalf("publish the task again: %v", err)
	}
	testsrv.WaitFor(t, ctx, "the copied task settled", func() bool {
		info := consumerInfo(ctx, c, "act_default")
		return info != nil && info.Delivered.Stream >= 2 && info.NumAckPending == 0 && info.NumPending == 0
	})
	if got := onceRuns.Load(); got != 1 || n != 40 {
		t.Fatalf("the activity ran %d times (result %d); its outcome was recorded after the first", got, n)
	}
	evs, err := c.History(ctx, "copied", "")
	testsrv.Must(t, err)
	for _, ev := range evs {
		if ev.Type == history.ActivityAttemptFailed {
			t.Fatalf("attempt %d recorded as failed: %s", ev.Attempt, ev.Failure.Message)
		}
	}
}
