package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/durablefuture/durablefuture/pkg/history"
	"github.com/nats-io/nats.go"
)

// RecordsFromEvents regroups a flat list of events (a version 1 history
// file) into records: a record ends where a command is followed by an input.
// The boundaries are guessed: a decision that applied inputs and recorded no
// command merges into the next record (or, alone, reads as an input
// record), so the end-of-decision check ("no further command in this
// decision") a live worker runs there is skipped, and a change at a point
// where the run waited may pass. A guess only ever misses a mismatch; it
// never invents one. Version 2 files keep the records as stored
// (FileRecords).
func RecordsFromEvents(evs []history.Event) []history.Record {
	var out []history.Record
	var cur []history.Event
	flush := func() {
		if len(cur) == 0 {
			return
		}
		kind := history.KindDecision
		if len(cur) == 1 && !cur[0].Type.IsCommand() {
			kind = history.KindInput
		}
		out = append(out, history.Record{V: history.Version, Kind: kind, Events: cur, StreamSeq: uint64(len(out) + 1)})
		cur = nil
	}
	for i, ev := range evs {
		if i > 0 && evs[i-1].Type.IsCommand() && !ev.Type.IsCommand() {
			flush()
		}
		cur = append(cur, ev)
	}
	flush()
	return out
}

// FileRecords returns the records of a history file as a replay meets
// them: as stored for a version 2 file, regrouped by RecordsFromEvents for a
// version 1 file (see history.Version1Warning).
func FileRecords(f *history.File) []history.Record {
	if recs := f.HistoryRecords(); recs != nil {
		return recs
	}
	return RecordsFromEvents(f.Events)
}

// ReplayRecords replays recorded records against the workflows of reg and
// returns nil, or the *NonDeterminismError (or unknown type) it found. It is
// the one judge of determinism: the replayer, `dfctl replay` (by ID or
// file) and a worker loading a run all rebuild the run with (*run).replay
// over the records, so each meets the same decision boundaries and runs the
// same checks.
func ReplayRecords(reg *Registry, recs []history.Record, lenientInputs ...string) error {
	return ReplayRecordsDeadlock(reg, recs, DefaultDeadlockTimeout, lenientInputs...)
}

// ReplayRecordsDeadlock is ReplayRecords with the deadlock timeout of the
// workflow code (WorkerOptions.DeadlockTimeout; negative: never).
func ReplayRecordsDeadlock(reg *Registry, recs []history.Record, deadlock time.Duration, lenientInputs ...string) error {
	r := newRun(slog.New(slog.DiscardHandler))
	if deadlock != 0 {
		r.disp.deadlock = deadlock
	}
	if len(lenientInputs) > 0 {
		// As WorkerOptions.LenientInputs on a live worker.
		r.lenient = make(map[string]bool, len(lenientInputs))
		for _, n := range lenientInputs {
			r.lenient[n] = true
		}
	}
	return judgeReplay(r, reg, recs)
}

// judgeReplay rebuilds the empty run r from recs (as a worker loading the
// run does) and returns the verdict.
func judgeReplay(r *run, reg *Registry, recs []history.Record) error {
	if len(recs) == 0 {
		return errors.New("replay: the history has no events")
	}
	r, err := r.replay(reg, recs)
	if err != nil {
		return err
	}
	r.dispose()
	if r.noCode {
		// A closed run was rebuilt from its events alone; a replay check
		// judges the code, which this registry lacks.
		return unknownType(reg, r.info.WorkflowType, "")
	}
	return nil
}

// ReplayEvents replays a history file's events (see RecordsFromEvents).
func ReplayEvents(reg *Registry, evs []history.Event) error {
	return ReplayRecords(reg, RecordsFromEvents(evs))
}

// Replay checks are request/reply on <prefix>.replay.<queue>: a worker of
// the queue replays a run's history (read from JetStream, or sent in the
// request) against the code it runs now.

type replayRequest struct {
	WorkflowID string          `json:"workflow_id,omitempty"`
	RunID      string          `json:"run_id,omitempty"`
	Events     []history.Event `json:"events,omitempty"` // a version 1 file's events
	// Records are a version 2 file's records (kind and events, as stored).
	Records []history.Record `json:"records,omitempty"`
}

// ReplayResult is a worker's verdict on one history.
type ReplayResult struct {
	WorkflowID    string           `json:"workflow_id,omitempty"`
	RunID         string           `json:"run_id,omitempty"`
	Deterministic bool             `json:"deterministic"`
	Mismatch      *history.Failure `json:"mismatch,omitempty"`
	Worker        string           `json:"worker,omitempty"`
}

func (s *Store) replaySubject(queue string) string { return s.Config.Prefix + ".replay." + queue }

