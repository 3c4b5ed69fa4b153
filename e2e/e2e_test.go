//go:build e2e

// Package e2e drives the built dfctl binary against a `dfctl dev
// --examples` server, as a user would from a shell. Run it with
// `go test -tags e2e ./e2e/` (scripts/test.sh does).
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

type env struct {
	t     *testing.T
	bin   string
	url   string
	port  int
	store string
}

func buildDfctl(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "dfctl")
	out, err := exec.Command("go", "build", "-o", bin, "../cmd/dfctl").CombinedOutput()
	if err != nil {
		t.Fatalf("build dfctl: %v\n%s", err, out)
	}
	return bin
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startDev runs `dfctl dev --examples` and waits until it answers.
func (e *env) startDev() (stop func()) {
	t := e.t
	t.Helper()
	var logs bytes.Buffer
	cmd := exec.Command(e.bin, "dev", "--port", fmt.Sprint(e.port), "--store", e.store, "--examples")
	cmd.Stdout = &logs
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		_ = cmd.Process.Signal(syscall.SIGINT)
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("dfctl dev exited with %v on SIGINT\n%s", err, logs.String())
			}
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			t.Errorf("dfctl dev did not stop on SIGINT\n%s", logs.String())
		}
	}
	t.Cleanup(stop)
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, _, code := e.run("list"); code == 0 {
			return stop
		}
		select {
		case err := <-exited:
			t.Fatalf("dfctl dev exited: %v\n%s", err, logs.String())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("dfctl dev not answering after 30s\n%s", logs.String())
		}
	}
}

// run runs dfctl against the dev server and returns stdout, stderr and the exit code.
func (e *env) run(args ...string) (string, string, int) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, e.bin, append([]string{"-s", e.url}, args...)...)
	cmd.Env = append(os.Environ(), "NO_COLOR=1")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		e.t.Fatalf("dfctl %v: %v", args, err)
	}
	return out.String(), errOut.String(), code
}

func (e *env) mustJSON(v any, args ...string) {
	e.t.Helper()
	out, errOut, code := e.run(args...)
	if code != 0 {
		e.t.Fatalf("dfctl %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errOut)
	}
	if err := json.Unmarshal([]byte(out), v); err != nil {
		e.t.Fatalf("dfctl %s: stdout is not JSON: %v\n%s", strings.Join(args, " "), err, out)
	}
}

type runInfo struct {
	WorkflowID string          `json:"workflow_id"`
	RunID      string          `json:"run_id"`
	Type       string          `json:"type"`
	TaskQueue  string          `json:"task_queue"`
	Status     string          `json:"status"`
	Result     json.RawMessage `json:"result"`
	Failure    *struct {
		Message string `json:"message"`
		Type    string `json:"type"`
	} `json:"failure"`
}

var orderInput = []string{"--input", `"alice"`, "--input", `"widget-1000"`, "--input", "99.5", "--input", "2"}

func TestDfctlAgainstDevServer(t *testing.T) {
	e := &env{t: t, bin: buildDfctl(t), port: freePort(t), store: t.TempDir()}
	e.url = fmt.Sprintf("nats://127.0.0.1:%d", e.port)
	stop := e.startDev()

	// start prints the IDs; result --wait gives the result.
	var started runInfo
	e.mustJSON(&started, append([]string{"start", "OrderWorkflow", "--id", "e2e-order", "-o", "json"}, orderInput...)...)
	if started.WorkflowID != "e2e-order" || started.RunID == "" || started.Type != "OrderWorkflow" || started.TaskQueue != "default" || started.Status != "running" {
		t.Fatalf("start -o json: %+v", started)
	}
	var result map[string]any
	e.mustJSON(&result, "result", "e2e-order", "--wait")
	for _, k := range []string{"charge_id", "tracking_id", "carrier", "estimated_delivery"} {
		if result[k] == nil {
			t.Fatalf("result lacks %s: %v", k, result)
		}
	}
	var desc runInfo
	e.mustJSON(&desc, "describe", "e2e-order", "-o", "json")
	if desc.Status != "completed" || desc.RunID != started.RunID || len(desc.Result) == 0 {
		t.Fatalf("describe -o json: %+v", desc)
	}

	// show: the event table, and a history file.
	out, _, code := e.run("show", "e2e-order")
	if code != 0 || !strings.Contains(out, "WorkflowStarted") || !strings.Contains(out, "ActivityCompleted") || !strings.Contains(out, "WorkflowCompleted") {
		t.Fatalf("show (exit %d):\n%s", code, out)
	}
	var file struct {
		Version    int    `json:"version"`
		WorkflowID string `json:"workflow_id"`
		Records    []struct {
			Kind   string `json:"kind"`
			Events []struct {
				Seq  int    `json:"seq"`
				Type string `json:"type"`
			} `json:"events"`
		} `json:"records"`
	}
	e.mustJSON(&file, "show", "e2e-order", "-o", "json")
	if file.Version != 2 || file.WorkflowID != "e2e-order" || len(file.Records) < 3 || len(file.Records[0].Events) == 0 || file.Records[0].Events[0].Type != "WorkflowStarted" {
		t.Fatalf("history file: %+v", file)
	}

	// execute waits and reports the outcome in its exit status.
	var executed runInfo
	e.mustJSON(&executed, append([]string{"execute", "OrderWithRetriesWorkflow", "--id", "e2e-retries", "-o", "json"}, orderInput...)...)
	if executed.Status != "completed" {
		t.Fatalf("execute -o json: %+v", executed)
	}

	var list []runInfo
	e.mustJSON(&list, "list", "-o", "json")
	if len(list) != 2 || list[0].WorkflowID != "e2e-retries" || list[1].WorkflowID != "e2e-order" {
		t.Fatalf("list -o json (newest first): %+v", list)
	}
	out, _, code = e.run("list", "-o", "jsonl", "--status", "completed")
	if code != 0 || strings.Count(strings.TrimSpace(out), "\n") != 1 {
		t.Fatalf("list -o jsonl: exit %d\n%s", code, out)
	}

	// Bad input: clear errors and documented exit codes.
	if _, errOut, code := e.run("describe", "no-such-workflow"); code != 4 || !strings.Contains(errOut, "no-such-workflow") {
		t.Fatalf("describe of an unknown ID: exit %d, stderr %q", code, errOut)
	}
	if _, errOut, code := e.run("start", "OrderWorkflow", "--input", "{bad"); code != 2 || errOut == "" {
		t.Fatalf("malformed --input: exit %d, stderr %q", code, errOut)
	}
	if _, errOut, code := e.run("start", "OrderWorkflow", "--id", "e2e-order2", "--task-queue", "bad.queue"); code != 2 || errOut == "" {
		t.Fatalf("bad task queue: exit %d, stderr %q", code, errOut)
	}
	t0 := time.Now()
	cmd := exec.Command(e.bin, "-s", fmt.Sprintf("nats://127.0.0.1:%d", freePort(t)), "list")
	var errOut bytes.Buffer
	cmd.Stderr = &errOut
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 3 || time.Since(t0) > 15*time.Second || !strings.Contains(errOut.String(), "dfctl dev") {
		t.Fatalf("server down: %v after %s, stderr %q", err, time.Since(t0), errOut.String())
	}

	// The dev server restarted on the same store keeps every run.
	stop()
	e.startDev()
	e.mustJSON(&desc, "describe", "e2e-order", "-o", "json")
	if desc.Status != "completed" || desc.RunID != started.RunID {
		t.Fatalf("after restart: %+v", desc)
	}
}
