package engine

// Starting a run, and finishing starts that stopped half way.
//
// A start is three writes in three places: the start task (task stream),
// the workflow ID's reservation (runs index) and the WorkflowStarted record
// (history). No transaction spans them, so the order makes every crash
// window safe: the start task is written FIRST, as the durable intent to
// start, carrying the whole WorkflowStarted event under the stable message
// id "<run-id>:start". Then the client reserves the ID and appends the
// record. A client that dies anywhere after the task leaves a task that a
// worker completes (beginRun): it reserves the ID for the run if the
// client did not (refused if another run holds it), appends WorkflowStarted
// if the client did not (expecting an empty subject, so only one of them
// writes it) and runs the first decision. A client that dies before the
// task leaves nothing at all. A refused client deletes its own task before
// it reports the refusal, so a later close of the other run cannot start a
// run the user was told was refused.
//
// The runs index entry of a new run also names its start task (StartTask),
// so whoever next touches a run that is reserved but has no history (a
// second start, describe, signal, cancel) completes the start from the
// stored task even with no worker running. Entries left by older clients,
// which reserved the ID before writing any task, are reserved with no
// history and no task: once older than startOrphanAge (and only when the
// stream answers that the subject is empty, never on a failed read) they
// are closed as failed (terminate closes them as terminated), which frees
// the ID. An older client's run that has only its WorkflowStarted and no
// task is woken by describe with a start task.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/durablefuture/durablefuture/pkg/history"
	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// ErrRunStarting is returned by a command that acts on a run (signal,
// cancel) while the run's start is still being written by a client of an
// older version: it has no history yet and no stored start task.
var ErrRunStarting = errors.New("workflow run is still starting")

const (
	// startOrphanAge: a reserved run with no history and no start task
	// older than this is taken for a start that died (older clients).
	startOrphanAge = 5 * time.Second
	// startLateAfter: a client whose reservation succeeds this long after
	// it stored the start task stores another one, because a worker gives
	// up on a start task whose ID another run holds after
	// startWaitDeliveries deliveries (about 13 s).
	startLateAfter = 3 * time.Second
)

// startWaitDeliveries: a start task whose workflow ID another run holds
// (heldByOther) is retried (its client may still be reserving the ID, or
// be refused and about to delete the task) this many times, then dropped
// as refused or superseded. A variable for tests.
var startWaitDeliveries uint64 = 10

// testHookStart, when it returns true for a step ("task": the start task
// is stored; "reserved": the ID is reserved; "appended": WorkflowStarted is
// written), makes StartWorkflow stop there as if the client died.
var testHookStart func(step string) bool

var errTestCrash = errors.New("test hook: the client died here")

func crashAt(step string) bool { return testHookStart != nil && testHookStart(step) }

