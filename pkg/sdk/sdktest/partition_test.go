package sdktest

import (
	"context"
	"errors"
	"fmt"
	"strings"
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

func Double(ctx context.Context, n int) (int, error) { return 2 * n, nil }

// PartitionedWorkflow uses every kind of task a partition carries: an
// activity, a durable timer, a signal and a child run (in its own
// partition, by its own ID).
func PartitionedWorkflow(ctx workflow.Context, n int) (int, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 10 * time.Second})
	var d int
	if err := workflow.ExecuteActivity(ctx, Double, n).Get(ctx, &d); err != nil {
		return 0, err
	}
	if err := workflow.Sleep(ctx, 50*time.Millisecond); err != nil {
		return 0, err
	}
	var add int
	workflow.GetSignalChannel(ctx, "add").Receive(ctx, &add)
	var child int
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{WorkflowID: workflow.GetInfo(ctx).WorkflowID + "-child"})
	if err := workflow.ExecuteChildWorkflow(cctx, PartitionChild, d).Get(ctx, &child); err != nil {
		return 0, err
	}
	return child + add, nil
}

func PartitionChild(ctx workflow.Context, n int) (int, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 10 * time.Second})
	var d int
	err := workflow.ExecuteActivity(ctx, Double, n).Get(ctx, &d)
	return d, err
}

func dialPartitions(t *testing.T, url string, partitions int) (*client.Client, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, client.Options{URL: url, Partitions: partitions, NatsOptions: []nats.Option{nats.MaxReconnects(-1)}})
	if err == nil {
		t.Cleanup(c.Close)
	}
	return c, err
}

