package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/durablefuture/durablefuture/examples/scenarios"
	"github.com/durablefuture/durablefuture/internal/cli"
	"github.com/durablefuture/durablefuture/internal/testsrv"
	"github.com/durablefuture/durablefuture/pkg/engine"
	"github.com/durablefuture/durablefuture/pkg/history"
	"github.com/durablefuture/durablefuture/pkg/sdk/failure"
	"github.com/durablefuture/durablefuture/pkg/sdk/worker"
	"github.com/durablefuture/durablefuture/pkg/sdk/workflow"
)

func Hello(ctx context.Context, name string) (string, error) { return "Hello, " + name, nil }

func Declined(ctx context.Context) error {
	return failure.NewNonRetryableError("card declined", "CardDeclined")
}

func GreetWorkflow(ctx workflow.Context, name string) (string, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 5 * time.Second})
	var out string
	err := workflow.ExecuteActivity(ctx, Hello, name).Get(ctx, &out)
	return out, err
}

// Countdown sums n, n-1, ... 1, one run of the chain per step.
func Countdown(ctx workflow.Context, n, total int) (int, error) {
	if n == 0 {
		return total, nil
	}
	return 0, workflow.NewContinueAsNewError(ctx, Countdown, n-1, total+n)
}

// WaitForSignal returns the first "go" signal's input.
func WaitForSignal(ctx workflow.Context) (string, error) {
	var v string
	workflow.GetSignalChannel(ctx, "go").Receive(ctx, &v)
	return "got " + v, nil
}

func ChargeWorkflow(ctx workflow.Context) (string, error) {
	err := workflow.ExecuteActivity(ctx, Declined).Get(ctx, nil)
	return "", fmt.Errorf("charge failed: %w", err)
}

// syncBuffer is a buffer that can be read while a command writes to it, and
// that signals when a wanted string has been written.
type syncBuffer struct {
	mu    sync.Mutex
	b     bytes.Buffer
	want  string
	found chan struct{}
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := s.b.Write(p)
	if s.want != "" && strings.Contains(s.b.String(), s.want) {
		s.want = ""
		close(s.found)
	}
	return n, err
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type result struct {
	code        int
	out, errOut string
}

// dfctl runs the CLI with fake streams; tty says whether both are terminals.
func dfctl(t *testing.T, ctx context.Context, tty bool, args ...string) result {
	t.Helper()
	var out, errOut syncBuffer
	ios := &cli.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut, OutTTY: tty, ErrTTY: tty}
	code := cli.Run(ctx, args, ios)
	return result{code, out.String(), errOut.String()}
}

// env is a server with a worker for the test workflows.
type env struct {
	url string
}

func newEnv(t *testing.T) env {
	t.Helper()
	s := testsrv.Start(t)
	c := testsrv.Client(t, s)
	w := worker.New(c, worker.Options{WorkflowTaskTimeout: 2 * time.Second, ShutdownTimeout: 2 * time.Second, Logger: slog.New(slog.DiscardHandler)})
	for _, err := range []error{
		w.RegisterWorkflow(GreetWorkflow), w.RegisterWorkflow(ChargeWorkflow), w.RegisterWorkflow(WaitForSignal), w.RegisterWorkflow(Countdown),
		w.RegisterActivity(Hello), w.RegisterActivity(Declined),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("worker: %v", err)
		}
	})
	return env{url: s.ClientURL()}
}

func (e env) run(t *testing.T, tty bool, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return dfctl(t, ctx, tty, append([]string{"-s", e.url}, args...)...)
}

func expectCode(t *testing.T, r result, code int) {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, code, r.out, r.errOut)
	}
}

func decode[T any](t *testing.T, s string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("decode %q: %v", s, err)
	}
	return v
}

