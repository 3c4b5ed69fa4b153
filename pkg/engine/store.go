package engine

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/durablefuture/durablefuture/pkg/history"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Config names and shapes the JetStream resources of one DurableFuture
// installation. Several installations can share a server with different
// prefixes.
type Config struct {
	// Prefix of every subject, stream and bucket (default "df").
	Prefix string
	// Replicas of streams and buckets (default 1; 3 on a cluster).
	Replicas int
	// Storage is "file" (default) or "memory".
	Storage string
	// Partitions is the number of history streams and of task streams the
	// runs are spread over, each run placed by a hash of its workflow ID
	// (history.Partition), so that a JetStream cluster spreads the stream
	// leaders, and the writes, over its nodes. 0: as the installation has
	// it (1 for a new one). It is fixed when the installation is created:
	// opening one with another number is an error.
	Partitions int
	// replicasUnset: Replicas was 0 (default 1 for new streams; existing
	// streams keep theirs).
	replicasUnset bool
}

// MaxPartitions bounds Config.Partitions.
const MaxPartitions = 64

// partitionsMeta is the metadata key of the first history stream that
// records the installation's number of partitions (absent: 1).
const partitionsMeta = "durablefuture_partitions"

var tokenRE = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

func (c Config) normalize() (Config, error) {
	if c.Prefix == "" {
		c.Prefix = "df"
	}
	if !tokenRE.MatchString(c.Prefix) {
		return c, fmt.Errorf("prefix %q: use letters, digits, '-' and '_' only", c.Prefix)
	}
	if c.Replicas <= 0 {
		c.Replicas, c.replicasUnset = 1, true
	}
	if c.Replicas > 5 {
		return c, fmt.Errorf("replicas %d: JetStream allows at most 5", c.Replicas)
	}
	if c.Partitions < 0 || c.Partitions > MaxPartitions {
		return c, fmt.Errorf("partitions %d: use 1 to %d", c.Partitions, MaxPartitions)
	}
	switch c.Storage {
	case "", "file":
		c.Storage = "file"
	case "memory":
	default:
		return c, fmt.Errorf("storage %q: use file or memory", c.Storage)
	}
	return c, nil
}

func (c Config) storageType() jetstream.StorageType {
	if c.Storage == "memory" {
		return jetstream.MemoryStorage
	}
	return jetstream.FileStorage
}

// ValidateTaskQueue says what is wrong with a task queue name, if anything.
func ValidateTaskQueue(q string) error {
	if !tokenRE.MatchString(q) || len(q) > 100 {
		return invalidf("task queue %q: use 1-100 letters, digits, '-' and '_'", q)
	}
	return nil
}

// DefaultTaskQueue is used when none is given.
const DefaultTaskQueue = "default"

// Store is a connection to the JetStream resources of an installation:
// the history stream, the task stream and the runs index.
type Store struct {
	NC     *nats.Conn
	JS     jetstream.JetStream
	Config Config
	Log    *history.Log

	taskStreams []jetstream.Stream // one per partition
	runs        jetstream.KeyValue
	// heartbeats holds the latest heartbeat details of running activities.
	heartbeats jetstream.KeyValue

	consMu    sync.Mutex
	consumers map[string]jetstream.Consumer

	watch runWatch

	indexState // the visibility index (index.go)
}

// Stream and bucket names. Partition 0's streams keep the names of an
// installation without partitions; partition k > 0 adds "_<k>".
func (s *Store) historyStream() string { return s.historyStreamOf(0) }
func (s *Store) taskStream() string    { return s.taskStreamOf(0) }
func (s *Store) historyStreamOf(p int) string {
	return partitionName(strings.ToUpper(s.Config.Prefix)+"_HISTORY", p)
}
func (s *Store) taskStreamOf(p int) string {
	return partitionName(strings.ToUpper(s.Config.Prefix)+"_TASKS", p)
}

func partitionName(base string, p int) string {
	if p == 0 {
		return base
	}
	return base + "_" + strconv.Itoa(p)
}

// partitions is the installation's number of partitions (after opening).
func (s *Store) partitions() int { return max(1, s.Config.Partitions) }

// partOf is the partition of the runs of a workflow ID.
func (s *Store) partOf(workflowID string) int {
	return history.Partition(workflowID, s.partitions())
}

