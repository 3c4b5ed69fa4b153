package sdktest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/durablefuture/durablefuture/internal/testsrv"
	"github.com/durablefuture/durablefuture/pkg/history"
	"github.com/durablefuture/durablefuture/pkg/sdk/client"
	"github.com/durablefuture/durablefuture/pkg/sdk/failure"
	"github.com/durablefuture/durablefuture/pkg/sdk/worker"
	"github.com/durablefuture/durablefuture/pkg/sdk/workflow"
)

// TestMain lets the test binary double as a workflow worker process, so a
// test can SIGKILL a real worker.
func TestMain(m *testing.M) {
	if url := os.Getenv("DF_TEST_CHILD_WORKER"); url != "" {
		runChildWorker(url)
		return
	}
	os.Exit(m.Run())
}

func runChildWorker(url string) {
	c, err := client.Dial(context.Background(), client.Options{URL: url})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(2)
	}
	w := worker.New(c, worker.Options{WorkflowTaskTimeout: 2 * time.Second})
	if err := w.RegisterWorkflow(TwoStepWorkflow); err != nil {
		os.Exit(2)
	}
	if err := w.RegisterWorkflow(CollectWorkflow); err != nil {
		os.Exit(2)
	}
	fmt.Println("ready")
	_ = w.Run(context.Background())
}

// ---- 200 workflows at once ----

