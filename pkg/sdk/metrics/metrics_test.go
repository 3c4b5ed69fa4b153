package metrics_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/durablefuture/durablefuture/internal/testsrv"
	"github.com/durablefuture/durablefuture/pkg/engine"
	"github.com/durablefuture/durablefuture/pkg/sdk/client"
	"github.com/durablefuture/durablefuture/pkg/sdk/metrics"
	"github.com/durablefuture/durablefuture/pkg/sdk/worker"
	"github.com/durablefuture/durablefuture/pkg/sdk/workflow"
	"github.com/prometheus/client_golang/prometheus"
)

var flakyCalls atomic.Int64

// Flaky fails its first attempt of each call and then echoes its input.
func Flaky(ctx context.Context, n int) (int, error) {
	if flakyCalls.Add(1)%2 == 1 {
		return 0, errors.New("first attempt fails")
	}
	return n, nil
}

func Double(ctx context.Context, n int) (int, error) { return 2 * n, nil }

func MeteredWorkflow(ctx workflow.Context, n int) (int, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 5 * time.Second,
		RetryPolicy:         &workflow.RetryPolicy{InitialInterval: 20 * time.Millisecond, MaximumAttempts: 3},
	})
	var d int
	if err := workflow.ExecuteActivity(ctx, Double, n).Get(ctx, &d); err != nil {
		return 0, err
	}
	return d, nil
}

func RetryingWorkflow(ctx workflow.Context, n int) (int, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 5 * time.Second,
		RetryPolicy:         &workflow.RetryPolicy{InitialInterval: 20 * time.Millisecond, MaximumAttempts: 3},
	})
	var out int
	err := workflow.ExecuteActivity(ctx, Flaky, n).Get(ctx, &out)
	return out, err
}

// TestScrape runs workflows on a worker with the Prometheus observer and
// scrapes its /metrics endpoint over HTTP.
func TestScrape(t *testing.T) {
	s := testsrv.Start(t)
	c := testsrv.Client(t, s)
	reg := prometheus.NewRegistry()
	obs, err := metrics.New(metrics.Options{Registry: reg, BacklogInterval: 50 * time.Millisecond})
	testsrv.Must(t, err)
	srv, err := metrics.ServeHandler("127.0.0.1:0", obs.Handler())
	testsrv.Must(t, err)
	t.Cleanup(func() { _ = srv.Close() })

	testsrv.RunWorker(t, c, worker.Options{Observer: obs, TaskQueues: []string{"metered"}}, func(w *worker.Worker) {
		testsrv.Must(t, w.RegisterWorkflow(MeteredWorkflow))
		testsrv.Must(t, w.RegisterWorkflow(RetryingWorkflow))
		testsrv.Must(t, w.RegisterActivity(Double))
		testsrv.Must(t, w.RegisterActivity(Flaky))
	})
	ctx := testsrv.Context(t, 30*time.Second)
	const n = 3
	for i := range n {
		run, err := c.ExecuteWorkflow(ctx, client.StartOptions{ID: fmt.Sprintf("metered-%d", i), TaskQueue: "metered"}, MeteredWorkflow, i)
		testsrv.Must(t, err)
		testsrv.Must(t, run.Get(ctx, nil))
	}
	run, err := c.ExecuteWorkflow(ctx, client.StartOptions{ID: "retrying", TaskQueue: "metered"}, RetryingWorkflow, 7)
	testsrv.Must(t, err)
	var got int
	testsrv.Must(t, run.Get(ctx, &got))
	if got != 7 {
		t.Fatalf("RetryingWorkflow returned %d, want 7", got)
	}

	// The run's result is read before the worker settles its last task
	// and before the backlog is sampled again: wait for both (a sample
	// taken while the retried activity waited still says 1).
	var m scrape
	testsrv.WaitFor(t, ctx, "the last workflow task and a backlog sample", func() bool {
		m = get(t, srv.URL())
		return m.value("durablefuture_workflow_tasks_total", "workflow_type", "RetryingWorkflow", "task_queue", "metered", "outcome", "completed") >= 3 &&
			m.value("durablefuture_workflow_tasks_total", "workflow_type", "MeteredWorkflow", "task_queue", "metered", "outcome", "completed") >= 2*n &&
			m.has("durablefuture_task_backlog", "kind", "activity", "task_queue", "metered") &&
			m.value("durablefuture_task_backlog", "kind", "activity", "task_queue", "metered") == 0
	})
	checks := []struct {
		metric string
		labels []string
		want   float64
	}{
		// start, the activity's outcome: 2 decisions per one-activity run.
		{"durablefuture_workflow_tasks_total", []string{"workflow_type", "MeteredWorkflow", "task_queue", "metered", "outcome", "completed"}, 2 * n},
		{"durablefuture_workflows_closed_total", []string{"workflow_type", "MeteredWorkflow", "task_queue", "metered", "outcome", "completed"}, n},
		{"durablefuture_workflows_closed_total", []string{"workflow_type", "RetryingWorkflow", "task_queue", "metered", "outcome", "completed"}, 1},
		{"durablefuture_events_recorded_total", []string{"workflow_type", "MeteredWorkflow", "task_queue", "metered", "event_type", "ActivityScheduled"}, n},
		{"durablefuture_events_recorded_total", []string{"workflow_type", "RetryingWorkflow", "task_queue", "metered", "event_type", "ActivityAttemptFailed"}, 1},
		{"durablefuture_activity_attempts_total", []string{"activity", "Double", "task_queue", "metered", "outcome", "completed"}, n},
		{"durablefuture_activity_attempts_total", []string{"activity", "Flaky", "task_queue", "metered", "outcome", "retrying"}, 1},
		{"durablefuture_activity_attempts_total", []string{"activity", "Flaky", "task_queue", "metered", "outcome", "completed"}, 1},
		{"durablefuture_activity_attempt_duration_seconds_count", []string{"activity", "Flaky", "task_queue", "metered", "outcome", "retrying"}, 1},
		{"durablefuture_workflow_duration_seconds_count", []string{"workflow_type", "MeteredWorkflow", "task_queue", "metered", "outcome", "completed"}, n},
		{"durablefuture_activities_running", []string{"activity", "Double", "task_queue", "metered"}, 0},
		{"durablefuture_task_backlog", []string{"kind", "activity", "task_queue", "metered"}, 0},
	}
	for _, c := range checks {
		if got := m.value(c.metric, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.metric, c.labels, got, c.want)
		}
	}
	if t.Failed() {
		t.Logf("scrape:\n%s", m.text)
	}
}

