package cli_test

import (
	"strings"
	"testing"

	"github.com/durablefuture/durablefuture/internal/cli"
	"github.com/durablefuture/durablefuture/pkg/engine"
)

// batchSummary is the -o json contract of a batch action.
type batchSummary struct {
	Action    string `json:"action"`
	DryRun    bool   `json:"dry_run"`
	Filter    string `json:"filter"`
	Matched   int    `json:"matched"`
	Succeeded int    `json:"succeeded"`
	Failed    []struct {
		WorkflowID string `json:"workflow_id"`
		RunID      string `json:"run_id"`
		Error      string `json:"error"`
	} `json:"failed"`
	Skipped []struct {
		WorkflowID string `json:"workflow_id"`
		RunID      string `json:"run_id"`
		Reason     string `json:"reason"`
	} `json:"skipped"`
	NotRun int `json:"not_run"`
	Runs   []struct {
		WorkflowID string `json:"workflow_id"`
		RunID      string `json:"run_id"`
	} `json:"runs"`
}

// startRun starts a run and returns its run ID.
func (e env) startRun(t *testing.T, typ, id string) string {
	t.Helper()
	r := e.run(t, false, "start", typ, "--id", id, "-o", "json")
	expectCode(t, r, 0)
	return decode[engine.RunInfo](t, r.out).RunID
}

func (e env) status(t *testing.T, id string) engine.Status {
	t.Helper()
	r := e.run(t, false, "describe", id, "-o", "json")
	expectCode(t, r, 0)
	return decode[engine.RunInfo](t, r.out).Status
}

func TestBatchTerminate(t *testing.T) {
	e := newEnv(t)
	waiters := []string{"wait-1", "wait-2", "wait-3"}
	for _, id := range waiters {
		e.startRun(t, "WaitForSignal", id)
	}
	// Another type, running: untouched by a filter on WaitForSignal.
	e.startRun(t, "NoSuchWorkflow", "other")
	// A closed run of the type: skipped, not failed, with --status any.
	e.startRun(t, "WaitForSignal", "done-1")
	expectCode(t, e.run(t, false, "signal", "done-1", "go"), 0)
	expectCode(t, e.run(t, false, "result", "done-1", "--wait"), 0)

	// No terminal, no --yes: refused, nothing done.
	r := e.run(t, false, "terminate", "--type", "WaitForSignal")
	expectCode(t, r, cli.ExitUsage)
	if !strings.Contains(r.errOut, "--yes") || !strings.Contains(r.errOut, "3 runs match") {
		t.Fatalf("terminate without --yes on a non-TTY: %q", r.errOut)
	}

	r = e.run(t, false, "terminate", "--type", "WaitForSignal", "--dry-run", "-o", "json")
	expectCode(t, r, 0)
	dry := decode[batchSummary](t, r.out)
	if !dry.DryRun || dry.Matched != 3 || len(dry.Runs) != 3 || dry.Succeeded != 0 || dry.Action != "terminate" {
		t.Fatalf("--dry-run -o json: %s", r.out)
	}
	r = e.run(t, false, "terminate", "--type", "WaitForSignal", "--dry-run")
	expectCode(t, r, 0)
	if lines := strings.Split(strings.TrimSpace(r.out), "\n"); len(lines) != 3 || !strings.Contains(r.errOut, "nothing changed") {
		t.Fatalf("--dry-run text: stdout %q stderr %q", r.out, r.errOut)
	}
	for _, id := range append(waiters, "other") {
		if s := e.status(t, id); s != engine.StatusRunning {
			t.Fatalf("%s is %s after a refused and a dry run", id, s)
		}
	}

	r = e.run(t, false, "terminate", "--type", "WaitForSignal", "--status", "any", "--reason", "bulk", "--yes", "-o", "json")
	expectCode(t, r, 0)
	sum := decode[batchSummary](t, r.out)
	if sum.Action != "terminate" || sum.DryRun || sum.Matched != 4 || sum.Succeeded != 3 || len(sum.Failed) != 0 || sum.NotRun != 0 {
		t.Fatalf("summary: %s", r.out)
	}
	if len(sum.Skipped) != 1 || sum.Skipped[0].WorkflowID != "done-1" || !strings.Contains(sum.Skipped[0].Reason, "completed") {
		t.Fatalf("the completed run is not skipped: %s", r.out)
	}
	if r.errOut == "" || strings.Contains(r.errOut, "\r") {
		t.Fatalf("stderr off a terminal: want the match line and no progress line, got %q", r.errOut)
	}
	for _, id := range waiters {
		if s := e.status(t, id); s != engine.StatusTerminated {
			t.Fatalf("%s is %s, want terminated", id, s)
		}
	}
	if s := e.status(t, "other"); s != engine.StatusRunning {
		t.Fatalf("a run of another type is %s", s)
	}
	if s := e.status(t, "done-1"); s != engine.StatusCompleted {
		t.Fatalf("the completed run is %s", s)
	}
	r = e.run(t, false, "result", "wait-2")
	expectCode(t, r, cli.ExitRunFailed)
	if !strings.Contains(r.errOut, "bulk") {
		t.Fatalf("the reason is not recorded: %q", r.errOut)
	}

	// Nothing left to match: a summary of nothing, exit 0.
	r = e.run(t, false, "terminate", "--type", "WaitForSignal", "--yes", "-o", "json")
	expectCode(t, r, 0)
	if s := decode[batchSummary](t, r.out); s.Matched != 0 || s.Failed == nil || s.Skipped == nil {
		t.Fatalf("empty match: %s", r.out)
	}
}

