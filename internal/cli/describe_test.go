package cli_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/durablefuture/durablefuture/internal/testsrv"
	"github.com/durablefuture/durablefuture/pkg/history"
	"github.com/durablefuture/durablefuture/pkg/sdk/activity"
	"github.com/durablefuture/durablefuture/pkg/sdk/client"
	"github.com/durablefuture/durablefuture/pkg/sdk/failure"
	"github.com/durablefuture/durablefuture/pkg/sdk/worker"
	"github.com/durablefuture/durablefuture/pkg/sdk/workflow"
)

// FlakyShip fails every attempt after storing heartbeat details.
func FlakyShip(ctx context.Context, order string) error {
	activity.RecordHeartbeat(ctx, "packed "+order)
	return failure.NewApplicationError("carrier down", "CarrierUnavailable")
}

// ShipWorkflow retries FlakyShip up to 5 times, a minute apart: after the
// first failure it waits in the back-off.
func ShipWorkflow(ctx workflow.Context, order string) error {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 5 * time.Second,
		RetryPolicy:         &workflow.RetryPolicy{InitialInterval: time.Minute, MaximumAttempts: 5},
	})
	return workflow.ExecuteActivity(ctx, FlakyShip, order).Get(ctx, nil)
}

// diagEnv is a server with one worker, for the diagnosis commands
// (describe, task-queue, stack); its worker can be stopped.
type diagEnv struct {
	env
	client *client.Client
	stop   func() error
}

func newDiagEnv(t *testing.T, identity string, queues ...string) *diagEnv {
	t.Helper()
	s := testsrv.Start(t)
	c := testsrv.Client(t, s)
	w := worker.New(c, worker.Options{Identity: identity, TaskQueues: queues, WorkflowTaskTimeout: 2 * time.Second,
		ShutdownTimeout: 2 * time.Second, Logger: slog.New(slog.DiscardHandler)})
	for _, err := range []error{
		w.RegisterWorkflow(ShipWorkflow), w.RegisterWorkflow(ChargeWorkflow), w.RegisterWorkflow(StackSignalWorkflow),
		w.RegisterActivity(FlakyShip), w.RegisterActivity(Declined),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	stopped := false
	stop := func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		return <-done
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("worker: %v", err)
		}
	})
	return &diagEnv{env: env{url: s.ClientURL()}, client: c, stop: stop}
}

