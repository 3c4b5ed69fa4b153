//go:build e2e

package e2e

import (
	"context"
	"math/rand/v2"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/durablefuture/durablefuture/internal/testsrv"
	"github.com/durablefuture/durablefuture/pkg/engine"
	"github.com/durablefuture/durablefuture/pkg/sdk/worker"
	"github.com/durablefuture/durablefuture/pkg/sdk/workflow"
)

func KillEcho(ctx workflow.Context, s string) (string, error) { return "echo " + s, nil }

// No orphan starts (issue 8): `dfctl start` SIGKILLed 2-25 ms in, again
// and again, first with no worker running and then with one, leaves no run
// `running` without a task: once the task stream is drained by a worker,
// every workflow ID the runs index holds is closed (completed), and each
// killed start is either invisible or completed.
func TestStartKilledLeavesNoOrphan(t *testing.T) {
	bin := buildDfctl(t)
	s := testsrv.Start(t)
	c := testsrv.Client(t, s)
	ctx := testsrv.Context(t, 90*time.Second)
	startWorker := func() {
		testsrv.RunWorker(t, c, worker.Options{}, func(w *worker.Worker) {
			testsrv.Must(t, w.RegisterWorkflow(KillEcho))
		})
	}
	start := func(id string) *exec.Cmd {
		cmd := exec.Command(bin, "-s", s.ClientURL(), "start", "KillEcho", "--id", id, "--input", `"x"`)
		cmd.Env = append(os.Environ(), "NO_COLOR=1")
		testsrv.Must(t, cmd.Start())
		return cmd
	}
	// How long an unkilled start takes here, for the log.
	began := time.Now()
	if err := start("calibrate").Wait(); err != nil {
		t.Fatalf("dfctl start: %v", err)
	}
	t.Logf("an unkilled `dfctl start` takes %s", time.Since(began).Round(time.Millisecond))

	const kills = 200
	ids := make([]string, kills)
	for i := range kills {
		if i == kills/2 {
			startWorker()
		}
		ids[i] = "kill-" + string(rune('a'+i/26)) + string(rune('a'+i%26))
		cmd := start(ids[i])
		<-time.After(time.Duration(2000+rand.IntN(23001)) * time.Microsecond)
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}

	// The worker drains every task (a start task left by a killed client
	// included); then nothing else can change a run.
	st, err := c.Store().JS.Stream(ctx, "DF_TASKS")
	testsrv.Must(t, err)
	testsrv.WaitFor(t, ctx, "the task stream to be drained", func() bool {
		info, err := st.Info(ctx)
		return err == nil && info.State.Msgs == 0
	})
	runs, err := c.ListWorkflows(ctx, engine.ListFilter{})
	testsrv.Must(t, err)
	byID := map[string]engine.RunInfo{}
	for _, ri := range runs {
		byID[ri.WorkflowID] = ri
	}
	visible := 0
	for _, id := range ids {
		ri, ok := byID[id]
		if !ok {
			continue // killed before its start task was stored: invisible
		}
		visible++
		if ri.Status != engine.StatusCompleted || string(ri.Result) != `"echo x"` {
			evs, herr := c.History(ctx, id, "")
			t.Errorf("%s (run %s) is %s (result %s) with no task left; history %v %v", id, ri.RunID, ri.Status, ri.Result, evs, herr)
		}
	}
	t.Logf("%d starts killed 2-25 ms in: %d completed by a worker or their client, %d invisible", kills, visible, kills-visible)
	if ctx.Err() != nil {
		t.Fatal(context.Cause(ctx))
	}
}
