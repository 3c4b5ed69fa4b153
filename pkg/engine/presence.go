package engine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/durablefuture/durablefuture/pkg/history"
	"github.com/nats-io/nats.go/jetstream"
)

// Presence: what is alive now, for the people asking why a run is stuck.
// A running Worker announces itself in the KV bucket <prefix>_workers (one
// key per worker and task queue, rewritten every PresenceInterval, gone
// PresenceMaxAge after the last write or at once on a graceful stop);
// TaskQueueInfo adds the backlog of the queue's consumers and the age of
// its oldest task; ActivityHeartbeat reads the details a running activity
// last stored. Nothing here is on a task's path: a worker that cannot
// announce itself logs it and works on.

// PresenceInterval is how often a worker rewrites its presence entry;
// PresenceMaxAge how long an entry outlives its last write (the bucket's
// TTL), so a worker that died without stopping is gone within a minute.
const (
	PresenceInterval = 10 * time.Second
	PresenceMaxAge   = time.Minute
)

// WorkerPresence is what a running worker says about itself.
type WorkerPresence struct {
	Identity   string    `json:"identity"`
	TaskQueue  string    `json:"task_queue"`
	TaskQueues []string  `json:"task_queues"`
	Workflows  []string  `json:"workflows"`
	Activities []string  `json:"activities"`
	StartedAt  time.Time `json:"started_at"`
	// HeartbeatAt is when the worker last wrote the entry (its clock);
	// LastSeen when the server stored it.
	HeartbeatAt time.Time `json:"heartbeat_at"`
	LastSeen    time.Time `json:"last_seen"`
	// Key of the entry in the bucket: <task queue>.<instance>.
	Key string `json:"-"`
}

func (s *Store) workersBucket() string { return s.Config.Prefix + "_workers" }

// ensureWorkersBucket opens the presence bucket, creating it with the
// installation's replicas and storage (those of its task stream) if needed.
func (s *Store) ensureWorkersBucket(ctx context.Context) (jetstream.KeyValue, error) {
	cfg := jetstream.KeyValueConfig{
		Bucket:      s.workersBucket(),
		Description: "DurableFuture live workers: one key per worker and task queue, rewritten every 10s",
		History:     1,
		TTL:         PresenceMaxAge,
		Storage:     s.Config.storageType(),
		Replicas:    s.Config.Replicas,
	}
	if len(s.taskStreams) > 0 {
		if c := s.taskStreams[0].CachedInfo(); c != nil {
			cfg.Replicas, cfg.Storage = c.Config.Replicas, c.Config.Storage
		}
	}
	kv, err := s.JS.KeyValue(ctx, cfg.Bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		kv, err = s.JS.CreateKeyValue(ctx, cfg)
		if errors.Is(err, jetstream.ErrBucketExists) || errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			kv, err = s.JS.KeyValue(ctx, cfg.Bucket)
		}
	}
	return kv, err
}

// announce writes the worker's presence for each of its task queues now
// and every PresenceInterval until ctx is done. The returned stop ends the
// rewrites and deletes the entries (a graceful stop); it waits for both.
func (w *Worker) announce(ctx context.Context) (stop func()) {
	kv, err := w.store.ensureWorkersBucket(ctx)
	if err != nil {
		w.log.Warn("worker: presence bucket: dfctl task-queue describe will not list this worker", "err", err)
		return func() {}
	}
	var id [8]byte
	_, _ = rand.Read(id[:])
	instance := hex.EncodeToString(id[:]) // two workers of one process differ
	now := time.Now().UTC()
	p := WorkerPresence{
		Identity: w.opts.Identity, TaskQueues: w.opts.TaskQueues, StartedAt: now,
		Workflows: w.reg.WorkflowNames(), Activities: w.reg.ActivityNames(),
	}
	keys := make([]string, len(w.opts.TaskQueues))
	for i, q := range w.opts.TaskQueues {
		keys[i] = q + "." + instance
	}
	put := func(ctx context.Context) {
		p.HeartbeatAt = time.Now().UTC()
		for i, q := range w.opts.TaskQueues {
			p.TaskQueue = q
			data, _ := json.Marshal(p)
			if _, err := kv.Put(ctx, keys[i], data); err != nil && ctx.Err() == nil {
				w.log.Warn("worker: write presence", "task_queue", q, "err", err)
			}
		}
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	put(pctx)
	cancel()
	loopCtx, stopLoop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(PresenceInterval)
		defer t.Stop()
		for {
			select {
			case <-loopCtx.Done():
				return
			case <-t.C:
				pctx, cancel := context.WithTimeout(loopCtx, 5*time.Second)
				put(pctx)
				cancel()
			}
		}
	}()
	return func() {
		stopLoop()
		<-done
		// ctx is done by now: the deletes get their own short deadline.
		dctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		for _, k := range keys {
			if err := kv.Purge(dctx, k); err != nil {
				w.log.Debug("worker: delete presence", "key", k, "err", err)
			}
		}
	}
}