// startRun writes a new run's start: the start task, the reservation of
// the workflow ID in the runs index, the execution timeout and the
// WorkflowStarted record, in this order.
func (s *Store) startRun(ctx context.Context, info *RunInfo, started history.Event) (_ *RunInfo, err error) {
	// Before the start task: a worker may run the whole run before the
	// publish returns, and the watch must not see its close before it
	// knows the run is this Store's (WaitClosed would wait for nothing).
	if key, kerr := s.runKey(info.WorkflowID); kerr == nil {
		s.noteStarted(key, info.RunID)
		defer func() {
			if err != nil {
				s.forgetStarted(key, info.RunID)
			}
		}()
	}
	stored := time.Now()
	taskSeq, err := s.publishStart(ctx, started)
	if err != nil {
		return nil, fmt.Errorf("start workflow %q: store the start task: %w", info.WorkflowID, err)
	}
	if crashAt("task") {
		return nil, errTestCrash
	}
	info.StartTask = taskSeq
	// The reservation's check of its index entry runs alongside the
	// writes that follow (the start record among them), not before them:
	// a worker that took the task finds the start record a round trip
	// sooner.
	rctx, checks := deferIndexChecks(ctx)
	rev, err := s.reserveStart(rctx, info)
	var checking sync.WaitGroup
	var checkErr error
	checking.Go(func() { checkErr = checks.run() })
	defer checking.Wait()
	if err != nil {
		if errors.Is(err, ErrWorkflowAlreadyRunning) {
			return s.withdrawStart(ctx, info, taskSeq, err)
		}
		// The outcome of the reservation is unknown: the stored task
		// stays, and a worker completes the start or drops it as refused.
		return nil, fmt.Errorf("start workflow %q: %w (its start task is stored: run %s may still start)", info.WorkflowID, err, info.RunID)
	}
	if crashAt("reserved") {
		return nil, errTestCrash
	}
	if time.Since(stored) > startLateAfter {
		// So slow that a worker may have given up on the task already.
		if _, err := s.JS.PublishMsg(ctx, newMsg(s.workflowTaskSubject(s.partOf(started.WorkflowID), started.TaskQueue), started.RunID+":start:late", startTask(started))); err != nil {
			return nil, fmt.Errorf("start workflow %q: store the start task again: %w", info.WorkflowID, err)
		}
	}
	if started.WorkflowTimeout > 0 {
		if err := s.scheduleStartTimeout(ctx, started); err != nil {
			return nil, fmt.Errorf("start workflow %q: %w (run %s is reserved and its start task stored: a worker completes the start)", info.WorkflowID, err, info.RunID)
		}
	}
	var hint nats.Header
	if rev != 0 {
		hint = nats.Header{runsEntryHeader: []string{strconv.FormatUint(rev, 10) + " " + strconv.FormatUint(taskSeq, 10)}}
	}
	if _, err := s.appendStart(ctx, started, hint); err != nil {
		if errors.Is(err, history.ErrRecordTooLarge) {
			// Nobody can ever write it: release the ID.
			f := &history.Event{Seq: 1, Time: time.Now().UTC(), Type: history.WorkflowFailed,
				Failure: &history.Failure{Message: "start failed: " + err.Error(), Type: "StartFailed"}}
			_ = s.closeRun(context.WithoutCancel(ctx), info.WorkflowID, info.RunID, f)
			return nil, fmt.Errorf("start workflow %q: %w", info.WorkflowID, err)
		}
		return nil, fmt.Errorf("start workflow %q: %w (run %s is reserved and its start task stored: a worker completes the start)", info.WorkflowID, err, info.RunID)
	}
	if crashAt("appended") {
		return nil, errTestCrash
	}
	checking.Wait()
	if err := checkErr; err != nil {
		return nil, fmt.Errorf("start workflow %q: runs index: %w (run %s is reserved and its start record written: it runs)", info.WorkflowID, err, info.RunID)
	}
	return info, nil
}

// startTask is the start task of a run: it carries the WorkflowStarted
// event, so a worker can complete a start its client did not finish.
func startTask(started history.Event) workflowTask {
	return workflowTask{V: 1, WorkflowID: started.WorkflowID, RunID: started.RunID, InputID: startInputID, Event: &started}
}

// isStartTask says whether a workflow task is a run's start task.
func isStartTask(task *workflowTask) bool {
	return task.InputID == startInputID && task.Event != nil && task.Event.Type == history.WorkflowStarted &&
		task.Event.RunID == task.RunID && task.Event.WorkflowID == task.WorkflowID
}

// publishStart stores the start task and returns its stream sequence. A
// repeated start of the same run (a child's derived run ID, a redelivered
// continue-as-new) is deduplicated by the message id; if that earlier task
// is gone (consumed, or deleted by a refused start), another one is stored
// under a new id, so that a task always exists before the ID is reserved.
func (s *Store) publishStart(ctx context.Context, started history.Event) (uint64, error) {
	part := s.partOf(started.WorkflowID)
	subj := s.workflowTaskSubject(part, started.TaskQueue)
	task := startTask(started)
	ack, err := s.JS.PublishMsg(ctx, newMsg(subj, started.RunID+":"+startInputID, task))
	if err != nil {
		return 0, err
	}
	if !ack.Duplicate {
		return ack.Sequence, nil
	}
	if _, err := s.tasksOf(part).GetMsg(ctx, ack.Sequence); err == nil {
		return ack.Sequence, nil
	} else if !errors.Is(err, jetstream.ErrMsgNotFound) {
		return 0, err
	}
	ack, err = s.JS.PublishMsg(ctx, newMsg(subj, started.RunID+":start:"+uuid.NewString(), task))
	if err != nil {
		return 0, err
	}
	return ack.Sequence, nil
}

