package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/durablefuture/durablefuture/pkg/history"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// HeartbeatDetailsMaxAge bounds how long the heartbeat details of an
// activity are kept: the bucket's MaxAge. Details are deleted when the
// activity completes or fails for good; this only reclaims what a crash
// left behind.
const HeartbeatDetailsMaxAge = 7 * 24 * time.Hour

// ErrNoHeartbeatDetails is what GetActivityHeartbeatDetails returns when no
// earlier attempt of the activity recorded details.
var ErrNoHeartbeatDetails = errors.New("no heartbeat details")

// minHeartbeatWrite is the least time between two writes of one attempt's
// details to the heartbeats bucket.
const minHeartbeatWrite = time.Second

// cancelMemory bounds the cancellations an activity worker remembers for
// activities it was not running (so that a later attempt fails at once).
const (
	cancelMemorySize = 10000
	cancelMemoryTTL  = time.Hour
)

// ensureHeartbeatsBucket opens (creating it idempotently) the KV bucket of
// heartbeat details: key <run-id>.<scheduled seq>, the latest details of
// the activity as a JSON array.
func (s *Store) ensureHeartbeatsBucket(ctx context.Context) (jetstream.KeyValue, error) {
	cfg := jetstream.KeyValueConfig{
		Bucket:      s.heartbeatsBucket(),
		Description: "DurableFuture activity heartbeat details: one key per running activity, its latest details",
		History:     1,
		TTL:         HeartbeatDetailsMaxAge,
		Storage:     s.Config.storageType(),
		Replicas:    s.Config.Replicas,
	}
	kv, err := s.JS.KeyValue(ctx, cfg.Bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		kv, err = s.JS.CreateKeyValue(ctx, cfg)
		if errors.Is(err, jetstream.ErrBucketExists) || errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			kv, err = s.JS.KeyValue(ctx, cfg.Bucket)
		}
	}
	if err != nil {
		return nil, err
	}
	// Attempt claims (claim.go) expire on their own: per-message TTLs,
	// which a key-value bucket does not enable by itself (LimitMarkerTTL
	// would, with a delete marker written for every expiry).
	st, err := s.JS.Stream(ctx, "KV_"+cfg.Bucket)
	if err != nil {
		return nil, err
	}
	if c := st.CachedInfo().Config; !c.AllowMsgTTL {
		c.AllowMsgTTL = true
		if _, err := s.JS.UpdateStream(ctx, c); err != nil {
			return nil, fmt.Errorf("allow per-message TTLs (needs nats-server 2.11 or later): %w", err)
		}
	}
	return kv, nil
}

// activityKey names one activity of a run: the heartbeats key and the last
// two tokens of its cancel subject.
func activityKey(runID string, seq int64) string { return fmt.Sprintf("%s.%d", runID, seq) }

type activityAttemptKey struct{}

// activityAttempt is one running attempt of an activity as the worker
// tracks it: its cancellation, its heartbeat timeout and the throttled,
// durable writes of its heartbeat details.
type activityAttempt struct {
	w         *Worker
	runID     string
	key       string
	name      string
	attempt   int
	hbTimeout time.Duration
	interval  time.Duration // least time between two writes of details
	// prev holds the details an earlier attempt left (nil: none); read
	// once before the attempt runs, never changed after.
	prev json.RawMessage
	// cancel ends the attempt's context with a cause (ErrCanceled, a
	// heartbeat timeout); set before the attempt is registered.
	cancel context.CancelCauseFunc

	mu       sync.Mutex
	lastBeat time.Time
	details  json.RawMessage // latest details recorded
	dirty    bool            // details not written yet
	mayExist bool            // the key may hold details (delete it at the end)
	lastPut  time.Time
	flushing bool // a write is scheduled or running
	flushT   *time.Timer
	hbT      *time.Timer
	ended    bool

	// putMu orders the writes of the key: a late periodic write can never
	// land after the final one.
	putMu sync.Mutex
}

func (w *Worker) newAttempt(t activityTask, attempt int) *activityAttempt {
	hb := time.Duration(t.Options.HeartbeatTimeout)
	interval := max(minHeartbeatWrite, hb/3)
	return &activityAttempt{
		w: w, runID: t.RunID, key: activityKey(t.RunID, t.ScheduledSeq), name: t.Name, attempt: attempt,
		hbTimeout: hb, interval: interval, lastBeat: time.Now(),
		mayExist: attempt > 1,
	}
}

// loadPrevious reads the details an earlier attempt left. The first
// attempt has none, so it costs no read.
func (a *activityAttempt) loadPrevious(ctx context.Context) {
	if !a.mayExist {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	e, err := a.w.store.heartbeats.Get(ctx, a.key)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted):
		a.mayExist = false
	case err != nil:
		a.w.log.Warn("activity: read heartbeat details", "activity", a.name, "key", a.key, "err", err)
	default:
		a.prev = e.Value()
	}
}

