package history

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Out-of-line payloads. A record is one message, and a message is bounded
// by the server's max_payload (1 MiB on a stock server). A payload (an
// event's Input or Result, a failure's Details) larger than
// OffloadThreshold is stored as its own message on the subject
// "<run subject>.blob.<sha256 hex>" of the same stream, before the record
// that references it; the event keeps a BlobRef (size and hash) in
// input_ref / result_ref / details_ref instead of the bytes. Every read
// through Log resolves the references, so callers only ever see inline
// values. Records holding a reference are written with version
// VersionBlobs, which older readers refuse instead of misreading; records
// without one keep version 1.

// OffloadThreshold is the size in bytes above which a payload is always
// stored out of line. Smaller payloads stay inline, so the common decision
// costs no extra request.
var OffloadThreshold = 16 * 1024

// minOffload is the smallest payload stored out of line when a record
// would not fit otherwise (a reference costs about 100 bytes).
const minOffload = 512

// RecordHeadroom is the part of the server's max_payload kept for the
// headers of a record message.
const RecordHeadroom = 4 * 1024

// defaultMaxPayload is the stock server's limit, assumed only when the
// connection does not say (not connected yet).
const defaultMaxPayload = 1024 * 1024

// blobFetchers bounds the concurrent reads of blobs for one read.
const blobFetchers = 16

// VersionBlobs is the record version of records that hold blob references.
const VersionBlobs = 2

// ErrRecordTooLarge is returned (wrapped in a *RecordTooLargeError) by
// Append when a record does not fit the server's max_payload even with its
// payloads stored out of line. Retrying cannot help.
var ErrRecordTooLarge = errors.New("history: record too large")

// ErrBlob is wrapped by the error of a read whose out-of-line payload is
// missing or does not match its reference.
var ErrBlob = errors.New("history: out-of-line payload missing or corrupt")

// BlobRef points at a payload stored out of line.
type BlobRef struct {
	Size   int    `json:"size"`
	SHA256 string `json:"sha256"`
}

// RecordTooLargeError says how far a record is over the limit.
type RecordTooLargeError struct {
	Subject    string
	Size       int // bytes of the record after offloading
	Limit      int // bytes a record may have: MaxPayload - RecordHeadroom
	MaxPayload int // the server's max_payload
	Events     int
	// Biggest is the largest event (Seq, Type, Name) and its encoded size.
	Biggest     Event
	BiggestSize int
}

func (e *RecordTooLargeError) Error() string {
	name := ""
	if e.Biggest.Name != "" {
		name = " " + e.Biggest.Name
	}
	return fmt.Sprintf("history: a record of %d events is %d bytes even with payloads over %d bytes stored out of line; "+
		"the server's max_payload is %d bytes (%d for a record); the biggest event is #%d %s%s (%d bytes)",
		e.Events, e.Size, OffloadThreshold, e.MaxPayload, e.Limit, e.Biggest.Seq, e.Biggest.Type, name, e.BiggestSize)
}

func (e *RecordTooLargeError) Unwrap() error { return ErrRecordTooLarge }

// BlobSubject is the subject holding the out-of-line payload with the
// given sha256 (hex) of the run whose history subject is subject.
func BlobSubject(subject, sha string) string { return subject + ".blob." + sha }

// MaxRecordBytes is the largest record the connected server accepts.
func (l *Log) MaxRecordBytes() int {
	return l.maxPayload() - RecordHeadroom
}

func (l *Log) maxPayload() int {
	if l.JS != nil {
		if nc := l.JS.Conn(); nc != nil {
			if mp := nc.MaxPayload(); mp > 0 {
				return int(mp)
			}
		}
	}
	return defaultMaxPayload
}

// hasRefs reports whether ev holds a blob reference.
func hasRefs(ev *Event) bool {
	if ev.InputRef != nil || ev.ResultRef != nil {
		return true
	}
	for f := ev.Failure; f != nil; f = f.Cause {
		if f.DetailsRef != nil {
			return true
		}
	}
	return false
}