// appendStart writes WorkflowStarted as the first record of the run's
// subject. written is false when the subject had a record already (the
// start was written before, by a worker or by an earlier attempt).
func (s *Store) appendStart(ctx context.Context, started history.Event, hdr nats.Header) (written bool, err error) {
	subj, err := s.Log.Subject(started.WorkflowID, started.RunID)
	if err != nil {
		return false, err
	}
	rec := history.Record{Kind: history.KindInput, Events: []history.Event{started}}
	_, err = s.Log.AppendWithHeader(ctx, subj, history.Tail{}, &rec, hdr)
	if errors.Is(err, history.ErrConflict) {
		return false, nil
	}
	return err == nil, err
}

// scheduleStartTimeout schedules the execution timeout of a run from its
// WorkflowStarted event. Both the client and a worker completing the start
// may publish it: it is the same schedule, and re-publishing replaces it.
func (s *Store) scheduleStartTimeout(ctx context.Context, started history.Event) error {
	limit := time.Duration(started.WorkflowTimeout)
	info := &RunInfo{WorkflowID: started.WorkflowID, RunID: started.RunID, TaskQueue: started.TaskQueue}
	return s.scheduleRunTimeout(ctx, info, started.Time.Add(limit), limit)
}

// runInfoForStart is the runs index entry of a run that starts.
func runInfoForStart(started *history.Event) *RunInfo {
	return &RunInfo{WorkflowID: started.WorkflowID, RunID: started.RunID, Type: started.Name, TaskQueue: started.TaskQueue,
		Status: StatusRunning, StartTime: started.Time, LastEventSeq: 1, Parent: started.Parent, ContinuedFrom: started.ContinuedFrom}
}

// reserveStart reserves the workflow ID for the run. When a running run
// holds it, that run may be a start that died half way: it is completed or
// closed first (settleStart), and the ID tried once more if it is free now.
//
// It returns the revision of the entry it wrote (0: the entry was the
// run's already, written by an earlier attempt of this start).
func (s *Store) reserveStart(ctx context.Context, info *RunInfo) (uint64, error) {
	rev, err := s.createRunRev(ctx, info)
	if !errors.Is(err, ErrWorkflowAlreadyRunning) {
		return rev, err
	}
	holder, gerr := s.GetRun(ctx, info.WorkflowID)
	if gerr != nil {
		return 0, err
	}
	if holder.RunID != info.RunID && !holder.Status.IsClosed() {
		if holder, _, gerr = s.settleStart(ctx, holder, settleLook); gerr != nil || !holder.Status.IsClosed() {
			return 0, err
		}
	}
	return s.createRunRev(ctx, info)
}

// runsEntryHeader, on a start record, names the runs entry its client
// wrote for the run: "<revision> <start task sequence>". The worker that
// builds the run from that record knows the entry without reading it (it
// is runInfoForStart of the record's event with that start task), and
// closes the run with a compare-and-set from that revision: the read of
// the entry that goes with a close is saved (one request per run); if
// anything changed the entry since (a blocked mark, a terminate), the
// compare-and-set fails and the entry is read. A later version that
// writes another shape of entry at the start must name it in another form
// (or header): this one reads only two numbers, and reads the entry for
// anything else.
const runsEntryHeader = "Df-Runs-Entry"

// startEntry is a runs entry known without reading it.
type startEntry struct {
	key   string
	value []byte
	rev   uint64
}

// runsEntryOf is the runs entry named by the header of the start record
// holding started (nil: none, or a header this version cannot read).
func (s *Store) runsEntryOf(hdr nats.Header, started *history.Event) *startEntry {
	v := hdr.Get(runsEntryHeader)
	if v == "" {
		return nil
	}
	revStr, taskStr, ok := strings.Cut(v, " ")
	if !ok {
		return nil
	}
	rev, err1 := strconv.ParseUint(revStr, 10, 64)
	task, err2 := strconv.ParseUint(taskStr, 10, 64)
	key, err3 := s.runKey(started.WorkflowID)
	if err1 != nil || err2 != nil || err3 != nil || rev == 0 {
		return nil
	}
	info := runInfoForStart(started)
	info.StartTask = task
	value := marshalRunInfo(info)
	if value == nil {
		return nil
	}
	return &startEntry{key: key, value: value, rev: rev}
}

// fetched is the entry as an entryFetch already done.
func (e *startEntry) fetched(bucket string) *entryFetch {
	f := &entryFetch{done: make(chan struct{}), e: knownEntry{bucket: bucket, e: e}}
	close(f.done)
	return f
}

// knownEntry is a startEntry as a jetstream.KeyValueEntry.
type knownEntry struct {
	bucket string
	e      *startEntry
}