// beat records a heartbeat, with new details if data is not nil, and
// schedules their write.
func (a *activityAttempt) beat(data json.RawMessage) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.ended {
		return
	}
	a.lastBeat = time.Now()
	if data == nil {
		return
	}
	a.details, a.dirty = data, true
	if !a.flushing {
		a.scheduleFlush()
	}
}

// scheduleFlush arranges a write of the details when the throttle allows.
// Called with mu held.
func (a *activityAttempt) scheduleFlush() {
	a.flushing = true
	wait := time.Until(a.lastPut.Add(a.interval))
	if wait < 0 {
		wait = 0
	}
	a.flushT = time.AfterFunc(wait, a.flush)
}

// flush writes the latest details unless the attempt has ended (its end
// writes or deletes them itself).
func (a *activityAttempt) flush() {
	a.putMu.Lock()
	defer a.putMu.Unlock()
	a.mu.Lock()
	if a.ended || !a.dirty {
		a.flushing = false
		a.mu.Unlock()
		return
	}
	data := a.details
	a.dirty, a.mayExist, a.lastPut = false, true, time.Now()
	a.mu.Unlock()

	a.put(data)

	a.mu.Lock()
	a.flushing = false
	if a.dirty && !a.ended {
		a.scheduleFlush()
	}
	a.mu.Unlock()
}

func (a *activityAttempt) put(data json.RawMessage) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := a.w.store.heartbeats.Put(ctx, a.key, data); err != nil {
		a.w.log.Warn("activity: write heartbeat details", "activity", a.name, "key", a.key, "err", err)
	}
}

// watchHeartbeat starts the heartbeat timeout: an attempt silent for
// hbTimeout (counted from its start) is cancelled with a heartbeat
// TimeoutError as cause.
func (a *activityAttempt) watchHeartbeat() {
	if a.hbTimeout <= 0 {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.hbT = time.AfterFunc(a.hbTimeout, a.checkHeartbeat)
}

func (a *activityAttempt) checkHeartbeat() {
	a.mu.Lock()
	if a.ended {
		a.mu.Unlock()
		return
	}
	if idle := time.Since(a.lastBeat); idle < a.hbTimeout {
		a.hbT.Reset(a.hbTimeout - idle)
		a.mu.Unlock()
		return
	}
	a.mu.Unlock()
	a.cancel(activityTimeoutError(TimeoutHeartbeat, a.name, a.hbTimeout))
}

// finish ends the attempt's bookkeeping (once). keep: the activity will
// run again (a retry, a shutdown, an unreported outcome), so the latest
// details are written now; else the activity is over and its details are
// deleted.
func (a *activityAttempt) finish(keep bool) {
	a.mu.Lock()
	if a.ended {
		a.mu.Unlock()
		return
	}
	a.ended = true
	if a.hbT != nil {
		a.hbT.Stop()
	}
	if a.flushT != nil {
		a.flushT.Stop()
	}
	data, dirty, mayExist := a.details, a.dirty, a.mayExist
	a.mu.Unlock()

	a.putMu.Lock()
	defer a.putMu.Unlock()
	switch {
	case keep && dirty:
		a.put(data)
	case !keep && (mayExist || dirty):
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := a.w.store.heartbeats.Delete(ctx, a.key); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
			a.w.log.Warn("activity: delete heartbeat details", "activity", a.name, "key", a.key, "err", err)
		}
	}
}

// RecordActivityHeartbeat marks the attempt running with ctx alive and,
// with details, keeps them (the latest only) for the next attempt. Outside
// an activity it does nothing.
func RecordActivityHeartbeat(ctx context.Context, details ...any) {
	a, _ := ctx.Value(activityAttemptKey{}).(*activityAttempt)
	if a == nil {
		return
	}
	var data json.RawMessage
	if len(details) > 0 {
		b, err := json.Marshal(details)
		switch {
		case err != nil:
			a.w.log.Warn("activity: heartbeat details not encodable, not kept", "activity", a.name, "err", err)
		case len(b) > MaxPayloadBytes:
			a.w.log.Warn("activity: heartbeat details too large, not kept", "activity", a.name, "bytes", len(b), "limit", MaxPayloadBytes)
		default:
			data = b
		}
	}
	a.beat(data)
}

// HasActivityHeartbeatDetails reports whether an earlier attempt of the
// activity running with ctx recorded heartbeat details.
func HasActivityHeartbeatDetails(ctx context.Context) bool {
	a, _ := ctx.Value(activityAttemptKey{}).(*activityAttempt)
	return a != nil && a.prev != nil
}

