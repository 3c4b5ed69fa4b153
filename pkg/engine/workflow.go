package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/durablefuture/durablefuture/pkg/history"
)

// Context is the context of workflow code. It carries the run, values and
// cancellation; it is not a context.Context because workflow code must not
// block on anything the scheduler does not control.
type Context interface {
	Value(key any) any
	// Done is closed when the context is cancelled.
	Done() Channel
	// Err is nil until the context is cancelled, then ErrCanceled.
	Err() error
	run() *run
	// onCancel registers f to run (on the workflow goroutine that cancels)
	// when the context is cancelled; it returns a function that unregisters f.
	onCancel(f func()) (remove func())
}

type rootContext struct {
	r *run
	*canceler
}

func (c rootContext) Value(any) any { return nil }

// run is how every workflow call reaches the run: only from the coroutine
// running now (or a query handler); see dispatcher.enter.
func (c rootContext) run() *run {
	c.r.disp.enter()
	return c.r
}

// canceler is the cancellation state shared by a context and its children.
type canceler struct {
	done      *channel
	err       error
	parent    *canceler
	callbacks map[int]func()
	next      int
}

func newCanceler(parent *canceler) *canceler {
	c := &canceler{done: &channel{}, parent: parent, callbacks: map[int]func(){}}
	if parent != nil {
		if parent.err != nil {
			c.cancel(parent.err)
		} else {
			parent.onCancel(func() { c.cancel(parent.err) })
		}
	}
	return c
}

func (c *canceler) Done() Channel { return c.done }
func (c *canceler) Err() error    { return c.err }

func (c *canceler) onCancel(f func()) func() {
	if c.err != nil {
		f()
		return func() {}
	}
	id := c.next
	c.next++
	c.callbacks[id] = f
	return func() { delete(c.callbacks, id) }
}

func (c *canceler) cancel(err error) {
	if c.err != nil {
		return
	}
	c.err = err
	c.done.Close()
	// Callbacks run in registration order: deterministic.
	for id := 0; id < c.next; id++ {
		if f, ok := c.callbacks[id]; ok {
			delete(c.callbacks, id)
			f()
		}
	}
}

type cancelContext struct {
	Context
	*canceler
}

func (c cancelContext) Done() Channel            { return c.canceler.Done() }
func (c cancelContext) Err() error               { return c.canceler.Err() }
func (c cancelContext) onCancel(f func()) func() { return c.canceler.onCancel(f) }
func (c cancelContext) Value(key any) any        { return c.Context.Value(key) }

// CancelFunc cancels a context and its children.
type CancelFunc func()

// WithCancel returns a child context and the function that cancels it.
func WithCancel(parent Context) (Context, CancelFunc) {
	c := newCanceler(nil)
	if parent.Err() != nil {
		c.cancel(parent.Err())
	} else {
		parent.onCancel(func() { c.cancel(parent.Err()) })
	}
	return cancelContext{Context: parent, canceler: c}, func() { c.cancel(ErrCanceled) }
}

// NewDisconnectedContext returns a context that keeps the values of parent
// but is not cancelled with it: for cleanup after a cancellation.
func NewDisconnectedContext(parent Context) (Context, CancelFunc) {
	c := newCanceler(nil)
	return cancelContext{Context: parent, canceler: c}, func() { c.cancel(ErrCanceled) }
}

type valueContext struct {
	Context
	key, val any
}

func (c valueContext) Value(key any) any {
	if c.key == key {
		return c.val
	}
	return c.Context.Value(key)
}

// WithValue returns a child context carrying val under key.
func WithValue(ctx Context, key, val any) Context { return valueContext{ctx, key, val} }

type activityOptionsKey struct{}

// ActivityOptions say where and how an activity runs.
type ActivityOptions struct {
	// TaskQueue defaults to the workflow's task queue.
	TaskQueue string
	// StartToCloseTimeout bounds one attempt (default 10 minutes).
	StartToCloseTimeout time.Duration
	// ScheduleToCloseTimeout bounds the whole activity, all attempts and
	// back-offs included, from when it was scheduled (0: no bound).
	ScheduleToCloseTimeout time.Duration
	// HeartbeatTimeout fails an attempt that does not call
	// activity.RecordHeartbeat for this long (0: no heartbeat needed).
	HeartbeatTimeout time.Duration
	// RetryPolicy (nil: Temporal's defaults, unlimited attempts).
	RetryPolicy *RetryPolicy
}

