package history

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
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
	msgs, err := l.readRaw(ctx, subject, after, limit)
	if err != nil {
		return nil, err
	}
	return l.decodeResolved(ctx, subject, msgs)
}

// CountRecords returns how many records the subject holds, from the stream's
// subject counts (no message is read).
func (l *Log) CountRecords(ctx context.Context, subject string) (uint64, error) {
	st, err := l.stream(ctx, subject)
	if err != nil {
		return 0, err
	}
	info, err := st.Info(ctx, jetstream.WithSubjectFilter(subject))
	if err != nil {
		return 0, fmt.Errorf("history: count %s: %w", subject, err)
	}
	return info.State.Subjects[subject], nil
}