// An installation with 3 partitions: runs spread over 3 history streams
// and 3 task streams by their workflow ID, and every kind of task (start,
// activity, timer, signal, child, cancel) reaches the run in its own
// partition. The number is the installation's: a client that does not
// give one uses it, one that gives another is refused.
func TestPartitionedInstallation(t *testing.T) {
	s := testsrv.Start(t)
	c, err := dialPartitions(t, s.ClientURL(), 3)
	testsrv.Must(t, err)
	ctx := testsrv.Context(t, 60*time.Second)
	for _, name := range []string{"DF_HISTORY", "DF_HISTORY_1", "DF_HISTORY_2", "DF_TASKS", "DF_TASKS_1", "DF_TASKS_2"} {
		if _, err := c.Store().JS.Stream(ctx, name); err != nil {
			t.Fatalf("stream %s: %v", name, err)
		}
	}
	// A worker that gives no number uses the installation's.
	wc, err := dialPartitions(t, s.ClientURL(), 0)
	testsrv.Must(t, err)
	if n := wc.Store().Partitions(); n != 3 {
		t.Fatalf("a client without a number sees %d partitions, want 3", n)
	}
	if _, err := dialPartitions(t, s.ClientURL(), 2); !errors.Is(err, engine.ErrInvalidArgument) || !strings.Contains(err.Error(), "has 3 partition(s), not 2") {
		t.Fatalf("a client asking for 2 partitions of a 3-partition installation: %v", err)
	}
	testsrv.RunWorker(t, wc, worker.Options{}, func(w *worker.Worker) {
		testsrv.Must(t, w.RegisterWorkflow(PartitionedWorkflow))
		testsrv.Must(t, w.RegisterWorkflow(PartitionChild))
		testsrv.Must(t, w.RegisterWorkflow(SleepWorkflow))
		testsrv.Must(t, w.RegisterActivity(Double))
	})

	const n = 24
	runs := make([]client.WorkflowRun, n)
	for i := range n {
		runs[i], err = c.ExecuteWorkflow(ctx, client.StartOptions{ID: fmt.Sprintf("part-%02d", i)}, PartitionedWorkflow, i)
		testsrv.Must(t, err)
	}
	for i := range n {
		testsrv.Must(t, c.SignalWorkflow(ctx, runs[i].ID(), "", "add", 1000))
	}
	perPartition := make([]int, 3)
	for i, run := range runs {
		var got int
		testsrv.Must(t, run.Get(ctx, &got))
		if want := 4*i + 1000; got != want {
			t.Fatalf("run %s: %d, want %d", run.ID(), got, want)
		}
		perPartition[c.Store().PartitionOf(run.ID())]++
	}
	// Each run's history is in its partition's stream, and only there.
	for p := range 3 {
		if perPartition[p] == 0 {
			t.Fatalf("no run in partition %d of 3 (%v): the hash does not spread", p, perPartition)
		}
		name := "DF_HISTORY"
		if p > 0 {
			name = fmt.Sprintf("DF_HISTORY_%d", p)
		}
		st, err := c.Store().JS.Stream(ctx, name)
		testsrv.Must(t, err)
		info, err := st.Info(ctx, jetstream.WithSubjectFilter(">"))
		testsrv.Must(t, err)
		runsHere := 0
		for subj := range info.State.Subjects {
			if !strings.HasPrefix(subj, fmt.Sprintf("df.hist.%d.", p)) {
				t.Fatalf("stream %s holds %s, outside its partition", name, subj)
			}
			if toks := strings.Split(subj, "."); len(toks) == 5 && !strings.HasSuffix(toks[3], "-child") {
				runsHere++
			}
		}
		if runsHere != perPartition[p] {
			t.Fatalf("stream %s holds the histories of %d runs, want the %d placed in partition %d", name, runsHere, perPartition[p], p)
		}
		t.Logf("partition %d: %d runs, stream %s holds %d messages", p, runsHere, name, info.State.Msgs)
	}
	// The tools work across partitions: describe, list, count, delete.
	ri, err := c.Describe(ctx, "part-05", "")
	testsrv.Must(t, err)
	if ri.Status != engine.StatusCompleted {
		t.Fatalf("describe: %s", ri.Status)
	}
	total, err := c.CountWorkflows(ctx, client.ListFilter{})
	testsrv.Must(t, err)
	if total != 2*n {
		t.Fatalf("count: %d runs, want %d (parents and children)", total, 2*n)
	}
	evs, err := c.History(ctx, "part-07", "")
	testsrv.Must(t, err)
	if evs[len(evs)-1].Type != history.WorkflowCompleted {
		t.Fatalf("history of part-07 ends with %s", evs[len(evs)-1].Type)
	}
	_, err = c.DeleteWorkflow(ctx, "part-07")
	testsrv.Must(t, err)
	if _, err := c.History(ctx, "part-07", ri.RunID); err == nil {
		t.Fatal("the history of a deleted run is still readable")
	}
	q, err := c.Store().DescribeTaskQueue(ctx, "default")
	testsrv.Must(t, err)
	if q.WorkflowTasks.Stored != 0 || q.ActivityTasks.Stored != 0 || len(q.Workers) == 0 {
		t.Fatalf("task queue after the runs: %+v", q)
	}
	// Cancel reaches a sleeping run in its partition.
	run, err := c.ExecuteWorkflow(ctx, client.StartOptions{ID: "part-cancel"}, SleepWorkflow, time.Hour)
	testsrv.Must(t, err)
	testsrv.WaitFor(t, ctx, "the run sleeping", func() bool {
		evs, err := c.History(ctx, "part-cancel", "")
		return err == nil && len(evs) >= 2 && evs[len(evs)-1].Type == history.TimerStarted
	})
	testsrv.Must(t, c.CancelWorkflow(ctx, "part-cancel", "", "test"))
	if err := run.Get(ctx, nil); err == nil || ctx.Err() != nil {
		t.Fatalf("a cancelled run: %v", err)
	}
	ri, err = c.Describe(ctx, "part-cancel", "")
	testsrv.Must(t, err)
	if ri.Status != engine.StatusCanceled {
		t.Fatalf("a cancelled run is %s", ri.Status)
	}
}
