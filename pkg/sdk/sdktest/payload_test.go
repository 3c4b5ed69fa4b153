package sdktest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/durablefuture/durablefuture/internal/testsrv"
	"github.com/durablefuture/durablefuture/pkg/history"
	"github.com/durablefuture/durablefuture/pkg/sdk/client"
	"github.com/durablefuture/durablefuture/pkg/sdk/replayer"
	"github.com/durablefuture/durablefuture/pkg/sdk/worker"
	"github.com/durablefuture/durablefuture/pkg/sdk/workflow"
)

// These tests run against the test server's stock 1 MiB max_payload: each
// run below needs a decision whose payloads add up to more than that.

// EchoBig returns its input.
func EchoBig(ctx context.Context, s string) (string, error) { return s, nil }

// filler is size bytes of one letter, different for each i.
func filler(i, size int) string { return strings.Repeat(string(rune('a'+i%26)), size) }

// WideWorkflow schedules n activities at once, each with its own size-byte
// input, and returns the total length of what they echo.
func WideWorkflow(ctx workflow.Context, n, size int) (int, error) {
	futs := make([]workflow.Future, n)
	for i := range futs {
		futs[i] = workflow.ExecuteActivity(ctx, EchoBig, filler(i, size))
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

func TestLargeActivityInputsScheduledTogether(t *testing.T) {
	s := testsrv.Start(t)
	c := testsrv.Client(t, s)
	if mp := c.Store().Log.MaxRecordBytes() + history.RecordHeadroom; mp != 1024*1024 {
		t.Fatalf("the test server's max_payload is %d bytes, not the stock 1 MiB", mp)
	}
	startWorker(t, c, func(w *worker.Worker) {
		testsrv.Must(t, w.RegisterWorkflow(WideWorkflow))
		testsrv.Must(t, w.RegisterActivity(EchoBig))
	})
	ctx := testsrv.Context(t, 60*time.Second)
	const n, size = 6, 200 * 1024 // one decision: 1.2 MB of inputs
	run, err := c.ExecuteWorkflow(ctx, client.StartOptions{ID: "wide"}, WideWorkflow, n, size)
	testsrv.Must(t, err)
	var total int
	testsrv.Must(t, run.Get(ctx, &total))
	if total != n*size {
		t.Fatalf("total %d, want %d", total, n*size)
	}
	evs, err := c.History(ctx, "wide", "")
	testsrv.Must(t, err)
	checkWellFormed(t, evs)
	scheduled, completed := 0, 0
	for _, ev := range evs {
		switch ev.Type {
		case history.ActivityScheduled:
			want, _ := json.Marshal([]string{filler(scheduled, size)})
			if !bytes.Equal(ev.Input, want) {
				t.Fatalf("event %d: input of %d bytes read back, want %d", ev.Seq, len(ev.Input), len(want))
			}
			scheduled++
		case history.ActivityCompleted:
			if len(ev.Result) != size+2 {
				t.Fatalf("event %d: result of %d bytes", ev.Seq, len(ev.Result))
			}
			completed++
		}
	}
	if scheduled != n || completed != n {
		t.Fatalf("%d scheduled, %d completed", scheduled, completed)
	}
	replayFile(t, c, "wide", WideWorkflow)
}

// replayFile writes the history of workflow id as a history file and
// replays it offline.
func replayFile(t *testing.T, c *client.Client, id string, wf any) {
	t.Helper()
	ctx := testsrv.Context(t, 30*time.Second)
	ri, err := c.Describe(ctx, id, "")
	testsrv.Must(t, err)
	recs, _, err := c.Store().HistoryTolerant(ctx, id, ri.RunID)
	testsrv.Must(t, err)
	var buf bytes.Buffer
	testsrv.Must(t, history.NewFile(recs).Encode(&buf))
	f, err := history.DecodeFile(&buf)
	testsrv.Must(t, err)
	r := replayer.New()
	// One step of these workflows encodes megabytes of arguments: under
	// the race detector on a loaded 2-core machine it can outlast the
	// default 1s deadlock timeout (what is checked here is the payloads).
	r.SetDeadlockTimeout(30 * time.Second)
	testsrv.Must(t, r.RegisterWorkflow(wf))
	if err := r.ReplayHistory(f); err != nil {
		t.Fatalf("replay of the history file: %v", err)
	}
}

// BigSignalsWorkflow receives n "big" signals and returns, for each, its
// first letter and length, in the order received.
func BigSignalsWorkflow(ctx workflow.Context, n int) ([]string, error) {
	ch := workflow.GetSignalChannel(ctx, "big")
	var got []string
	for len(got) < n {
		var s string
		ch.Receive(ctx, &s)
		got = append(got, fmt.Sprintf("%c%d", s[0], len(s)))
	}
	return got, nil
}

func TestLargeSignalsAppliedInOrder(t *testing.T) {
	s := testsrv.Start(t)
	c := testsrv.Client(t, s)
	ctx := testsrv.Context(t, 60*time.Second)
	const n, size = 5, 220 * 1024
	// Accepted while no worker runs the workflow: the first wake-up finds
	// all five (1.1 MB) waiting.
	run, err := c.ExecuteWorkflow(ctx, client.StartOptions{ID: "big-signals"}, BigSignalsWorkflow, n)
	testsrv.Must(t, err)
	var want []string
	for i := range n {
		testsrv.Must(t, c.SignalWorkflow(ctx, "big-signals", "", "big", filler(i, size)))
		want = append(want, fmt.Sprintf("%c%d", 'a'+i, size))
	}
	startWorker(t, c, func(w *worker.Worker) { testsrv.Must(t, w.RegisterWorkflow(BigSignalsWorkflow)) })
	var got []string
	testsrv.Must(t, run.Get(ctx, &got))
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("signals received %v, want %v", got, want)
	}
	evs, err := c.History(ctx, "big-signals", "")
	testsrv.Must(t, err)
	checkWellFormed(t, evs)
	var last uint64
	i := 0
	for _, ev := range evs {
		if ev.Type != history.SignalReceived {
			continue
		}
		var v string
		testsrv.Must(t, json.Unmarshal(ev.Input, &v))
		if v != filler(i, size) || ev.SignalSeq <= last {
			t.Fatalf("signal event %d: %d bytes, signal seq %d after %d", ev.Seq, len(v), ev.SignalSeq, last)
		}
		last = ev.SignalSeq
		i++
	}
	if i != n {
		t.Fatalf("%d signals recorded, want %d", i, n)
	}
	replayFile(t, c, "big-signals", BigSignalsWorkflow)
}

// BigArgChild returns the length of its argument.
func BigArgChild(ctx workflow.Context, s string) (int, error) { return len(s), nil }

// BigArgParent starts n children at once, each with a size-byte argument.
func BigArgParent(ctx workflow.Context, n, size int) (int, error) {
	futs := make([]workflow.ChildWorkflowFuture, n)
	for i := range futs {
		futs[i] = workflow.ExecuteChildWorkflow(ctx, BigArgChild, filler(i, size))
	}
	total := 0
	for _, f := range futs {
		var v int
		if err := f.Get(ctx, &v); err != nil {
			return 0, err
		}
		total += v
	}
	return total, nil
}

func TestManyChildrenWithLargeArguments(t *testing.T) {
	s := testsrv.Start(t)
	c := testsrv.Client(t, s)
	startWorker(t, c, func(w *worker.Worker) {
		testsrv.Must(t, w.RegisterWorkflow(BigArgParent))
		testsrv.Must(t, w.RegisterWorkflow(BigArgChild))
	})
	ctx := testsrv.Context(t, 120*time.Second)
	const n, size = 100, 127 * 1024 // one decision: 12.7 MB of arguments
	run, err := c.ExecuteWorkflow(ctx, client.StartOptions{ID: "big-children"}, BigArgParent, n, size)
	testsrv.Must(t, err)
	var total int
	testsrv.Must(t, run.Get(ctx, &total))
	if total != n*size {
		t.Fatalf("total %d, want %d", total, n*size)
	}
	evs, err := c.History(ctx, "big-children", "")
	testsrv.Must(t, err)
	checkWellFormed(t, evs)
	i := 0
	for _, ev := range evs {
		if ev.Type == history.ChildWorkflowScheduled {
			want, _ := json.Marshal([]string{filler(i, size)})
			if !bytes.Equal(ev.Input, want) {
				t.Fatalf("event %d: child input of %d bytes", ev.Seq, len(ev.Input))
			}
			i++
		}
	}
	if i != n {
		t.Fatalf("%d children scheduled", i)
	}
	replayFile(t, c, "big-children", BigArgParent)
}

// paddedItem is a signal of about 500 bytes.
type paddedItem struct {
	I   int    `json:"i"`
	Pad string `json:"pad"`
}

// PaddedCollect receives n "item" signals and returns their numbers in the
// order received.
func PaddedCollect(ctx workflow.Context, n int) ([]int, error) {
	ch := workflow.GetSignalChannel(ctx, "item")
	var got []int
	for len(got) < n {
		var v paddedItem
		ch.Receive(ctx, &v)
		got = append(got, v.I)
	}
	return got, nil
}

// Signals waiting for a run that add up to more than one record (each too
// small to go out of line) are applied over several decisions: in order,
// each once.
func TestManySignalsSplitAcrossDecisions(t *testing.T) {
	s := testsrv.Start(t)
	c := testsrv.Client(t, s)
	ctx := testsrv.Context(t, 120*time.Second)
	const n = 2000 // about 1.3 MB of SignalReceived events
	run, err := c.ExecuteWorkflow(ctx, client.StartOptions{ID: "many-signals"}, PaddedCollect, n)
	testsrv.Must(t, err)
	pad := strings.Repeat("p", 440)
	for i := range n {
		testsrv.Must(t, c.SignalWorkflow(ctx, "many-signals", "", "item", paddedItem{I: i, Pad: pad}))
	}
	startWorker(t, c, func(w *worker.Worker) { testsrv.Must(t, w.RegisterWorkflow(PaddedCollect)) })
	var got []int
	testsrv.Must(t, run.Get(ctx, &got))
	if len(got) != n {
		t.Fatalf("%d signals received, want %d", len(got), n)
	}
	for i, v := range got {
		if v != i {
			t.Fatalf("signal %d received as number %d", v, i)
		}
	}
	log := c.Store().Log
	subj, _ := log.Subject("many-signals", run.RunID())
	recs, err := log.ReadFrom(ctx, subj, 0)
	testsrv.Must(t, err)
	withSignals := 0
	for _, rec := range recs {
		for _, ev := range rec.Events {
			if ev.Type == history.SignalReceived {
				withSignals++
				break
			}
		}
	}
	if withSignals < 2 {
		t.Fatalf("all %d signals were applied by %d decision(s); want them split", n, withSignals)
	}
	evs := history.Flatten(recs)
	checkWellFormed(t, evs)
	seen := map[uint64]bool{}
	for _, ev := range evs {
		if ev.Type == history.SignalReceived {
			if seen[ev.SignalSeq] {
				t.Fatalf("signal seq %d applied twice", ev.SignalSeq)
			}
			seen[ev.SignalSeq] = true
		}
	}
}

// Nop does nothing.
func Nop(ctx context.Context, i int) error { return nil }

// FloodWorkflow schedules n activities in one decision.
func FloodWorkflow(ctx workflow.Context, n int) error {
	futs := make([]workflow.Future, n)
	for i := range futs {
		futs[i] = workflow.ExecuteActivity(ctx, Nop, i)
	}
	for _, f := range futs {
		if err := f.Get(ctx, nil); err != nil {
			return err
		}
	}
	return nil
}

// A decision that cannot be written as one message even with its payloads
// out of line blocks the run with a reason naming sizes and limits; it is
// not retried every second for ever.
func TestDecisionTooLargeBlocksRun(t *testing.T) {
	s := testsrv.Start(t)
	c := testsrv.Client(t, s)
	startWorker(t, c, func(w *worker.Worker) {
		testsrv.Must(t, w.RegisterWorkflow(FloodWorkflow))
		testsrv.Must(t, w.RegisterActivity(Nop))
	})
	ctx := testsrv.Context(t, 60*time.Second)
	const n = 12000 // ~2 MB of ActivityScheduled events, none with a large payload
	run, err := c.ExecuteWorkflow(ctx, client.StartOptions{ID: "flood"}, FloodWorkflow, n)
	testsrv.Must(t, err)
	var ri *client.RunInfo
	testsrv.WaitFor(t, ctx, "the run to be marked blocked", func() bool {
		ri, err = c.Describe(ctx, "flood", "")
		return err == nil && ri.Blocked != ""
	})
	for _, want := range []string{"decision too large", "(12000 events)", "max_payload 1048576", "ActivityScheduled"} {
		if !strings.Contains(ri.Blocked, want) {
			t.Errorf("blocked reason %q does not say %q", ri.Blocked, want)
		}
	}
	if ri.Status != "running" {
		t.Fatalf("status %s", ri.Status)
	}
	evs, err := c.History(ctx, "flood", run.RunID())
	testsrv.Must(t, err)
	last := evs[len(evs)-1]
	if last.Type != history.WorkflowTaskFailed || last.Failure == nil || last.Failure.Type != "DecisionTooLarge" {
		t.Fatalf("last event %+v; want WorkflowTaskFailed DecisionTooLarge", last)
	}
	// Nothing but the start and the one note: no half decision, no note per retry.
	if len(evs) != 2 {
		t.Fatalf("history has %d events: %v", len(evs), types(evs))
	}
}