// Workers lists the workers that announced themselves on task queue queue
// (all queues if queue is ""), by task queue and identity. A server where
// no worker ever announced itself has none.
func (s *Store) Workers(ctx context.Context, queue string) ([]WorkerPresence, error) {
	kv, err := s.JS.KeyValue(ctx, s.workersBucket())
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		return []WorkerPresence{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("workers bucket %s: %w", s.workersBucket(), err)
	}
	filter := ">"
	if queue != "" {
		filter = queue + ".*"
	}
	watch, err := kv.Watch(ctx, filter, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, fmt.Errorf("workers bucket %s: %w", s.workersBucket(), err)
	}
	defer func() { _ = watch.Stop() }()
	out := []WorkerPresence{}
	for {
		var e jetstream.KeyValueEntry
		select {
		case e = <-watch.Updates():
		case <-ctx.Done():
			return nil, fmt.Errorf("workers bucket %s: %w", s.workersBucket(), ctx.Err())
		}
		if e == nil {
			break // the current values are all in
		}
		var p WorkerPresence
		if json.Unmarshal(e.Value(), &p) != nil {
			continue // not written by a worker: skip it
		}
		p.Key, p.LastSeen = e.Key(), e.Created().UTC()
		if p.TaskQueue == "" {
			p.TaskQueue, _, _ = strings.Cut(e.Key(), ".")
		}
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].TaskQueue != out[j].TaskQueue {
			return out[i].TaskQueue < out[j].TaskQueue
		}
		return out[i].Identity < out[j].Identity
	})
	return out, nil
}

// TaskBacklog is the state of the tasks of one kind on one task queue.
type TaskBacklog struct {
	// Consumer is the durable consumer of the tasks (wf_<queue>,
	// act_<queue>); Exists is false when no worker ever served them.
	Consumer string `json:"consumer"`
	Exists   bool   `json:"exists"`
	// Pending tasks are waiting to be delivered; AckPending are delivered
	// and not settled (running, or waiting for a retry back-off);
	// Redelivered of those were delivered more than once. Waiting is the
	// number of pull requests of workers waiting for tasks.
	Pending uint64 `json:"pending"`
	// Stored is the number of tasks on the queue's subject, waiting or in
	// hand: without a consumer (no worker ever served the queue) the
	// tasks are there all the same.
	Stored      uint64 `json:"stored"`
	AckPending  int    `json:"ack_pending"`
	Redelivered int    `json:"redelivered"`
	Waiting     int    `json:"waiting_pulls"`
	// OldestTaskAt is the time of the oldest task stored on the queue's
	// subject, waiting or in hand (nil: none).
	OldestTaskAt *time.Time `json:"oldest_task_at,omitempty"`
}

// TaskQueueInfo is a task queue as dfctl task-queue describe shows it.
type TaskQueueInfo struct {
	TaskQueue     string           `json:"task_queue"`
	Workers       []WorkerPresence `json:"workers"`
	WorkflowTasks TaskBacklog      `json:"workflow_tasks"`
	ActivityTasks TaskBacklog      `json:"activity_tasks"`
}

// DescribeTaskQueue returns the live workers of queue and its backlog.
func (s *Store) DescribeTaskQueue(ctx context.Context, queue string) (*TaskQueueInfo, error) {
	if err := ValidateTaskQueue(queue); err != nil {
		return nil, err
	}
	ws, err := s.Workers(ctx, queue)
	if err != nil {
		return nil, err
	}
	info := &TaskQueueInfo{TaskQueue: queue, Workers: ws}
	if info.WorkflowTasks, err = s.backlogAll(ctx, "wf", queue); err != nil {
		return nil, err
	}
	if info.ActivityTasks, err = s.backlogAll(ctx, "act", queue); err != nil {
		return nil, err
	}
	return info, nil
}

// backlogAll sums the backlog of a kind of task of queue over the
// partitions (the oldest task is the oldest of all).
func (s *Store) backlogAll(ctx context.Context, kind, queue string) (TaskBacklog, error) {
	var all TaskBacklog
	for p := range s.partitions() {
		subject := s.workflowTaskSubject(p, queue)
		if kind == "act" {
			subject = s.activityTaskSubject(p, queue)
		}
		b, err := s.backlog(ctx, s.tasksOf(p), kind, queue, subject)
		if err != nil {
			return all, err
		}
		if p == 0 {
			all = b
			continue
		}
		all.Exists = all.Exists || b.Exists
		all.Pending += b.Pending
		all.Stored += b.Stored
		all.AckPending += b.AckPending
		all.Redelivered += b.Redelivered
		all.Waiting += b.Waiting
		if b.OldestTaskAt != nil && (all.OldestTaskAt == nil || b.OldestTaskAt.Before(*all.OldestTaskAt)) {
			all.OldestTaskAt = b.OldestTaskAt
		}
	}
	return all, nil
}

