package engine

// The visibility index (stream <PREFIX>_RUNIDX) lets dfctl find, count and
// page runs among hundreds of thousands without reading them all: the server
// filters by subject. It owns:
//
//   - <prefix>.idx.<status>.<flag>.<type>.<queue>.<key>: one message per
//     workflow ID, the compact RunInfo of its latest run (no result); flag is "blocked" for a running run that cannot
//     progress, else "ok"; type and queue are history.EncodeID tokens.
//   - <prefix>.idxtype.<type>: one message per workflow type ever indexed,
//     so that `dfctl count` knows which types to count.
//   - <prefix>.idxmeta.backfilled: written once the index was filled from
//     the runs bucket (an installation made before the index existed).
//
// The runs bucket stays the authority (ID reservation is its Create and
// compare-and-set); the index follows it. Every write of the bucket goes
// through indexedRuns: before the bucket write, the entry is published on
// its new subject and the workflow's older subjects purged (one purge
// request, filter <prefix>.idx.*.*.*.*.<key>, up to the new message), so
// that a client that sees the change in the bucket (a result) finds it, and
// only it, in the index. Writers of a key are ordered by the bucket's
// compare-and-set, so each publishes after the one before it; after its
// bucket write a writer checks that its entry is the one left (a repair
// working from an older read of the bucket may have replaced it). A failed
// bucket write re-indexes what the bucket holds, and a re-index from the
// bucket (a repair) reads the bucket again after it publishes, so that it
// never leaves an older entry over a newer one. A writer that dies
// half way leaves the index off by its one change until the same change is
// retried: the retry finds the bucket changed already (a no-op) and
// repairs the index from it (repairIndex: the no-op paths call it).

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/durablefuture/durablefuture/pkg/history"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/synadia-io/orbit.go/jetstreamext"
)

// StatusBlocked is a filter and count group, not a run status: a running
// run whose RunInfo.Blocked says why no worker can advance it. A filter on
// StatusRunning matches blocked runs too.
const StatusBlocked Status = "blocked"

// Index flags: the token after the status.
const (
	idxFlagOK      = "ok"
	idxFlagBlocked = "blocked"
)

// testHookIndex, when it returns true for a step of an index write of key,
// makes it fail there: "lose" skips the index write and fails after the
// bucket write (a writer that died between the two), "pre" stops after the
// index write, before the bucket write, "after" after the bucket write (as
// if the writer died there).
var testHookIndex atomic.Pointer[func(key, step string) bool]

func indexHook(key, step string) bool {
	f := testHookIndex.Load()
	return f != nil && (*f)(key, step)
}

var errIndexTestCrash = errors.New("test: crashed before the index write")

func (s *Store) indexStream() string { return strings.ToUpper(s.Config.Prefix) + "_RUNIDX" }

// indexStreamConfig is the configuration of the index stream.
func (s *Store) indexStreamConfig() jetstream.StreamConfig {
	p := s.Config.Prefix
	return jetstream.StreamConfig{
		Name:        s.indexStream(),
		Description: "DurableFuture visibility index: the latest run of each workflow ID on a subject naming its status, type and task queue",
		Subjects:    []string{p + ".idx.>", p + ".idxtype.>", p + ".idxmeta.>"},
		Storage:     s.Config.storageType(),
		Replicas:    s.Config.Replicas,
		AllowDirect: true,
		// No MaxMsgsPerSubject: the purge of a workflow's older entries
		// keeps one message per workflow anyway, and with a per-subject
		// limit the server counts matches from a sequence inside the
		// stream with a pass over every matching subject, not over the
		// blocks after it (paging newest first: 500 ms instead of 60 ms
		// at 100,000 runs).
	}
}

// indexToken maps a type or task queue to one subject token: the EncodeID
// token, or a hash for a name EncodeID refuses (empty, too long).
func indexToken(name string) string {
	if name == "" {
		return "=" // EncodeID's form of the empty string
	}
	if tok, err := history.EncodeID(name); err == nil {
		return tok
	}
	sum := sha256.Sum256([]byte(name))
	return "~" + hex.EncodeToString(sum[:16])
}

