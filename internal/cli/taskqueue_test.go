package cli_test

import (
	"strings"
	"testing"
	"time"
)

type taskQueueJSON struct {
	TaskQueue string `json:"task_queue"`
	Workers   []struct {
		Identity   string    `json:"identity"`
		TaskQueue  string    `json:"task_queue"`
		Workflows  []string  `json:"workflows"`
		Activities []string  `json:"activities"`
		LastSeen   time.Time `json:"last_seen"`
	} `json:"workers"`
	WorkflowTasks struct {
		Exists       bool       `json:"exists"`
		Pending      uint64     `json:"pending"`
		AckPending   int        `json:"ack_pending"`
		OldestTaskAt *time.Time `json:"oldest_task_at"`
	} `json:"workflow_tasks"`
	ActivityTasks struct {
		Exists bool `json:"exists"`
	} `json:"activity_tasks"`
}

// A running worker is listed on its task queue; after a graceful stop it
// is gone, and the tasks started meanwhile wait in the backlog.
func TestTaskQueueDescribe(t *testing.T) {
	e := newDiagEnv(t, "tq-worker-1", "tq1")
	r := e.eventually(t, func(r result) bool { return r.code == 0 && strings.Contains(r.out, "tq-worker-1") },
		"task-queue", "describe", "tq1", "-o", "json")
	tq := decode[taskQueueJSON](t, r.out)
	if tq.TaskQueue != "tq1" || len(tq.Workers) != 1 {
		t.Fatalf("task queue %+v, want tq1 with one worker", tq)
	}
	w := tq.Workers[0]
	if w.TaskQueue != "tq1" || !strings.Contains(strings.Join(w.Workflows, ","), "ShipWorkflow") ||
		!strings.Contains(strings.Join(w.Activities, ","), "FlakyShip") || time.Since(w.LastSeen) > time.Minute {
		t.Errorf("worker %+v, want tq1 with its types, seen now", w)
	}
	if !tq.WorkflowTasks.Exists || !tq.ActivityTasks.Exists || tq.WorkflowTasks.Pending != 0 || tq.WorkflowTasks.OldestTaskAt != nil {
		t.Errorf("backlog %+v, want both consumers and nothing waiting", tq.WorkflowTasks)
	}
	// Another queue is not this worker's.
	r = e.run(t, false, "task-queue", "describe", "other", "-o", "json")
	expectCode(t, r, 0)
	if tq := decode[taskQueueJSON](t, r.out); len(tq.Workers) != 0 || tq.WorkflowTasks.Exists {
		t.Errorf("queue other: %+v, want no worker, no consumer", tq)
	}

	if err := e.stop(); err != nil {
		t.Fatal(err)
	}
	r = e.run(t, false, "task-queue", "describe", "tq1", "-o", "json")
	expectCode(t, r, 0)
	if tq := decode[taskQueueJSON](t, r.out); len(tq.Workers) != 0 {
		t.Fatalf("after a graceful stop the worker is still listed: %+v", tq.Workers)
	}
	for _, id := range []string{"q-1", "q-2"} {
		expectCode(t, e.run(t, false, "start", "ShipWorkflow", "--id", id, "--task-queue", "tq1", "--input", `"x"`), 0)
	}
	r = e.run(t, false, "task-queue", "describe", "tq1", "-o", "json")
	expectCode(t, r, 0)
	tq = decode[taskQueueJSON](t, r.out)
	if tq.WorkflowTasks.Pending != 2 || tq.WorkflowTasks.OldestTaskAt == nil || time.Since(*tq.WorkflowTasks.OldestTaskAt) > time.Minute {
		t.Errorf("workflow tasks %+v, want 2 pending with the oldest's time", tq.WorkflowTasks)
	}
	// Text: the queue without worker says so.
	r = e.run(t, true, "task-queue", "describe", "tq1")
	expectCode(t, r, 0)
	if !strings.Contains(r.out, "No live worker") {
		t.Errorf("text:\n%s", r.out)
	}
	// And a run there is flagged by describe.
	r = e.run(t, false, "describe", "q-1", "-o", "json")
	expectCode(t, r, 0)
	if d := decode[describeJSON](t, r.out); d.TaskQueueWorkers == nil || *d.TaskQueueWorkers != 0 {
		t.Errorf("describe of a run on a queue whose worker stopped: workers %v", d.TaskQueueWorkers)
	}
	r = e.run(t, false, "task-queue", "list", "-o", "json")
	expectCode(t, r, 0)
	if !strings.Contains(r.out, `"task_queue": "tq1"`) {
		t.Errorf("task-queue list:\n%s", r.out)
	}
}

func TestTaskQueueBadName(t *testing.T) {
	e := newDiagEnv(t, "tq-worker-1", "tq1")
	r := e.run(t, false, "task-queue", "describe", "bad queue")
	expectCode(t, r, 2)
	if !strings.Contains(r.errOut, "task queue") {
		t.Errorf("stderr %q", r.errOut)
	}
}
