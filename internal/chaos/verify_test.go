package chaos_test

// What the chaos suite and the cluster test share: the workload (runs of
// mixed shapes, started, signalled and awaited through the SDK client, each
// retried on errors as a user would), and the checks made once the faults
// have stopped (results, well-formed histories, attempts after a recorded
// outcome).

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/durablefuture/durablefuture/internal/chaos"
	"github.com/durablefuture/durablefuture/internal/testsrv"
	"github.com/durablefuture/durablefuture/pkg/engine"
	"github.com/durablefuture/durablefuture/pkg/history"
	"github.com/durablefuture/durablefuture/pkg/sdk/client"
	"github.com/nats-io/nats.go/jetstream"
)

// TestMain removes the binaries the tests built (nats-server, the worker).
func TestMain(m *testing.M) {
	os.Exit(testsrv.RunTests(m))
}

// run is one workflow run of the workload (top-level or child).
type run struct {
	Kind   string
	In     chaos.Input
	ID     string
	Parent *run

	mu       sync.Mutex
	runID    string
	info     *client.RunInfo // as the waiter saw it close
	final    *client.RunInfo // as the checks found it
	seenAt   time.Time       // when the waiter saw it close
	startErr []string        // errors of start attempts (each retried)
	sigErrs  int
	sigLast  string
	waitErrs int
}

func (r *run) RunID() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.runID
}

// plan returns n top-level runs, kinds in turn, and their children.
func plan(prefix string, n int, seed int64) (top, all []*run) {
	for i := range n {
		kind := chaos.Kinds[i%len(chaos.Kinds)]
		s := seed*1_000_003 + int64(i)*7 + 1
		in := chaos.Input{Seed: s}
		switch kind {
		case "chain":
			in.N, in.Fail, in.WorkMs = 4, 2, 20+(i%4)*20
		case "fan":
			in.N, in.Fail, in.WorkMs = 5, 1, 30
		case "timer":
			in.Fail, in.WorkMs, in.SleepMs = 1, 30, 1000+(i%3)*500
		case "signal":
			in.Signals, in.Fail, in.WorkMs = 3, 1, 30
		case "parent":
			in.N, in.Fail, in.WorkMs = 3, 1, 20
		case "mixed":
			in.Signals, in.Fail, in.WorkMs, in.SleepMs = 2, 2, 30, 800
		}
		r := &run{Kind: kind, In: in, ID: fmt.Sprintf("%s-%s-%04d", prefix, kind, i)}
		top = append(top, r)
		all = append(all, r)
		for c := range chaos.ChildCount(kind, in) {
			all = append(all, &run{Kind: "child", In: chaos.ChildInput(in, c), ID: chaos.ChildID(r.ID, c), Parent: r})
		}
	}
	return top, all
}

// callTimeout bounds one client call (a frozen server answers nothing).
const callTimeout = 10 * time.Second

// driver starts, signals and awaits top-level runs through the SDK client.
type driver struct {
	c *client.Client
	// retryAfter is the pause between retries of a failed client call
	// (the server may be frozen or down: the call is retried as a user
	// would, not counted as a failure).
	retryAfter                               time.Duration
	startRetries, signalRetries, waitRetries atomic.Int64
}

// drive starts r (retrying: a start whose reply was lost finds the ID
// running), sends its signals (the workflow ignores repeats), then waits
// for it to close. It returns when the run closed or ctx ended.
func (d *driver) drive(ctx context.Context, r *run) {
	for ctx.Err() == nil {
		cctx, cancel := context.WithTimeout(ctx, callTimeout)
		h, err := d.c.ExecuteWorkflow(cctx, client.StartOptions{ID: r.ID}, chaos.Workflows[r.Kind], r.In)
		cancel()
		if err == nil {
			r.mu.Lock()
			r.runID = h.RunID()
			r.mu.Unlock()
			break
		}
		if errors.Is(err, engine.ErrWorkflowAlreadyRunning) {
			break // an earlier attempt reserved it; its run ID is read below
		}
		r.mu.Lock()
		r.startErr = append(r.startErr, err.Error())
		r.mu.Unlock()
		d.startRetries.Add(1)
		d.pause(ctx)
	}
	for i := range r.In.Signals {
		sig := chaos.Signal{I: i, V: chaos.SignalValue(r.In.Seed, i)}
		for ctx.Err() == nil {
			cctx, cancel := context.WithTimeout(ctx, callTimeout)
			err := d.c.SignalWorkflow(cctx, r.ID, r.RunID(), chaos.SignalName, sig)
			cancel()
			if err == nil {
				break
			}
			r.mu.Lock()
			r.sigErrs++
			r.sigLast = err.Error()
			r.mu.Unlock()
			if errors.Is(err, engine.ErrWorkflowClosed) {
				break // the checks report the run
			}
			d.signalRetries.Add(1)
			d.pause(ctx)
		}
	}
	d.wait(ctx, r)
}