// needsOffload reports whether ev holds a payload over the threshold (or a
// reference, which a caller must never hand to Append).
func needsOffload(ev *Event) bool {
	if len(ev.Input) > OffloadThreshold || len(ev.Result) > OffloadThreshold || hasRefs(ev) {
		return true
	}
	for f := ev.Failure; f != nil; f = f.Cause {
		if len(f.Details) > OffloadThreshold {
			return true
		}
	}
	return false
}

// payloadSlot is one payload of an event copy that may go out of line.
type payloadSlot struct {
	ev    *Event
	data  []byte // the bytes to store: what the inline JSON would hold
	cost  int    // its inline size in the record
	ref   *BlobRef
	apply func(*BlobRef)
}

// encodeRecord returns the message body of rec, storing its large payloads
// out of line first (they are durable when it returns). rec's events are
// not changed: the caller keeps inline values.
func (l *Log) encodeRecord(ctx context.Context, subject string, rec *Record) ([]byte, error) {
	limit := l.MaxRecordBytes()
	needs := false
	for i := range rec.Events {
		if needsOffload(&rec.Events[i]) {
			needs = true
			break
		}
	}
	if !needs {
		rec.V = 1
		data, err := EncodeRecord(rec)
		if err != nil {
			return nil, fmt.Errorf("history: encode record: %w", err)
		}
		if len(data) <= limit {
			return data, nil
		}
	}
	return l.encodeOffloaded(ctx, subject, rec, limit)
}

// encodeOffloaded is encodeRecord's slow path: payloads over the threshold
// go out of line, then, while the record is over limit, the largest of the
// rest (down to minOffload).
func (l *Log) encodeOffloaded(ctx context.Context, subject string, rec *Record, limit int) ([]byte, error) {
	wire := Record{Kind: rec.Kind, Events: slices.Clone(rec.Events)}
	var slots []*payloadSlot
	for i := range wire.Events {
		ev := &wire.Events[i]
		ev.InputRef, ev.ResultRef = nil, nil
		ev.Failure = cloneFailure(ev.Failure)
		if len(ev.Input) > 0 {
			s, err := rawSlot(ev, ev.Input, func(r *BlobRef) { ev.Input, ev.InputRef = nil, r })
			if err != nil {
				return nil, err
			}
			slots = append(slots, s)
		}
		if len(ev.Result) > 0 {
			s, err := rawSlot(ev, ev.Result, func(r *BlobRef) { ev.Result, ev.ResultRef = nil, r })
			if err != nil {
				return nil, err
			}
			slots = append(slots, s)
		}
		for f := ev.Failure; f != nil; f = f.Cause {
			if len(f.Details) > 0 {
				slots = append(slots, &payloadSlot{ev: ev, data: f.Details, cost: (len(f.Details)+2)/3*4 + 2,
					apply: func(r *BlobRef) { f.Details, f.DetailsRef = nil, r }})
			}
		}
	}
	var out []*payloadSlot
	offload := func(s *payloadSlot) {
		sum := sha256.Sum256(s.data)
		s.ref = &BlobRef{Size: len(s.data), SHA256: hex.EncodeToString(sum[:])}
		s.apply(s.ref)
		out = append(out, s)
	}
	var rest []*payloadSlot
	for _, s := range slots {
		if len(s.data) > OffloadThreshold {
			offload(s)
		} else if len(s.data) >= minOffload {
			rest = append(rest, s)
		}
	}
	sort.SliceStable(rest, func(i, j int) bool { return len(rest[i].data) > len(rest[j].data) })
	for {
		wire.V = 1
		if len(out) > 0 {
			wire.V = VersionBlobs
		}
		data, err := json.Marshal(&wire)
		if err != nil {
			return nil, fmt.Errorf("history: encode record: %w", err)
		}
		if len(data) <= limit {
			if err := l.putBlobs(ctx, subject, out); err != nil {
				return nil, err
			}
			rec.V = wire.V
			return data, nil
		}
		if len(rest) == 0 {
			return nil, l.tooLarge(subject, &wire, len(data), limit)
		}
		// Offload the largest remaining payloads until the estimate fits.
		over := len(data) - limit
		for len(rest) > 0 && over > 0 {
			s := rest[0]
			rest = rest[1:]
			offload(s)
			over -= s.cost - 100
		}
	}
}