// idxStatus is the status and flag tokens of an entry.
func idxStatus(ri *RunInfo) (status, flag string) {
	status, flag = string(ri.Status), idxFlagOK
	if status == "" {
		status = string(StatusRunning)
	}
	if !ri.Status.IsClosed() && ri.Blocked != "" {
		flag = idxFlagBlocked
	}
	return status, flag
}

func (s *Store) idxSubject(ri *RunInfo, key string) string {
	st, flag := idxStatus(ri)
	return strings.Join([]string{s.Config.Prefix, "idx", st, flag, indexToken(ri.Type), indexToken(ri.TaskQueue), key}, ".")
}

// idxKeyFilter matches every index subject of one workflow key.
func (s *Store) idxKeyFilter(key string) string {
	return s.Config.Prefix + ".idx.*.*.*.*." + key
}

// idxFilter is the subject filter of a status (""; running includes
// blocked), type and task queue ("" for any).
func (s *Store) idxFilter(status Status, typ, queue string) string {
	st, flag := "*", "*"
	switch status {
	case "":
	case StatusBlocked:
		st, flag = string(StatusRunning), idxFlagBlocked
	default:
		st = string(status)
	}
	t, q := "*", "*"
	if typ != "" {
		t = indexToken(typ)
	}
	if queue != "" {
		q = indexToken(queue)
	}
	return strings.Join([]string{s.Config.Prefix, "idx", st, flag, t, q, "*"}, ".")
}

func (s *Store) idxTypeSubject(typ string) string {
	return s.Config.Prefix + ".idxtype." + indexToken(typ)
}

func (s *Store) idxBackfilledSubject() string { return s.Config.Prefix + ".idxmeta.backfilled" }

// compactEntry is what the index holds of a run: no result, no stack.
func compactEntry(ri RunInfo) RunInfo {
	ri.Result = nil
	if ri.Failure != nil {
		ri.Failure = &history.Failure{Message: ri.Failure.Message, Type: ri.Failure.Type, NonRetryable: ri.Failure.NonRetryable}
	}
	return ri
}

// marshalIndexEntry is json.Marshal(compactEntry(ri)).
func marshalIndexEntry(ri RunInfo) []byte {
	ce := compactEntry(ri)
	return marshalRunInfo(&ce)
}

// runIndex is the index stream, bound lazily: an installation made by an
// older version has none until a worker or writing command opens it.
func (s *Store) runIndex(ctx context.Context) (jetstream.Stream, error) {
	s.idxMu.Lock()
	defer s.idxMu.Unlock()
	if s.idx != nil {
		return s.idx, nil
	}
	st, err := s.JS.Stream(ctx, s.indexStream())
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("runs index: open stream %s: %w", s.indexStream(), err)
	}
	s.idx = st
	return st, nil
}

// errNoIndex is returned by queries when the installation has no index
// stream yet.
func (s *Store) errNoIndex() error {
	return fmt.Errorf("%w: this installation has no runs index stream %s yet: it is created, and filled from bucket %s, when a worker or `dfctl dev` opens it with this version",
		ErrUnavailable, s.indexStream(), s.runsBucket())
}

// indexedRuns is the runs bucket as the engine writes it: the index entry
// of a change is published before the change is made (so that whoever sees
// the change in the bucket, a client waiting for a result, then finds it
// in the index); a change that fails re-indexes what the bucket holds.
type indexedRuns struct {
	jetstream.KeyValue
	s *Store
}

// Create writes a new workflow ID: it has no older index entry to purge
// first (leftovers of a delete that stopped half way are purged after).
func (k indexedRuns) Create(ctx context.Context, key string, value []byte, opts ...jetstream.KVCreateOpt) (uint64, error) {
	return k.s.indexed(ctx, key, value, "", func() (uint64, error) {
		if len(opts) == 0 {
			return k.s.kvCreate(ctx, k.KeyValue, key, value, 0)
		}
		return k.KeyValue.Create(ctx, key, value, opts...)
	})
}