// TestSharedRegistry: a second Observer on the same registry shares the
// metrics instead of failing to register them.
func TestSharedRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	a, err := metrics.New(metrics.Options{Registry: reg})
	testsrv.Must(t, err)
	if _, err := metrics.New(metrics.Options{Registry: reg}); err != nil {
		t.Fatalf("second observer on one registry: %v", err)
	}
	_ = a
}

// scrape is a parsed text exposition: one sample per line.
type scrape struct {
	text    string
	samples []sample
}

type sample struct {
	name   string
	labels map[string]string
	value  float64
}

func get(t *testing.T, url string) scrape {
	t.Helper()
	resp, err := http.Get(url)
	testsrv.Must(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	testsrv.Must(t, err)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	sc := scrape{text: string(body)}
	lines := bufio.NewScanner(strings.NewReader(sc.text))
	for lines.Scan() {
		line := lines.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		sp := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[sp+1:], 64)
		if err != nil {
			t.Fatalf("bad sample line %q", line)
		}
		s := sample{name: line[:sp], labels: map[string]string{}, value: v}
		if i := strings.IndexByte(s.name, '{'); i >= 0 {
			for _, kv := range strings.Split(strings.TrimSuffix(s.name[i+1:], "}"), ",") {
				k, v, _ := strings.Cut(kv, "=")
				s.labels[k] = strings.Trim(v, `"`)
			}
			s.name = s.name[:i]
		}
		sc.samples = append(sc.samples, s)
	}
	return sc
}

func (sc scrape) find(name string, kv ...string) (float64, bool) {
	for _, s := range sc.samples {
		if s.name != name {
			continue
		}
		ok := true
		for i := 0; i < len(kv); i += 2 {
			if s.labels[kv[i]] != kv[i+1] {
				ok = false
			}
		}
		if ok {
			return s.value, true
		}
	}
	return 0, false
}

func (sc scrape) value(name string, kv ...string) float64 { v, _ := sc.find(name, kv...); return v }
func (sc scrape) has(name string, kv ...string) bool      { _, ok := sc.find(name, kv...); return ok }

// TestServeDefault: Serve serves the default registry, where an Observer
// made without a registry counts, with the Go runtime metrics; a second
// Serve on the same address fails at once.
func TestServeDefault(t *testing.T) {
	obs, err := metrics.New(metrics.Options{})
	testsrv.Must(t, err)
	srv, err := metrics.Serve("127.0.0.1:0")
	testsrv.Must(t, err)
	t.Cleanup(func() { _ = srv.Close() })
	// The default registry lives as long as the test binary: count the
	// difference.
	before := get(t, srv.URL()).value("durablefuture_workflow_tasks_total", "workflow_type", "Served", "task_queue", "q", "outcome", "completed")
	obs.WorkflowTaskHandled(engine.WorkflowTaskDone{WorkflowType: "Served", TaskQueue: "q", Outcome: engine.TaskCompleted})
	m := get(t, srv.URL())
	if got := m.value("durablefuture_workflow_tasks_total", "workflow_type", "Served", "task_queue", "q", "outcome", "completed"); got != before+1 {
		t.Errorf("workflow_tasks_total = %v, want %v\n%s", got, before+1, m.text)
	}
	if !m.has("go_goroutines") {
		t.Error("no Go runtime metrics in the default registry's scrape")
	}
	if s2, err := metrics.Serve(srv.Addr()); err == nil {
		_ = s2.Close()
		t.Fatalf("a second Serve on %s did not fail", srv.Addr())
	}
}