// wait waits for r to close (WaitClosed watches the runs index), retrying
// on errors.
func (d *driver) wait(ctx context.Context, r *run) {
	for ctx.Err() == nil {
		// A wait has no natural bound, but a waiter that lost its watch
		// must not hang the suite: each wait is renewed after a while.
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		ri, err := d.c.WaitClosed(wctx, r.ID, r.RunID())
		cancel()
		if err != nil && ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
			continue
		}
		if err == nil {
			r.mu.Lock()
			r.info, r.seenAt = ri, time.Now()
			if r.runID == "" {
				r.runID = ri.RunID
			}
			r.mu.Unlock()
			return
		}
		r.mu.Lock()
		r.waitErrs++
		r.mu.Unlock()
		d.waitRetries.Add(1)
		d.pause(ctx)
	}
}

func (d *driver) pause(ctx context.Context) {
	select {
	case <-time.After(d.retryAfter):
	case <-ctx.Done():
	}
}

// ---- checks ----

// problems collects what is wrong, per run and overall, by category.
type problems struct {
	mu   sync.Mutex
	list []string
	runs map[string]bool           // workflow IDs with a problem
	cats map[string]map[string]int // category -> workflow ID ("" for overall) -> problems
}

func (p *problems) add(id, category, format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.runs == nil {
		p.runs, p.cats = map[string]bool{}, map[string]map[string]int{}
	}
	if id != "" {
		p.runs[id] = true
	}
	if p.cats[category] == nil {
		p.cats[category] = map[string]int{}
	}
	p.cats[category][id]++
	p.list = append(p.list, fmt.Sprintf(format, args...))
}

// summary is one line per category: problems and runs concerned.
func (p *problems) summary() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for cat, ids := range p.cats {
		n, runs := 0, 0
		for id, k := range ids {
			n += k
			if id != "" {
				runs++
			}
		}
		out = append(out, fmt.Sprintf("%-34s %4d problems in %4d runs", cat, n, runs))
	}
	sort.Strings(out)
	return out
}

func (p *problems) report(t *testing.T, max int) {
	t.Helper()
	for i, s := range p.list {
		if i == max {
			t.Errorf("... and %d more problems", len(p.list)-max)
			break
		}
		t.Error(s)
	}
}

// historyCategory names the kind of a historyProblems finding.
func historyCategory(s string) string {
	for _, c := range []struct{ has, cat string }{
		{"gap or reorder", "history: gap in event seqs"},
		{"is followed by", "history: events after the close"},
		{"close events", "history: not one close event"},
		{"applied twice", "history: input applied twice"},
		{"received twice", "history: signal applied twice"},
		{"after its outcome", "history: attempt report after the outcome"},
		{"after attempt", "history: attempt reports out of order"},
		{"outcomes", "history: not one outcome per command"},
		{"start events", "history: child not started once"},
		{"after it closed", "history: child started after it closed"},
		{"names cause", "history: bad cause"},
	} {
		if strings.Contains(s, c.has) {
			return c.cat
		}
	}
	return "history: other"
}