func (k indexedRuns) Update(ctx context.Context, key string, value []byte, revision uint64) (uint64, error) {
	return k.s.indexed(ctx, key, value, k.s.idxKeyFilter(key), func() (uint64, error) { return k.s.kvUpdate(ctx, k.KeyValue, key, value, revision) })
}

func (k indexedRuns) Put(ctx context.Context, key string, value []byte) (uint64, error) {
	return k.s.indexed(ctx, key, value, k.s.idxKeyFilter(key), func() (uint64, error) { return k.KeyValue.Put(ctx, key, value) })
}

// updateFrom is Update of the entry old (at revision) to value: the
// older index entry to purge is on old's own subject, a literal filter.
// A wildcard filter makes the server compare the subject of every index
// message written since the old entry (on a busy installation, those of
// every run started meanwhile: the purges were 18% of a stock server's
// CPU in `dfctl bench -c 200`); the literal one stops at the entry.
// Entries left on other subjects (a writer that died half way) are found
// by the check after the bucket write (indexAfter) and purged there.
func (k indexedRuns) updateFrom(ctx context.Context, key string, old, value []byte, revision uint64) (uint64, error) {
	purge := k.s.idxKeyFilter(key)
	if ri, err := decodeRunInfo(old); err == nil {
		purge = k.s.idxSubject(&ri, key)
	}
	return k.s.indexed(ctx, key, value, purge, func() (uint64, error) { return k.s.kvUpdate(ctx, k.KeyValue, key, value, revision) })
}

// updateRunEntry writes value over the runs bucket entry old (at revision).
func (s *Store) updateRunEntry(ctx context.Context, key string, old, value []byte, revision uint64) (uint64, error) {
	if ir, ok := s.runs.(indexedRuns); ok {
		return ir.updateFrom(ctx, key, old, value, revision)
	}
	return s.runs.Update(ctx, key, value, revision)
}

// indexed makes the bucket write write (of value to key) with its index
// write around it; purge is the filter of the older entries purged first
// ("": none).
func (s *Store) indexed(ctx context.Context, key string, value []byte, purge string, write func() (uint64, error)) (uint64, error) {
	if indexHook(key, "lose") {
		// As a writer that dies after the bucket write and before the
		// index write would leave it.
		rev, err := write()
		if err == nil {
			err = &IndexError{Err: errIndexTestCrash}
		}
		return rev, err
	}
	seq, err := s.publishPre(ctx, key, value, purge)
	if errors.Is(err, errIndexOccupied) {
		// A creation found the key indexed already: by the writer that
		// created it meanwhile (a worker completing a start races its
		// client), whose entry stands and whose bucket write makes this
		// one fail; or by a leftover of a writer that died, which this
		// creation replaces once made. Publishing regardless showed the
		// run twice in `list` until the loser cleaned up.
		rev, err := write()
		if err != nil {
			return rev, err
		}
		return rev, s.indexWrite(ctx, key, value, rev)
	}
	if err != nil {
		return 0, err
	}
	rev, err := write()
	if d, ok := ctx.Value(deferredChecksKey{}).(*deferredChecks); ok && purge == "" && err == nil && seq != 0 {
		// A creation whose writer has more to do (a start: its start
		// record) checks its entry while it does it (deferIndexChecks).
		d.add(func() error {
			_, err := s.indexAfter(context.WithoutCancel(ctx), key, seq, rev, nil, true)
			return err
		})
		return rev, nil
	}
	return s.indexAfter(ctx, key, seq, rev, err, purge == "")
}

// deferIndexChecks returns a context in which a creation's check after
// its bucket write (indexAfter) is left to the returned deferredChecks,
// for its writer to run alongside its next request rather than before it.
// Only a creation that wrote its entry is deferred; anything else checks
// as usual.
func deferIndexChecks(ctx context.Context) (context.Context, *deferredChecks) {
	d := &deferredChecks{}
	return context.WithValue(ctx, deferredChecksKey{}, d), d
}