// RetryPolicy is the activity retry policy; see history.RetryPolicy for defaults.
type RetryPolicy struct {
	InitialInterval        time.Duration
	BackoffCoefficient     float64
	MaximumInterval        time.Duration
	MaximumAttempts        int
	NonRetryableErrorTypes []string
}

// DefaultStartToCloseTimeout applies when an activity sets none.
const DefaultStartToCloseTimeout = 10 * time.Minute

// WithActivityOptions returns a context whose activities use opts.
func WithActivityOptions(ctx Context, opts ActivityOptions) Context {
	return WithValue(ctx, activityOptionsKey{}, opts)
}

// GetActivityOptions returns the activity options set on ctx.
func GetActivityOptions(ctx Context) ActivityOptions {
	o, _ := ctx.Value(activityOptionsKey{}).(ActivityOptions)
	return o
}

func (o ActivityOptions) record(defaultQueue string) *history.ActivityOptions {
	rec := &history.ActivityOptions{TaskQueue: o.TaskQueue, StartToCloseTimeout: history.Duration(o.StartToCloseTimeout)}
	rec.ScheduleToCloseTimeout, rec.HeartbeatTimeout = history.Duration(o.ScheduleToCloseTimeout), history.Duration(o.HeartbeatTimeout)
	if rec.TaskQueue == "" {
		rec.TaskQueue = defaultQueue
	}
	if rec.StartToCloseTimeout <= 0 {
		rec.StartToCloseTimeout = history.Duration(DefaultStartToCloseTimeout)
	}
	if p := o.RetryPolicy; p != nil {
		rec.RetryPolicy = &history.RetryPolicy{
			InitialInterval:        history.Duration(p.InitialInterval),
			BackoffCoefficient:     p.BackoffCoefficient,
			MaximumInterval:        history.Duration(p.MaximumInterval),
			MaximumAttempts:        p.MaximumAttempts,
			NonRetryableErrorTypes: p.NonRetryableErrorTypes,
		}
	}
	return rec
}

// Future is the result of an asynchronous workflow operation.
type Future interface {
	// Get blocks the workflow until the future is ready and decodes its
	// value into valuePtr (which may be nil).
	Get(ctx Context, valuePtr any) error
	IsReady() bool
}

type future struct {
	what   string
	ready  bool
	result json.RawMessage
	err    error
}

func (f *future) IsReady() bool { return f.ready }

func (f *future) Get(ctx Context, valuePtr any) error {
	r := ctx.run()
	r.disp.yieldOn(f, func() bool { return f.ready })
	if f.err != nil {
		return f.err
	}
	err := DecodeResult(f.what, f.result, valuePtr)
	if err != nil && r.blocksOnPanic() {
		// The recorded value does not fit the code's type: a code change
		// (DF1005). The run is blocked; this coroutine waits for ever (it
		// is unwound when the run is disposed).
		r.blockOnCode(err.Error(), string(debug.Stack()))
		r.disp.yield(func() bool { return false })
	}
	return err
}

func (f *future) set(result json.RawMessage, err error) {
	f.ready, f.result, f.err = true, result, err
}

// ExecuteActivity schedules an activity (a function or a registered name)
// and returns a future for its result. Several may be in flight at once.
func ExecuteActivity(ctx Context, activity any, args ...any) Future {
	r := ctx.run()
	name := FunctionName(activity)
	f := &future{what: "activity " + name}
	input, err := EncodeArgs("activity", name, activity, args)
	if err == nil {
		err = checkPayload("activity "+name+" input", input)
	}
	if err != nil {
		f.set(nil, NewNonRetryableApplicationError(err.Error(), "ArgumentError"))
		return f
	}
	if ctx.Err() != nil {
		f.set(nil, &ActivityError{ActivityName: name, Cause: ctx.Err()})
		return f
	}
	opts := GetActivityOptions(ctx)
	cmd := &command{
		event: history.Event{
			Type:            history.ActivityScheduled,
			Name:            name,
			Input:           input,
			ActivityOptions: opts.record(r.info.TaskQueue),
		},
		future: f,
	}
	r.addCommand(cmd)
	// Cancelling ctx abandons the activity: its future fails with
	// ErrCanceled at once and a later result is ignored. (Telling the
	// running attempt needs heartbeats.)
	cmd.unregister = ctx.onCancel(func() {
		if f.ready {
			return
		}
		f.set(nil, &ActivityError{ActivityName: name, ScheduledSeq: cmd.seq, Cause: ErrCanceled})
		if r.removePending(cmd) || cmd.seq == 0 {
			return
		}
		if a := r.activities[cmd.seq]; a != nil {
			a.done = true
		}
		r.addCommand(&command{event: history.Event{Type: history.ActivityCancelRequested, Name: name, Cause: cmd.seq}})
	})
	return f
}

