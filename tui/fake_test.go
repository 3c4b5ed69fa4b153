package tui

import (
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"sync"
	"time"

	"github.com/durablefuture/durablefuture/pkg/engine"
	"github.com/durablefuture/durablefuture/pkg/history"
)

// t0 is when the fixed runs started; testNow is the fixed clock.
var (
	t0      = time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)
	testNow = t0.Add(90 * time.Second)
)

func at(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
func atp(ms int) *time.Time {
	t := at(ms)
	return &t
}

// fakeSource serves fixed runs and histories; Append adds a record that
// followers receive.
type fakeSource struct {
	mu      sync.Mutex
	runs    []engine.RunInfo
	logs    map[string][]history.Record
	changed chan struct{}
	listErr error
	down    bool
	// replayErr and mismatch are what ReplayRun answers; resets counts
	// the new runs of Reset.
	replayErr error
	mismatch  *history.Failure
	resets    int
	// heartbeats are the activities' last heartbeats by run and seq;
	// stack and stackErr what Stack answers.
	heartbeats map[string]time.Time
	stack      *engine.WorkflowStack
	stackErr   error
}

func (f *fakeSource) ActivityHeartbeat(ctx context.Context, runID string, seq int64) (time.Time, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	at, ok := f.heartbeats[fmt.Sprintf("%s/%d", runID, seq)]
	return at, ok, nil
}

func (f *fakeSource) Stack(ctx context.Context, id, runID string) (*engine.WorkflowStack, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stackErr != nil {
		return nil, f.stackErr
	}
	if f.stack == nil {
		return nil, fmt.Errorf("%w: no worker of task queue default answered", engine.ErrNoWorker)
	}
	ws := *f.stack
	return &ws, nil
}

func (f *fakeSource) Connected() (bool, string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return !f.down, "server connection reconnecting"
}

func newFakeSource() *fakeSource {
	f := &fakeSource{logs: map[string][]history.Record{}, changed: make(chan struct{}),
		heartbeats: map[string]time.Time{"run-o2/2": at(30000 + 58000)}}
	f.addOrder()
	f.addRunning()
	for i, st := range []engine.Status{engine.StatusFailed, engine.StatusCanceled, engine.StatusTerminated, engine.StatusTimedOut} {
		ct := at(-(i + 1) * 60000).Add(1500 * time.Millisecond)
		f.runs = append(f.runs, engine.RunInfo{
			WorkflowID: fmt.Sprintf("payment-%d", i+1), RunID: fmt.Sprintf("run-p%d", i+1), Type: "PaymentWorkflow",
			TaskQueue: "payments", Status: st, StartTime: at(-(i + 1) * 60000), CloseTime: &ct,
			Failure: &history.Failure{Message: "card declined", Type: "CardDeclined"},
		})
	}
	f.addFailedPayment()
	f.addBatch()
	f.runs = append(f.runs, engine.RunInfo{
		WorkflowID: "stuck-1", RunID: "run-s1", Type: "RenamedWorkflow", TaskQueue: "default",
		Status: engine.StatusRunning, StartTime: at(-3600000), Blocked: `no worker knows workflow type "RenamedWorkflow"`,
	})
	return f
}

func fail(msg string) *history.Failure { return &history.Failure{Message: msg, Type: "TransientError"} }

// addOrder is a completed run whose payment succeeded on its third attempt.
func (f *fakeSource) addOrder() {
	input := json.RawMessage(`["alice","laptop",2499.5,1]`)
	recs := []history.Record{
		{Kind: history.KindInput, Events: []history.Event{{Seq: 1, Time: at(0), Type: history.WorkflowStarted, Name: "OrderWorkflow", WorkflowID: "order-1", RunID: "run-o1", TaskQueue: "default", Input: input}}},
		{Kind: history.KindDecision, Events: []history.Event{{Seq: 2, Time: at(5), Type: history.ActivityScheduled, Name: "ValidateOrder", Cause: 1, Input: json.RawMessage(`["alice","laptop"]`)}}},
		{Kind: history.KindDecision, Events: []history.Event{
			{Seq: 3, Time: at(9), Type: history.ActivityCompleted, Name: "ValidateOrder", Cause: 2, Attempt: 1, StartedAt: atp(6), Result: json.RawMessage(`true`)},
			{Seq: 4, Time: at(10), Type: history.ActivityScheduled, Name: "ChargeCard", Cause: 3, Input: json.RawMessage(`[2499.5]`)},
		}},
		{Kind: history.KindDecision, Events: []history.Event{{Seq: 5, Time: at(60), Type: history.ActivityAttemptFailed, Name: "ChargeCard", Cause: 4, Attempt: 1, StartedAt: atp(11), NextAttemptAt: atp(1060), Failure: fail("card network timeout")}}},
		{Kind: history.KindDecision, Events: []history.Event{{Seq: 6, Time: at(1100), Type: history.ActivityAttemptFailed, Name: "ChargeCard", Cause: 4, Attempt: 2, StartedAt: atp(1061), NextAttemptAt: atp(3100), Failure: fail("card network timeout")}}},
		{Kind: history.KindDecision, Events: []history.Event{
			{Seq: 7, Time: at(3150), Type: history.ActivityCompleted, Name: "ChargeCard", Cause: 4, Attempt: 3, StartedAt: atp(3101), Result: json.RawMessage(`{"charge_id":"ch_42"}`)},
			{Seq: 8, Time: at(3151), Type: history.ActivityScheduled, Name: "ShipOrder", Cause: 7, Input: json.RawMessage(`["ch_42"]`)},
		}},
		{Kind: history.KindDecision, Events: []history.Event{
			{Seq: 9, Time: at(4000), Type: history.ActivityCompleted, Name: "ShipOrder", Cause: 8, Attempt: 1, StartedAt: atp(3152), Result: json.RawMessage(`"tr_7"`)},
			{Seq: 10, Time: at(4001), Type: history.WorkflowCompleted, Cause: 9, Result: json.RawMessage(`{"order":"ord_1","status":"shipped"}`)},
		}},
	}
	f.setLog("order-1", "run-o1", recs)
	ct := at(4001)
	f.runs = append(f.runs, engine.RunInfo{
		WorkflowID: "order-1", RunID: "run-o1", Type: "OrderWorkflow", TaskQueue: "default", Status: engine.StatusCompleted,
		StartTime: at(0), CloseTime: &ct, LastEventSeq: 10, Result: json.RawMessage(`{"order":"ord_1","status":"shipped"}`),
	})
}

// addFailedPayment gives payment-1 (failed) its history: its charge was
// declined for good on the second attempt, a long message with a cause and
// a stack.
func (f *fakeSource) addFailedPayment() {
	s := -60000
	declined := &history.Failure{Type: "CardDeclined", NonRetryable: true,
		Message: "card declined by the issuer: insufficient funds on the card ending 4242; ask the customer for another card or a bank transfer, then start the payment again",
		Stack:   "main.ChargeCard(...)\n\t/src/payments/charge.go:42\nmain.PaymentWorkflow(...)\n\t/src/payments/workflow.go:17"}
	failed := &history.Failure{Type: "ActivityError", Message: "activity ChargeCard (event 2) failed after 2 attempts", Cause: declined}
	f.setLog("payment-1", "run-p1", []history.Record{
		{Kind: history.KindInput, Events: []history.Event{{Seq: 1, Time: at(s), Type: history.WorkflowStarted, Name: "PaymentWorkflow", WorkflowID: "payment-1", RunID: "run-p1", TaskQueue: "payments", Input: json.RawMessage(`[42]`)}}},
		{Kind: history.KindDecision, Events: []history.Event{{Seq: 2, Time: at(s + 3), Type: history.ActivityScheduled, Name: "ChargeCard", Cause: 1, Input: json.RawMessage(`[42]`),
			ActivityOptions: &history.ActivityOptions{TaskQueue: "payments", RetryPolicy: &history.RetryPolicy{MaximumAttempts: 3}}}}},
		{Kind: history.KindDecision, Events: []history.Event{{Seq: 3, Time: at(s + 400), Type: history.ActivityAttemptFailed, Name: "ChargeCard", Cause: 2, Attempt: 1, StartedAt: atp(s + 4), NextAttemptAt: atp(s + 1400), Failure: fail("issuer timeout")}}},
		{Kind: history.KindDecision, Events: []history.Event{
			{Seq: 4, Time: at(s + 1498), Type: history.ActivityFailed, Name: "ChargeCard", Cause: 2, Attempt: 2, StartedAt: atp(s + 1401), Failure: declined},
			{Seq: 5, Time: at(s + 1500), Type: history.WorkflowFailed, Cause: 4, Failure: failed},
		}},
	})
	for i := range f.runs {
		if f.runs[i].WorkflowID == "payment-1" {
			f.runs[i].Failure, f.runs[i].LastEventSeq = failed, 5
		}
	}
}

// addBatch is a parent run with a child workflow, and the child's run.
func (f *fakeSource) addBatch() {
	p, c := -600000, -599990
	child := &history.RunRef{WorkflowID: "batch-1-part-1", RunID: "run-c1", TaskQueue: "default"}
	f.setLog("batch-1", "run-b1", []history.Record{
		{Kind: history.KindInput, Events: []history.Event{{Seq: 1, Time: at(p), Type: history.WorkflowStarted, Name: "BatchWorkflow", WorkflowID: "batch-1", RunID: "run-b1", TaskQueue: "default", Input: json.RawMessage(`[1]`)}}},
		{Kind: history.KindDecision, Events: []history.Event{{Seq: 2, Time: at(p + 5), Type: history.ChildWorkflowScheduled, Name: "PartWorkflow", Cause: 1, Child: child, Input: json.RawMessage(`[1]`)}}},
		{Kind: history.KindDecision, Events: []history.Event{{Seq: 3, Time: at(p + 9), Type: history.ChildWorkflowStarted, Cause: 2, Child: child}}},
		{Kind: history.KindDecision, Events: []history.Event{
			{Seq: 4, Time: at(p + 800), Type: history.ChildWorkflowCompleted, Cause: 2, Child: child, Result: json.RawMessage(`"part done"`)},
			{Seq: 5, Time: at(p + 801), Type: history.WorkflowCompleted, Cause: 4, Result: json.RawMessage(`"batch done"`)},
		}},
	})
	f.setLog("batch-1-part-1", "run-c1", []history.Record{
		{Kind: history.KindInput, Events: []history.Event{{Seq: 1, Time: at(c), Type: history.WorkflowStarted, Name: "PartWorkflow", WorkflowID: "batch-1-part-1", RunID: "run-c1", TaskQueue: "default", Input: json.RawMessage(`[1]`), Parent: &history.RunRef{WorkflowID: "batch-1", RunID: "run-b1", Seq: 2}}}},
		{Kind: history.KindDecision, Events: []history.Event{{Seq: 2, Time: at(c + 780), Type: history.WorkflowCompleted, Cause: 1, Result: json.RawMessage(`"part done"`)}}},
	})
	pc, cc := at(p+801), at(c+780)
	f.runs = append(f.runs,
		engine.RunInfo{WorkflowID: "batch-1-part-1", RunID: "run-c1", Type: "PartWorkflow", TaskQueue: "default", Status: engine.StatusCompleted, StartTime: at(c), CloseTime: &cc, Result: json.RawMessage(`"part done"`)},
		engine.RunInfo{WorkflowID: "batch-1", RunID: "run-b1", Type: "BatchWorkflow", TaskQueue: "default", Status: engine.StatusCompleted, StartTime: at(p), CloseTime: &pc, Result: json.RawMessage(`"batch done"`)},
	)
}

// addRunning is an open run whose activity is being retried.
func (f *fakeSource) addRunning() {
	start := 30000
	recs := []history.Record{
		{Kind: history.KindInput, Events: []history.Event{{Seq: 1, Time: at(start), Type: history.WorkflowStarted, Name: "OrderWorkflow", WorkflowID: "order-2", RunID: "run-o2", TaskQueue: "default", Input: json.RawMessage(`["bob","phone",99,2]`)}}},
		{Kind: history.KindDecision, Events: []history.Event{
			{Seq: 2, Time: at(start + 4), Type: history.ActivityScheduled, Name: "ChargeCard", Cause: 1, Input: json.RawMessage(`[198]`),
				ActivityOptions: &history.ActivityOptions{TaskQueue: "default", RetryPolicy: &history.RetryPolicy{MaximumAttempts: 5}}},
			{Seq: 3, Time: at(start + 4), Type: history.TimerStarted, Cause: 1, Duration: history.Duration(2 * time.Minute), FireAt: atp(start + 120004)},
		}},
		{Kind: history.KindDecision, Events: []history.Event{{Seq: 4, Time: at(start + 20000), Type: history.SignalReceived, Name: "priority", Input: json.RawMessage(`{"level":"high"}`)}}},
		{Kind: history.KindDecision, Events: []history.Event{{Seq: 5, Time: at(start + 30000), Type: history.ActivityAttemptFailed, Name: "ChargeCard", Cause: 2, Attempt: 1, StartedAt: atp(start + 5), NextAttemptAt: atp(start + 70000), Failure: fail("bank unavailable")}}},
	}
	f.setLog("order-2", "run-o2", recs)
	f.runs = append([]engine.RunInfo{{
		WorkflowID: "order-2", RunID: "run-o2", Type: "OrderWorkflow", TaskQueue: "default", Status: engine.StatusRunning,
		StartTime: at(start), LastEventSeq: 5,
	}}, f.runs...)
}

func (f *fakeSource) setLog(id, runID string, recs []history.Record) {
	for i := range recs {
		recs[i].V = 1
		recs[i].StreamSeq = uint64(100 + len(f.logs)*1000 + i)
	}
	f.logs[id+"/"+runID] = recs
}

// Append adds a record to a run's log and wakes its followers.
func (f *fakeSource) Append(id, runID string, rec history.Record) {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := id + "/" + runID
	recs := f.logs[k]
	rec.V = 1
	rec.StreamSeq = recs[len(recs)-1].StreamSeq + 1
	f.logs[k] = append(recs, rec)
	close(f.changed)
	f.changed = make(chan struct{})
}

func (f *fakeSource) ListRuns(ctx context.Context) ([]engine.RunInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.listErr != nil {
		return nil, f.listErr
	}
	return append([]engine.RunInfo(nil), f.runs...), nil
}

func (f *fakeSource) Describe(ctx context.Context, id, runID string) (*engine.RunInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range f.runs {
		if r.WorkflowID == id && (runID == "" || r.RunID == runID) {
			return &r, nil
		}
	}
	return nil, fmt.Errorf("%w: %s", engine.ErrWorkflowNotFound, id)
}

func (f *fakeSource) ReadPage(ctx context.Context, id, runID string, after uint64, limit int) ([]history.Record, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []history.Record
	for _, r := range f.logs[id+"/"+runID] {
		if r.StreamSeq > after && len(out) < limit {
			out = append(out, r)
		}
	}
	return out, nil
}

func (f *fakeSource) CountRecords(ctx context.Context, id, runID string) (uint64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return uint64(len(f.logs[id+"/"+runID])), nil
}

func (f *fakeSource) Follow(ctx context.Context, id, runID string, after uint64) iter.Seq2[history.Record, error] {
	return func(yield func(history.Record, error) bool) {
		for {
			f.mu.Lock()
			var next *history.Record
			for _, r := range f.logs[id+"/"+runID] {
				if r.StreamSeq > after {
					next = &r
					break
				}
			}
			changed := f.changed
			f.mu.Unlock()
			if next != nil {
				after = next.StreamSeq
				if !yield(*next, nil) {
					return
				}
				continue
			}
			select {
			case <-changed:
			case <-ctx.Done():
				yield(history.Record{}, ctx.Err())
				return
			}
		}
	}
}

// testOptions are deterministic: the fixed clock, no colour, a clipboard
// that records.
func testOptions(src Source, copied *[]string) Options {
	return Options{
		Source:  src,
		Now:     func() time.Time { return testNow },
		NoColor: true,
		Copy: func(s string) error {
			if copied != nil {
				*copied = append(*copied, s)
			}
			return nil
		},
	}
}

// lastSeq is the seq of a run's last event.
func (f *fakeSource) lastSeq(id, runID string) int64 {
	recs := f.logs[id+"/"+runID]
	evs := recs[len(recs)-1].Events
	return evs[len(evs)-1].Seq
}

// act records an action as the engine would: events in the log and the
// run's new status.
func (f *fakeSource) act(id, runID string, status engine.Status, evs ...history.Event) error {
	f.mu.Lock()
	var ri *engine.RunInfo
	for i := range f.runs {
		if f.runs[i].WorkflowID == id {
			ri = &f.runs[i]
		}
	}
	if ri == nil {
		f.mu.Unlock()
		return engine.ErrWorkflowNotFound
	}
	if ri.Status.IsClosed() {
		f.mu.Unlock()
		return engine.ErrWorkflowClosed
	}
	if runID == "" {
		runID = ri.RunID
	}
	seq := f.lastSeq(id, runID)
	for i := range evs {
		seq++
		evs[i].Seq, evs[i].Time = seq, testNow
	}
	if status != "" {
		ri.Status = status
		ct := testNow
		ri.CloseTime = &ct
	}
	f.mu.Unlock()
	f.Append(id, runID, history.Record{Kind: history.KindInput, Events: evs})
	return nil
}

func (f *fakeSource) Signal(ctx context.Context, id, runID, name string, input json.RawMessage) error {
	return f.act(id, runID, "", history.Event{Type: history.SignalReceived, Name: name, Input: input})
}

func (f *fakeSource) Cancel(ctx context.Context, id, runID, reason string) error {
	return f.act(id, runID, engine.StatusCanceled,
		history.Event{Type: history.WorkflowCancelRequested, Reason: reason},
		history.Event{Type: history.WorkflowCanceled, Failure: &history.Failure{Message: "canceled", Type: "CanceledError"}})
}

func (f *fakeSource) Terminate(ctx context.Context, id, runID, reason string) error {
	return f.act(id, runID, engine.StatusTerminated, history.Event{Type: history.WorkflowTerminated, Reason: reason})
}

// ReplayRun answers as a worker would: deterministic, unless a mismatch or
// an error is set.
func (f *fakeSource) ReplayRun(ctx context.Context, id, runID string) (*engine.ReplayResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.replayErr != nil {
		return nil, f.replayErr
	}
	res := &engine.ReplayResult{WorkflowID: id, RunID: runID, Deterministic: f.mismatch == nil, Mismatch: f.mismatch, Worker: "worker-1"}
	return res, nil
}

// Reset copies a run's history up to the boundary into a new run, as the
// engine does, and makes it the workflow's latest run.
func (f *fakeSource) Reset(ctx context.Context, req engine.ResetRequest) (*engine.ResetResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var ri *engine.RunInfo
	for i := range f.runs {
		if f.runs[i].WorkflowID == req.WorkflowID {
			ri = &f.runs[i]
		}
	}
	if ri == nil {
		return nil, engine.ErrWorkflowNotFound
	}
	runID := req.RunID
	if runID == "" {
		runID = ri.RunID
	}
	recs := f.logs[req.WorkflowID+"/"+runID]
	keep, kept := engine.ResetBoundary(recs, req.ToEvent)
	f.resets++
	res := &engine.ResetResult{WorkflowID: req.WorkflowID, OldRunID: runID, RunID: fmt.Sprintf("run-reset-%d", f.resets),
		Requested: req.ToEvent, KeptThrough: kept}
	var out []history.Record
	for i, rec := range keep {
		rec.Events = append([]history.Event(nil), rec.Events...)
		if i == 0 {
			rec.Events[0].RunID = res.RunID
			rec.Events[0].ResetFrom = &history.RunRef{WorkflowID: req.WorkflowID, RunID: runID, Seq: kept}
			rec.Events[0].Reason = req.Reason
		}
		out = append(out, rec)
	}
	seq := kept
	if req.ReapplySignals {
		for _, ev := range history.Flatten(recs) {
			if ev.Seq > kept && ev.Type == history.SignalReceived {
				seq++
				ev.Seq, ev.Time = seq, testNow
				out = append(out, history.Record{Kind: history.KindInput, Events: []history.Event{ev}})
				res.Reapplied++
			}
		}
	}
	f.setLog(req.WorkflowID, res.RunID, out)
	res.OldTerminate = !ri.Status.IsClosed()
	*ri = engine.RunInfo{WorkflowID: req.WorkflowID, RunID: res.RunID, Type: ri.Type, TaskQueue: ri.TaskQueue,
		Status: engine.StatusRunning, StartTime: testNow, LastEventSeq: seq}
	return res, nil
}