func TestJSONContracts(t *testing.T) {
	e := newEnv(t)

	r := e.run(t, false, "start", "GreetWorkflow", "--id", "greet-1", "--input", `"Ann"`, "-o", "json")
	expectCode(t, r, 0)
	started := decode[map[string]any](t, r.out)
	for k, want := range map[string]any{"workflow_id": "greet-1", "type": "GreetWorkflow", "task_queue": "default", "status": "running"} {
		if started[k] != want {
			t.Errorf("start -o json: %s = %v, want %v", k, started[k], want)
		}
	}
	runID, _ := started["run_id"].(string)
	if runID == "" {
		t.Fatalf("start -o json has no run_id: %s", r.out)
	}

	r = e.run(t, false, "result", "greet-1", "--wait")
	expectCode(t, r, 0)
	if strings.TrimSpace(r.out) != `"Hello, Ann"` {
		t.Fatalf("result: got %q", r.out)
	}

	r = e.run(t, false, "describe", "greet-1", "-o", "json")
	expectCode(t, r, 0)
	desc := decode[engine.RunInfo](t, r.out)
	if desc.Status != engine.StatusCompleted || desc.RunID != runID || string(desc.Result) != `"Hello, Ann"` || desc.CloseTime == nil {
		t.Fatalf("describe -o json: %+v", desc)
	}
	r = e.run(t, false, "describe", "greet-1", "--run", runID)
	expectCode(t, r, 0)
	if !strings.Contains(r.out, "status\tcompleted\n") || !strings.Contains(r.out, "run_id\t"+runID) {
		t.Fatalf("describe non-TTY text:\n%s", r.out)
	}

	r = e.run(t, false, "show", "greet-1", "-o", "json")
	expectCode(t, r, 0)
	f, err := history.DecodeFile(strings.NewReader(r.out))
	if err != nil {
		t.Fatalf("show -o json is not a history file: %v\n%s", err, r.out)
	}
	if f.WorkflowID != "greet-1" || f.RunID != runID || f.Type != "GreetWorkflow" || f.TaskQueue != "default" || len(f.Events) != 4 {
		t.Fatalf("history file: %+v", f)
	}
	wantTypes := []history.EventType{history.WorkflowStarted, history.ActivityScheduled, history.ActivityCompleted, history.WorkflowCompleted}
	for i, ev := range f.Events {
		if ev.Type != wantTypes[i] {
			t.Fatalf("event %d is %s, want %s", i+1, ev.Type, wantTypes[i])
		}
	}

	r = e.run(t, false, "show", "greet-1", "-o", "jsonl")
	expectCode(t, r, 0)
	lines := strings.Split(strings.TrimSpace(r.out), "\n")
	if len(lines) != 4 || decode[history.Event](t, lines[3]).Type != history.WorkflowCompleted {
		t.Fatalf("show -o jsonl:\n%s", r.out)
	}

	r = e.run(t, false, "show", "greet-1")
	expectCode(t, r, 0)
	lines = strings.Split(strings.TrimSpace(r.out), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[2], "3\t") || !strings.Contains(lines[2], "\tActivityCompleted\tHello #1 → \"Hello, Ann\"") {
		t.Fatalf("show non-TTY:\n%s", r.out)
	}
	if strings.Contains(r.out, "\x1b[") {
		t.Fatalf("non-TTY output has colour codes:\n%q", r.out)
	}

	r = e.run(t, true, "show", "greet-1", "--follow")
	expectCode(t, r, 0)
	if !strings.Contains(r.out, "SEQ") || !strings.Contains(r.out, "workflow completed") {
		t.Fatalf("show --follow on a TTY:\n%s", r.out)
	}

	r = e.run(t, false, "execute", "ChargeWorkflow", "--id", "charge-1")
	expectCode(t, r, 1)

	r = e.run(t, false, "list", "-o", "json")
	expectCode(t, r, 0)
	list := decode[[]engine.RunInfo](t, r.out)
	if len(list) != 2 || list[0].WorkflowID != "charge-1" || list[0].Status != engine.StatusFailed || list[0].Failure == nil || list[1].WorkflowID != "greet-1" {
		t.Fatalf("list -o json: %+v", list)
	}
	r = e.run(t, false, "list", "--status", "completed", "-o", "jsonl")
	expectCode(t, r, 0)
	if lines := strings.Split(strings.TrimSpace(r.out), "\n"); len(lines) != 1 || decode[engine.RunInfo](t, lines[0]).WorkflowID != "greet-1" {
		t.Fatalf("list --status completed -o jsonl:\n%s", r.out)
	}
	r = e.run(t, false, "list", "--type", "ChargeWorkflow")
	expectCode(t, r, 0)
	if fields := strings.Split(strings.TrimSpace(r.out), "\t"); len(fields) != 6 || fields[0] != "charge-1" || fields[2] != "failed" {
		t.Fatalf("list non-TTY:\n%s", r.out)
	}
	r = e.run(t, true, "list")
	expectCode(t, r, 0)
	if !strings.Contains(r.out, "WORKFLOW ID") || !strings.Contains(r.out, "ago") {
		t.Fatalf("list on a TTY:\n%s", r.out)
	}

	r = e.run(t, false, "result", "charge-1")
	expectCode(t, r, 1)
	if !strings.Contains(r.errOut, "card declined") || r.out != "" {
		t.Fatalf("result of a failed run: stdout %q stderr %q", r.out, r.errOut)
	}
}

