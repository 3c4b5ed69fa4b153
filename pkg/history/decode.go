package history

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"

	"github.com/nats-io/nats.go/jetstream"
)

// Bad records. Anyone allowed to publish on a run's history subject can
// write bytes that are not a record this build can read (not JSON, not a
// record, a newer version, a record without events). The strict path
// (ReadFrom, what a worker replays) stops at the first such message with a
// *BadRecordError: a worker cannot know what that record decided, so the run
// is blocked, not guessed at. Readers that show a history (dfctl show,
// describe) use the tolerant path, which keeps every record it can read and
// names the others.

// BadRecordError says that the message at stream sequence Seq of a run's
// subject is not a record this build can read, and why.
type BadRecordError struct {
	Subject string
	Seq     uint64
	Err     error
}

func (e *BadRecordError) Error() string {
	return fmt.Sprintf("history record at stream seq %d of %s does not decode: %v", e.Seq, e.Subject, e.Err)
}

func (e *BadRecordError) Unwrap() error { return e.Err }

// DecodeRecords decodes the messages of one run's subject, in order. It
// stops at the first message that is not a readable record and returns a
// *BadRecordError naming it.
//
// A long history (a worker with an empty cache resuming a run of thousands
// of events) is decoded on every CPU at once, in order-keeping chunks; the
// error is still the first bad message's.
func DecodeRecords(subject string, msgs []*jetstream.RawStreamMsg) ([]Record, error) {
	out := make([]Record, len(msgs))
	decode := func(lo, hi int) error {
		for i := lo; i < hi; i++ {
			rec, err := decodeChecked(msgs[i].Data)
			if err != nil {
				return &BadRecordError{Subject: subject, Seq: msgs[i].Sequence, Err: err}
			}
			rec.StreamSeq = msgs[i].Sequence
			out[i] = rec
		}
		return nil
	}
	workers := min(runtime.GOMAXPROCS(0), len(msgs)/parallelDecodeMin)
	if workers < 2 {
		if err := decode(0, len(msgs)); err != nil {
			return nil, err
		}
		return out, nil
	}
	size := (len(msgs) + workers - 1) / workers
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for k := range workers {
		lo, hi := k*size, min((k+1)*size, len(msgs))
		wg.Go(func() { errs[k] = decode(lo, hi) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// parallelDecodeMin is the least number of records per decoding goroutine.
const parallelDecodeMin = 256

// DecodeRecordsTolerant decodes what it can of the messages of one run's
// subject: the readable records in order, and one *BadRecordError for each
// message that is not one.
func DecodeRecordsTolerant(subject string, msgs []*jetstream.RawStreamMsg) ([]Record, []*BadRecordError) {
	out := make([]Record, 0, len(msgs))
	var bad []*BadRecordError
	for _, msg := range msgs {
		rec, err := decodeChecked(msg.Data)
		if err != nil {
			bad = append(bad, &BadRecordError{Subject: subject, Seq: msg.Sequence, Err: err})
			continue
		}
		rec.StreamSeq = msg.Sequence
		out = append(out, rec)
	}
	return out, bad
}

// decodeChecked is DecodeRecord plus the shape every writer of this code
// gives a record: a known kind and at least one event, each with a type.
func decodeChecked(data []byte) (Record, error) {
	rec, err := DecodeRecord(data)
	if err != nil {
		return rec, err
	}
	if rec.Kind != KindInput && rec.Kind != KindDecision {
		return rec, fmt.Errorf("record kind %q is not %q or %q", rec.Kind, KindInput, KindDecision)
	}
	if len(rec.Events) == 0 {
		return rec, errors.New("record holds no event")
	}
	for i, ev := range rec.Events {
		if ev.Type == "" {
			return rec, fmt.Errorf("event %d of the record (seq %d) has no type", i, ev.Seq)
		}
	}
	return rec, nil
}

// ReadTolerant returns what can be read of the run's records stored after
// stream sequence after (0: all of them), in order, and the messages that
// are not records it can read (a record whose out-of-line payload is
// missing or corrupt counts as one). An error means the read itself
// failed: nothing is known.
func (l *Log) ReadTolerant(ctx context.Context, subject string, after uint64) ([]Record, []*BadRecordError, error) {
	msgs, err := l.ReadRaw(ctx, subject, after)
	if err != nil {
		return nil, nil, err
	}
	recs, bad := DecodeRecordsTolerant(subject, msgs)
	err = l.resolveBlobs(ctx, subject, recs)
	if err == nil || !errors.Is(err, ErrBlob) {
		return recs, bad, err
	}
	// A payload is missing or corrupt: find which records, one at a time.
	good := recs[:0]
	for _, rec := range recs {
		one := []Record{rec}
		err := l.resolveBlobs(ctx, subject, one)
		switch {
		case errors.Is(err, ErrBlob):
			bad = append(bad, &BadRecordError{Subject: subject, Seq: rec.StreamSeq, Err: err})
		case err != nil:
			return nil, nil, err
		default:
			good = append(good, one[0])
		}
	}
	slices.SortFunc(bad, func(a, b *BadRecordError) int { return cmp.Compare(a.Seq, b.Seq) })
	return good, bad, nil
}