// tasksOf is the task stream of partition p.
func (s *Store) tasksOf(p int) jetstream.Stream { return s.taskStreams[p] }

// taskPrefix is the root of the task subjects of partition p.
func (s *Store) taskPrefix(p int) string {
	if s.partitions() > 1 {
		return s.Config.Prefix + ".task." + strconv.Itoa(p)
	}
	return s.Config.Prefix + ".task"
}

// histSubjects is the subject filter of the history stream of partition p.
func (s *Store) histSubjects(p int) string {
	if s.partitions() > 1 {
		return s.Config.Prefix + ".hist." + strconv.Itoa(p) + ".>"
	}
	return s.Config.Prefix + ".hist.>"
}
func (s *Store) runsBucket() string { return s.Config.Prefix + "_runs" }
func (s *Store) heartbeatsBucket() string {
	return s.Config.Prefix + "_heartbeats"
}

// activityCancelSubject is the core NATS subject (no stream) on which a
// workflow worker tells activity workers that an activity was cancelled.
func (s *Store) activityCancelSubject(runID string, seq int64) string {
	return fmt.Sprintf("%s.actcancel.%s.%d", s.Config.Prefix, runID, seq)
}

// activityCancelRunSubject tells activity workers that every activity of a
// run is cancelled (the run closed or was terminated).
func (s *Store) activityCancelRunSubject(runID string) string {
	return s.Config.Prefix + ".actcancel." + runID
}

// workflowTaskSubject is where the workflow tasks of queue are, in
// partition p (that of the run's workflow ID).
func (s *Store) workflowTaskSubject(p int, queue string) string {
	return s.taskPrefix(p) + ".wf." + queue
}
func (s *Store) activityTaskSubject(p int, queue string) string {
	return s.taskPrefix(p) + ".act." + queue
}

// timerSubject holds the scheduled message of one timer of a run; it is in
// the task stream (of the run's partition p) because a schedule must live
// in the stream of its target.
func (s *Store) timerSubject(p int, runID string, seq int64) string {
	return fmt.Sprintf("%s.sched.%s.%d", s.taskPrefix(p), runID, seq)
}

// schedulesFilter covers every scheduled message of a run.
func (s *Store) schedulesFilter(p int, runID string) string {
	return fmt.Sprintf("%s.sched.%s.>", s.taskPrefix(p), runID)
}

// Open connects a Store to nc, creating the streams and the runs bucket
// idempotently if they do not exist yet.
func Open(ctx context.Context, nc *nats.Conn, cfg Config) (*Store, error) {
	s, err := newStore(nc, cfg)
	if err != nil {
		return nil, err
	}
	if err := s.ensureTopology(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Store) ensureTopology(ctx context.Context) error {
	n, fresh, err := s.installedPartitions(ctx)
	if err != nil {
		return err
	}
	s.setPartitions(n)
	cfg := s.Config
	for p := range n {
		want := jetstream.StreamConfig{
			Name:        s.historyStreamOf(p),
			Description: "DurableFuture run histories: one subject per run, one message per decision",
			Subjects:    []string{s.histSubjects(p)},
			Storage:     cfg.storageType(),
			Replicas:    cfg.Replicas,
			AllowDirect: true,
			Discard:     jetstream.DiscardNew,
		}
		if n > 1 {
			want.Description = fmt.Sprintf("DurableFuture run histories, partition %d of %d: one subject per run, one message per decision", p, n)
			if p == 0 {
				want.Metadata = map[string]string{partitionsMeta: strconv.Itoa(n)}
			}
		}
		hist, err := s.ensureStream(ctx, want)
		if err != nil {
			return topologyError("history stream "+want.Name, err)
		}
		if p == 0 {
			s.Log.LeaderCheck = hist.CachedInfo().Config.Replicas > 1
		}
	}
	s.taskStreams = make([]jetstream.Stream, n)
	for p := range n {
		want := jetstream.StreamConfig{
			Name:              s.taskStreamOf(p),
			Description:       "DurableFuture workflow and activity tasks, per task queue",
			Subjects:          []string{s.taskPrefix(p) + ".>"},
			Storage:           cfg.storageType(),
			Replicas:          cfg.Replicas,
			Retention:         jetstream.WorkQueuePolicy,
			Duplicates:        5 * time.Minute,
			AllowMsgSchedules: true,
		}
		if n > 1 {
			want.Description = fmt.Sprintf("DurableFuture workflow and activity tasks, partition %d of %d, per task queue", p, n)
		}
		if s.taskStreams[p], err = s.ensureStream(ctx, want); err != nil {
			return topologyError("task stream "+want.Name, err)
		}
	}
	if n > 1 && fresh && cfg.Replicas > 1 {
		s.spreadLeaders(ctx)
	}
	kvCfg := jetstream.KeyValueConfig{
		Bucket:      s.runsBucket(),
		Description: "DurableFuture runs index: one key per workflow ID, its latest run",
		History:     1,
		Storage:     cfg.storageType(),
		Replicas:    cfg.Replicas,
	}
	s.runs, err = s.JS.KeyValue(ctx, kvCfg.Bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		s.runs, err = s.JS.CreateKeyValue(ctx, kvCfg)
		if errors.Is(err, jetstream.ErrBucketExists) || errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			s.runs, err = s.JS.KeyValue(ctx, kvCfg.Bucket)
		}
	}
	if err != nil {
		return topologyError("runs bucket "+s.runsBucket(), err)
	}
	s.runs = indexedRuns{KeyValue: s.runs, s: s}
	idx, err := s.ensureStream(ctx, s.indexStreamConfig())
	if err != nil {
		return topologyError("runs index stream "+s.indexStream(), err)
	}
	s.idxMu.Lock()
	s.idx = idx
	s.idxMu.Unlock()
	if err := s.backfillIndex(ctx); err != nil {
		return err
	}
	if s.heartbeats, err = s.ensureHeartbeatsBucket(ctx); err != nil {
		return topologyError("heartbeats bucket "+s.heartbeatsBucket(), err)
	}
	return nil
}