// historyProblems checks the structure of one run's history: seqs 1..n
// without gaps; WorkflowStarted first; exactly one close event, last; input
// ids applied once; every activity, timer and child command with exactly
// one outcome; retried attempts in order before the outcome; signals
// applied once.
func historyProblems(evs []history.Event) []string {
	var out []string
	bad := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	if len(evs) == 0 {
		return []string{"empty history"}
	}
	if evs[0].Type != history.WorkflowStarted {
		bad("first event is %s", evs[0].Type)
	}
	inputs := map[string]int64{}
	signals := map[uint64]int64{}
	outcome := map[int64][]int64{} // command seq -> seqs of its outcome events
	started := map[int64][]int64{} // child command seq -> ChildWorkflowStarted/StartFailed
	lastAttempt := map[int64]int{} // activity seq -> last failed attempt
	closes := 0
	for i, ev := range evs {
		if ev.Seq != int64(i+1) {
			bad("event %d has seq %d (gap or reorder)", i+1, ev.Seq)
			return out
		}
		if ev.Type.IsClosing() {
			closes++
			if i != len(evs)-1 {
				bad("%s at seq %d is followed by %d events (first: %s)", ev.Type, ev.Seq, len(evs)-1-i, evs[i+1].Type)
			}
		}
		if !ev.Type.IsCommand() && ev.InputID != "" {
			if prev, dup := inputs[ev.InputID]; dup {
				bad("input %q applied twice: seq %d and %d", ev.InputID, prev, ev.Seq)
			}
			inputs[ev.InputID] = ev.Seq
		}
		if ev.Type == history.SignalReceived {
			if prev, dup := signals[ev.SignalSeq]; dup {
				bad("signal %d received twice: seq %d and %d", ev.SignalSeq, prev, ev.Seq)
			}
			signals[ev.SignalSeq] = ev.Seq
		}
		cause := func(want ...history.EventType) bool {
			if ev.Cause < 1 || ev.Cause >= ev.Seq || !slices.Contains(want, evs[ev.Cause-1].Type) {
				bad("%s at seq %d names cause %d, not an earlier %v", ev.Type, ev.Seq, ev.Cause, want)
				return false
			}
			return true
		}
		switch ev.Type {
		case history.ActivityAttemptFailed:
			if cause(history.ActivityScheduled) {
				if len(outcome[ev.Cause]) > 0 {
					bad("attempt %d of activity %d failed at seq %d after its outcome at seq %d", ev.Attempt, ev.Cause, ev.Seq, outcome[ev.Cause][0])
				}
				if ev.Attempt <= lastAttempt[ev.Cause] {
					bad("activity %d: attempt %d failed at seq %d after attempt %d", ev.Cause, ev.Attempt, ev.Seq, lastAttempt[ev.Cause])
				}
				lastAttempt[ev.Cause] = ev.Attempt
			}
		case history.ActivityCompleted, history.ActivityFailed:
			if cause(history.ActivityScheduled) {
				outcome[ev.Cause] = append(outcome[ev.Cause], ev.Seq)
				if ev.Attempt <= lastAttempt[ev.Cause] {
					bad("activity %d: outcome of attempt %d at seq %d after attempt %d failed", ev.Cause, ev.Attempt, ev.Seq, lastAttempt[ev.Cause])
				}
			}
		case history.TimerFired:
			if cause(history.TimerStarted) {
				outcome[ev.Cause] = append(outcome[ev.Cause], ev.Seq)
			}
		case history.TimerCanceled:
			if cause(history.TimerStarted) {
				outcome[ev.Cause] = append(outcome[ev.Cause], ev.Seq)
			}
		case history.ChildWorkflowStarted, history.ChildWorkflowStartFailed:
			if cause(history.ChildWorkflowScheduled) {
				if ev.Type == history.ChildWorkflowStarted && len(outcome[ev.Cause]) > 0 {
					bad("child %s started at seq %d after it closed at seq %d", evs[ev.Cause-1].Child.WorkflowID, ev.Seq, outcome[ev.Cause][0])
				}
				started[ev.Cause] = append(started[ev.Cause], ev.Seq)
				if ev.Type == history.ChildWorkflowStartFailed {
					outcome[ev.Cause] = append(outcome[ev.Cause], ev.Seq)
				}
			}
		case history.ChildWorkflowCompleted, history.ChildWorkflowFailed:
			if cause(history.ChildWorkflowScheduled) {
				outcome[ev.Cause] = append(outcome[ev.Cause], ev.Seq)
			}
		}
	}
	if closes != 1 {
		bad("%d close events", closes)
	}
	for _, ev := range evs {
		switch ev.Type {
		case history.ActivityScheduled, history.TimerStarted, history.ChildWorkflowScheduled:
			if n := len(outcome[ev.Seq]); n != 1 {
				bad("%s %q at seq %d has %d outcomes %v", ev.Type, ev.Name, ev.Seq, n, outcome[ev.Seq])
			}
		}
		if ev.Type == history.ChildWorkflowScheduled {
			if n := len(started[ev.Seq]); n != 1 {
				bad("child %s at seq %d has %d start events %v", ev.Child.WorkflowID, ev.Seq, n, started[ev.Seq])
			}
		}
	}
	return out
}

