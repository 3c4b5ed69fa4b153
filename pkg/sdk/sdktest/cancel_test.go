package sdktest

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/durablefuture/durablefuture/internal/testsrv"
	"github.com/durablefuture/durablefuture/pkg/history"
	"github.com/durablefuture/durablefuture/pkg/sdk/client"
	"github.com/durablefuture/durablefuture/pkg/sdk/failure"
	"github.com/durablefuture/durablefuture/pkg/sdk/worker"
	"github.com/durablefuture/durablefuture/pkg/sdk/workflow"
	"github.com/nats-io/nats.go/jetstream"
)

func Book(ctx context.Context, what string) (string, error)   { return "booked " + what, nil }
func Unbook(ctx context.Context, what string) (string, error) { return "released " + what, nil }

// hangStarted and hangTold count the Hang attempts that began, and those
// whose context ended.
var hangStarted, hangTold atomic.Int32

// Hang runs until its context ends.
func Hang(ctx context.Context) error {
	hangStarted.Add(1)
	<-ctx.Done()
	hangTold.Add(1)
	return ctx.Err()
}

// TripWorkflow books, then waits a long time (for a payment, say); when
// cancelled it releases what it booked, with a disconnected context.
func TripWorkflow(ctx workflow.Context, items []string, waitOn string) ([]string, error) {
	var booked []string
	for _, it := range items {
		var out string
		if err := workflow.ExecuteActivity(ctx, Book, it).Get(ctx, &out); err != nil {
			return nil, err
		}
		booked = append(booked, it)
	}
	var err error
	if waitOn == "timer" {
		err = workflow.Sleep(ctx, time.Hour)
	} else {
		err = workflow.ExecuteActivity(ctx, Hang).Get(ctx, nil)
	}
	if err == nil {
		return booked, nil
	}
	if !failure.IsCanceledError(err) {
		return nil, err
	}
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	for i := len(booked) - 1; i >= 0; i-- {
		if err := workflow.ExecuteActivity(dctx, Unbook, booked[i]).Get(dctx, nil); err != nil {
			return nil, err
		}
	}
	return nil, err
}

func TestCancelRunsCompensation(t *testing.T) {
	s := testsrv.Start(t)
	c := testsrv.Client(t, s)
	startWorker(t, c, func(w *worker.Worker) {
		testsrv.Must(t, w.RegisterWorkflow(TripWorkflow))
		for _, fn := range []any{Book, Unbook, Hang} {
			testsrv.Must(t, w.RegisterActivity(fn))
		}
	})
	ctx := testsrv.Context(t, 30*time.Second)
	for _, waitOn := range []string{"timer", "activity"} {
		id := "trip-" + waitOn
		run, err := c.ExecuteWorkflow(ctx, client.StartOptions{ID: id}, TripWorkflow, []string{"flight", "hotel"}, waitOn)
		testsrv.Must(t, err)
		waitType := history.TimerStarted
		if waitOn == "activity" {
			waitType = history.ActivityScheduled
		}
		testsrv.WaitFor(t, ctx, "the wait to begin", func() bool {
			evs, err := c.History(ctx, id, "")
			return err == nil && len(evs) >= 6 && evs[len(evs)-1].Type == waitType &&
				(waitOn != "activity" || hangStarted.Load() > 0) // a running attempt is what must be told
		})
		testsrv.Must(t, c.CancelWorkflow(ctx, id, "", "customer changed plans"))
		err = run.Get(ctx, nil)
		var wee *failure.WorkflowExecutionError
		if !errors.As(err, &wee) || wee.Status != "canceled" || !failure.IsCanceledError(err) {
			t.Fatalf("%s: Get after cancel: %v", waitOn, err)
		}
		evs, err := c.History(ctx, id, "")
		testsrv.Must(t, err)
		checkWellFormed(t, evs)
		var names []string
		hangCanceled := false
		for _, ev := range evs[6:] {
			if ev.Type == history.ActivityFailed && ev.Name == "Hang" {
				// The running attempt was told, stopped, and reported it.
				hangCanceled = ev.Failure != nil && ev.Failure.Type == "CanceledError"
				continue
			}
			names = append(names, string(ev.Type)+":"+ev.Name)
		}
		if waitOn == "activity" && !hangCanceled {
			// The code does not wait for the cancelled activity, so its
			// report may arrive after the run closed (and is then not
			// recorded); the attempt must still have been told.
			testsrv.WaitFor(t, ctx, "the running Hang attempt told of the cancellation", func() bool { return hangTold.Load() > 0 })
		}
		want := "WorkflowCancelRequested:,TimerCanceled:,ActivityScheduled:Unbook,ActivityCompleted:Unbook,ActivityScheduled:Unbook,ActivityCompleted:Unbook,WorkflowCanceled:"
		if waitOn == "activity" {
			want = strings.Replace(want, "TimerCanceled:", "ActivityCancelRequested:Hang", 1)
		}
		if got := strings.Join(names, ","); got != want {
			t.Fatalf("%s: after the wait:\n got %s\nwant %s", waitOn, got, want)
		}
		d, err := c.Describe(ctx, id, "")
		testsrv.Must(t, err)
		if d.Status != "canceled" {
			t.Fatalf("describe: %+v", d)
		}
	}
	if err := c.CancelWorkflow(ctx, "trip-timer", "", ""); !errors.Is(err, failure.ErrWorkflowClosed) {
		t.Fatalf("cancel of a closed workflow: %v", err)
	}
}

func TestTerminate(t *testing.T) {
	s := testsrv.Start(t)
	c := testsrv.Client(t, s)
	startWorker(t, c, func(w *worker.Worker) { testsrv.Must(t, w.RegisterWorkflow(SleepWorkflow)) })
	ctx := testsrv.Context(t, 30*time.Second)
	run, err := c.ExecuteWorkflow(ctx, client.StartOptions{ID: "doomed"}, SleepWorkflow, time.Hour)
	testsrv.Must(t, err)
	testsrv.WaitFor(t, ctx, "timer started", func() bool {
		evs, err := c.History(ctx, "doomed", "")
		return err == nil && len(evs) == 2
	})
	testsrv.Must(t, c.TerminateWorkflow(ctx, "doomed", "", "stuck order"))
	err = run.Get(ctx, nil)
	var wee *failure.WorkflowExecutionError
	if !errors.As(err, &wee) || wee.Status != "terminated" || !strings.Contains(err.Error(), "stuck order") {
		t.Fatalf("Get after terminate: %v", err)
	}
	evs, err := c.History(ctx, "doomed", "")
	testsrv.Must(t, err)
	if last := evs[len(evs)-1]; last.Type != history.WorkflowTerminated || last.Reason != "stuck order" || len(evs) != 3 {
		t.Fatalf("history: %v", types(evs))
	}
	st, err := c.Store().JS.Stream(ctx, "DF_TASKS")
	testsrv.Must(t, err)
	si, err := st.Info(ctx, jetstream.WithSubjectFilter("df.task.sched.>"))
	testsrv.Must(t, err)
	if len(si.State.Subjects) != 0 { // State.Msgs counts the whole stream
		t.Fatalf("timers left after terminate: %v", si.State.Subjects)
	}
	if err := c.SignalWorkflow(ctx, "doomed", "", "x", nil); !errors.Is(err, failure.ErrWorkflowClosed) {
		t.Fatalf("signal after terminate: %v", err)
	}
	if err := c.TerminateWorkflow(ctx, "doomed", "", "again"); !errors.Is(err, failure.ErrWorkflowClosed) {
		t.Fatalf("terminate twice: %v", err)
	}
}
