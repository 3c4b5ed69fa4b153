package cli_test

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/durablefuture/durablefuture/internal/cli"
	"github.com/durablefuture/durablefuture/internal/testsrv"
	"github.com/durablefuture/durablefuture/pkg/sdk/failure"
	"github.com/durablefuture/durablefuture/pkg/sdk/worker"
	"github.com/durablefuture/durablefuture/pkg/sdk/workflow"
)

type counterState struct {
	Count int    `json:"count"`
	Last  string `json:"last"`
}

// CounterWorkflow counts "add" signals until "stop"; its state is queryable.
func CounterWorkflow(ctx workflow.Context) (int, error) {
	st := counterState{}
	if err := workflow.SetQueryHandler(ctx, "state", func() (counterState, error) { return st, nil }); err != nil {
		return 0, err
	}
	if err := workflow.SetQueryHandler(ctx, "plus", func(n int) (int, error) { return st.Count + n, nil }); err != nil {
		return 0, err
	}
	if err := workflow.SetQueryHandler(ctx, "boom", func() (int, error) {
		return 0, failure.NewApplicationError("no boom today", "Boom")
	}); err != nil {
		return 0, err
	}
	ch := workflow.GetSignalChannel(ctx, "add")
	for {
		var s string
		ch.Receive(ctx, &s)
		if s == "stop" {
			return st.Count, nil
		}
		st.Count++
		st.Last = s
	}
}

func TestQueryCommand(t *testing.T) {
	s := testsrv.Start(t)
	e := env{url: s.ClientURL()}

	// No worker: exit 3 with the task queue named, quickly.
	expectCode(t, e.run(t, false, "start", "CounterWorkflow", "--id", "counter"), 0)
	begin := time.Now()
	r := e.run(t, false, "query", "counter", "state")
	expectCode(t, r, cli.ExitServer)
	if !strings.Contains(r.errOut, "no worker of task queue default") || r.out != "" {
		t.Fatalf("query without a worker: stdout %q stderr %q", r.out, r.errOut)
	}
	if d := time.Since(begin); d > 6*time.Second {
		t.Fatalf("query without a worker took %s", d)
	}

	c := testsrv.Client(t, s)
	testsrv.RunWorker(t, c, worker.Options{Logger: slog.New(slog.DiscardHandler)}, func(w *worker.Worker) {
		testsrv.Must(t, w.RegisterWorkflow(CounterWorkflow))
	})
	expectCode(t, e.run(t, false, "signal", "counter", "add", "--input", `"a"`), 0)
	expectCode(t, e.run(t, false, "signal", "counter", "add", "--input", `"b"`), 0)
	ctx := testsrv.Context(t, 30*time.Second)
	testsrv.WaitFor(t, ctx, "query state count 2", func() bool {
		r = e.run(t, false, "query", "counter", "state", "-o", "json")
		return r.code == 0 && decode[counterState](t, r.out).Count == 2
	})
	if st := decode[counterState](t, r.out); st.Last != "b" {
		t.Fatalf("query -o json: %s", r.out)
	}
	// Text output on a pipe: compact JSON, one line.
	r = e.run(t, false, "query", "counter", "state")
	expectCode(t, r, 0)
	if r.out != `{"count":2,"last":"b"}`+"\n" {
		t.Fatalf("query non-TTY: %q", r.out)
	}
	r = e.run(t, false, "query", "counter", "plus", "--input", "40")
	expectCode(t, r, 0)
	if strings.TrimSpace(r.out) != "42" {
		t.Fatalf("query plus 40: %q", r.out)
	}

	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"unknown query", []string{"query", "counter", "nope"}, cli.ExitUsage, "[boom plus state]"},
		{"wrong arguments", []string{"query", "counter", "plus"}, cli.ExitUsage, "takes 1 argument"},
		{"malformed input", []string{"query", "counter", "plus", "--input", "{x"}, cli.ExitUsage, "--input #1"},
		{"handler error", []string{"query", "counter", "boom"}, cli.ExitRunFailed, "no boom today"},
		{"unknown workflow", []string{"query", "nobody", "state"}, cli.ExitNotFound, "nobody"},
		{"unknown run", []string{"query", "counter", "state", "--run", "0190b3a4-0000-7000-8000-000000000000"}, cli.ExitNotFound, "no run"},
		{"missing name", []string{"query", "counter"}, cli.ExitUsage, "accepts 2 arg"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.run(t, false, tc.args...)
			expectCode(t, r, tc.code)
			if !strings.Contains(r.errOut, tc.want) || r.out != "" {
				t.Fatalf("stdout %q, stderr %q does not say %q", r.out, r.errOut, tc.want)
			}
		})
	}

	// A closed run answers from its end state.
	expectCode(t, e.run(t, false, "signal", "counter", "add", "--input", `"stop"`), 0)
	r = e.run(t, false, "result", "counter", "--wait")
	expectCode(t, r, 0)
	r = e.run(t, false, "query", "counter", "state", "-o", "jsonl")
	expectCode(t, r, 0)
	if r.out != `{"count":2,"last":"b"}`+"\n" {
		t.Fatalf("query of a closed run: %q", r.out)
	}
	r = e.run(t, false, "query", "--help")
	expectCode(t, r, 0)
	for _, want := range []string{"Exit codes:", "no worker", "no handler NAME"} {
		if !strings.Contains(r.out, want) {
			t.Fatalf("query --help does not say %q:\n%s", want, r.out)
		}
	}
}
