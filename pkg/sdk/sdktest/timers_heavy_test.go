package sdktest

import (
	"fmt"
	"os"
	"sort"
	"testing"
	"time"

	"github.com/durablefuture/durablefuture/internal/testsrv"
	"github.com/durablefuture/durablefuture/pkg/history"
	"github.com/durablefuture/durablefuture/pkg/sdk/client"
	"github.com/durablefuture/durablefuture/pkg/sdk/worker"
	"github.com/durablefuture/durablefuture/pkg/sdk/workflow"
)

// TimerFan starts n timers due first after `first`, then one every `step`,
// and waits for all of them.
func TimerFan(ctx workflow.Context, n int, first, step time.Duration) error {
	futs := make([]workflow.Future, n)
	for i := range futs {
		futs[i] = workflow.NewTimer(ctx, first+time.Duration(i)*step)
	}
	for _, f := range futs {
		if err := f.Get(ctx, nil); err != nil {
			return err
		}
	}
	return nil
}

// 10,000 timers pending on one store all fire, each within 2s of its due
// time. It loads the machine for ~20s, so scripts/test.sh runs it alone and
// without the race detector: set DF_HEAVY=1 to run it.
func TestTenThousandTimers(t *testing.T) {
	if os.Getenv("DF_HEAVY") == "" {
		t.Skip("set DF_HEAVY=1 to run (scripts/test.sh does, on its own)")
	}
	s := testsrv.Start(t)
	c := testsrv.Client(t, s)
	testsrv.RunWorker(t, c, worker.Options{WorkflowTaskTimeout: 10 * time.Second}, func(w *worker.Worker) {
		testsrv.Must(t, w.RegisterWorkflow(TimerFan))
	})
	ctx := testsrv.Context(t, 3*time.Minute)
	const runs, perRun = 100, 100
	var handles []client.WorkflowRun
	for i := range runs {
		// Due times spread over 10s, from 5s after the start.
		r, err := c.ExecuteWorkflow(ctx, client.StartOptions{ID: fmt.Sprintf("timers-%d", i)}, TimerFan, perRun,
			5*time.Second+time.Duration(i)*time.Millisecond, 100*time.Millisecond)
		testsrv.Must(t, err)
		handles = append(handles, r)
	}
	var lateness []time.Duration
	for _, r := range handles {
		testsrv.Must(t, r.Get(ctx, nil))
		evs, err := c.History(ctx, r.ID(), "")
		testsrv.Must(t, err)
		started := map[int64]time.Time{}
		for _, ev := range evs {
			switch ev.Type {
			case history.TimerStarted:
				started[ev.Seq] = *ev.FireAt
			case history.TimerFired:
				lateness = append(lateness, ev.Time.Sub(started[ev.Cause]))
			}
		}
	}
	if len(lateness) != runs*perRun {
		t.Fatalf("%d timers fired, want %d", len(lateness), runs*perRun)
	}
	sort.Slice(lateness, func(i, j int) bool { return lateness[i] < lateness[j] })
	p50, p99, worst := lateness[len(lateness)/2], lateness[len(lateness)*99/100], lateness[len(lateness)-1]
	t.Logf("10,000 timers: fired after their due time by p50 %v, p99 %v, max %v", p50, p99, worst)
	if lateness[0] < 0 {
		t.Fatalf("a timer fired %v early", -lateness[0])
	}
	if worst > 2*time.Second {
		t.Fatalf("a timer fired %v after its due time (over 2s)", worst)
	}
}