func rawSlot(ev *Event, raw json.RawMessage, apply func(*BlobRef)) (*payloadSlot, error) {
	// The bytes the inline JSON would hold (compacted), so that a value read
	// back is the same whichever way it was stored.
	b, err := json.Marshal(raw)
	if err != nil {
		return nil, fmt.Errorf("history: encode record: event %d: %w", ev.Seq, err)
	}
	return &payloadSlot{ev: ev, data: b, cost: len(b), apply: apply}, nil
}

func cloneFailure(f *Failure) *Failure {
	if f == nil {
		return nil
	}
	c := *f
	c.DetailsRef = nil
	c.Cause = cloneFailure(f.Cause)
	return &c
}

func (l *Log) tooLarge(subject string, rec *Record, size, limit int) error {
	e := &RecordTooLargeError{Subject: subject, Size: size, Limit: limit, MaxPayload: l.maxPayload(), Events: len(rec.Events)}
	for _, ev := range rec.Events {
		b, _ := json.Marshal(&ev)
		if len(b) > e.BiggestSize {
			e.BiggestSize = len(b)
			e.Biggest = Event{Seq: ev.Seq, Type: ev.Type, Name: ev.Name}
		}
	}
	return e
}

// putBlobs stores the payloads (each distinct one once) and waits until
// the server has them all: a record is appended only after its blobs.
// The message id is the blob subject (a run and a hash), so a retried
// append within the duplicate window stores nothing twice.
func (l *Log) putBlobs(ctx context.Context, subject string, slots []*payloadSlot) error {
	if len(slots) == 0 {
		return nil
	}
	maxPayload := l.maxPayload()
	seen := map[string]bool{}
	var futs []jetstream.PubAckFuture
	for _, s := range slots {
		if seen[s.ref.SHA256] {
			continue
		}
		seen[s.ref.SHA256] = true
		if len(s.data)+RecordHeadroom > maxPayload {
			return &RecordTooLargeError{Subject: subject, Size: len(s.data), Limit: maxPayload - RecordHeadroom, MaxPayload: maxPayload,
				Events: 1, Biggest: Event{Seq: s.ev.Seq, Type: s.ev.Type, Name: s.ev.Name}, BiggestSize: len(s.data)}
		}
		subj := BlobSubject(subject, s.ref.SHA256)
		m := nats.NewMsg(subj)
		m.Data = s.data
		m.Header.Set(jetstream.MsgIDHeader, subj)
		f, err := l.JS.PublishMsgAsync(m)
		if err != nil {
			return fmt.Errorf("history: store payload of event %d (%d bytes) on %s: %w", s.ev.Seq, len(s.data), subj, err)
		}
		futs = append(futs, f)
	}
	for _, f := range futs {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			return fmt.Errorf("history: store payload on %s: %w", f.Msg().Subject, err)
		case <-ctx.Done():
			return fmt.Errorf("history: store payloads of %s: %w", subject, ctx.Err())
		}
	}
	return nil
}