func TestExecuteExitCodes(t *testing.T) {
	e := newEnv(t)
	r := e.run(t, false, "execute", "GreetWorkflow", "--input", `"Bo"`)
	expectCode(t, r, 0)
	if strings.TrimSpace(r.out) != `"Hello, Bo"` {
		t.Fatalf("execute non-TTY: stdout %q", r.out)
	}

	r = e.run(t, true, "execute", "GreetWorkflow", "--input", `"Cy"`)
	expectCode(t, r, 0)
	for _, want := range []string{"workflow started", "activity completed", "workflow completed", "Result:", `"Hello, Cy"`} {
		if !strings.Contains(r.out, want) {
			t.Fatalf("execute on a TTY: no %q in\n%s", want, r.out)
		}
	}

	r = e.run(t, false, "execute", "ChargeWorkflow", "-o", "json")
	expectCode(t, r, 1)
	ri := decode[engine.RunInfo](t, r.out)
	if ri.Status != engine.StatusFailed || ri.Failure == nil || !strings.Contains(ri.Failure.Message, "card declined") {
		t.Fatalf("execute -o json of a failing workflow: %+v", ri)
	}
	r = e.run(t, false, "execute", "ChargeWorkflow")
	expectCode(t, r, 1)
	if !strings.Contains(r.errOut, "card declined") {
		t.Fatalf("execute of a failing workflow: stderr %q", r.errOut)
	}
}

func TestUsageErrors(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"malformed input", []string{"start", "GreetWorkflow", "--input", `"ok"`, "--input", `{bad`}, "--input #2"},
		{"bare string input", []string{"execute", "GreetWorkflow", "--input", `Ann`}, "--input #1"},
		{"malformed id", []string{"describe", "bad\x01id"}, "control characters"},
		{"long id", []string{"start", "GreetWorkflow", "--id", strings.Repeat("x", 300)}, "limit is 200"},
		{"bad task queue", []string{"start", "GreetWorkflow", "-q", "a.b"}, "task queue"},
		{"unknown flag", []string{"list", "--nope"}, "unknown flag"},
		{"missing argument", []string{"describe"}, "accepts 1 arg"},
		{"bad output", []string{"list", "-o", "yaml"}, "--output"},
		{"bad status", []string{"list", "--status", "done"}, "--status"},
		{"unknown command", []string{"frobnicate"}, "unknown command"},
		{"payload too large", []string{"start", "GreetWorkflow", "--input", `"` + strings.Repeat("x", 300*1024) + `"`}, "limit"},
		{"unknown scenario", []string{"demo", "nope"}, "unknown scenario"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.run(t, false, tc.args...)
			expectCode(t, r, cli.ExitUsage)
			if !strings.Contains(r.errOut, tc.want) {
				t.Fatalf("stderr %q does not say %q", r.errOut, tc.want)
			}
		})
	}
}

func TestAlreadyRunningIsRefused(t *testing.T) {
	e := newEnv(t)
	expectCode(t, e.run(t, false, "start", "NoSuchWorkflow", "--id", "dup"), 0)
	r := e.run(t, false, "start", "NoSuchWorkflow", "--id", "dup")
	expectCode(t, r, cli.ExitUsage)
	if !strings.Contains(r.errOut, "already running") {
		t.Fatalf("stderr: %q", r.errOut)
	}
}

