package engine_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/durablefuture/durablefuture/internal/testsrv"
	"github.com/durablefuture/durablefuture/pkg/engine"
	"github.com/durablefuture/durablefuture/pkg/history"
	"github.com/durablefuture/durablefuture/pkg/sdk/client"
	"github.com/durablefuture/durablefuture/pkg/sdk/worker"
	"github.com/durablefuture/durablefuture/pkg/sdk/workflow"
)

// recorder is an Observer that keeps what it is told.
type recorder struct {
	mu       sync.Mutex
	events   map[string][]history.Event // by run ID
	tasks    []engine.WorkflowTaskDone
	started  []engine.ActivityAttempt
	finished []engine.ActivityAttempt
	blocked  []engine.BlockedRun
	backlog  []engine.Backlog
}

func newRecorder() *recorder { return &recorder{events: map[string][]history.Event{}} }

func (r *recorder) WorkflowTaskHandled(d engine.WorkflowTaskDone) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.tasks = append(r.tasks, d)
}

func (r *recorder) EventsRecorded(e engine.RecordedEvents) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events[e.Run.RunID] = append(r.events[e.Run.RunID], e.Events...)
	for _, ev := range e.Events {
		if ev.Type == history.ActivityCompleted {
			if s, ok := e.Scheduled(ev.Cause); !ok || s.Type != history.ActivityScheduled || s.Seq != ev.Cause {
				panic(fmt.Sprintf("Scheduled(%d) = %+v, %v", ev.Cause, s, ok))
			}
		}
	}
}

func (r *recorder) ActivityAttemptStarted(a engine.ActivityAttempt) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.started = append(r.started, a)
}

func (r *recorder) ActivityAttemptFinished(a engine.ActivityAttempt) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.finished = append(r.finished, a)
}

func (r *recorder) RunBlocked(b engine.BlockedRun) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.blocked = append(r.blocked, b)
}

func (r *recorder) RunUnblocked(engine.BlockedRun) {}

func (r *recorder) BacklogSampled(b engine.Backlog) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.backlog = append(r.backlog, b)
}

func (r *recorder) BacklogInterval() time.Duration { return 20 * time.Millisecond }

var obsFlaky sync.Map

// ObsStep fails the first attempt of step 2 of each run.
func ObsStep(ctx context.Context, n int) (int, error) {
	key := fmt.Sprintf("%s/%d", engine.GetActivityInfo(ctx).RunID, n)
	if _, had := obsFlaky.LoadOrStore(key, true); !had && n == 2 {
		return 0, errors.New("step 2 fails once")
	}
	return n, nil
}

func ObservedWorkflow(ctx workflow.Context) (int, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 5 * time.Second,
		RetryPolicy:         &workflow.RetryPolicy{InitialInterval: 10 * time.Millisecond, MaximumAttempts: 3},
	})
	total := 0
	for n := 1; n <= 3; n++ {
		var out int
		if err := workflow.ExecuteActivity(ctx, ObsStep, n).Get(ctx, &out); err != nil {
			return 0, err
		}
		total += out
	}
	return total, nil
}