// resolveBlobs replaces the blob references in recs (read from subject)
// with the payloads they point at, checking size and hash. Records without
// a reference (all of version 1) cost a scan of nil pointers, no request.
func (l *Log) resolveBlobs(ctx context.Context, subject string, recs []Record) error {
	type use struct {
		rec *Record
		ev  *Event
		ref *BlobRef
		set func([]byte)
	}
	var uses []use
	for ri := range recs {
		rec := &recs[ri]
		for i := range rec.Events {
			ev := &rec.Events[i]
			if !hasRefs(ev) {
				continue
			}
			if r := ev.InputRef; r != nil {
				uses = append(uses, use{rec, ev, r, func(b []byte) { ev.Input, ev.InputRef = b, nil }})
			}
			if r := ev.ResultRef; r != nil {
				uses = append(uses, use{rec, ev, r, func(b []byte) { ev.Result, ev.ResultRef = b, nil }})
			}
			for f := ev.Failure; f != nil; f = f.Cause {
				if r := f.DetailsRef; r != nil {
					uses = append(uses, use{rec, ev, r, func(b []byte) { f.Details, f.DetailsRef = b, nil }})
				}
			}
		}
	}
	if len(uses) == 0 {
		return nil
	}
	st, err := l.stream(ctx, subject)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrIncompleteRead, err)
	}
	// Fetch each distinct blob once, a few at a time.
	type result struct {
		data []byte
		err  error
	}
	blobs := map[string]*result{}
	var order []string
	for _, u := range uses {
		if _, ok := blobs[u.ref.SHA256]; !ok {
			blobs[u.ref.SHA256] = &result{}
			order = append(order, u.ref.SHA256)
		}
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, blobFetchers)
	for _, sha := range order {
		res := blobs[sha]
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			m, err := st.GetLastMsgForSubject(ctx, BlobSubject(subject, sha))
			if err != nil {
				res.err = err
				return
			}
			res.data = slices.Clip(m.Data)
		}()
	}
	wg.Wait()
	for _, u := range uses {
		res := blobs[u.ref.SHA256]
		where := fmt.Sprintf("history: %s event %d (record at stream seq %d): payload sha256 %s (%d bytes)",
			subject, u.ev.Seq, u.rec.StreamSeq, u.ref.SHA256, u.ref.Size)
		switch {
		case errors.Is(res.err, jetstream.ErrMsgNotFound):
			return fmt.Errorf("%s: %w: no message on %s", where, ErrBlob, BlobSubject(subject, u.ref.SHA256))
		case res.err != nil:
			return fmt.Errorf("%s: read: %w: %w", where, ErrIncompleteRead, res.err)
		case len(res.data) != u.ref.Size:
			return fmt.Errorf("%s: %w: the stored payload is %d bytes", where, ErrBlob, len(res.data))
		}
		if sum := sha256.Sum256(res.data); hex.EncodeToString(sum[:]) != u.ref.SHA256 {
			return fmt.Errorf("%s: %w: the stored payload's sha256 is %x", where, ErrBlob, sum)
		}
		u.set(res.data) // shared by the events holding the same payload: read-only
	}
	return nil
}

// stream returns the handle of the history stream holding subject (one
// info request, the first time).
func (l *Log) stream(ctx context.Context, subject string) (jetstream.Stream, error) {
	name := l.StreamOf(subject)
	l.blobs.mu.Lock()
	defer l.blobs.mu.Unlock()
	if st := l.blobs.st[name]; st != nil {
		return st, nil
	}
	st, err := l.JS.Stream(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("history: stream %s: %w", name, err)
	}
	if l.blobs.st == nil {
		l.blobs.st = map[string]jetstream.Stream{}
	}
	l.blobs.st[name] = st
	return st, nil
}

// blobReader keeps the history streams' handles for reading blobs.
type blobReader struct {
	mu sync.Mutex
	st map[string]jetstream.Stream
}

// decodeResolved decodes history messages into records with inline values.
func (l *Log) decodeResolved(ctx context.Context, subject string, msgs []*jetstream.RawStreamMsg) ([]Record, error) {
	recs, err := decodeRecords(subject, msgs)
	if err != nil {
		return nil, err
	}
	if err := l.resolveBlobs(ctx, subject, recs); err != nil {
		return nil, err
	}
	return recs, nil
}