func TestNotFound(t *testing.T) {
	e := newEnv(t)
	expectCode(t, e.run(t, false, "execute", "GreetWorkflow", "--id", "known", "--input", `"x"`), 0)
	for _, args := range [][]string{
		{"describe", "nope"}, {"show", "nope"}, {"show", "nope", "--follow"}, {"result", "nope", "--wait"},
		{"describe", "known", "--run", "0190b3a4-0000-7000-8000-000000000000"},
		{"show", "known", "--run", "0190b3a4-0000-7000-8000-000000000000", "--follow"},
	} {
		r := e.run(t, false, args...)
		expectCode(t, r, cli.ExitNotFound)
		if r.out != "" || !strings.HasPrefix(r.errOut, "Error: ") || strings.Count(strings.TrimSpace(r.errOut), "\n") != 0 {
			t.Fatalf("%v: want a one-line error, got stdout %q stderr %q", args, r.out, r.errOut)
		}
	}
}

func TestSignal(t *testing.T) {
	e := newEnv(t)
	expectCode(t, e.run(t, false, "start", "WaitForSignal", "--id", "waiter"), 0)
	expectCode(t, e.run(t, false, "signal", "waiter", "go", "--input", "not json"), cli.ExitUsage)
	r := e.run(t, false, "signal", "waiter", "go", "--input", `"now"`)
	expectCode(t, r, 0)
	if r.out != "" {
		t.Fatalf("signal printed data: %q", r.out)
	}
	r = e.run(t, false, "result", "waiter", "--wait")
	expectCode(t, r, 0)
	if strings.TrimSpace(r.out) != `"got now"` {
		t.Fatalf("result: %q", r.out)
	}
	r = e.run(t, false, "signal", "waiter", "go")
	expectCode(t, r, cli.ExitUsage)
	if !strings.Contains(r.errOut, "closed") {
		t.Fatalf("signal to a completed workflow: %q", r.errOut)
	}
	expectCode(t, e.run(t, false, "signal", "nobody", "go"), cli.ExitNotFound)
}

func TestCancelAndTerminate(t *testing.T) {
	e := newEnv(t)
	expectCode(t, e.run(t, false, "start", "WaitForSignal", "--id", "to-cancel"), 0)
	expectCode(t, e.run(t, false, "cancel", "to-cancel", "--reason", "not needed"), 0)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	testsrv.WaitFor(t, ctx, "the cancel request recorded", func() bool {
		return strings.Contains(e.run(t, false, "show", "to-cancel").out, "WorkflowCancelRequested")
	})
	// WaitForSignal ignores cancellation of its Receive: it keeps waiting,
	// so terminate ends it.
	expectCode(t, e.run(t, false, "terminate", "to-cancel", "--reason", "stuck"), 0)
	r := e.run(t, false, "describe", "to-cancel", "-o", "json")
	expectCode(t, r, 0)
	if ri := decode[map[string]any](t, r.out); ri["status"] != "terminated" {
		t.Fatalf("describe after terminate: %s", r.out)
	}
	r = e.run(t, false, "result", "to-cancel")
	expectCode(t, r, cli.ExitRunFailed)
	if !strings.Contains(r.errOut, "stuck") {
		t.Fatalf("result of a terminated run: %q", r.errOut)
	}
	r = e.run(t, false, "show", "to-cancel")
	expectCode(t, r, 0)
	if !strings.Contains(r.out, "WorkflowCancelRequested") || !strings.Contains(r.out, "WorkflowTerminated") {
		t.Fatalf("show:\n%s", r.out)
	}
	expectCode(t, e.run(t, false, "terminate", "to-cancel"), cli.ExitUsage)
	expectCode(t, e.run(t, false, "cancel", "nobody"), cli.ExitNotFound)
}

// execute, result --wait and describe follow a continue-as-new chain.
func TestContinueAsNewChain(t *testing.T) {
	e := newEnv(t)
	r := e.run(t, false, "execute", "Countdown", "--id", "chain", "--input", "3", "--input", "0", "-o", "json")
	expectCode(t, r, 0)
	if ri := decode[map[string]any](t, r.out); ri["status"] != "completed" || fmt.Sprint(ri["result"]) != "6" {
		t.Fatalf("execute -o json: %s", r.out)
	}
	r = e.run(t, true, "execute", "Countdown", "--id", "chain2", "--input", "2", "--input", "0")
	expectCode(t, r, 0)
	if n := strings.Count(r.out, "workflow continued as new"); n != 2 {
		t.Fatalf("execute shows %d continue-as-new events, want the 2 of the chain:\n%s", n, r.out)
	}
	if !strings.Contains(r.out, "workflow completed") {
		t.Fatalf("execute did not follow the chain to its end:\n%s", r.out)
	}
	r = e.run(t, false, "result", "chain", "--wait")
	expectCode(t, r, 0)
	if strings.TrimSpace(r.out) != "6" {
		t.Fatalf("result: %q", r.out)
	}
}