func (s *Store) backlog(ctx context.Context, tasks jetstream.Stream, kind, queue, subject string) (TaskBacklog, error) {
	b := TaskBacklog{Consumer: kind + "_" + queue}
	c, err := tasks.Consumer(ctx, b.Consumer)
	switch {
	case errors.Is(err, jetstream.ErrConsumerNotFound):
	case err != nil:
		return b, fmt.Errorf("consumer %s: %w", b.Consumer, err)
	default:
		ci, err := c.Info(ctx)
		if err != nil {
			return b, fmt.Errorf("consumer %s: %w", b.Consumer, err)
		}
		b.Exists = true
		b.Pending, b.AckPending, b.Redelivered, b.Waiting = ci.NumPending, ci.NumAckPending, ci.NumRedelivered, ci.NumWaiting
	}
	si, err := tasks.Info(ctx, jetstream.WithSubjectFilter(subject))
	if err != nil {
		return b, fmt.Errorf("tasks on %s: %w", subject, err)
	}
	b.Stored = si.State.Subjects[subject]
	if !b.Exists {
		b.Pending = b.Stored
	}
	if b.Stored == 0 {
		return b, nil
	}
	// The first message on the subject: the oldest task not yet acked.
	m, err := tasks.GetMsg(ctx, 1, jetstream.WithGetMsgSubject(subject))
	switch {
	case errors.Is(err, jetstream.ErrMsgNotFound):
	case err != nil:
		return b, fmt.Errorf("oldest task on %s: %w", subject, err)
	default:
		t := m.Time.UTC()
		b.OldestTaskAt = &t
	}
	return b, nil
}

// TaskQueues lists the task queues that have a consumer (a worker served
// them once) or a live worker, sorted.
func (s *Store) TaskQueues(ctx context.Context) ([]string, error) {
	seen := map[string]bool{}
	for p := range s.partitions() {
		names := s.tasksOf(p).ConsumerNames(ctx)
		for n := range names.Name() {
			if kind, q, ok := strings.Cut(n, "_"); ok && (kind == "wf" || kind == "act") {
				seen[q] = true
			}
		}
		if err := names.Err(); err != nil {
			return nil, fmt.Errorf("consumers of %s: %w", s.taskStreamOf(p), err)
		}
	}
	ws, err := s.Workers(ctx, "")
	if err != nil {
		return nil, err
	}
	for _, w := range ws {
		seen[w.TaskQueue] = true
	}
	// Queues with tasks and no consumer: runs started where no worker
	// ever was.
	for p := range s.partitions() {
		for _, kind := range []string{"wf", "act"} {
			filter := s.taskPrefix(p) + "." + kind + ".*"
			si, err := s.tasksOf(p).Info(ctx, jetstream.WithSubjectFilter(filter))
			if err != nil {
				return nil, fmt.Errorf("tasks on %s: %w", filter, err)
			}
			for subj := range si.State.Subjects {
				seen[subj[strings.LastIndexByte(subj, '.')+1:]] = true
			}
		}
	}
	out := make([]string, 0, len(seen))
	for q := range seen {
		out = append(out, q)
	}
	slices.Sort(out)
	return out, nil
}

// ActivityHeartbeat returns the heartbeat details an attempt of activity
// seq of run runID last stored, and when the server stored them. Details
// are written at most every second (or a third of the heartbeat timeout)
// and only when the activity passes some: a heartbeat without details
// keeps the task alive and is not stored, so it leaves no time here. ok is
// false when no details are stored.
func (s *Store) ActivityHeartbeat(ctx context.Context, runID string, seq int64) (details json.RawMessage, at time.Time, ok bool, err error) {
	if s.heartbeats == nil {
		return nil, time.Time{}, false, nil
	}
	e, err := s.heartbeats.Get(ctx, activityKey(runID, seq))
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
		return nil, time.Time{}, false, nil
	}
	if err != nil {
		return nil, time.Time{}, false, fmt.Errorf("heartbeat details of activity %d of run %s: %w", seq, runID, err)
	}
	return e.Value(), e.Created().UTC(), true, nil
}

// LastEventSeq is the seq of the last event of a run's history, read with
// one get of the subject's last record (the runs index is written only at
// start and close, so its last_event_seq is stale for a running run).
func (s *Store) LastEventSeq(ctx context.Context, workflowID, runID string) (int64, error) {
	subj, err := s.Log.Subject(workflowID, runID)
	if err != nil {
		return 0, invalidf("%v", err)
	}
	rec, err := s.Log.Last(ctx, subj)
	if errors.Is(err, history.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return rec.Events[len(rec.Events)-1].Seq, nil
}