// On a terminal: a progress line on stderr and a text summary.
func TestBatchCancelOnTTY(t *testing.T) {
	e := newEnv(t)
	e.startRun(t, "WaitForSignal", "c-1")
	e.startRun(t, "WaitForSignal", "c-2")
	r := e.run(t, true, "cancel", "--type", "WaitForSignal", "--yes")
	expectCode(t, r, 0)
	if !strings.Contains(r.errOut, "\r\x1b[Kcancel 2/2") {
		t.Fatalf("no progress line on a terminal: %q", r.errOut)
	}
	if !strings.Contains(r.out, "2 matched") || !strings.Contains(r.out, "2 done") {
		t.Fatalf("summary: %q", r.out)
	}
}

func TestBatchSignal(t *testing.T) {
	e := newEnv(t)
	for _, id := range []string{"s-1", "s-2"} {
		e.startRun(t, "WaitForSignal", id)
	}
	r := e.run(t, false, "signal", "go", "--type", "WaitForSignal", "--input", `"all"`, "--yes", "-o", "json")
	expectCode(t, r, 0)
	if s := decode[batchSummary](t, r.out); s.Action != "signal" || s.Matched != 2 || s.Succeeded != 2 {
		t.Fatalf("signal summary: %s", r.out)
	}
	for _, id := range []string{"s-1", "s-2"} {
		r := e.run(t, false, "result", id, "--wait", "--wait-timeout", "20s")
		expectCode(t, r, 0)
		if strings.TrimSpace(r.out) != `"got all"` {
			t.Fatalf("%s: %q", id, r.out)
		}
	}
}

// A batch where the action fails for every run: exit 8 and each error.
func TestBatchFailureExitCode(t *testing.T) {
	e := newEnv(t)
	e.startRun(t, "WaitForSignal", "r-1")
	r := e.run(t, false, "reset", "--type", "WaitForSignal", "--to-event", "999", "--yes", "-o", "json")
	expectCode(t, r, cli.ExitBatchFailed)
	s := decode[batchSummary](t, r.out)
	if s.Action != "reset" || s.Matched != 1 || s.Succeeded != 0 || len(s.Failed) != 1 || s.Failed[0].WorkflowID != "r-1" || !strings.Contains(s.Failed[0].Error, "--to-event 999") {
		t.Fatalf("reset summary: %s", r.out)
	}
	if !strings.Contains(r.errOut, "failed for 1 of 1 run") {
		t.Fatalf("stderr: %q", r.errOut)
	}
}

func TestBatchUsageErrors(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"ID and filter", []string{"terminate", "x", "--type", "T"}, "not both"},
		{"neither", []string{"cancel"}, "filter flags"},
		{"--run with a filter", []string{"terminate", "--type", "T", "--run", "0190b3a4-0000-7000-8000-000000000000"}, "--run"},
		{"--yes with an ID", []string{"terminate", "x", "--yes"}, "--yes"},
		{"bad --rps", []string{"terminate", "--type", "T", "--rps", "0"}, "--rps"},
		{"signal ID NAME and filter", []string{"signal", "x", "go", "--type", "T"}, "not both"},
		{"signal NAME alone", []string{"signal", "go"}, "filter flags"},
		{"reset without a point", []string{"reset", "--type", "T", "--yes"}, "--to-event"},
		{"bad status", []string{"terminate", "--status", "done", "--yes"}, "--status"},
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

// signal, cancel and terminate of one workflow print an acknowledgement
// with -o json, naming the run they reached.
func TestActionAcksJSON(t *testing.T) {
	e := newEnv(t)
	run1 := e.startRun(t, "WaitForSignal", "ack-1")
	run2 := e.startRun(t, "WaitForSignal", "ack-2")

	type ack struct {
		WorkflowID string `json:"workflow_id"`
		RunID      string `json:"run_id"`
		Action     string `json:"action"`
		Signal     string `json:"signal"`
		Reason     string `json:"reason"`
		Accepted   bool   `json:"accepted"`
	}
	r := e.run(t, false, "signal", "ack-1", "go", "--input", `"x"`, "-o", "json")
	expectCode(t, r, 0)
	if a := decode[ack](t, r.out); a != (ack{WorkflowID: "ack-1", RunID: run1, Action: "signal", Signal: "go", Accepted: true}) {
		t.Fatalf("signal ack: %s", r.out)
	}
	// Text off a terminal prints no data.
	r = e.run(t, false, "cancel", "ack-2", "--reason", "why not")
	expectCode(t, r, 0)
	if r.out != "" {
		t.Fatalf("cancel text printed data: %q", r.out)
	}
	r = e.run(t, false, "cancel", "ack-2", "--reason", "why not", "-o", "json")
	expectCode(t, r, 0)
	if a := decode[ack](t, r.out); a != (ack{WorkflowID: "ack-2", RunID: run2, Action: "cancel", Reason: "why not", Accepted: true}) {
		t.Fatalf("cancel ack: %s", r.out)
	}
	r = e.run(t, false, "terminate", "ack-2", "--run", run2, "-o", "jsonl")
	expectCode(t, r, 0)
	if a := decode[ack](t, r.out); a != (ack{WorkflowID: "ack-2", RunID: run2, Action: "terminate", Accepted: true}) || strings.Count(r.out, "\n") != 1 {
		t.Fatalf("terminate ack: %q", r.out)
	}
	// A failed action prints no acknowledgement.
	r = e.run(t, false, "terminate", "ack-2", "-o", "json")
	expectCode(t, r, cli.ExitUsage)
	if r.out != "" {
		t.Fatalf("terminate of a closed run printed %q", r.out)
	}
}