func TestServerDown(t *testing.T) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	r := dfctl(t, ctx, false, "-s", "nats://127.0.0.1:1", "list")
	expectCode(t, r, cli.ExitServer)
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("took %s to report a server that is down", d)
	}
	if !strings.Contains(r.errOut, "cannot connect to NATS at nats://127.0.0.1:1") || !strings.Contains(r.errOut, "dfctl dev") {
		t.Fatalf("stderr: %q", r.errOut)
	}
}

func TestUnknownTypeIsReportedWhileWaiting(t *testing.T) {
	e := newEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	errOut := &syncBuffer{want: "Blocked:", found: make(chan struct{})}
	done := make(chan int, 1)
	go func() {
		ios := &cli.IOStreams{In: strings.NewReader(""), Out: &syncBuffer{}, ErrOut: errOut}
		done <- cli.Run(ctx, []string{"-s", e.url, "execute", "NoSuchWorkflow", "--id", "blocked-1"}, ios)
	}()
	select {
	case <-errOut.found:
	case code := <-done:
		t.Fatalf("execute ended with %d before reporting the blocked run: %s", code, errOut.String())
	case <-ctx.Done():
		t.Fatalf("no blocked reason reported: %s", errOut.String())
	}
	if !strings.Contains(errOut.String(), "NoSuchWorkflow") {
		t.Fatalf("blocked reason does not name the type: %s", errOut.String())
	}
	cancel()
	<-done

	r := e.run(t, false, "result", "blocked-1")
	expectCode(t, r, cli.ExitNotReady)
	r = e.run(t, false, "describe", "blocked-1", "-o", "json")
	expectCode(t, r, 0)
	if ri := decode[engine.RunInfo](t, r.out); ri.Status != engine.StatusRunning || ri.Blocked == "" {
		t.Fatalf("describe of a blocked run: %+v", ri)
	}
}

func TestDemo(t *testing.T) {
	if len(scenarios.All()) == 0 {
		t.Skip("no scenarios registered in examples/scenarios yet")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	r := dfctl(t, ctx, false, "demo")
	expectCode(t, r, 0)
	for _, want := range []string{"SEQ", "workflow started", "activity attempt failed", "workflow completed", "Result:"} {
		if !strings.Contains(r.out, want) {
			t.Fatalf("demo output has no %q:\n%s", want, r.out)
		}
	}
	r = dfctl(t, ctx, false, "demo", "--list")
	expectCode(t, r, 0)
	if !strings.Contains(r.out, scenarios.DefaultName+"\t") {
		t.Fatalf("demo --list:\n%s", r.out)
	}
}

func TestBench(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	r := dfctl(t, ctx, false, "bench", "--workflows", "30", "--concurrency", "5", "-o", "json")
	expectCode(t, r, 0)
	rep := decode[map[string]any](t, r.out)
	if rep["workflows"] != 30.0 || rep["completed"] != 30.0 || rep["failed"] != 0.0 {
		t.Fatalf("bench: %v", rep)
	}
	for _, k := range []string{"workflows_per_sec", "p50_ms", "p99_ms", "seconds"} {
		if v, _ := rep[k].(float64); v <= 0 {
			t.Fatalf("bench: %s = %v", k, rep[k])
		}
	}
}

func TestExitCodeMapping(t *testing.T) {
	for _, tc := range []struct {
		err  error
		code int
	}{
		{nil, 0},
		{fmt.Errorf("x: %w", engine.ErrWorkflowNotFound), cli.ExitNotFound},
		{fmt.Errorf("x: %w", engine.ErrWorkflowAlreadyRunning), cli.ExitUsage},
		{fmt.Errorf("x: %w", engine.ErrPayloadTooLarge), cli.ExitUsage},
		{errors.New("something broke"), cli.ExitServer},
		{&cli.ExitError{Code: 1}, 1},
	} {
		if got := cli.ExitCode(tc.err); got != tc.code {
			t.Errorf("ExitCode(%v) = %d, want %d", tc.err, got, tc.code)
		}
	}
}