// storedRecord is a history record as stored, with the server's timestamp.
type storedRecord struct {
	rec history.Record
	at  time.Time
}

// readAllRecords reads every record of the history stream with its stored
// time (the server's clock when it stored the message), keyed by run ID.
//
// Right after a node restarts, the JetStream API may not answer yet (no
// responders, a timeout while a meta or stream leader is elected): the
// read is tried again from the start, within ctx, up to a minute.
func readAllRecords(ctx context.Context, js jetstream.JetStream, stream, subjectPrefix string) (map[string][]storedRecord, int, error) {
	deadline := time.Now().Add(time.Minute)
	for {
		out, undecodable, err := readAllRecordsOnce(ctx, js, stream, subjectPrefix)
		if err == nil || ctx.Err() != nil || time.Now().After(deadline) {
			return out, undecodable, err
		}
		select {
		case <-ctx.Done():
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func readAllRecordsOnce(ctx context.Context, js jetstream.JetStream, stream, subjectPrefix string) (map[string][]storedRecord, int, error) {
	cons, err := js.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{FilterSubjects: []string{subjectPrefix + ".>"}})
	if err != nil {
		return nil, 0, err
	}
	info, err := cons.Info(ctx)
	if err != nil {
		return nil, 0, err
	}
	pending := info.NumPending
	out := map[string][]storedRecord{}
	undecodable := 0
	for n := uint64(0); n < pending; {
		batch, err := cons.Fetch(500, jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			return nil, 0, err
		}
		got := 0
		for msg := range batch.Messages() {
			got++
			n++
			md, err := msg.Metadata()
			if err != nil {
				return nil, 0, err
			}
			toks := strings.Split(strings.TrimPrefix(msg.Subject(), subjectPrefix+"."), ".")
			if len(toks) != 2 {
				continue // signals and other subjects beside the runs
			}
			rec, err := history.DecodeRecord(msg.Data())
			if err != nil {
				undecodable++
				continue
			}
			rec.StreamSeq = md.Sequence.Stream
			out[toks[1]] = append(out[toks[1]], storedRecord{rec: rec, at: md.Timestamp})
		}
		if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) {
			return nil, 0, err
		}
		if got == 0 {
			return nil, 0, fmt.Errorf("history stream: read %d of %d messages, then nothing", n, pending)
		}
	}
	return out, undecodable, nil
}

// attemptLine is one line of an attempts log.
type attemptLine struct {
	start      time.Time // the body's start
	engine     time.Time // the attempt's start as the engine reports it (zero: unknown)
	workflowID string
	runID      string
	seq        int64
	attempt    int
	pid        int
	file       string
}

func readAttempts(paths []string) (lines []attemptLine, malformed int, err error) {
	for _, p := range paths {
		f, err := os.Open(p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, 0, err
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fs := strings.Fields(sc.Text())
			if len(fs) != 7 {
				malformed++
				continue
			}
			ns, e1 := strconv.ParseInt(fs[0], 10, 64)
			ens, e2 := strconv.ParseInt(fs[1], 10, 64)
			seq, e3 := strconv.ParseInt(fs[4], 10, 64)
			att, e4 := strconv.Atoi(fs[5])
			pid, e5 := strconv.Atoi(fs[6])
			if e1 != nil || e2 != nil || e3 != nil || e4 != nil || e5 != nil {
				malformed++
				continue
			}
			l := attemptLine{start: time.Unix(0, ns), workflowID: fs[2], runID: fs[3], seq: seq, attempt: att, pid: pid, file: filepath.Base(p)}
			if ens > 0 {
				l.engine = time.Unix(0, ens)
			}
			lines = append(lines, l)
		}
		f.Close()
		if err := sc.Err(); err != nil {
			return nil, 0, err
		}
	}
	sort.Slice(lines, func(i, j int) bool { return lines[i].start.Before(lines[j].start) })
	return lines, malformed, nil
}

// attemptStats classifies activity attempts against the recorded history.
type attemptStats struct {
	total int
	// reported: the first attempt with a number the history reports (as
	// ActivityAttemptFailed or as the outcome).
	reported int
	// rerunBefore: attempts the history does not report (a killed worker's,
	// a duplicate) that started before the activity's outcome was stored.
	rerunBefore int
	// raced: attempts the engine started before the outcome was stored but
	// whose body began after it (two deliveries of one task at once: the
	// engine's check came before the record).
	raced int
	// rerunAfter: attempts the engine started after the outcome was stored
	// (must be 0); afterClose: of those, after the run's close was stored.
	rerunAfter, afterClose int
	// unknown: attempts of an activity the histories do not schedule.
	unknown int
	// unlogged: completed outcomes whose attempt has no log line.
	unlogged  int
	malformed int
	examples  []string
}

// analyzeAttempts compares when each logged attempt started with the
// stored time of the record holding its activity's outcome (the server's
// timestamp of the message, not the event's time, which the deciding worker
// takes before it appends).
//
// An attempt "started" when the engine started it (ActivityInfo.StartedTime,
// which the engine takes after its at-most-once check of the history and
// records as the attempt's started_at); its body begins a little later (the
// heartbeat details are read in between), and that time is kept too. Worker
// and server run on the same machine and read the same clock, so no
// tolerance is applied: an attempt the engine started after its outcome's
// record was stored is a re-run after record.
func analyzeAttempts(lines []attemptLine, records map[string][]storedRecord) attemptStats {
	type actKey struct {
		runID string
		seq   int64
	}
	type act struct {
		outcomeAt      time.Time
		outcomeSeq     int64
		outcomeAttempt int
		completed      bool
		reported       map[int]bool
		logged         map[int]bool
	}
	acts := map[actKey]*act{}
	closedAt := map[string]time.Time{}
	for runID, recs := range records {
		for _, sr := range recs {
			for _, ev := range sr.rec.Events {
				switch ev.Type {
				case history.ActivityScheduled:
					acts[actKey{runID, ev.Seq}] = &act{reported: map[int]bool{}, logged: map[int]bool{}}
				case history.ActivityAttemptFailed:
					if a := acts[actKey{runID, ev.Cause}]; a != nil {
						a.reported[ev.Attempt] = true
					}
				case history.ActivityCompleted, history.ActivityFailed:
					if a := acts[actKey{runID, ev.Cause}]; a != nil && a.outcomeAt.IsZero() {
						a.reported[ev.Attempt] = true
						a.outcomeAt, a.outcomeSeq, a.outcomeAttempt = sr.at, ev.Seq, ev.Attempt
						a.completed = ev.Type == history.ActivityCompleted
					}
				}
				if ev.Type.IsClosing() {
					closedAt[runID] = sr.at
				}
			}
		}
	}
	var st attemptStats
	example := func(format string, args ...any) {
		if len(st.examples) < 20 {
			st.examples = append(st.examples, fmt.Sprintf(format, args...))
		}
	}
	for _, l := range lines {
		st.total++
		a := acts[actKey{l.runID, l.seq}]
		if a == nil {
			st.unknown++
			example("attempt %d of %s run %s activity seq %d (%s pid %d) matches no scheduled activity", l.attempt, l.workflowID, l.runID, l.seq, l.file, l.pid)
			continue
		}
		started := l.engine
		if started.IsZero() {
			started = l.start
		}
		switch {
		case !a.outcomeAt.IsZero() && started.After(a.outcomeAt):
			st.rerunAfter++
			closed := closedAt[l.runID]
			after := ""
			if !closed.IsZero() && started.After(closed) {
				st.afterClose++
				after = fmt.Sprintf(", %v after the run's close was stored", started.Sub(closed))
			}
			example("RE-RUN AFTER RECORD: %s run %s activity seq %d attempt %d (%s pid %d) started at %s (body %s), %v after its outcome (seq %d, attempt %d) was stored at %s%s",
				l.workflowID, l.runID, l.seq, l.attempt, l.file, l.pid, started.Format("15:04:05.000000"), l.start.Format("15:04:05.000000"),
				started.Sub(a.outcomeAt), a.outcomeSeq, a.outcomeAttempt, a.outcomeAt.Format("15:04:05.000000"), after)
		case !a.outcomeAt.IsZero() && l.start.After(a.outcomeAt):
			st.raced++
			example("raced the record: %s run %s activity seq %d attempt %d (%s pid %d) started at %s, before its outcome (seq %d, attempt %d) was stored at %s; its body began %v after",
				l.workflowID, l.runID, l.seq, l.attempt, l.file, l.pid, started.Format("15:04:05.000000"),
				a.outcomeSeq, a.outcomeAttempt, a.outcomeAt.Format("15:04:05.000000"), l.start.Sub(a.outcomeAt))
		case a.reported[l.attempt] && !a.logged[l.attempt]:
			st.reported++
		default:
			st.rerunBefore++
		}
		a.logged[l.attempt] = true
	}
	for k, a := range acts {
		if a.completed && !a.logged[a.outcomeAttempt] {
			st.unlogged++
			example("activity seq %d of run %s completed by attempt %d, which no attempts log has", k.seq, k.runID, a.outcomeAttempt)
		}
	}
	return st
}

// checkRuns checks every run: closed as completed with the expected result
// (in the index, as the waiter saw it, and in its history), a well-formed
// history read through the SDK that matches the stored records, and, for a
// flaky first step, a completing attempt past the deterministic failures.
func checkRuns(ctx context.Context, c *client.Client, all []*run, records map[string][]storedRecord, p *problems) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for _, r := range all {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			checkRun(ctx, c, r, records, p)
		}()
	}
	wg.Wait()
}