func (k knownEntry) Bucket() string                  { return k.bucket }
func (k knownEntry) Key() string                     { return k.e.key }
func (k knownEntry) Value() []byte                   { return k.e.value }
func (k knownEntry) Revision() uint64                { return k.e.rev }
func (k knownEntry) Created() time.Time              { return time.Time{} }
func (k knownEntry) Delta() uint64                   { return 0 }
func (k knownEntry) Operation() jetstream.KeyValueOp { return jetstream.KeyValuePut }

// withdrawStart deletes the start task of a refused start, so that no
// worker starts the run later (when the run holding the ID closes). If a
// worker reserved the ID for the run meanwhile (the other run closed in
// between), the start happened and is reported as such.
func (s *Store) withdrawStart(ctx context.Context, info *RunInfo, taskSeq uint64, refused error) (*RunInfo, error) {
	ctx = context.WithoutCancel(ctx)
	derr := s.tasksOf(s.partOf(info.WorkflowID)).DeleteMsg(ctx, taskSeq)
	if isNoMessage(derr) {
		derr = nil // consumed already: see below whether the run started
	}
	if cur, err := s.GetRun(ctx, info.WorkflowID); err == nil && cur.RunID == info.RunID {
		return cur, nil
	}
	if derr == nil && s.hasHistory(ctx, info) {
		// A worker took the task and completed the start before this
		// client reserved the ID; the run may even have continued as new
		// already (the index then shows its next run): it started.
		return info, nil
	}
	if derr != nil {
		return nil, fmt.Errorf("%w; withdrawing its start task (stream seq %d) failed: %v: workers drop it within about 20 s (run %s never takes the ID over)", refused, taskSeq, derr, info.RunID)
	}
	return nil, refused
}

// hasHistory reports whether the stream holds a record of the run (one
// that does not decode counts); a failed read says no.
func (s *Store) hasHistory(ctx context.Context, info *RunInfo) bool {
	subj, err := s.Log.Subject(info.WorkflowID, info.RunID)
	if err != nil {
		return false
	}
	_, err = s.Log.Last(ctx, subj)
	return err == nil || errors.As(err, new(*history.BadRecordError))
}

// isNoMessage says whether a stream message delete failed because the
// message is not there. nats.go keeps only the text of the server's answer
// (10057 "no message found", or "stream store EOF" past the last message).
func isNoMessage(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return true
	}
	return errors.Is(err, jetstream.ErrMsgDeleteUnsuccessful) &&
		(strings.Contains(err.Error(), "no message found") || strings.Contains(err.Error(), "stream store EOF"))
}

// storedStart reads the WorkflowStarted event of a run from its start
// task, named by the runs index entry. It returns jetstream.ErrMsgNotFound
// when the entry names none or the task is gone.
func (s *Store) storedStart(ctx context.Context, ri *RunInfo) (history.Event, error) {
	if ri.StartTask == 0 {
		return history.Event{}, jetstream.ErrMsgNotFound
	}
	m, err := s.tasksOf(s.partOf(ri.WorkflowID)).GetMsg(ctx, ri.StartTask)
	if err != nil {
		return history.Event{}, err
	}
	var task workflowTask
	if json.Unmarshal(m.Data, &task) != nil || task.RunID != ri.RunID || !isStartTask(&task) {
		return history.Event{}, jetstream.ErrMsgNotFound
	}
	return *task.Event, nil
}

// unstartedStart is the WorkflowStarted event of a run that has none in
// its history: the one its start task carries, or else one made from the
// runs index entry (without the input, which only the client knew).
func (s *Store) unstartedStart(ctx context.Context, ri *RunInfo) history.Event {
	if ev, err := s.storedStart(ctx, ri); err == nil {
		return ev
	}
	return history.Event{Seq: 1, Time: ri.StartTime, Type: history.WorkflowStarted, InputID: startInputID,
		Name: ri.Type, WorkflowID: ri.WorkflowID, RunID: ri.RunID, TaskQueue: ri.TaskQueue,
		Parent: ri.Parent, ContinuedFrom: ri.ContinuedFrom}
}

// settleMode says what settleStart may do to a run whose start stopped
// half way.
type settleMode int

const (
	// settleNone: leave it (terminate closes it itself).
	settleNone settleMode = iota
	// settleLook (describe, a second start): complete the start from its
	// task, close an old one that has none.
	settleLook
	// settleAct (signal, cancel): the same, and a run still being started
	// by an older client is an ErrRunStarting error.
	settleAct
)

