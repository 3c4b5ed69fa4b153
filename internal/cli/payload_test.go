package cli_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/durablefuture/durablefuture/internal/cli"
	"github.com/durablefuture/durablefuture/internal/testsrv"
	"github.com/durablefuture/durablefuture/pkg/engine"
	"github.com/durablefuture/durablefuture/pkg/history"
	"github.com/durablefuture/durablefuture/pkg/sdk/replayer"
	"github.com/durablefuture/durablefuture/pkg/sdk/worker"
	"github.com/durablefuture/durablefuture/pkg/sdk/workflow"
)

// EchoBack returns its input.
func EchoBack(ctx context.Context, s string) (string, error) { return s, nil }

// WideCLI schedules n activities at once, each with a size-byte input.
func WideCLI(ctx workflow.Context, n, size int) (int, error) {
	futs := make([]workflow.Future, n)
	for i := range futs {
		futs[i] = workflow.ExecuteActivity(ctx, EchoBack, strings.Repeat(string(rune('a'+i)), size))
	}
	total := 0
	for _, f := range futs {
		var s string
		if err := f.Get(ctx, &s); err != nil {
			return 0, err
		}
		total += len(s)
	}
	return total, nil
}

// payloadEnv is a stock (1 MiB max_payload) server with a worker for the
// large-payload workflows.
func payloadEnv(t *testing.T) env {
	t.Helper()
	s := testsrv.Start(t)
	c := testsrv.Client(t, s)
	testsrv.RunWorker(t, c, worker.Options{Logger: slog.New(slog.DiscardHandler)}, func(w *worker.Worker) {
		testsrv.Must(t, w.RegisterWorkflow(WideCLI))
		testsrv.Must(t, w.RegisterActivity(EchoBack))
		testsrv.Must(t, w.RegisterWorkflow(FloodCLI))
	})
	return env{url: s.ClientURL()}
}

// A run whose decision held 1.2 MB of activity inputs (stored out of line)
// shows as a self-contained history file with inline values, which the
// replayer accepts.
func TestShowInlinesLargePayloads(t *testing.T) {
	e := payloadEnv(t)
	const size = 200 * 1024
	expectCode(t, e.run(t, false, "start", "WideCLI", "--id", "wide-cli", "--input", "6", "--input", "204800"), 0)
	r := e.run(t, false, "result", "wide-cli", "--wait")
	expectCode(t, r, 0)
	if strings.TrimSpace(r.out) != "1228800" {
		t.Fatalf("result %q", r.out)
	}
	r = e.run(t, false, "show", "wide-cli", "-o", "json")
	expectCode(t, r, 0)
	if strings.Contains(r.out, "_ref") {
		t.Fatal("show -o json holds blob references")
	}
	f, err := history.DecodeFile(strings.NewReader(r.out))
	testsrv.Must(t, err)
	n := 0
	for _, ev := range f.Events {
		if ev.Type == history.ActivityScheduled {
			var args []string
			testsrv.Must(t, json.Unmarshal(ev.Input, &args))
			if len(args) != 1 || args[0] != strings.Repeat(string(rune('a'+n)), size) {
				t.Fatalf("event %d: input of %d bytes is not the %d-byte argument", ev.Seq, len(ev.Input), size)
			}
			n++
		}
	}
	if n != 6 {
		t.Fatalf("%d activities in the file", n)
	}
	rp := replayer.New()
	testsrv.Must(t, rp.RegisterWorkflow(WideCLI))
	if err := rp.ReplayHistory(f); err != nil {
		t.Fatalf("replay of show -o json: %v", err)
	}
	expectCode(t, e.run(t, false, "show", "wide-cli"), 0)
}

// FloodCLI schedules n activities in one decision.
func FloodCLI(ctx workflow.Context, n int) error {
	futs := make([]workflow.Future, n)
	for i := range futs {
		futs[i] = workflow.ExecuteActivity(ctx, EchoBack, "x")
	}
	for _, f := range futs {
		if err := f.Get(ctx, nil); err != nil {
			return err
		}
	}
	return nil
}

// A decision too large for the server blocks the run, and execute,
// describe and list (on a terminal) say so while it waits.
func TestDecisionTooLargeIsReported(t *testing.T) {
	e := payloadEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	errOut := &syncBuffer{want: "decision too large", found: make(chan struct{})}
	done := make(chan int, 1)
	go func() {
		ios := &cli.IOStreams{In: strings.NewReader(""), Out: &syncBuffer{}, ErrOut: errOut}
		done <- cli.Run(ctx, []string{"-s", e.url, "execute", "FloodCLI", "--id", "flood-cli", "--input", "12000"}, ios)
	}()
	select {
	case <-errOut.found:
	case code := <-done:
		t.Fatalf("execute ended with %d before reporting the blocked run: %s", code, errOut.String())
	case <-ctx.Done():
		t.Fatalf("execute reported nothing while the run was blocked: %s", errOut.String())
	}
	for _, want := range []string{"Blocked:", "max_payload 1048576", "12000 events", "does less in one step"} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("execute's stderr does not say %q: %s", want, errOut.String())
		}
	}
	cancel()
	if code := <-done; code != cli.ExitInterrupt {
		t.Errorf("execute interrupted: exit %d", code)
	}

	var ri engine.RunInfo
	testsrv.WaitFor(t, testsrv.Context(t, 30*time.Second), "describe to show the run blocked", func() bool {
		r := e.run(t, false, "describe", "flood-cli", "-o", "json")
		ri = decode[engine.RunInfo](t, r.out)
		return r.code == 0 && ri.Blocked != ""
	})
	if ri.Status != engine.StatusRunning || !strings.Contains(ri.Blocked, "decision too large") {
		t.Fatalf("describe: %+v", ri)
	}
	r := e.run(t, false, "describe", "flood-cli")
	expectCode(t, r, 0)
	if !strings.Contains(r.out, "decision too large") {
		t.Fatalf("describe text does not show the reason:\n%s", r.out)
	}
	r = e.run(t, true, "list")
	expectCode(t, r, 0)
	if !strings.Contains(r.out, "blocked") {
		t.Fatalf("list does not show the run blocked:\n%s", r.out)
	}
}