func checkRun(ctx context.Context, c *client.Client, r *run, records map[string][]storedRecord, p *problems) {
	want := chaos.Expected(r.Kind, r.In)
	ri, err := c.Describe(ctx, r.ID, "")
	if err != nil {
		p.add(r.ID, "describe error", "%s: describe: %v", r.ID, err)
		return
	}
	r.mu.Lock()
	r.final = ri
	r.mu.Unlock()
	runID := ri.RunID
	if rid := r.RunID(); rid != "" && rid != runID {
		r.mu.Lock()
		errs := append([]string(nil), r.startErr...)
		r.mu.Unlock()
		first := ""
		if len(errs) > 0 {
			first = errs[0]
		}
		p.add(r.ID, "index: another run took the workflow ID", "%s: the index shows run %s, the start returned %s (after %d failed start attempts, the first: %s)",
			r.ID, runID, rid, len(errs), first)
	}
	if ri.Status != engine.StatusCompleted {
		p.add(r.ID, "not completed", "%s (run %s, %s): status %s, blocked %q, failure %v, last event %d", r.ID, runID, r.Kind, ri.Status, ri.Blocked, ri.Failure, ri.LastEventSeq)
	} else if got := decodeInt(ri.Result); got != want {
		p.add(r.ID, "wrong result", "%s (run %s): result %s, want %d", r.ID, runID, ri.Result, want)
	}
	if r.Parent == nil {
		r.mu.Lock()
		seen := r.info
		r.mu.Unlock()
		if seen == nil {
			p.add(r.ID, "client wait", "%s (run %s): the client's wait never returned", r.ID, runID)
		} else if seen.Status != engine.StatusCompleted || decodeInt(seen.Result) != want {
			p.add(r.ID, "client wait", "%s (run %s): the client's wait returned status %s result %s, want completed %d", r.ID, seen.RunID, seen.Status, seen.Result, want)
		}
	}
	evs, err := c.History(ctx, r.ID, runID)
	if err != nil {
		p.add(r.ID, "history read error", "%s (run %s): history: %v", r.ID, runID, err)
		return
	}
	for _, s := range historyProblems(evs) {
		p.add(r.ID, historyCategory(s), "%s (run %s, %s) history: %s", r.ID, runID, r.Kind, s)
	}
	stored := 0
	for _, sr := range records[runID] {
		stored += len(sr.rec.Events)
	}
	if stored != len(evs) {
		p.add(r.ID, "incomplete history read", "%s (run %s): the client read %d events, the stream holds %d", r.ID, runID, len(evs), stored)
	}
	if last := evs[len(evs)-1]; last.Type != history.WorkflowCompleted || decodeInt(last.Result) != want {
		p.add(r.ID, "not completed", "%s (run %s): history ends with %s result %s, want WorkflowCompleted %d", r.ID, runID, last.Type, last.Result, want)
	}
	if r.Parent != nil && (evs[0].Parent == nil || evs[0].Parent.WorkflowID != r.Parent.ID) {
		p.add(r.ID, "history", "%s (run %s): WorkflowStarted does not name parent %s: %+v", r.ID, runID, r.Parent.ID, evs[0].Parent)
	}
	// The first flaky step fails its first In.Fail attempts: its
	// completing attempt must come after them.
	if first := firstActivity(evs); first > 0 && r.In.Fail > 0 && r.Kind != "fan" {
		for _, ev := range evs {
			if ev.Type == history.ActivityCompleted && ev.Cause == first && ev.Attempt <= r.In.Fail {
				p.add(r.ID, "history", "%s (run %s): first activity completed by attempt %d, but attempts up to %d fail", r.ID, runID, ev.Attempt, r.In.Fail)
			}
		}
	}
}

