package cli_test

import (
	"strings"
	"testing"

	"github.com/durablefuture/durablefuture/internal/cli"
	"github.com/durablefuture/durablefuture/pkg/engine"
)

// --wait-timeout: execute and result --wait give up with exit 7, print the
// run as it stands and say how to wait again; the run goes on.
func TestWaitTimeout(t *testing.T) {
	e := newEnv(t)

	r := e.run(t, false, "execute", "WaitForSignal", "--id", "slow", "--wait-timeout", "300ms", "-o", "json")
	expectCode(t, r, cli.ExitWaitTimeout)
	ri := decode[engine.RunInfo](t, r.out)
	if ri.WorkflowID != "slow" || ri.RunID == "" || ri.Status != engine.StatusRunning || ri.Type != "WaitForSignal" {
		t.Fatalf("execute --wait-timeout -o json: %+v", ri)
	}
	for _, want := range []string{"still running", "dfctl result slow --run " + ri.RunID + " --wait"} {
		if !strings.Contains(r.errOut, want) {
			t.Fatalf("stderr does not say %q:\n%s", want, r.errOut)
		}
	}

	r = e.run(t, false, "result", "slow", "--wait", "--wait-timeout", "200ms")
	expectCode(t, r, cli.ExitWaitTimeout)
	if r.out != "" || !strings.Contains(r.errOut, "still running") {
		t.Fatalf("result --wait-timeout (text): stdout %q stderr %q", r.out, r.errOut)
	}
	// --wait-timeout alone implies --wait.
	r = e.run(t, false, "result", "slow", "--wait-timeout", "200ms", "-o", "json")
	expectCode(t, r, cli.ExitWaitTimeout)
	if got := decode[engine.RunInfo](t, r.out); got.RunID != ri.RunID || got.Status != engine.StatusRunning {
		t.Fatalf("result --wait-timeout -o json: %+v", got)
	}
	// Without --wait, -o json prints the running run too (exit 5).
	r = e.run(t, false, "result", "slow", "-o", "json")
	expectCode(t, r, cli.ExitNotReady)
	if got := decode[engine.RunInfo](t, r.out); got.Status != engine.StatusRunning {
		t.Fatalf("result -o json of a running run: %+v", got)
	}

	expectCode(t, e.run(t, false, "signal", "slow", "go", "--input", `"late"`), 0)
	r = e.run(t, false, "result", "slow", "--wait", "--wait-timeout", "20s")
	expectCode(t, r, 0)
	if strings.TrimSpace(r.out) != `"got late"` {
		t.Fatalf("result after the signal: %q", r.out)
	}
	// A run that closes within the timeout: execute as usual.
	r = e.run(t, false, "execute", "GreetWorkflow", "--input", `"Di"`, "--wait-timeout", "20s")
	expectCode(t, r, 0)
	if strings.TrimSpace(r.out) != `"Hello, Di"` {
		t.Fatalf("execute --wait-timeout of a quick run: %q", r.out)
	}

	r = e.run(t, false, "execute", "WaitForSignal", "--wait-timeout", "-1s")
	expectCode(t, r, cli.ExitUsage)
	if !strings.Contains(r.errOut, "--wait-timeout") {
		t.Fatalf("negative --wait-timeout: %q", r.errOut)
	}
}