// startState is what settleStart found.
type startState int

const (
	// startWritten: the run has its history (or is closed now).
	startWritten startState = iota
	// startPending: no history and no start task, and younger than
	// startOrphanAge: an older client may still be writing its start.
	startPending
)

// settleStart makes sure a running run of the runs index has a history:
// one whose start stopped after the reservation is completed from its
// stored start task (a worker drives it from there), or, when there is no
// task (older clients) and the reservation is older than startOrphanAge,
// closed as failed, which frees the workflow ID. Only the stream's answer
// that the run's subject is empty counts as no history; a failed read
// returns the error and changes nothing. It returns the entry as it is now.
func (s *Store) settleStart(ctx context.Context, ri *RunInfo, mode settleMode) (*RunInfo, startState, error) {
	if ri.Status.IsClosed() {
		return ri, startWritten, nil
	}
	subj, err := s.Log.Subject(ri.WorkflowID, ri.RunID)
	if err != nil {
		return ri, startWritten, err
	}
	for attempt := 0; attempt < 3; attempt++ {
		rec, err := s.Log.Last(ctx, subj)
		if errors.As(err, new(*history.BadRecordError)) {
			return ri, startWritten, nil // a record exists, even if it does not decode
		}
		if err == nil {
			if ri.StartTask == 0 && isStartRecord(rec) && time.Since(ri.StartTime) > startOrphanAge {
				// An older client's run with only its start: it may never
				// have got its start task. Wake it (at most once in the
				// task stream's duplicate window).
				ev := rec.Events[0]
				_, _ = s.JS.PublishMsg(ctx, newMsg(s.workflowTaskSubject(s.partOf(ri.WorkflowID), ri.TaskQueue), ri.RunID+":start:wake", startTask(ev)))
			}
			return ri, startWritten, nil
		}
		if !errors.Is(err, history.ErrNotFound) {
			return ri, startWritten, err
		}
		// Reserved, and the stream says: no history.
		started, err := s.storedStart(ctx, ri)
		switch {
		case err == nil:
			if err := s.completeStart(ctx, started); err != nil {
				return ri, startWritten, err
			}
			continue
		case !errors.Is(err, jetstream.ErrMsgNotFound):
			return ri, startWritten, err
		}
		if attempt == 0 && ri.StartTask != 0 {
			continue // the task is gone: a worker may have just written the start
		}
		if time.Since(ri.StartTime) < startOrphanAge {
			if mode == settleAct {
				return ri, startPending, fmt.Errorf("%w: workflow %q (run %s) has no history yet and no stored start task (a client of an older version may still be writing it); try again in a few seconds",
					ErrRunStarting, ri.WorkflowID, ri.RunID)
			}
			return ri, startPending, nil
		}
		failed := history.Event{Time: time.Now().UTC(), Type: history.WorkflowFailed, Failure: &history.Failure{
			Type: "StartAbandoned",
			Message: fmt.Sprintf("the start of this run stopped after reserving workflow ID %q (at %s) and before writing its history or a start task; no worker could run it, so it was closed %s later",
				ri.WorkflowID, ri.StartTime.Format(time.RFC3339), time.Since(ri.StartTime).Round(time.Second)),
		}}
		closed, err := s.closeUnstarted(ctx, ri, failed)
		if errors.Is(err, history.ErrConflict) {
			continue // written meanwhile
		}
		if err != nil {
			return ri, startWritten, err
		}
		return closed, startWritten, nil
	}
	return ri, startWritten, nil
}

// completeStart writes the WorkflowStarted of a reserved run from its
// start task (with its execution timeout first), as its client would have.
func (s *Store) completeStart(ctx context.Context, started history.Event) error {
	if started.WorkflowTimeout > 0 {
		if err := s.scheduleStartTimeout(ctx, started); err != nil {
			return err
		}
	}
	_, err := s.appendStart(ctx, started, nil)
	return err
}

