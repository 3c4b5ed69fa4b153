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

// RecordsFromEvents regroups a flat list of events (a history file) into
// records: a record ends where a command is followed by an input. Groups of
// inputs may merge that were written apart; replay gives the same verdict,
// since it runs the code after every input and checks the commands in order.
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

// ReplayRecords replays recorded records against the workflows of reg and
// returns nil, or the *NonDeterminismError (or unknown type) it found.
func ReplayRecords(reg *Registry, recs []history.Record) error {
	if len(recs) == 0 {
		return errors.New("replay: the history has no events")
	}
	quiet := slog.New(slog.DiscardHandler)
	r, err := replayRun(reg, quiet, recs)
	if err != nil {
		return err
	}
	r.dispose()
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
	Events     []history.Event `json:"events,omitempty"`
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
func (w *Worker) serveReplays(ctx context.Context, queue string) error {
	sub, err := w.store.NC.QueueSubscribe(w.store.replaySubject(queue), "df-replay-"+queue, func(m *nats.Msg) {
		go w.answerReplay(ctx, m)
	})
	if err != nil {
		return fmt.Errorf("worker: subscribe to the replay checks of task queue %s: %w", queue, err)
	}
	context.AfterFunc(ctx, func() { _ = sub.Unsubscribe() })
	return nil
}

func (w *Worker) answerReplay(ctx context.Context, m *nats.Msg) {
	var req replayRequest
	res := ReplayResult{Worker: w.opts.Identity}
	err := json.Unmarshal(m.Data, &req)
	if err == nil {
		res.WorkflowID, res.RunID = req.WorkflowID, req.RunID
		var recs []history.Record
		if len(req.Events) > 0 {
			recs = RecordsFromEvents(req.Events)
		} else {
			rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			var subj string
			if subj, err = w.store.Log.Subject(req.WorkflowID, req.RunID); err == nil {
				recs, err = w.store.Log.ReadFrom(rctx, subj, 0)
			}
			cancel()
		}
		if err == nil {
			err = ReplayRecords(w.reg, recs)
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

func (s *Store) askReplay(ctx context.Context, queue string, req replayRequest) (*ReplayResult, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultQueryTimeout)
		defer cancel()
	}
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