// ensureStream creates the stream, or updates it only when its settings
// differ: opening a store is frequent (every dfctl command), and a stream
// update racing with consumer creation is needless work for the server.
func (s *Store) ensureStream(ctx context.Context, want jetstream.StreamConfig) (jetstream.Stream, error) {
	st, err := s.JS.Stream(ctx, want.Name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		st, err = s.JS.CreateStream(ctx, want)
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			st, err = s.JS.Stream(ctx, want.Name)
		}
	}
	if err != nil {
		return nil, err
	}
	have := st.CachedInfo().Config
	if s.Config.replicasUnset {
		// The opener did not ask for a replica count: an existing stream
		// keeps its own (a worker with default options must not scale an
		// R3 installation down to R1).
		want.Replicas = have.Replicas
	}
	if slices.Equal(have.Subjects, want.Subjects) && have.Storage == want.Storage && have.Replicas == want.Replicas &&
		have.Retention == want.Retention && have.AllowDirect == want.AllowDirect && have.Discard == want.Discard &&
		(want.Duplicates == 0 || have.Duplicates == want.Duplicates) && have.AllowMsgSchedules == want.AllowMsgSchedules {
		return st, nil
	}
	return s.JS.UpdateStream(ctx, want)
}

func topologyError(what string, err error) error {
	return fmt.Errorf("create %s: %w", what, jetStreamError(err))
}

// consumer returns (creating it idempotently) the durable pull consumer of
// one kind of task on one queue, in the task stream of partition p.
func (s *Store) consumer(ctx context.Context, kind, queue string, p int, ackWait time.Duration, maxAckPending int) (jetstream.Consumer, error) {
	name := kind + "_" + queue
	key := name + "/" + strconv.Itoa(p)
	s.consMu.Lock()
	defer s.consMu.Unlock()
	if c, ok := s.consumers[key]; ok {
		return c, nil
	}
	subj := s.workflowTaskSubject(p, queue)
	if kind == "act" {
		subj = s.activityTaskSubject(p, queue)
	}
	c, err := s.tasksOf(p).CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable:       name,
		Description:   fmt.Sprintf("DurableFuture %s tasks of queue %s", kind, queue),
		FilterSubject: subj,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       ackWait,
		MaxDeliver:    -1,
		MaxAckPending: maxAckPending,
	})
	if err != nil {
		return nil, fmt.Errorf("create consumer %s on %s: %w", name, s.taskStreamOf(p), err)
	}
	s.consumers[key] = c
	return c, nil
}

// withDefaultTimeout is ctx bounded by d when it has no deadline.
func withDefaultTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, d)
}