// Go starts fn as a workflow goroutine on the deterministic scheduler.
func Go(ctx Context, fn func(ctx Context)) {
	r := ctx.run()
	r.disp.spawn("", func() { fn(ctx) })
}

// Now is the workflow's clock: the time of the decision being made, the
// same on every replay.
func Now(ctx Context) time.Time { return ctx.run().now }

// Info describes the run a workflow executes in.
type Info struct {
	WorkflowID   string
	RunID        string
	WorkflowType string
	TaskQueue    string
	StartTime    time.Time
}

// GetInfo returns the run's info.
func GetInfo(ctx Context) Info { return ctx.run().info }

// IsReplaying reports whether the code is re-running recorded history.
func IsReplaying(ctx Context) bool { return ctx.run().replaying }

// GetLogger returns a logger that is silent while the code replays.
func GetLogger(ctx Context) *slog.Logger { return ctx.run().logger }

// Channel is a deterministic channel between workflow goroutines, and the
// receiving end of a run's signals (GetSignalChannel).
//
// A value that does not decode into the receiver's type (a signal sent with
// the wrong shape) never fails the workflow. Receive and ReceiveAsync skip
// it, with a warning in the workflow's log; ReceiveWithError and
// ReceiveAsyncWithError return it as a *ReceiveError. Either way the value
// is consumed, and a replay of the same history does the same.
type Channel interface {
	Send(ctx Context, v any)
	// Receive blocks until a value arrives (more=true) or the channel is
	// closed and drained (more=false); the value is decoded into valuePtr.
	// A value that does not decode is skipped (logged) and Receive waits
	// for the next one.
	Receive(ctx Context, valuePtr any) (more bool)
	// ReceiveWithError is Receive that returns a value that does not
	// decode into valuePtr as a *ReceiveError (with more=true) instead of
	// skipping it.
	ReceiveWithError(ctx Context, valuePtr any) (more bool, err error)
	// ReceiveAsync takes a value if one is waiting (ok=true), skipping
	// (and logging) those that do not decode.
	ReceiveAsync(valuePtr any) (ok bool)
	// ReceiveAsyncWithError takes the next value if one is waiting
	// (ok=true); err is a *ReceiveError when it does not decode into
	// valuePtr.
	ReceiveAsyncWithError(valuePtr any) (ok bool, err error)
	Close()
	Len() int
}

// ReceiveError is a value taken from a channel that does not decode into
// the receiver's type: for a signal, the client sent a value of another
// shape than the workflow reads. The value is consumed; the run goes on.
type ReceiveError struct {
	// Channel is the signal's name ("" for a channel made by NewChannel).
	Channel string
	// EventSeq is the SignalReceived event that carried the value (0 for a
	// value sent by workflow code).
	EventSeq int64
	// Value is the value as received, as JSON (when it can be written so).
	Value json.RawMessage
	// Target is the Go type it was to be decoded into, e.g. "*int".
	Target string
	// Err is the decoder's error.
	Err error
}

func (e *ReceiveError) Error() string {
	what := "channel value"
	if e.Channel != "" {
		what = fmt.Sprintf("signal %q", e.Channel)
	}
	if e.EventSeq != 0 {
		what += fmt.Sprintf(" (event %d)", e.EventSeq)
	}
	return fmt.Sprintf("%s %s does not decode into %s: %v", what, history.Truncate(history.CompactJSON(e.Value), 60), e.Target, e.Err)
}

func (e *ReceiveError) Unwrap() error { return e.Err }

type channel struct {
	name string
	// r is the run, for the log line of a skipped value (nil for a
	// context's Done channel, which carries no value).
	r      *run
	signal bool
	size   int
	buf    []chanValue
	sent   int
	taken  int
	closed bool
}

// chanValue is a value in a channel: sent by workflow code, or a signal's
// JSON with the seq of the SignalReceived event that carried it.
type chanValue struct {
	v        any
	eventSeq int64
}

// NewChannel returns an unbuffered channel.
func NewChannel(ctx Context) Channel { return &channel{r: ctx.run()} }

// NewBufferedChannel returns a channel holding up to size values.
func NewBufferedChannel(ctx Context, size int) Channel { return &channel{r: ctx.run(), size: size} }