// serveReplays answers the replay checks of one task queue until ctx ends.
// The loop it returns unsubscribes when ctx ends, before Run returns: an
// unsubscribe left to a context callback could come after, and a worker
// stopped for new code answered a check with its old code (a flaky
// TestReplayCatchesIncompatibleChange).
func (w *Worker) serveReplays(ctx context.Context, queue string) (func() error, error) {
	sub, err := w.store.NC.QueueSubscribe(w.store.replaySubject(queue), "df-replay-"+queue, func(m *nats.Msg) {
		go w.answerReplay(ctx, m)
	})
	if err != nil {
		return nil, fmt.Errorf("worker: subscribe to the replay checks of task queue %s: %w", queue, err)
	}
	// Also when Run fails to set up after this and never starts the loop.
	stop := context.AfterFunc(ctx, func() { _ = sub.Unsubscribe() })
	return func() error {
		<-ctx.Done()
		stop()
		_ = sub.Unsubscribe() // done here, whether or not the callback ran
		return nil
	}, nil
}

func (w *Worker) answerReplay(ctx context.Context, m *nats.Msg) {
	var req replayRequest
	res := ReplayResult{Worker: w.opts.Identity}
	err := json.Unmarshal(m.Data, &req)
	if err == nil {
		res.WorkflowID, res.RunID = req.WorkflowID, req.RunID
		var recs []history.Record
		switch {
		case len(req.Records) > 0:
			recs = req.Records
			for i := range recs {
				recs[i].StreamSeq = uint64(i + 1)
			}
		case len(req.Events) > 0:
			recs = RecordsFromEvents(req.Events)
		default:
			rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			var subj string
			if subj, err = w.store.Log.Subject(req.WorkflowID, req.RunID); err == nil {
				recs, err = w.store.Log.ReadFrom(rctx, subj, 0)
			}
			cancel()
		}
		if err == nil {
			// The worker's own run options (deadlock timeout, panic policy,
			// lenient inputs), as its loads; a silent logger.
			r := w.newRun()
			r.logger = slog.New(slog.DiscardHandler)
			err = judgeReplay(r, w.reg, recs)
		}
	}
	var nde *NonDeterminismError
	switch {
	case err == nil:
		res.Deterministic = true
	case errors.As(err, &nde):
		res.Mismatch = &history.Failure{Message: nde.Error(), Type: "NonDeterminismError"}
	default:
		res.Mismatch = ToFailure(err)
		if errors.Is(err, ErrUnknownWorkflowType) {
			res.Mismatch.Type = "UnknownWorkflowType"
		}
	}
	data, _ := json.Marshal(res)
	_ = m.Respond(data)
}

// ReplayRun asks a live worker of the run's task queue to replay its
// history against the code it runs now.
func (s *Store) ReplayRun(ctx context.Context, workflowID, runID string) (*ReplayResult, error) {
	ri, err := s.Describe(ctx, workflowID, runID)
	if err != nil {
		return nil, err
	}
	return s.askReplay(ctx, ri.TaskQueue, replayRequest{WorkflowID: ri.WorkflowID, RunID: ri.RunID})
}

// ReplayHistory asks a live worker of queue to replay the given events.
func (s *Store) ReplayHistory(ctx context.Context, queue string, evs []history.Event) (*ReplayResult, error) {
	if err := ValidateTaskQueue(queue); err != nil {
		return nil, err
	}
	res, err := s.askReplay(ctx, queue, replayRequest{Events: evs})
	if res != nil && len(evs) > 0 {
		res.WorkflowID, res.RunID = evs[0].WorkflowID, evs[0].RunID
	}
	return res, err
}

// ReplayFile asks a live worker of queue to replay a history file: its
// records as stored (version 2), or its events (version 1, whose decision
// boundaries the worker guesses: see history.Version1Warning).
func (s *Store) ReplayFile(ctx context.Context, queue string, f *history.File) (*ReplayResult, error) {
	if err := ValidateTaskQueue(queue); err != nil {
		return nil, err
	}
	req := replayRequest{Events: f.Events}
	if recs := f.HistoryRecords(); recs != nil {
		req = replayRequest{Records: recs}
	}
	res, err := s.askReplay(ctx, queue, req)
	if res != nil {
		res.WorkflowID, res.RunID = f.WorkflowID, f.RunID
	}
	return res, err
}

func (s *Store) askReplay(ctx context.Context, queue string, req replayRequest) (*ReplayResult, error) {
	ctx, cancel := withDefaultTimeout(ctx, DefaultQueryTimeout)
	defer cancel()
	data, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	m, err := s.NC.RequestWithContext(ctx, s.replaySubject(queue), data)
	if errors.Is(err, nats.ErrNoResponders) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) {
		return nil, fmt.Errorf("%w: no worker of task queue %s answered the replay check: start a worker of that task queue (with the workflow registered)", ErrNoWorker, queue)
	}
	if err != nil {
		return nil, err
	}
	var res ReplayResult
	if err := json.Unmarshal(m.Data, &res); err != nil {
		return nil, fmt.Errorf("replay: bad answer: %w", err)
	}
	return &res, nil
}