// closeUnstarted closes a reserved run that has no history with closing
// (WorkflowFailed, WorkflowTerminated): its history gets one record with
// its WorkflowStarted and closing, written only if the subject is still
// empty (else ErrConflict), and the runs index says closed.
func (s *Store) closeUnstarted(ctx context.Context, ri *RunInfo, closing history.Event) (*RunInfo, error) {
	subj, err := s.Log.Subject(ri.WorkflowID, ri.RunID)
	if err != nil {
		return nil, err
	}
	started := s.unstartedStart(ctx, ri)
	closing.Seq = started.Seq + 1
	rec := history.Record{Kind: history.KindInput, Events: []history.Event{started, closing}}
	if _, err := s.Log.Append(ctx, subj, history.Tail{}, &rec); err != nil {
		return nil, err
	}
	if err := s.purgeSchedules(ctx, ri.WorkflowID, ri.RunID); err != nil {
		return nil, err
	}
	if err := s.closeRun(ctx, ri.WorkflowID, ri.RunID, &closing); err != nil {
		return nil, err
	}
	self := history.RunRef{WorkflowID: ri.WorkflowID, RunID: ri.RunID, TaskQueue: ri.TaskQueue}
	if err := s.notifyParent(ctx, started.Parent, self, &closing); err != nil {
		return nil, err
	}
	out := *ri
	out.Status, out.Result, out.Failure = closedStatus(&closing)
	t := closing.Time
	out.CloseTime, out.LastEventSeq, out.Blocked = &t, closing.Seq, ""
	return &out, nil
}

// isStartRecord says whether rec is a run's first record and nothing more.
func isStartRecord(rec history.Record) bool {
	return rec.Kind == history.KindInput && len(rec.Events) == 1 && rec.Events[0].Type == history.WorkflowStarted
}

// reservation is what reserveFor found in the runs index.
type reservation int

const (
	reservedForRun reservation = iota // the index holds the run, running
	reservedClosed                    // the index holds the run, closed
	// heldByOther: another run holds the ID, running or closed: only the
	// start's own client may take it over.
	heldByOther
)

// reserveFor makes the runs index hold info's run for its workflow ID (a
// worker completing a start): only a free ID is taken.
func (s *Store) reserveFor(ctx context.Context, info *RunInfo) (reservation, *RunInfo, error) {
	key, err := s.runKey(info.WorkflowID)
	if err != nil {
		return 0, nil, err
	}
	data := marshalRunInfo(info)
	for range 16 {
		// No index repair here (getRunEntry): the client wrote the entry's
		// index before the entry, so the entry of a start is indexed; this
		// read is on the path of every start a worker takes first, and
		// the close repairs what interference may have left.
		e, err := s.runs.Get(ctx, key)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			if _, err := s.runs.Create(ctx, key, data); err == nil {
				return reservedForRun, info, nil
			} else if !isWrongLastSeq(err) {
				return 0, nil, fmt.Errorf("runs index: %w", err)
			}
			continue
		}
		if err != nil {
			return 0, nil, fmt.Errorf("runs index: %w", err)
		}
		var cur RunInfo
		if err := unmarshalRunInfo(e.Value(), &cur); err != nil {
			return 0, nil, fmt.Errorf("runs index: entry for %q: %w", info.WorkflowID, err)
		}
		switch {
		case cur.RunID == info.RunID && cur.Status.IsClosed():
			return reservedClosed, &cur, nil
		case cur.RunID == info.RunID:
			return reservedForRun, &cur, nil
		default:
			// Another run holds the ID, open or closed. A worker never takes
			// an ID over from another run: the task may be a leftover of a
			// start its client retried (a timeout, a leader election) and
			// that retry's run may have come and gone; taking the ID would
			// start a run nobody asked for. The client, if alive, reserves
			// the ID itself; otherwise this start stays invisible.
			return heldByOther, &cur, nil
		}
	}
	return 0, nil, fmt.Errorf("runs index: the entry of %q kept changing", info.WorkflowID)
}