func (c *channel) Send(ctx Context, v any) {
	if c.closed {
		panic("workflow: send on closed channel")
	}
	c.buf = append(c.buf, chanValue{v: v})
	c.sent++
	ticket := c.sent
	ctx.run().disp.yieldOn(c, func() bool { return c.taken >= ticket-c.size })
}

func (c *channel) Receive(ctx Context, valuePtr any) bool {
	for {
		more, err := c.ReceiveWithError(ctx, valuePtr)
		if err == nil {
			return more
		}
		c.skipped(err)
	}
}

func (c *channel) ReceiveWithError(ctx Context, valuePtr any) (bool, error) {
	ctx.run().disp.yieldOn(c, func() bool { return len(c.buf) > 0 || c.closed })
	if len(c.buf) == 0 {
		return false, nil // closed and drained
	}
	return true, c.take(valuePtr)
}

func (c *channel) ReceiveAsync(valuePtr any) bool {
	for {
		ok, err := c.ReceiveAsyncWithError(valuePtr)
		if err == nil {
			return ok
		}
		c.skipped(err)
	}
}

func (c *channel) ReceiveAsyncWithError(valuePtr any) (bool, error) {
	if len(c.buf) == 0 {
		return false, nil
	}
	return true, c.take(valuePtr)
}

// take consumes the next value into valuePtr.
func (c *channel) take(valuePtr any) error {
	cv := c.buf[0]
	c.buf = c.buf[1:]
	c.taken++
	err := assign(valuePtr, cv.v)
	if err == nil {
		return nil
	}
	re := &ReceiveError{EventSeq: cv.eventSeq, Target: fmt.Sprintf("%T", valuePtr), Err: err}
	if c.signal {
		re.Channel = c.name
	}
	if raw, ok := cv.v.(json.RawMessage); ok {
		re.Value = raw
	} else {
		re.Value, _ = json.Marshal(cv.v)
	}
	return re
}

// skipped logs a value Receive or ReceiveAsync did not deliver (silent on
// replay, like every workflow log line).
func (c *channel) skipped(err error) {
	if c.r != nil {
		c.r.logger.Warn("workflow: a received value does not decode and is skipped (use ReceiveWithError to see it)", "err", err.Error())
	}
}

func (c *channel) ready() bool { return len(c.buf) > 0 || c.closed }

func (c *channel) Close() { c.closed = true }

func (c *channel) Len() int { return len(c.buf) }

// assign stores v into valuePtr: directly when the types match, else through
// JSON (so a channel of signals can be read into a struct). A value that
// does not decode leaves valuePtr as it was (its top level: what a map or
// pointer inside it refers to may be partly written) and is an error;
// valuePtr that is not a pointer is a bug in the code (a panic).
func assign(valuePtr, v any) error {
	if valuePtr == nil {
		return nil
	}
	pv := reflect.ValueOf(valuePtr)
	if pv.Kind() != reflect.Pointer || pv.IsNil() {
		panic(fmt.Sprintf("workflow: receive into %T: need a non-nil pointer", valuePtr))
	}
	raw, isRaw := v.(json.RawMessage)
	if !isRaw && setDirect(valuePtr, v) {
		return nil
	}
	if !isRaw {
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("a %T cannot be encoded: %w", v, err)
		}
		raw = b
	}
	before := reflect.New(pv.Elem().Type()).Elem()
	before.Set(pv.Elem())
	if err := json.Unmarshal(raw, valuePtr); err != nil {
		pv.Elem().Set(before)
		return err
	}
	return nil
}

// Selector waits on several futures and channels at once.
type Selector interface {
	AddFuture(f Future, fn func(f Future)) Selector
	AddReceive(c Channel, fn func(c Channel, more bool)) Selector
	AddDefault(fn func())
	// Select blocks until one case is ready and runs its callback. A
	// future's case fires once per selector. Among ready cases the first
	// added wins.
	Select(ctx Context)
	HasPending() bool
}

type selectCase struct {
	fut     Future
	fired   bool
	futFn   func(Future)
	ch      *channel
	chFn    func(Channel, bool)
	deflt   func()
	isDeflt bool
}

type selector struct{ cases []*selectCase }

// NewSelector returns an empty selector.
func NewSelector(ctx Context) Selector { return &selector{} }

func (s *selector) AddFuture(f Future, fn func(Future)) Selector {
	s.cases = append(s.cases, &selectCase{fut: f, futFn: fn})
	return s
}

