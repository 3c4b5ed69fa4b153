package history

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/synadia-io/orbit.go/jetstreamext"
)

// maxBatch bounds one batched direct get: the server caps a batch, and a
// smaller one keeps each request short while a viewer waits for a page.
const maxBatch = 1000

// ReadPage returns at most limit records of the subject stored after stream
// sequence after (0: from the first), in order. Fewer than limit records
// means the reader has reached the end of the log as it is now. It lets a
// viewer show the start of a long history at once and load the rest in the
// background, where ReadFrom returns only when it has everything.
func (l *Log) ReadPage(ctx context.Context, subject string, after uint64, limit int) ([]Record, error) {
	if limit <= 0 {
		return nil, nil
	}
	out := make([]Record, 0, min(limit, maxBatch))
	next := after + 1
	for len(out) < limit {
		want := min(limit-len(out), maxBatch)
		it, err := jetstreamext.GetBatch(ctx, l.JS, l.Stream, want,
			jetstreamext.GetBatchSeq(next), jetstreamext.GetBatchSubject(subject))
		if err != nil {
			return nil, fmt.Errorf("history: read %s: %w", subject, err)
		}
		n := 0
		for msg, err := range it {
			if err != nil {
				if errors.Is(err, jetstreamext.ErrNoMessages) {
					break
				}
				return nil, fmt.Errorf("history: read %s: %w", subject, err)
			}
			n++
			rec, err := DecodeRecord(msg.Data)
			if err != nil {
				return nil, fmt.Errorf("history: %s seq %d: %w", subject, msg.Sequence, err)
			}
			rec.StreamSeq = msg.Sequence
			out = append(out, rec)
			next = msg.Sequence + 1
		}
		if n < want {
			break
		}
	}
	return out, nil
}

// CountRecords returns how many records the subject holds, from the stream's
// subject counts (no message is read).
func (l *Log) CountRecords(ctx context.Context, subject string) (uint64, error) {
	st, err := l.JS.Stream(ctx, l.Stream)
	if err != nil {
		return 0, fmt.Errorf("history: stream %s: %w", l.Stream, err)
	}
	info, err := st.Info(ctx, jetstream.WithSubjectFilter(subject))
	if err != nil {
		return 0, fmt.Errorf("history: count %s: %w", subject, err)
	}
	return info.State.Subjects[subject], nil
}