func firstActivity(evs []history.Event) int64 {
	for _, ev := range evs {
		if ev.Type == history.ActivityScheduled {
			return ev.Seq
		}
	}
	return 0
}

func decodeInt(raw json.RawMessage) int64 {
	var v int64
	if err := json.Unmarshal(raw, &v); err != nil {
		return -1
	}
	return v
}

// writeHistories saves the histories of the runs with problems as history
// files (the shape `dfctl show -o json` prints) for the report.
func writeHistories(ctx context.Context, c *client.Client, dir string, ids map[string]bool, max int) []string {
	var paths []string
	keys := make([]string, 0, len(ids))
	for id := range ids {
		keys = append(keys, id)
	}
	sort.Strings(keys)
	for _, id := range keys {
		if len(paths) == max {
			break
		}
		ri, err := c.Describe(ctx, id, "")
		if err != nil {
			continue
		}
		recs, _, err := c.Store().HistoryTolerant(ctx, id, ri.RunID)
		if err != nil {
			continue
		}
		var data strings.Builder
		if history.NewFile(recs).Encode(&data) != nil {
			continue
		}
		path := filepath.Join(dir, "history-"+id+".json")
		if os.WriteFile(path, []byte(data.String()), 0o644) == nil {
			paths = append(paths, path)
		}
	}
	return paths
}

var logMsgRE = regexp.MustCompile(`level=(WARN|ERROR) msg="?([^"=]*?)"? [a-z_]+=`)

// logSummary counts the warnings and errors of worker logs by message.
func logSummary(paths []string) []string {
	counts := map[string]int{}
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			if m := logMsgRE.FindStringSubmatch(sc.Text()); m != nil {
				counts[m[1]+" "+m[2]]++
			}
		}
		f.Close()
	}
	var out []string
	for msg, n := range counts {
		out = append(out, fmt.Sprintf("%6d x %s", n, msg))
	}
	sort.Sort(sort.Reverse(sort.StringSlice(out)))
	return out
}