func (s *selector) AddReceive(c Channel, fn func(Channel, bool)) Selector {
	ch, ok := c.(*channel)
	if !ok {
		panic("workflow: AddReceive needs a channel made by workflow.NewChannel")
	}
	s.cases = append(s.cases, &selectCase{ch: ch, chFn: fn})
	return s
}

func (s *selector) AddDefault(fn func()) {
	s.cases = append(s.cases, &selectCase{deflt: fn, isDeflt: true})
}

func (s *selector) readyCase() *selectCase {
	var deflt *selectCase
	for _, c := range s.cases {
		switch {
		case c.isDeflt:
			deflt = c
		case c.fut != nil:
			if !c.fired && c.fut.IsReady() {
				return c
			}
		case c.ch != nil:
			if c.ch.ready() {
				return c
			}
		}
	}
	return deflt
}

func (s *selector) HasPending() bool {
	for _, c := range s.cases {
		if c.fut != nil && !c.fired && c.fut.IsReady() || c.ch != nil && c.ch.ready() {
			return true
		}
	}
	return false
}

func (s *selector) Select(ctx Context) {
	var chosen *selectCase
	ctx.run().disp.yieldOn(s, func() bool {
		chosen = s.readyCase()
		return chosen != nil
	})
	switch {
	case chosen.isDeflt:
		chosen.deflt()
	case chosen.fut != nil:
		chosen.fired = true
		if chosen.futFn != nil {
			chosen.futFn(chosen.fut)
		}
	default:
		if chosen.chFn != nil {
			chosen.chFn(chosen.ch, !(chosen.ch.closed && len(chosen.ch.buf) == 0))
		} else {
			chosen.ch.ReceiveAsync(nil)
		}
	}
}

func setDirect(valuePtr, v any) bool {
	pv := reflect.ValueOf(valuePtr)
	if pv.Kind() != reflect.Pointer || pv.IsNil() {
		return false
	}
	vv := reflect.ValueOf(v)
	if !vv.IsValid() {
		pv.Elem().SetZero()
		return true
	}
	if vv.Type().AssignableTo(pv.Elem().Type()) {
		pv.Elem().Set(vv)
		return true
	}
	return false
}

// NewTimer returns a future that is ready after d of workflow time. The
// timer lives in JetStream (a scheduled message), so it fires even if every
// worker was down at its due time. Cancelling ctx cancels the timer: its
// future then fails with ErrCanceled.
func NewTimer(ctx Context, d time.Duration) Future {
	r := ctx.run()
	f := &future{what: "timer"}
	switch {
	case ctx.Err() != nil:
		f.set(nil, ctx.Err())
		return f
	case d <= 0:
		f.set(nil, nil)
		return f
	}
	fireAt := r.now.Add(d)
	cmd := &command{event: history.Event{Type: history.TimerStarted, FireAt: &fireAt, Duration: history.Duration(d)}, future: f}
	t := &timerState{future: f}
	cmd.onBind = func(seq int64) { r.timers[seq] = t }
	r.addCommand(cmd)
	t.unregister = ctx.onCancel(func() {
		if t.done {
			return
		}
		t.done = true
		f.set(nil, ErrCanceled)
		if !r.removePending(cmd) && cmd.seq != 0 {
			r.addCommand(&command{event: history.Event{Type: history.TimerCanceled, Cause: cmd.seq}})
		}
	})
	return f
}

// Sleep blocks the workflow for d of workflow time (a durable timer). It
// returns ErrCanceled if ctx is cancelled first.
func Sleep(ctx Context, d time.Duration) error {
	return NewTimer(ctx, d).Get(ctx, nil)
}

// GetSignalChannel returns the channel on which the run receives the
// signals called name, in the order they were accepted. Signals that arrive
// before the code asks are kept.
func GetSignalChannel(ctx Context, name string) Channel {
	return ctx.run().signalChannel(name)
}

const (
	versionMarkerPrefix = "Version:"
	sideEffectMarker    = "SideEffect"
	// DefaultVersion is what GetVersion returns for a run that passed the
	// change point before the change existed.
	DefaultVersion = -1
)