type deferredChecksKey struct{}

// deferredChecks are index checks left to run later.
type deferredChecks struct {
	mu  sync.Mutex
	fns []func() error
}

func (d *deferredChecks) add(f func() error) {
	d.mu.Lock()
	d.fns = append(d.fns, f)
	d.mu.Unlock()
}

// run runs the checks left and returns the first error.
func (d *deferredChecks) run() error {
	d.mu.Lock()
	fns := d.fns
	d.fns = nil
	d.mu.Unlock()
	var first error
	for _, f := range fns {
		if err := f(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// errIndexOccupied: a creation's index entry was refused, the key has one.
var errIndexOccupied = errors.New("the workflow ID has an index entry already")

// IndexError wraps a failed index write; when the bucket write it goes
// with was made, the index is repaired when the change is retried.
type IndexError struct{ Err error }

func (e *IndexError) Error() string { return "visibility entry: " + e.Err.Error() }
func (e *IndexError) Unwrap() error { return e.Err }

// indexPre publishes the index entry of the bucket value data of key and
// purges the key's older entries. It returns the entry's stream sequence
// (0: the installation has no index yet).
func (s *Store) indexPre(ctx context.Context, key string, data []byte) (uint64, error) {
	return s.publishPre(ctx, key, data, s.idxKeyFilter(key))
}

// publishPre is indexPre; it purges the older entries matching purge (a
// filter of the key's entries; "": none).
func (s *Store) publishPre(ctx context.Context, key string, data []byte, purge string) (uint64, error) {
	idx, err := s.runIndex(ctx)
	if err != nil {
		return 0, &IndexError{Err: err}
	}
	if idx == nil {
		return 0, nil // no index yet: the backfill that creates it reads the bucket
	}
	var ri RunInfo
	if err := unmarshalRunInfo(data, &ri); err != nil {
		return 0, &IndexError{Err: fmt.Errorf("entry of %q: %w", key, err)}
	}
	if purge != "" && purge != s.idxSubject(&ri, key) && !strings.ContainsAny(purge, "*>") {
		// The older entry is on another literal subject than the new
		// one: its purge cannot take the new entry, so both requests go
		// at once, one round trip less on every change of a run's status
		// (a run's close among them). A purge that takes a newer entry
		// of another writer on that subject (one that read the bucket
		// before this writer's change and lost the compare-and-set to
		// it, or won it) is seen by that writer's check after its bucket
		// write, which indexes what the bucket holds.
		purged := make(chan error, 1)
		go func() { purged <- s.purgeSubject(ctx, key, purge) }()
		seq, err := s.publishIndexEntry(ctx, key, &ri, false)
		perr := <-purged
		if err != nil {
			return 0, &IndexError{Err: err}
		}
		if perr != nil {
			return 0, perr
		}
		if indexHook(key, "pre") {
			return 0, &IndexError{Err: errIndexTestCrash}
		}
		return seq, nil
	}
	// A creation (no purge) publishes only if the key has no entry.
	seq, err := s.publishIndexEntry(ctx, key, &ri, purge == "")
	if purge == "" && history.IsWrongLastSeq(err) {
		return 0, errIndexOccupied
	}
	if err != nil {
		return 0, &IndexError{Err: err}
	}
	if purge != "" {
		if err := s.purgeOlderOn(ctx, key, purge, seq); err != nil {
			return 0, err
		}
	}
	if indexHook(key, "pre") {
		return 0, &IndexError{Err: errIndexTestCrash}
	}
	return seq, nil
}

// indexAfter completes an index write after the bucket write it goes with
// (rev, err): a failed bucket write leaves the index as the bucket is.
// created says that the entry (at seq) was published only if the key had
// none: then no older entry can be left, and the check after the bucket
// write is whether seq is still the key's last entry.
func (s *Store) indexAfter(ctx context.Context, key string, seq, rev uint64, err error, created bool) (uint64, error) {
	if err == nil && indexHook(key, "after") {
		return rev, &IndexError{Err: errIndexTestCrash}
	}
	if seq == 0 {
		return rev, err
	}
	if err != nil {
		if e, gerr := s.runs.Get(ctx, key); gerr == nil {
			_ = s.indexWrite(ctx, key, e.Value(), e.Revision())
		} else if errors.Is(gerr, jetstream.ErrKeyNotFound) {
			s.purgeIndexTo(ctx, key, seq)
		}
		return rev, err // best effort: the caller retries or gives up with err
	}
	// A repair working from an older read of the bucket may have replaced
	// this entry meanwhile (it publishes after this writer did, before the
	// bucket write): if the entry is not the one left, index what the
	// bucket holds now. One request when it is.
	if created {
		// The server published the entry only if the key had none, and
		// every later entry has a higher sequence: the entry is the one
		// left if it is the last (a plain direct get, no end-of-batch
		// message: one message less on every start).
		if msg, perr := s.lastIndexMsg(ctx, s.idxKeyFilter(key)); perr == nil && msg != nil && msg.Sequence == seq {
			return rev, nil
		}
	}
	msg, pending, perr := s.firstIndexMsg(ctx, s.idxKeyFilter(key), 1)
	if perr == nil && msg != nil && msg.Sequence < seq && pending > 0 {
		// Older entries left (a Create does not purge first): purge
		// them and look again.
		if err := s.purgeOlder(ctx, key, seq); err != nil {
			return rev, err
		}
		msg, pending, perr = s.firstIndexMsg(ctx, s.idxKeyFilter(key), 1)
	}
	if perr == nil && msg != nil && msg.Sequence == seq && pending == 0 {
		return rev, nil
	}
	e, gerr := s.runs.Get(ctx, key)
	if errors.Is(gerr, jetstream.ErrKeyNotFound) {
		return rev, nil // deleted meanwhile: so is its index entry
	}
	if gerr != nil {
		return rev, &IndexError{Err: gerr}
	}
	return rev, s.indexWrite(ctx, key, e.Value(), e.Revision())
}

// purgeOlder purges the index entries of key older than seq.
func (s *Store) purgeOlder(ctx context.Context, key string, seq uint64) error {
	return s.purgeOlderOn(ctx, key, s.idxKeyFilter(key), seq)
}

// purgeOlderOn purges the index entries of key matching filter older than
// seq.
func (s *Store) purgeOlderOn(ctx context.Context, key, filter string, seq uint64) error {
	idx, err := s.runIndex(ctx)
	if err != nil || idx == nil {
		return err
	}
	if err := s.streamPurge(ctx, idx, filter, seq); err != nil {
		return &IndexError{Err: fmt.Errorf("purge older entries of %q: %w", key, err)}
	}
	return nil
}

// purgeSubject purges every index message on subject, a literal subject
// of key's that holds none of its current entries.
func (s *Store) purgeSubject(ctx context.Context, key, subject string) error {
	idx, err := s.runIndex(ctx)
	if err != nil || idx == nil {
		return err
	}
	if err := s.streamPurge(ctx, idx, subject, 0); err != nil {
		return &IndexError{Err: fmt.Errorf("purge the older entry of %q: %w", key, err)}
	}
	return nil
}

// purgeIndexTo purges the index entries of key up to and including seq
// (best effort).
func (s *Store) purgeIndexTo(ctx context.Context, key string, seq uint64) {
	if idx, err := s.runIndex(ctx); err == nil && idx != nil {
		_ = idx.Purge(ctx, jetstream.WithPurgeSubject(s.idxKeyFilter(key)), jetstream.WithPurgeSequence(seq+1))
	}
}

// indexWrite makes the index hold the bucket entry (data at revision rev)
// of key: it publishes it and follows the bucket.
func (s *Store) indexWrite(ctx context.Context, key string, data []byte, rev uint64) error {
	seq, err := s.indexPre(ctx, key, data)
	if err != nil || seq == 0 {
		return err
	}
	return s.indexFollow(ctx, key, seq, rev)
}

// indexFollow reads the bucket entry of key after the index entry of its
// revision rev was published (at seq): when it changed meanwhile, the newer
// entry is published too, and so on, so that the last writer to finish
// leaves the index equal to the bucket.
func (s *Store) indexFollow(ctx context.Context, key string, seq, rev uint64) error {
	for range 10 {
		e, err := s.runs.Get(ctx, key)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			s.purgeIndexTo(ctx, key, seq) // deleted meanwhile (dfctl delete)
			return nil
		}
		if err != nil {
			return &IndexError{Err: err}
		}
		if e.Revision() == rev {
			return nil
		}
		rev = e.Revision()
		if seq, err = s.indexPre(ctx, key, e.Value()); err != nil || seq == 0 {
			return err
		}
	}
	return &IndexError{Err: fmt.Errorf("the entry of %q kept changing", key)}
}

// publishIndexEntry publishes the index message of ri and returns its
// stream sequence.
// With onlyIfNone the server refuses it (a wrong-last-sequence error) when
// the key has an entry.
func (s *Store) publishIndexEntry(ctx context.Context, key string, ri *RunInfo, onlyIfNone bool) (uint64, error) {
	if err := s.noteType(ctx, ri.Type); err != nil {
		return 0, err
	}
	msg := nats.NewMsg(s.idxSubject(ri, key))
	msg.Data = marshalIndexEntry(*ri)
	if onlyIfNone {
		msg.Header.Set(jetstream.ExpectedLastSubjSeqHeader, "0")
		msg.Header.Set(jetstream.ExpectedLastSubjSeqSubjHeader, s.idxKeyFilter(key))
	}
	ack, err := s.JS.PublishMsg(ctx, msg)
	if err != nil {
		return 0, fmt.Errorf("publish the entry of %q: %w", key, err)
	}
	return ack.Sequence, nil
}

// noteType records a workflow type in the index, once per process.
func (s *Store) noteType(ctx context.Context, typ string) error {
	if _, ok := s.idxTypes.Load(typ); ok {
		return nil
	}
	subj := s.idxTypeSubject(typ)
	ack, err := s.JS.Publish(ctx, subj, []byte(typ))
	if err != nil {
		return fmt.Errorf("record workflow type %q: %w", typ, err)
	}
	// One marker per type: the older ones (other processes) go, off the
	// path of the change being indexed (a leftover marker is harmless).
	go func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if idx, err := s.runIndex(ctx); err == nil && idx != nil {
			_ = idx.Purge(ctx, jetstream.WithPurgeSubject(subj), jetstream.WithPurgeSequence(ack.Sequence))
		}
	}()
	s.idxTypes.Store(typ, true)
	return nil
}

// repairIndex makes the index hold the bucket entry e of key when it does
// not: the no-op paths of the bucket writers call it, so that retrying a
// change whose index write was lost repairs it. One request when the index
// is current.
func (s *Store) repairIndex(ctx context.Context, key string, e jetstream.KeyValueEntry) error {
	idx, err := s.runIndex(ctx)
	if err != nil || idx == nil {
		return err
	}
	var ri RunInfo
	if err := unmarshalRunInfo(e.Value(), &ri); err != nil {
		return fmt.Errorf("runs index: entry of %q: %w", key, err)
	}
	msg, pending, err := s.firstIndexMsg(ctx, s.idxKeyFilter(key), 1)
	if err != nil {
		return &IndexError{Err: err}
	}
	if msg != nil && pending == 0 && msg.Subject == s.idxSubject(&ri, key) {
		if want := marshalIndexEntry(ri); bytes.Equal(msg.Data, want) {
			return nil
		}
	}
	return s.indexWrite(ctx, key, e.Value(), e.Revision())
}

// getRunEntry reads the bucket entry of key and repairs its index entry.
func (s *Store) getRunEntry(ctx context.Context, key string) (jetstream.KeyValueEntry, error) {
	e, err := s.runs.Get(ctx, key)
	if err != nil {
		return e, err
	}
	return e, s.repairIndex(ctx, key, e)
}

// firstIndexMsg returns the first index message matching filter at or after
// seq and how many more match after it (nil: none).
//
// It is a batched direct get of one message (for its Nats-Num-Pending
// header), whose end-of-batch status is dropped by the reply multiplexer
// (indexGet). Every write of the runs bucket makes one; jetstreamext.GetBatch,
// which subscribes an inbox per call, made them 15% of a worker's CPU.
func (s *Store) firstIndexMsg(ctx context.Context, filter string, seq uint64) (*jetstream.RawStreamMsg, uint64, error) {
	req, _ := json.Marshal(struct {
		Seq   uint64 `json:"seq"`
		Next  string `json:"next_by_subj"`
		Batch int    `json:"batch"`
	}{max(seq, 1), filter, 1})
	m, err := s.indexGet(ctx, filter, req)
	if m == nil || err != nil {
		return nil, 0, err
	}
	pending, err := strconv.ParseUint(m.Header.Get(numPendingHeader), 10, 64)
	if err != nil {
		return nil, 0, fmt.Errorf("runs index: read %s: the server sent no %s header (the runs index needs nats-server 2.11+)", filter, numPendingHeader)
	}
	return directMsg(m), pending, nil
}

// lastIndexMsg returns the last index message matching filter (nil: none).
func (s *Store) lastIndexMsg(ctx context.Context, filter string) (*jetstream.RawStreamMsg, error) {
	req, _ := json.Marshal(struct {
		Last string `json:"last_by_subj"`
	}{filter})
	m, err := s.indexGet(ctx, filter, req)
	if m == nil || err != nil {
		return nil, err
	}
	return directMsg(m), nil
}

// indexGet sends the direct get req (of the index messages matching
// filter) as one request on the connection's shared reply subject and
// returns the message it answers (nil: none matches).
func (s *Store) indexGet(ctx context.Context, filter string, req []byte) (*nats.Msg, error) {
	ctx, cancel := withDefaultTimeout(ctx, s.JS.Options().DefaultTimeout)
	defer cancel()
	m, err := s.NC.RequestWithContext(ctx, s.indexDirectGet(), req)
	if err != nil {
		return nil, fmt.Errorf("runs index: read %s: %w", filter, unavailable(err))
	}
	switch st := m.Header.Get("Status"); st {
	case "":
		return m, nil
	case "404":
		return nil, nil // nothing matches
	default:
		return nil, fmt.Errorf("runs index: read %s: status %s %s", filter, st, m.Header.Get("Description"))
	}
}

// indexBatch reads up to n messages matching filter from seq (or from the
// first stored at or after since, when since is set), with one batched
// direct get; pending is how many more match after the last one returned.
func (s *Store) indexBatch(ctx context.Context, filter string, seq uint64, since *time.Time, n int) ([]*jetstream.RawStreamMsg, uint64, error) {
	opts := []jetstreamext.GetBatchOpt{jetstreamext.GetBatchSubject(filter)}
	if since != nil {
		opts = append(opts, jetstreamext.GetBatchStartTime(*since))
	} else {
		opts = append(opts, jetstreamext.GetBatchSeq(max(seq, 1)))
	}
	it, err := jetstreamext.GetBatch(ctx, s.JS, s.indexStream(), n, opts...)
	if err != nil {
		return nil, 0, fmt.Errorf("runs index: read %s: %w", filter, err)
	}
	var out []*jetstream.RawStreamMsg
	for msg, err := range it {
		if errors.Is(err, jetstreamext.ErrNoMessages) {
			break
		}
		if err != nil {
			return nil, 0, fmt.Errorf("runs index: read %s: %w", filter, unavailable(err))
		}
		out = append(out, msg)
	}
	if err := ctx.Err(); err != nil {
		return nil, 0, fmt.Errorf("runs index: read %s: %w", filter, unavailable(err))
	}
	if len(out) == 0 {
		return nil, 0, nil
	}
	v := out[len(out)-1].Header.Get(numPendingHeader)
	pending, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return nil, 0, fmt.Errorf("runs index: read %s: the server sent no %s header (the runs index needs nats-server 2.11+)", filter, numPendingHeader)
	}
	return out, pending, nil
}