// beginRun builds a run that is not in memory from its start task. One get
// of the subject's last message tells whether the history holds just the
// start record (the run is built from it), more (it returns neither run
// nor outcome: the caller loads the history in full) or nothing: then the
// client that began the start stopped or has not written it yet, and the
// worker completes the start (completeStart).
func (w *Worker) beginRun(ctx context.Context, msg jetstream.Msg, task workflowTask, subj string) (*run, *outcome) {
	for i := range 3 {
		var rec history.Record
		var hdr nats.Header
		var err error
		if i == 0 {
			rec, hdr, err = w.readStartRecord(ctx, msg, subj) // startwait.go
		} else {
			rec, hdr, err = w.store.Log.LastWithHeader(ctx, subj)
		}
		if errors.Is(err, history.ErrNotFound) {
			var o *outcome
			if rec, o = w.completeStart(ctx, msg, task, subj); o != nil {
				return nil, o
			}
			if rec.StreamSeq == 0 {
				continue // written by another (the client): read it
			}
		} else if errors.As(err, new(*history.BadRecordError)) {
			return nil, nil // loading in full reports it (a blocked run)
		} else if err != nil {
			o := retry(time.Second, "read the start record", err)
			return nil, &o
		}
		if !isStartRecord(rec) {
			return nil, nil
		}
		r := w.newRun()
		if err := r.applyRecord(w.reg, rec); err != nil {
			return nil, nil // loading in full reports it (a blocked run)
		}
		r.startEntry = w.store.runsEntryOf(hdr, &rec.Events[0])
		return r, nil
	}
	o := retry(time.Second, "read the start record", errors.New("the run's subject kept changing"))
	return nil, &o
}

// completeStart finishes a start whose history is empty, from its task:
// the workflow ID is reserved for the run (unless another running run
// holds it: then the start was, or is about to be, refused), the execution
// timeout scheduled and WorkflowStarted appended, expecting an empty
// subject. It returns the appended record, or a record with no stream
// sequence when someone else (the client) wrote it first.
func (w *Worker) completeStart(ctx context.Context, msg jetstream.Msg, task workflowTask, subj string) (history.Record, *outcome) {
	started := *task.Event
	started.Seq, started.InputID = 1, startInputID
	info := runInfoForStart(&started)
	if md, err := msg.Metadata(); err == nil {
		info.StartTask = md.Sequence.Stream
	}
	res, cur, err := w.store.reserveFor(ctx, info)
	if err != nil {
		o := retry(time.Second, "reserve the workflow ID of a start", err)
		return history.Record{}, &o
	}
	switch res {
	case reservedClosed:
		// Closed before its start was written (terminated, or its start
		// failed for good): nothing to run.
		o := closedRun()
		return history.Record{}, &o
	case heldByOther:
		if n := numDelivered(msg); n < startWaitDeliveries {
			// Its client may still be reserving the ID (and take it if the
			// other run is closed by then) or, refused, be deleting this
			// task: only the client decides, until it must be gone.
			delay := 2 * time.Second
			if n <= 4 {
				delay = 250 * time.Millisecond
			}
			o := outcome{kind: taskRetry, delay: delay, quiet: true}
			return history.Record{}, &o
		}
		w.log.Debug("start task dropped: its workflow ID is held by another run, so the start was refused or superseded",
			"workflow_id", task.WorkflowID, "run_id", task.RunID, "held_by", cur.RunID)
		o := closedRun()
		return history.Record{}, &o
	}
	if started.WorkflowTimeout > 0 {
		if err := w.store.scheduleStartTimeout(ctx, started); err != nil {
			o := retry(time.Second, "schedule the execution timeout of a start", err)
			return history.Record{}, &o
		}
	}
	rec := history.Record{Kind: history.KindInput, Events: []history.Event{started}}
	_, err = w.store.Log.Append(ctx, subj, history.Tail{}, &rec)
	switch {
	case errors.Is(err, history.ErrConflict):
		return history.Record{}, nil
	case errors.Is(err, history.ErrRecordTooLarge):
		f := history.Event{Seq: 1, Time: time.Now().UTC(), Type: history.WorkflowFailed,
			Failure: &history.Failure{Message: "start failed: " + err.Error(), Type: "StartFailed"}}
		if err := w.store.closeRun(ctx, task.WorkflowID, task.RunID, &f); err != nil {
			o := retry(time.Second, "close a run whose start cannot be written", err)
			return history.Record{}, &o
		}
		o := drop(err.Error())
		return history.Record{}, &o
	case err != nil:
		o := retry(time.Second, "append WorkflowStarted", err)
		return history.Record{}, &o
	}
	return rec, nil
}

// settleIndexed settles the runs index entry ri as mode says (describe: a
// failed check leaves the entry as it is; signal and cancel: it is an error).
func (s *Store) settleIndexed(ctx context.Context, ri *RunInfo, mode settleMode) (*RunInfo, error) {
	if mode == settleNone || ri.Status.IsClosed() {
		return ri, nil
	}
	settled, _, err := s.settleStart(ctx, ri, mode)
	if err != nil {
		if mode == settleAct {
			return nil, err
		}
		return ri, nil
	}
	return settled, nil
}