// TestObserverSeesEachEventOnce: the events an Observer is told about are
// exactly those decisions appended, each once, although runs are replayed
// (a cache of one run for several runs in flight) and a worker "crashes"
// after committing decisions (the input comes back and finds its decision
// recorded). Activity attempts are reported started and finished, a retry
// as such.
func TestObserverSeesEachEventOnce(t *testing.T) {
	var crashes atomic.Int32
	defer engine.SetTestHookAfterDecision(func() bool {
		return crashes.Add(1)%4 == 0 // every fourth decision
	})()
	s := testsrv.Start(t)
	c := testsrv.Client(t, s)
	rec := newRecorder()
	testsrv.RunWorker(t, c, worker.Options{Observer: rec, CacheSize: 1, TaskQueues: []string{"observed"}}, func(w *worker.Worker) {
		testsrv.Must(t, w.RegisterWorkflow(ObservedWorkflow))
		testsrv.Must(t, w.RegisterActivity(ObsStep))
	})
	ctx := testsrv.Context(t, 60*time.Second)
	var runs []client.WorkflowRun
	for i := range 3 {
		run, err := c.ExecuteWorkflow(ctx, client.StartOptions{ID: fmt.Sprintf("observed-%d", i), TaskQueue: "observed"}, ObservedWorkflow)
		testsrv.Must(t, err)
		runs = append(runs, run)
	}
	for _, run := range runs {
		var got int
		testsrv.Must(t, run.Get(ctx, &got))
		if got != 6 {
			t.Fatalf("%s returned %d, want 6", run.ID(), got)
		}
	}
	if crashes.Load() < 4 {
		t.Fatalf("only %d decisions: no crash was simulated", crashes.Load())
	}
	testsrv.WaitFor(t, ctx, "a backlog sample", func() bool {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		return len(rec.backlog) >= 2
	})

	rec.mu.Lock()
	defer rec.mu.Unlock()
	for _, run := range runs {
		evs, err := c.History(ctx, run.ID(), run.RunID())
		testsrv.Must(t, err)
		got := rec.events[run.RunID()]
		// Every event but WorkflowStarted (the client's start record) is
		// appended by a decision.
		want := evs[1:]
		if len(got) != len(want) {
			t.Fatalf("%s: observer saw %d events, the history has %d after its start:\n%v\n%v", run.ID(), len(got), len(want), seqTypes(got), seqTypes(want))
		}
		for i := range want {
			if got[i].Seq != want[i].Seq || got[i].Type != want[i].Type {
				t.Fatalf("%s: event %d: observer saw %d %s, history holds %d %s", run.ID(), i, got[i].Seq, got[i].Type, want[i].Seq, want[i].Type)
			}
		}
	}
	outcomes := map[string]int{}
	for _, a := range rec.finished {
		outcomes[a.Outcome]++
		if a.Activity != "ObsStep" || a.TaskQueue != "observed" || a.WorkflowType != "ObservedWorkflow" || a.Attempt < 1 {
			t.Errorf("attempt: %+v", a)
		}
	}
	if len(rec.started) != len(rec.finished) || outcomes[engine.AttemptCompleted] != 9 || outcomes[engine.AttemptRetrying] != 3 {
		t.Errorf("attempts: %d started, %d finished, outcomes %v; want 12, 12, 9 completed and 3 retrying", len(rec.started), len(rec.finished), outcomes)
	}
	completed := 0
	for _, d := range rec.tasks {
		if d.Outcome == engine.TaskCompleted && d.WorkflowType == "ObservedWorkflow" && d.TaskQueue == "observed" {
			completed++
		}
	}
	// A run takes at least a task per activity outcome.
	if completed < 3*3 {
		t.Errorf("%d completed workflow tasks, want at least 9: %+v", completed, rec.tasks)
	}
	for _, b := range rec.backlog {
		if b.TaskQueue != "observed" || (b.Kind != "workflow" && b.Kind != "activity") {
			t.Errorf("backlog sample %+v", b)
		}
	}
}

func seqTypes(evs []history.Event) []string {
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[i] = fmt.Sprintf("%d:%s", ev.Seq, ev.Type)
	}
	return out
}

// PanickyWorkflow panics: under the default policy its run is blocked.
func PanickyWorkflow(ctx workflow.Context) error { panic("boom") }

// TestObserverSeesBlockedRun: a run blocked by a panic in workflow code is
// reported with its reason.
func TestObserverSeesBlockedRun(t *testing.T) {
	s := testsrv.Start(t)
	c := testsrv.Client(t, s)
	rec := newRecorder()
	logger, _ := testsrv.CaptureLogs(t)
	testsrv.RunWorker(t, c, worker.Options{Observer: rec, Logger: logger}, func(w *worker.Worker) {
		testsrv.Must(t, w.RegisterWorkflow(PanickyWorkflow))
	})
	ctx := testsrv.Context(t, 30*time.Second)
	run, err := c.ExecuteWorkflow(ctx, client.StartOptions{ID: "panicky"}, PanickyWorkflow)
	testsrv.Must(t, err)
	testsrv.WaitFor(t, ctx, "the run reported blocked", func() bool {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		return len(rec.blocked) > 0
	})
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if b := rec.blocked[0]; b.RunID != run.RunID() || b.Reason != "WorkflowCodeError" {
		t.Fatalf("blocked: %+v, want run %s, reason WorkflowCodeError", b, run.RunID())
	}
}
