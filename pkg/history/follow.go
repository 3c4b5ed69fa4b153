package history

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Follow yields the records of one run's subject stored after stream
// sequence after (0: from the first), then each new record as it is
// appended, until the caller stops ranging or ctx is done (yielding ctx's
// error). It reads with an ordered consumer filtered on the subject, so
// nothing polls and no record is skipped or repeated. A message that is not
// a readable record is yielded as a *BadRecordError (with the Record's
// StreamSeq set) and ranging may go on; any other error ends the sequence.
func (l *Log) Follow(ctx context.Context, subject string, after uint64) iter.Seq2[Record, error] {
	return func(yield func(Record, error) bool) {
		cfg := jetstream.OrderedConsumerConfig{
			FilterSubjects:    []string{subject},
			DeliverPolicy:     jetstream.DeliverAllPolicy,
			InactiveThreshold: time.Minute,
		}
		if after > 0 {
			cfg.DeliverPolicy = jetstream.DeliverByStartSequencePolicy
			cfg.OptStartSeq = after + 1
		}
		cons, err := l.JS.OrderedConsumer(ctx, l.StreamOf(subject), cfg)
		if err != nil {
			yield(Record{}, fmt.Errorf("history: follow %s: %w", subject, err))
			return
		}
		msgs, err := cons.Messages()
		if err != nil {
			yield(Record{}, fmt.Errorf("history: follow %s: %w", subject, err))
			return
		}
		defer msgs.Stop()
		for {
			msg, err := msgs.Next(jetstream.NextContext(ctx))
			if err != nil {
				if ctxErr := ctx.Err(); ctxErr != nil {
					err = ctxErr
				} else if errors.Is(err, jetstream.ErrMsgIteratorClosed) {
					return
				}
				yield(Record{}, fmt.Errorf("history: follow %s: %w", subject, err))
				return
			}
			var seq uint64
			if md, err := msg.Metadata(); err == nil {
				seq = md.Sequence.Stream
			}
			rec, err := decodeChecked(msg.Data())
			if err != nil {
				// Not a record (anyone may publish on the subject): named, and
				// the caller may range on past it.
				if !yield(Record{StreamSeq: seq}, &BadRecordError{Subject: subject, Seq: seq, Err: err}) {
					return
				}
				continue
			}
			rec.StreamSeq = seq
			if err := l.resolveBlobs(ctx, subject, []Record{rec}); err != nil {
				if errors.Is(err, ErrBlob) {
					if !yield(Record{StreamSeq: seq}, &BadRecordError{Subject: subject, Seq: seq, Err: err}) {
						return
					}
					continue
				}
				yield(Record{}, err)
				return
			}
			if !yield(rec, nil) {
				return
			}
		}
	}
}