// GetVersion lets workflow code change while runs are open. The first call
// for changeID in a run that reaches it with new code records maxSupported
// and returns it; a run whose history passed this point before the change
// gets DefaultVersion (or the version it recorded). A recorded version
// outside [minSupported, maxSupported] is a non-determinism error: the run
// waits for code that supports it.
func GetVersion(ctx Context, changeID string, minSupported, maxSupported int) int {
	r := ctx.run()
	v, known := r.versions[changeID]
	switch {
	case !known && r.replaying:
		v = DefaultVersion
	case !known:
		v = maxSupported
		r.versions[changeID] = v
	}
	if v != DefaultVersion && !r.versionMarked[changeID] {
		r.versionMarked[changeID] = true
		b, _ := json.Marshal(v)
		r.addCommand(&command{event: history.Event{Type: history.MarkerRecorded, Name: versionMarkerPrefix + changeID, Result: b}})
	}
	if v < minSupported || v > maxSupported {
		r.nde = r.nondet(CodeCommandMismatch, r.lastSeq+1, fmt.Sprintf("version %d of change %q", v, changeID),
			fmt.Sprintf("code supporting versions %d to %d", minSupported, maxSupported))
		r.disp.yield(func() bool { return false }) // never resumes: the run is blocked
	}
	return v
}

// SideEffect runs f once and records its result; on replay the recorded
// result is returned without running f. Use it for small non-deterministic
// values (a random ID); do I/O in activities.
func SideEffect(ctx Context, f func(ctx Context) any) EncodedValue {
	r := ctx.run()
	var b json.RawMessage
	if len(r.sideEffects) > 0 {
		b, r.sideEffects = r.sideEffects[0], r.sideEffects[1:]
	} else {
		var err error
		if b, err = json.Marshal(f(ctx)); err != nil {
			panic(fmt.Sprintf("workflow: SideEffect result cannot be encoded: %v", err))
		}
	}
	r.addCommand(&command{event: history.Event{Type: history.MarkerRecorded, Name: sideEffectMarker, Result: b}})
	return EncodedValue(b)
}

// EncodedValue is a recorded JSON value.
type EncodedValue json.RawMessage

// Get decodes the value into valuePtr.
func (v EncodedValue) Get(valuePtr any) error {
	return DecodeResult("side effect", json.RawMessage(v), valuePtr)
}

// SetQueryHandler makes the run answer queries called name with handler, a
// function func(args...) (T, error) of JSON-decodable arguments. A handler
// reads the workflow's state and must not block or change it.
func SetQueryHandler(ctx Context, name string, handler any) error {
	if name == "" {
		return invalidf("query name is empty")
	}
	if strings.HasPrefix(name, "__") {
		return invalidf("query name %q: names starting with __ are the engine's (%s)", name, StackQuery)
	}
	sig, err := checkQueryFunc(name, handler)
	if err != nil {
		return err
	}
	ctx.run().queries[name] = sig
	return nil
}

func checkQueryFunc(name string, fn any) (*fnSig, error) {
	v := reflect.ValueOf(fn)
	if v.Kind() != reflect.Func || v.IsNil() {
		return nil, invalidf("query handler %s: %T is not a function", name, fn)
	}
	t := v.Type()
	if t.IsVariadic() || t.NumOut() != 2 || t.Out(1) != errorType {
		return nil, invalidf("query handler %s: must be func(args...) (T, error), got %s", name, t)
	}
	s := &fnSig{name: name, fn: v, hasResult: true}
	for i := 0; i < t.NumIn(); i++ {
		s.args = append(s.args, t.In(i))
	}
	return s, nil
}

// ErrQueryNotFound: the run has no handler for the query.
var ErrQueryNotFound = errors.New("query not found")

// query answers one query from the run's current state. The caller holds
// the run (no coroutine runs meanwhile).
func (r *run) query(name string, input json.RawMessage) (result json.RawMessage, err error) {
	if r.noCode {
		return nil, fmt.Errorf("%w %q: this worker does not register it, so it cannot answer queries of its runs", ErrUnknownWorkflowType, r.info.WorkflowType)
	}
	sig, ok := r.queries[name]
	if !ok {
		names := make([]string, 0, len(r.queries))
		for n := range r.queries {
			names = append(names, n)
		}
		slices.Sort(names)
		return nil, fmt.Errorf("%w: workflow %s has no query %q (it answers %v)", ErrQueryNotFound, r.info.WorkflowType, name, names)
	}
	args, err := sig.decodeArgs("query", input)
	if err != nil {
		return nil, err
	}
	defer func() {
		if p := recover(); p != nil {
			err = &PanicError{Value: fmt.Sprint(p), Stack: string(debug.Stack())}
		}
	}()
	var out []reflect.Value
	r.disp.runQuery(func() { out = sig.fn.Call(args) })
	return sig.splitResult("query", out)
}