// numPendingHeader is the header of a batched direct get answer saying how
// many messages match after this one.
const numPendingHeader = "Nats-Num-Pending"

// backfillIndex fills the index from the runs bucket once per installation
// (an installation made by a version without the index). Each entry is
// published only if the workflow has no index entry yet (the server checks
// it), so a live writer's newer entry is never replaced by the older one
// read here; running it twice, or concurrently, converges.
func (s *Store) backfillIndex(ctx context.Context) error {
	msg, _, err := s.firstIndexMsg(ctx, s.idxBackfilledSubject(), 1)
	// A replicated index stream just created answers direct gets only once
	// its replicas are current: until then there are no responders (seen
	// when dialing a fresh 3-node cluster). Ask again for a while.
	for pause := 50 * time.Millisecond; errors.Is(err, nats.ErrNoResponders) && pause < 10*time.Second; pause *= 2 {
		select {
		case <-ctx.Done():
			return err
		case <-time.After(pause):
		}
		msg, _, err = s.firstIndexMsg(ctx, s.idxBackfilledSubject(), 1)
	}
	if err != nil || msg != nil {
		return err
	}
	w, err := s.runs.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return fmt.Errorf("runs index: backfill: %w", err)
	}
	defer w.Stop()
	var futures []jetstream.PubAckFuture
	wait := func() error {
		for _, f := range futures {
			select {
			case <-f.Ok():
			case err := <-f.Err():
				if !history.IsWrongLastSeq(err) { // a live writer indexed it first
					return fmt.Errorf("runs index: backfill: %w", err)
				}
			case <-ctx.Done():
				return fmt.Errorf("runs index: backfill: %w", ctx.Err())
			}
		}
		futures = futures[:0]
		return nil
	}
	for {
		var e jetstream.KeyValueEntry
		select {
		case e = <-w.Updates():
		case <-ctx.Done():
			return fmt.Errorf("runs index: backfill: %w", ctx.Err())
		}
		if e == nil {
			break
		}
		var ri RunInfo
		if unmarshalRunInfo(e.Value(), &ri) != nil {
			continue
		}
		if err := s.noteType(ctx, ri.Type); err != nil {
			return err
		}
		msg := nats.NewMsg(s.idxSubject(&ri, e.Key()))
		msg.Data = marshalIndexEntry(ri)
		msg.Header.Set(jetstream.ExpectedLastSubjSeqHeader, "0")
		msg.Header.Set(jetstream.ExpectedLastSubjSeqSubjHeader, s.idxKeyFilter(e.Key()))
		f, err := s.JS.PublishMsgAsync(msg)
		if err != nil {
			return fmt.Errorf("runs index: backfill: %w", err)
		}
		if futures = append(futures, f); len(futures) >= 1000 {
			if err := wait(); err != nil {
				return err
			}
		}
	}
	if err := wait(); err != nil {
		return err
	}
	if _, err := s.JS.Publish(ctx, s.idxBackfilledSubject(), []byte(time.Now().UTC().Format(time.RFC3339))); err != nil {
		return fmt.Errorf("runs index: backfill: %w", err)
	}
	return nil
}

// indexState is the per-store state of the index (embedded in Store).
type indexState struct {
	idxMu    sync.Mutex
	idx      jetstream.Stream
	idxTypes sync.Map // workflow types recorded by this process
}