// TestBlockedRuns: a run counts once however often its task finds it
// blocked, leaves the gauge when it decides again, and lapses when no
// task refreshes it within the TTL (another process took it).
func TestBlockedRuns(t *testing.T) {
	reg := prometheus.NewRegistry()
	obs, err := metrics.New(metrics.Options{Registry: reg, BlockedTTL: 200 * time.Millisecond})
	testsrv.Must(t, err)
	srv := httptest.NewServer(obs.Handler())
	t.Cleanup(srv.Close)
	for range 3 {
		obs.RunBlocked(engine.BlockedRun{RunID: "r1", Reason: "NonDeterminismError"})
	}
	obs.RunBlocked(engine.BlockedRun{RunID: "r2", Reason: "NonDeterminismError"})
	obs.RunBlocked(engine.BlockedRun{RunID: "r3", Reason: "WorkflowCodeError"})
	m := get(t, srv.URL)
	if got := m.value("durablefuture_blocked_runs", "reason", "NonDeterminismError"); got != 2 {
		t.Errorf("blocked_runs{NonDeterminismError} = %v, want 2", got)
	}
	if got := m.value("durablefuture_run_blocks_total", "reason", "NonDeterminismError"); got != 2 {
		t.Errorf("run_blocks_total{NonDeterminismError} = %v, want 2", got)
	}
	obs.RunUnblocked(engine.BlockedRun{RunID: "r1"})
	if got := get(t, srv.URL).value("durablefuture_blocked_runs", "reason", "NonDeterminismError"); got != 1 {
		t.Errorf("after r1 decided: blocked_runs{NonDeterminismError} = %v, want 1", got)
	}
	ctx := testsrv.Context(t, 10*time.Second)
	testsrv.WaitFor(t, ctx, "the blocked runs to lapse", func() bool {
		return !get(t, srv.URL).has("durablefuture_blocked_runs")
	})
}

// release lets the Held activities return; TestBacklog makes it anew.
var release chan struct{}

// Held waits until the test releases it.
func Held(ctx context.Context, n int) (int, error) {
	select {
	case <-release:
		return n, nil
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

func HeldWorkflow(ctx workflow.Context, n int) (int, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 30 * time.Second})
	var out int
	err := workflow.ExecuteActivity(ctx, Held, n).Get(ctx, &out)
	return out, err
}

// TestBacklog: activity tasks waiting for a free slot show in the backlog
// gauge, and leave it once they ran.
func TestBacklog(t *testing.T) {
	release = make(chan struct{})
	s := testsrv.Start(t)
	c := testsrv.Client(t, s)
	reg := prometheus.NewRegistry()
	obs, err := metrics.New(metrics.Options{Registry: reg, BacklogInterval: 20 * time.Millisecond})
	testsrv.Must(t, err)
	srv := httptest.NewServer(obs.Handler())
	t.Cleanup(srv.Close)
	testsrv.RunWorker(t, c, worker.Options{Observer: obs, TaskQueues: []string{"held"}, MaxConcurrentActivities: 1}, func(w *worker.Worker) {
		testsrv.Must(t, w.RegisterWorkflow(HeldWorkflow))
		testsrv.Must(t, w.RegisterActivity(Held))
	})
	ctx := testsrv.Context(t, 30*time.Second)
	var runs []client.WorkflowRun
	for i := range 5 {
		run, err := c.ExecuteWorkflow(ctx, client.StartOptions{ID: fmt.Sprintf("held-%d", i), TaskQueue: "held"}, HeldWorkflow, i)
		testsrv.Must(t, err)
		runs = append(runs, run)
	}
	// One attempt runs, the other four wait in the stream.
	testsrv.WaitFor(t, ctx, "a backlog of 4 activity tasks", func() bool {
		m := get(t, srv.URL)
		return m.value("durablefuture_task_backlog", "kind", "activity", "task_queue", "held") == 4 &&
			m.value("durablefuture_activities_running", "activity", "Held", "task_queue", "held") == 1
	})
	close(release)
	for _, run := range runs {
		testsrv.Must(t, run.Get(ctx, nil))
	}
	testsrv.WaitFor(t, ctx, "an empty backlog", func() bool {
		return get(t, srv.URL).value("durablefuture_task_backlog", "kind", "activity", "task_queue", "held") == 0
	})
}