// GetActivityHeartbeatDetails decodes the details the last heartbeating
// attempt recorded into ptrs, in order (extra pointers are left alone). It
// returns ErrNoHeartbeatDetails if there are none.
func GetActivityHeartbeatDetails(ctx context.Context, ptrs ...any) error {
	a, _ := ctx.Value(activityAttemptKey{}).(*activityAttempt)
	if a == nil || a.prev == nil {
		return ErrNoHeartbeatDetails
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(a.prev, &raw); err != nil {
		return fmt.Errorf("heartbeat details: %w", err)
	}
	for i, p := range ptrs {
		if i >= len(raw) {
			break
		}
		if err := json.Unmarshal(raw[i], p); err != nil {
			return fmt.Errorf("heartbeat details: item %d: %w", i, err)
		}
	}
	return nil
}

// runningActivities are the attempts an activity worker is running, by
// activity key, and the cancellations it heard of (by activity key, or by
// run ID for all the activities of a run), so that an attempt that starts
// after its cancellation fails at once.
type runningActivities struct {
	mu       sync.Mutex
	byKey    map[string]map[*activityAttempt]struct{}
	canceled map[string]time.Time
}

// add registers a; it reports false (and does not register) when the
// activity was cancelled already.
func (r *runningActivities) add(a *activityAttempt) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, k := range []string{a.key, a.runID} {
		if at, ok := r.canceled[k]; ok && time.Since(at) < cancelMemoryTTL {
			return false
		}
	}
	if r.byKey == nil {
		r.byKey = map[string]map[*activityAttempt]struct{}{}
	}
	set := r.byKey[a.key]
	if set == nil {
		set = map[*activityAttempt]struct{}{}
		r.byKey[a.key] = set
	}
	set[a] = struct{}{}
	return true
}

func (r *runningActivities) remove(a *activityAttempt) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if set := r.byKey[a.key]; set != nil {
		delete(set, a)
		if len(set) == 0 {
			delete(r.byKey, a.key)
		}
	}
}

// cancel cancels the running attempts of the activity key (<run>.<seq>),
// or of every activity of the run if key is a run ID, and remembers the
// cancellation for an attempt that starts later.
func (r *runningActivities) cancel(key string) {
	r.mu.Lock()
	var attempts []*activityAttempt
	if strings.Contains(key, ".") {
		for a := range r.byKey[key] {
			attempts = append(attempts, a)
		}
	} else {
		for k, set := range r.byKey {
			if strings.HasPrefix(k, key+".") {
				for a := range set {
					attempts = append(attempts, a)
				}
			}
		}
	}
	if r.canceled == nil {
		r.canceled = map[string]time.Time{}
	}
	if len(r.canceled) >= cancelMemorySize {
		now := time.Now()
		for k, at := range r.canceled {
			if now.Sub(at) >= cancelMemoryTTL || len(r.canceled) >= cancelMemorySize {
				delete(r.canceled, k)
			}
		}
	}
	r.canceled[key] = time.Now()
	r.mu.Unlock()
	for _, a := range attempts {
		a.cancel(ErrCanceled)
	}
}

// subscribeActivityCancels listens (core NATS, no stream) for the
// cancellations workflow workers publish on <prefix>.actcancel.<run>.<seq>
// (one activity) or <prefix>.actcancel.<run> (every activity of a run that
// closed) and cancels the matching running attempts. It returns the
// unsubscribe.
func (w *Worker) subscribeActivityCancels(ctx context.Context) (func(), error) {
	prefix := w.store.Config.Prefix + ".actcancel."
	sub, err := w.store.NC.Subscribe(prefix+">", func(m *nats.Msg) {
		key := strings.TrimPrefix(m.Subject, prefix)
		if key == "" || strings.Count(key, ".") > 1 {
			return
		}
		w.running.cancel(key)
	})
	if err != nil {
		return nil, fmt.Errorf("worker: subscribe to activity cancellations: %w", err)
	}
	// The server has the interest before the first task is pulled. A
	// server that does not answer in time (stalled, a node restarting) is
	// waited for, with a warning, until ctx is done.
	for attempt := 1; ; attempt++ {
		err := w.store.NC.FlushTimeout(5 * time.Second)
		if err == nil {
			break
		}
		// A flush cut by a disconnect says "connection closed" while the
		// connection reconnects: that is transient too.
		lost := errors.Is(err, nats.ErrConnectionClosed) && !w.store.NC.IsClosed()
		if ctx.Err() != nil || !lost && !transientServerError(err) {
			_ = sub.Unsubscribe()
			return nil, fmt.Errorf("worker: subscribe to activity cancellations: %w", err)
		}
		w.log.Warn("worker: the server did not confirm the subscription to activity cancellations in time; trying again", "attempt", attempt, "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(250 * time.Millisecond):
		}
	}
	return func() { _ = sub.Unsubscribe() }, nil
}

// canceledFailure is the outcome of an attempt whose activity was
// cancelled: never retried (the workflow has given up on it).
func canceledFailure(name string) *history.Failure {
	return &history.Failure{Message: "activity " + name + " was canceled", Type: "CanceledError", NonRetryable: true}
}