// eventually runs dfctl until check accepts the result, or fails the test
// after 15s. Each try is a full command: the condition is the server's
// state, which no single call can wait for.
func (e *diagEnv) eventually(t *testing.T, check func(r result) bool, args ...string) result {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		r := e.run(t, false, args...)
		if check(r) {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("dfctl %s: condition not met in 15s; last exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, r.out, r.errOut)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

type describeJSON struct {
	Status            string `json:"status"`
	LastEventSeq      int64  `json:"last_event_seq"`
	TaskQueueWorkers  *int   `json:"task_queue_workers"`
	Warnings          []string
	PendingActivities []struct {
		Name             string          `json:"name"`
		Seq              int64           `json:"seq"`
		ActivityID       string          `json:"activity_id"`
		Attempt          int             `json:"attempt"`
		MaximumAttempts  int             `json:"maximum_attempts"`
		State            string          `json:"state"`
		ScheduledAt      *time.Time      `json:"scheduled_at"`
		NextAttemptAt    *time.Time      `json:"next_attempt_at"`
		LastHeartbeatAt  *time.Time      `json:"last_heartbeat_at"`
		HeartbeatDetails json.RawMessage `json:"heartbeat_details"`
		LastFailure      *struct {
			Message string `json:"message"`
			Type    string `json:"type"`
		} `json:"last_failure"`
	} `json:"pending_activities"`
	PendingTimers   []json.RawMessage `json:"pending_timers"`
	PendingChildren []json.RawMessage `json:"pending_children"`
	Failure         *struct {
		Message string `json:"message"`
		Type    string `json:"type"`
	} `json:"failure"`
}

// A run whose activity fails and waits to retry: describe shows the
// attempt, the failure, when the next attempt is due, the heartbeat
// details the failed attempt left, and the history's real last event.
func TestDescribePendingActivity(t *testing.T) {
	e := newDiagEnv(t, "describe-worker", "default")
	expectCode(t, e.run(t, false, "start", "ShipWorkflow", "--id", "ship-1", "--input", `"o-7"`), 0)
	r := e.eventually(t, func(r result) bool {
		return r.code == 0 && strings.Contains(r.out, `"last_failure"`)
	}, "describe", "ship-1", "-o", "json")
	d := decode[describeJSON](t, r.out)
	if d.Status != "running" || len(d.PendingActivities) != 1 {
		t.Fatalf("status %s, pending %+v; want running with one activity\n%s", d.Status, d.PendingActivities, r.out)
	}
	a := d.PendingActivities[0]
	if a.Name != "FlakyShip" || a.Attempt != 2 || a.MaximumAttempts != 5 || a.ActivityID == "" || a.Seq == 0 || a.ScheduledAt == nil {
		t.Errorf("activity %+v, want FlakyShip attempt 2 of 5", a)
	}
	if a.LastFailure == nil || a.LastFailure.Message != "carrier down" || a.LastFailure.Type != "CarrierUnavailable" {
		t.Errorf("last failure %+v, want CarrierUnavailable: carrier down", a.LastFailure)
	}
	if a.NextAttemptAt == nil || time.Until(*a.NextAttemptAt) < 30*time.Second || a.State != "backing_off" {
		t.Errorf("next attempt at %v, state %q: want about a minute from now, backing_off", a.NextAttemptAt, a.State)
	}
	if history.CompactJSON(a.HeartbeatDetails) != `["packed o-7"]` || a.LastHeartbeatAt == nil {
		t.Errorf("heartbeat details %s at %v, want [\"packed o-7\"] with a time", a.HeartbeatDetails, a.LastHeartbeatAt)
	}
	// WorkflowStarted, ActivityScheduled, ActivityAttemptFailed at least;
	// the runs index alone says nothing after the start.
	if d.LastEventSeq < 3 {
		t.Errorf("last_event_seq %d, want the history's last event (>= 3)", d.LastEventSeq)
	}
	if d.TaskQueueWorkers == nil || *d.TaskQueueWorkers != 1 || len(d.Warnings) != 0 {
		t.Errorf("task_queue_workers %v, warnings %q: want 1 and none", d.TaskQueueWorkers, d.Warnings)
	}
	if d.PendingTimers == nil || d.PendingChildren == nil {
		t.Errorf("pending_timers and pending_children must be lists, also when empty:\n%s", r.out)
	}
	// Text, as a script reads it: tab-separated, the activity on one line.
	r = e.run(t, false, "describe", "ship-1")
	expectCode(t, r, 0)
	for _, want := range []string{"activity\tFlakyShip (event 2) attempt 2/5", "CarrierUnavailable: carrier down", `["packed o-7"]`, "workers\t1"} {
		if !strings.Contains(r.out, want) {
			t.Errorf("describe text does not say %q:\n%s", want, r.out)
		}
	}
}

// A failed run: the failure comes first in the text, and whole (type,
// message, cause) in the JSON.
func TestDescribeFailedRunShowsFailureFirst(t *testing.T) {
	e := newDiagEnv(t, "describe-worker", "default")
	r := e.run(t, false, "execute", "ChargeWorkflow", "--id", "charge-1")
	expectCode(t, r, 1)
	r = e.run(t, false, "describe", "charge-1")
	expectCode(t, r, 0)
	if first, _, _ := strings.Cut(r.out, "\n"); !strings.HasPrefix(first, "failure\t") || !strings.Contains(first, "charge failed") {
		t.Errorf("the first line is %q, want the failure\n%s", first, r.out)
	}
	r = e.run(t, false, "describe", "charge-1", "-o", "json")
	expectCode(t, r, 0)
	d := decode[describeJSON](t, r.out)
	if d.Status != "failed" || d.Failure == nil || !strings.Contains(d.Failure.Message, "charge failed") {
		t.Fatalf("status %s failure %+v, want failed with the message\n%s", d.Status, d.Failure, r.out)
	}
	if d.Failure.Type != "CardDeclined" || !strings.Contains(d.Failure.Message, "card declined") {
		t.Errorf("failure %+v, want the activity's CardDeclined\n%s", d.Failure, r.out)
	}
	if len(d.PendingActivities) != 0 || d.PendingActivities == nil || d.TaskQueueWorkers != nil {
		t.Errorf("a closed run waits for nothing: pending %+v, workers %v", d.PendingActivities, d.TaskQueueWorkers)
	}

	// The link to the run's page in dfctl web, given its address.
	r = e.run(t, false, "describe", "charge-1", "-o", "json", "--web-url", "http://127.0.0.1:8080/?token=secret")
	expectCode(t, r, 0)
	link := decode[struct {
		RunID  string `json:"run_id"`
		WebURL string `json:"web_url"`
	}](t, r.out)
	if want := "http://127.0.0.1:8080/runs/charge-1/" + link.RunID; link.WebURL != want {
		t.Errorf("web_url %q, want %q (no token in a link to share)", link.WebURL, want)
	}
	r = e.run(t, false, "describe", "charge-1", "--web-url", "http://web.example:9090/df/")
	expectCode(t, r, 0)
	if !strings.Contains(r.out, "web\thttp://web.example:9090/df/runs/charge-1/"+link.RunID+"\n") {
		t.Errorf("no web line in\n%s", r.out)
	}
	r = e.run(t, false, "describe", "charge-1", "--web-url", "localhost:8080")
	expectCode(t, r, 2)
	if !strings.Contains(r.errOut, "http://127.0.0.1:8080") {
		t.Errorf("a bad web URL says %q; want what to give", r.errOut)
	}
}

// A run on a task queue that no worker serves is flagged, in JSON and text.
func TestDescribeFlagsQueueWithoutWorker(t *testing.T) {
	e := newDiagEnv(t, "describe-worker", "default")
	expectCode(t, e.run(t, false, "start", "ShipWorkflow", "--id", "lost-1", "--task-queue", "nobody", "--input", `"o-1"`), 0)
	r := e.run(t, false, "describe", "lost-1", "-o", "json")
	expectCode(t, r, 0)
	d := decode[describeJSON](t, r.out)
	if d.TaskQueueWorkers == nil || *d.TaskQueueWorkers != 0 {
		t.Fatalf("task_queue_workers %v, want 0\n%s", d.TaskQueueWorkers, r.out)
	}
	if len(d.Warnings) == 0 || !strings.Contains(d.Warnings[0], "nobody") {
		t.Errorf("warnings %q, want one naming the task queue", d.Warnings)
	}
	r = e.run(t, false, "describe", "lost-1")
	expectCode(t, r, 0)
	if !strings.Contains(r.out, "workers\t0") || !strings.Contains(r.out, "warning\tno live worker runs workflows on task queue nobody") ||
		!strings.Contains(r.out, "waiting\tfor its first workflow task") {
		t.Errorf("describe text does not flag the queue:\n%s", r.out)
	}
	// The queue no worker ever served has no consumer, and its task waits
	// all the same.
	r = e.run(t, false, "task-queue", "describe", "nobody", "-o", "json")
	expectCode(t, r, 0)
	tq := decode[taskQueueJSON](t, r.out)
	if len(tq.Workers) != 0 || tq.WorkflowTasks.Exists || tq.WorkflowTasks.Pending != 1 || tq.WorkflowTasks.OldestTaskAt == nil {
		t.Errorf("task queue nobody: %+v, want no worker, no consumer, one task waiting with its time\n%s", tq, r.out)
	}
	r = e.run(t, false, "task-queue", "list")
	expectCode(t, r, 0)
	if !strings.Contains(r.out, "nobody\t0\t1\t0") {
		t.Errorf("task-queue list does not show the queue nobody with its task:\n%s", r.out)
	}
}

// A run of a type no worker of its queue registers is blocked, and
// describe says what to do: start a worker with it on that queue, or start
// the run on another queue.
func TestDescribeUnknownTypeSaysWhatToDo(t *testing.T) {
	e := newDiagEnv(t, "describe-worker", "default")
	expectCode(t, e.run(t, false, "start", "NoSuchWorkflow", "--id", "ghost-1"), 0)
	r := e.eventually(t, func(r result) bool { return r.code == 0 && strings.Contains(r.out, `"blocked"`) },
		"describe", "ghost-1", "-o", "json")
	d := decode[describeJSON](t, r.out)
	if len(d.Warnings) != 1 || !strings.Contains(d.Warnings[0], "registers it on task queue default") || !strings.Contains(d.Warnings[0], "--task-queue") {
		t.Errorf("warnings %q, want one naming the queue and --task-queue", d.Warnings)
	}
}