func TestManyWorkflowsAtOnce(t *testing.T) {
	s := testsrv.Start(t)
	c := testsrv.Client(t, s)
	startWorker(t, c, func(w *worker.Worker) {
		testsrv.Must(t, w.RegisterWorkflow(SumWorkflow))
		testsrv.Must(t, w.RegisterActivity(Add))
	})
	ctx := testsrv.Context(t, 60*time.Second)
	const n = 200
	runs := make([]client.WorkflowRun, n)
	for i := range runs {
		r, err := c.ExecuteWorkflow(ctx, client.StartOptions{ID: fmt.Sprintf("many-%d", i)}, SumWorkflow, i%7)
		testsrv.Must(t, err)
		runs[i] = r
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i, r := range runs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var got int
			if err := r.Get(ctx, &got); err != nil {
				errs <- fmt.Errorf("run %d: %w", i, err)
				return
			}
			k := i % 7
			if want := k * (k - 1) / 2; got != want {
				errs <- fmt.Errorf("run %d: got %d want %d", i, got, want)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	list, err := c.ListWorkflows(ctx, client.ListFilter{Status: "completed"})
	testsrv.Must(t, err)
	if len(list) != n {
		t.Fatalf("list shows %d completed runs, want %d", len(list), n)
	}
}

// ---- parallel activities ----

type barrier struct {
	mu      sync.Mutex
	arrived int
	all     chan struct{}
	need    int
}

var parallelBarrier *barrier

// Meet returns only once `need` calls are in flight at the same time.
func Meet(ctx context.Context, i int) (int, error) {
	b := parallelBarrier
	b.mu.Lock()
	b.arrived++
	if b.arrived == b.need {
		close(b.all)
	}
	b.mu.Unlock()
	select {
	case <-b.all:
		return i * 10, nil
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

func ParallelWorkflow(ctx workflow.Context, n int) ([]int, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 10 * time.Second, RetryPolicy: &workflow.RetryPolicy{MaximumAttempts: 1}})
	futs := make([]workflow.Future, n)
	for i := range futs {
		futs[i] = workflow.ExecuteActivity(ctx, Meet, i)
	}
	out := make([]int, n)
	for i, f := range futs {
		if err := f.Get(ctx, &out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func TestParallelActivities(t *testing.T) {
	const n = 5
	parallelBarrier = &barrier{all: make(chan struct{}), need: n}
	s := testsrv.Start(t)
	c := testsrv.Client(t, s)
	startWorker(t, c, func(w *worker.Worker) {
		testsrv.Must(t, w.RegisterWorkflow(ParallelWorkflow))
		testsrv.Must(t, w.RegisterActivity(Meet))
	})
	ctx := testsrv.Context(t, 30*time.Second)
	run, err := c.ExecuteWorkflow(ctx, client.StartOptions{}, ParallelWorkflow, n)
	testsrv.Must(t, err)
	var got []int
	testsrv.Must(t, run.Get(ctx, &got))
	if fmt.Sprint(got) != "[0 10 20 30 40]" {
		t.Fatalf("got %v", got)
	}
	evs, err := c.History(ctx, run.ID(), "")
	testsrv.Must(t, err)
	// All five activities are scheduled by the first decision, together.
	if evs[1].Type != history.ActivityScheduled || evs[5].Type != history.ActivityScheduled {
		t.Fatalf("activities not scheduled together: %v", types(evs))
	}
}

func types(evs []history.Event) []history.EventType {
	out := make([]history.EventType, len(evs))
	for i, e := range evs {
		out[i] = e.Type
	}
	return out
}

// ---- same activity twice, different inputs, second fails once ----

var echoCalls sync.Map // input -> *atomic.Int32

func Echo(ctx context.Context, s string) (string, error) {
	v, _ := echoCalls.LoadOrStore(s, new(atomic.Int32))
	n := v.(*atomic.Int32).Add(1)
	if s == "second" && n == 1 {
		return "", failure.NewApplicationError("transient", "Transient")
	}
	return "echo:" + s, nil
}

func TwiceWorkflow(ctx workflow.Context) ([]string, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{RetryPolicy: fastRetry})
	a := workflow.ExecuteActivity(ctx, Echo, "first")
	b := workflow.ExecuteActivity(ctx, Echo, "second")
	var ra, rb string
	if err := a.Get(ctx, &ra); err != nil {
		return nil, err
	}
	if err := b.Get(ctx, &rb); err != nil {
		return nil, err
	}
	return []string{ra, rb}, nil
}

func TestSameActivityRetriedWithItsOwnInput(t *testing.T) {
	echoCalls.Clear()
	s := testsrv.Start(t)
	c := testsrv.Client(t, s)
	startWorker(t, c, func(w *worker.Worker) {
		testsrv.Must(t, w.RegisterWorkflow(TwiceWorkflow))
		testsrv.Must(t, w.RegisterActivity(Echo))
	})
	ctx := testsrv.Context(t, 20*time.Second)
	run, err := c.ExecuteWorkflow(ctx, client.StartOptions{}, TwiceWorkflow)
	testsrv.Must(t, err)
	var got []string
	testsrv.Must(t, run.Get(ctx, &got))
	if fmt.Sprint(got) != "[echo:first echo:second]" {
		t.Fatalf("got %v", got)
	}
	evs, err := c.History(ctx, run.ID(), "")
	testsrv.Must(t, err)
	var retried []history.Event
	for _, ev := range evs {
		if ev.Type == history.ActivityAttemptFailed {
			retried = append(retried, ev)
		}
	}
	if len(retried) != 1 || retried[0].Attempt != 1 {
		t.Fatalf("want one failed attempt, got %+v", retried)
	}
	sched := evs[retried[0].Cause-1]
	if sched.Type != history.ActivityScheduled || string(sched.Input) != `["second"]` {
		t.Fatalf("failed attempt points at %+v", sched)
	}
	for _, ev := range evs {
		if ev.Type == history.ActivityCompleted && ev.Cause == sched.Seq && (ev.Attempt != 2 || string(ev.Result) != `"echo:second"`) {
			t.Fatalf("retry of the second call: %+v", ev)
		}
	}
}

// ---- a workflow worker SIGKILLed mid-run ----

var stepCalls [2]atomic.Int32
var releaseStep2 = make(chan struct{})

func Step1(ctx context.Context) (string, error) {
	stepCalls[0].Add(1)
	return "one", nil
}

func Step2(ctx context.Context, prev string) (string, error) {
	stepCalls[1].Add(1)
	select {
	case <-releaseStep2:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	return prev + "+two", nil
}

func TwoStepWorkflow(ctx workflow.Context) (string, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 30 * time.Second})
	var a, b string
	if err := workflow.ExecuteActivity(ctx, Step1).Get(ctx, &a); err != nil {
		return "", err
	}
	if err := workflow.ExecuteActivity(ctx, Step2, a).Get(ctx, &b); err != nil {
		return "", err
	}
	return b, nil
}

// startChildWorker runs this test binary as a workflow worker process.
func startChildWorker(t *testing.T, url string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	testsrv.Must(t, err)
	child := exec.Command(exe, "-test.run=^$")
	child.Env = append(os.Environ(), "DF_TEST_CHILD_WORKER="+url)
	out, err := child.StdoutPipe()
	testsrv.Must(t, err)
	child.Stderr = os.Stderr
	testsrv.Must(t, child.Start())
	t.Cleanup(func() { _ = child.Process.Kill(); _ = child.Wait() })
	buf := make([]byte, 6)
	if _, err := out.Read(buf); err != nil || !strings.HasPrefix(string(buf), "ready") {
		t.Fatalf("child worker did not start: %q %v", buf, err)
	}
	return child
}

func TestWorkflowWorkerKilledMidRun(t *testing.T) {
	stepCalls[0].Store(0)
	stepCalls[1].Store(0)
	releaseStep2 = make(chan struct{})
	s := testsrv.Start(t)
	c := testsrv.Client(t, s)
	// Activities run here; the workflow worker is a child process.
	startWorker(t, c, func(w *worker.Worker) {
		testsrv.Must(t, w.RegisterActivity(Step1))
		testsrv.Must(t, w.RegisterActivity(Step2))
	})
	child := startChildWorker(t, s.ClientURL())

	ctx := testsrv.Context(t, 60*time.Second)
	run, err := c.ExecuteWorkflow(ctx, client.StartOptions{ID: "killed"}, TwoStepWorkflow)
	testsrv.Must(t, err)
	testsrv.WaitFor(t, ctx, "step 2 running", func() bool { return stepCalls[1].Load() == 1 })

	testsrv.Must(t, child.Process.Signal(syscall.SIGKILL))
	_ = child.Wait()
	close(releaseStep2) // step 2 reports while no workflow worker is alive

	startWorker(t, c, func(w *worker.Worker) { testsrv.Must(t, w.RegisterWorkflow(TwoStepWorkflow)) })
	var got string
	testsrv.Must(t, run.Get(ctx, &got))
	if got != "one+two" {
		t.Fatalf("got %q", got)
	}
	if n1, n2 := stepCalls[0].Load(), stepCalls[1].Load(); n1 != 1 || n2 != 1 {
		t.Fatalf("step 1 ran %d times, step 2 %d times; want once each", n1, n2)
	}
	evs, err := c.History(ctx, "killed", "")
	testsrv.Must(t, err)
	checkWellFormed(t, evs)
}

// checkWellFormed asserts the structural invariants of a history: seqs are
// 1..n without gaps, each scheduled activity has at most one outcome, every
// outcome points at a scheduled activity, every command names the input it
// answered, and nothing follows the close.
func checkWellFormed(t *testing.T, evs []history.Event) {
	t.Helper()
	outcomes := map[int64]int{}
	for i, ev := range evs {
		if ev.Seq != int64(i+1) {
			t.Fatalf("event %d has seq %d: %v", i, ev.Seq, types(evs))
		}
		switch {
		case ev.Type == history.TimerCanceled || ev.Type == history.ActivityCancelRequested:
			// These name the timer or activity they cancel.
			if ev.Cause < 1 || ev.Cause >= ev.Seq || !evs[ev.Cause-1].Type.IsCommand() {
				t.Fatalf("%s %d names %d, not an earlier command", ev.Type, ev.Seq, ev.Cause)
			}
		case ev.Type.IsCommand() && (ev.Cause < 1 || ev.Cause >= ev.Seq || evs[ev.Cause-1].Type.IsCommand()):
			t.Fatalf("command %d (%s) names cause %d, not an earlier input event", ev.Seq, ev.Type, ev.Cause)
		}
		switch ev.Type {
		case history.ActivityCompleted, history.ActivityFailed:
			if ev.Cause < 1 || int(ev.Cause) > len(evs) || evs[ev.Cause-1].Type != history.ActivityScheduled {
				t.Fatalf("event %d answers %d, not a scheduled activity", ev.Seq, ev.Cause)
			}
			outcomes[ev.Cause]++
			if outcomes[ev.Cause] > 1 {
				t.Fatalf("activity %d has %d outcomes", ev.Cause, outcomes[ev.Cause])
			}
		case history.WorkflowCompleted, history.WorkflowFailed:
			if i != len(evs)-1 {
				t.Fatalf("events after the close: %v", types(evs))
			}
		}
	}
}

// ---- two workers racing on the same runs ----

func FanWorkflow(ctx workflow.Context, n int) (int, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{RetryPolicy: fastRetry})
	futs := make([]workflow.Future, n)
	for i := range futs {
		futs[i] = workflow.ExecuteActivity(ctx, Add, i, 1)
	}
	sum := 0
	for _, f := range futs {
		var v int
		if err := f.Get(ctx, &v); err != nil {
			return 0, err
		}
		sum += v
	}
	return sum, nil
}

func TestTwoWorkersRacingOnOneRun(t *testing.T) {
	s := testsrv.Start(t)
	c := testsrv.Client(t, s)
	// Two workflow workers with their own caches and connections: the
	// activity results of one run land on both, concurrently.
	for range 2 {
		wc := testsrv.Client(t, s)
		startWorker(t, wc, func(w *worker.Worker) { testsrv.Must(t, w.RegisterWorkflow(FanWorkflow)) })
	}
	startWorker(t, c, func(w *worker.Worker) { testsrv.Must(t, w.RegisterActivity(Add)) })
	ctx := testsrv.Context(t, 60*time.Second)
	const runs, fan = 20, 20
	handles := make([]client.WorkflowRun, runs)
	for i := range handles {
		r, err := c.ExecuteWorkflow(ctx, client.StartOptions{ID: fmt.Sprintf("race-%d", i)}, FanWorkflow, fan)
		testsrv.Must(t, err)
		handles[i] = r
	}
	for _, r := range handles {
		var got int
		testsrv.Must(t, r.Get(ctx, &got))
		if want := fan * (fan + 1) / 2; got != want {
			t.Fatalf("%s: got %d want %d", r.ID(), got, want)
		}
		evs, err := c.History(ctx, r.ID(), "")
		testsrv.Must(t, err)
		checkWellFormed(t, evs)
		if len(evs) != 2+2*fan {
			t.Fatalf("%s: %d events, want %d", r.ID(), len(evs), 2+2*fan)
		}
	}
}

// ---- the dev server restarted on the same store keeps every run ----

func TestServerRestartKeepsRuns(t *testing.T) {
	dir := t.TempDir()
	s := testsrv.StartIn(t, dir)
	ctx := testsrv.Context(t, 60*time.Second)
	c, err := client.Dial(ctx, client.Options{URL: s.ClientURL()})
	testsrv.Must(t, err)
	wctx, stopWorker := context.WithCancel(ctx)
	w := worker.New(c, worker.Options{Logger: testsrv.Logger(t)})
	testsrv.Must(t, w.RegisterWorkflow(SumWorkflow))
	testsrv.Must(t, w.RegisterActivity(Add))
	done := make(chan error, 1)
	go func() { done <- w.Run(wctx) }()
	for i := range 5 {
		r, err := c.ExecuteWorkflow(ctx, client.StartOptions{ID: fmt.Sprintf("keep-%d", i)}, SumWorkflow, 3)
		testsrv.Must(t, err)
		testsrv.Must(t, r.Get(ctx, nil))
	}
	// One more that is still open when the server goes down.
	_, err = c.ExecuteWorkflow(ctx, client.StartOptions{ID: "keep-open"}, SumWorkflow, 2)
	testsrv.Must(t, err)
	stopWorker()
	testsrv.Must(t, <-done)
	c.Close()
	s.Stop()

	s2 := testsrv.StartIn(t, dir)
	c2 := testsrv.Client(t, s2)
	list, err := c2.ListWorkflows(ctx, client.ListFilter{})
	testsrv.Must(t, err)
	if len(list) != 6 {
		t.Fatalf("after restart %d runs listed, want 6", len(list))
	}
	for i := range 5 {
		var got int
		testsrv.Must(t, c2.GetWorkflow(fmt.Sprintf("keep-%d", i), "").Get(ctx, &got))
		if got != 3 {
			t.Fatalf("keep-%d: %d", i, got)
		}
	}
	startWorker(t, c2, func(w *worker.Worker) {
		testsrv.Must(t, w.RegisterWorkflow(SumWorkflow))
		testsrv.Must(t, w.RegisterActivity(Add))
	})
	var got int
	testsrv.Must(t, c2.GetWorkflow("keep-open", "").Get(ctx, &got))
	if got != 1 {
		t.Fatalf("keep-open: %d", got)
	}
}

// ---- start refused while running; bad input ----

func Wait(ctx context.Context) error {
	<-ctx.Done()
	return ctx.Err()
}

func BlockingWorkflow(ctx workflow.Context, s string, n int) error {
	return workflow.ExecuteActivity(ctx, Wait).Get(ctx, nil)
}

func TestStartValidation(t *testing.T) {
	s := testsrv.Start(t)
	c := testsrv.Client(t, s)
	startWorker(t, c, func(w *worker.Worker) { testsrv.Must(t, w.RegisterWorkflow(BlockingWorkflow)) })
	ctx := testsrv.Context(t, 20*time.Second)
	_, err := c.ExecuteWorkflow(ctx, client.StartOptions{ID: "dup"}, BlockingWorkflow, "a", 1)
	testsrv.Must(t, err)
	_, err = c.ExecuteWorkflow(ctx, client.StartOptions{ID: "dup"}, BlockingWorkflow, "a", 1)
	if !errors.Is(err, failure.ErrWorkflowAlreadyRunning) {
		t.Fatalf("second start of a running ID: %v", err)
	}
	_, err = c.ExecuteWorkflow(ctx, client.StartOptions{}, BlockingWorkflow, "a", "not a number")
	if err == nil || !strings.Contains(err.Error(), "argument 2") {
		t.Fatalf("argument type mismatch: %v", err)
	}
	_, err = c.ExecuteWorkflow(ctx, client.StartOptions{ID: "bad\x00id"}, BlockingWorkflow, "a", 1)
	if err == nil || !strings.Contains(err.Error(), "control characters") {
		t.Fatalf("bad id: %v", err)
	}
	_, err = c.ExecuteWorkflow(ctx, client.StartOptions{}, BlockingWorkflow, strings.Repeat("x", 300*1024), 1)
	if !errors.Is(err, failure.ErrPayloadTooLarge) {
		t.Fatalf("oversized input: %v", err)
	}
	// A JSON argument of the wrong type blocks the run (DF1005: the code's
	// parameters may have changed under a running workflow), naming the
	// position.
	run, err := c.StartJSON(ctx, client.StartOptions{ID: "bad-arg"}, "BlockingWorkflow", json.RawMessage(`["a", "b"]`))
	testsrv.Must(t, err)
	var blocked string
	testsrv.WaitFor(t, ctx, "the run blocked", func() bool {
		d, err := c.Describe(ctx, "bad-arg", "")
		blocked = ""
		if err == nil {
			blocked = d.Blocked
		}
		return blocked != ""
	})
	if !strings.Contains(blocked, "DF1005") || !strings.Contains(blocked, "argument 2") {
		t.Fatalf("JSON mismatch: blocked %q", blocked)
	}
	// IDs with any characters map to valid subjects and back.
	run, err = c.StartJSON(ctx, client.StartOptions{ID: "order #42 / é.*>"}, "BlockingWorkflow", json.RawMessage(`["a", 1]`))
	testsrv.Must(t, err)
	d, err := c.Describe(ctx, "order #42 / é.*>", "")
	testsrv.Must(t, err)
	if d.WorkflowID != "order #42 / é.*>" || d.RunID != run.RunID() {
		t.Fatalf("describe: %+v", d)
	}
}
