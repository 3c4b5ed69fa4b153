package history

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// consumerReadMin: a read with at least this many messages still to go
// after its first batched direct get reads them through a consumer.
//
// A batched direct get costs the server a header block per message (the
// stream, subject, sequence, time, pending count and previous sequence,
// formatted like HTTP headers) and the client the parse of it: most of the
// time of a long read. A consumer delivers the same messages with that
// metadata in the reply subject, at less than half the time for 5,000
// messages (about 9 µs less a message), but it costs two more requests
// (create and delete: half a millisecond), which a short history does not
// make up for.
const consumerReadMin = 500

// firstBatch is the size of the first batched direct get of a whole
// history: one request for most runs, and the point where a long history
// goes on through a consumer.
const firstBatch = 256

// readConsumer reads the messages of subject from stream sequence next on
// through an ephemeral pull consumer: no acks, one pull that the server
// answers with what it has, at once. It returns the messages read,
// contiguous from next, and whether they end the subject: the last one is
// the stream's last on it (no message pending after it). Anything short of
// that (the consumer refused by permissions or limits, a message lost on
// the way, a stream that grew meanwhile) leaves the rest to the caller's
// batched direct gets, from after the last message returned.
func (l *Log) readConsumer(ctx context.Context, subject string, next uint64, want uint64) ([]*jetstream.RawStreamMsg, bool) {
	stream := l.StreamOf(subject)
	timeout := l.JS.Conn().Opts.Timeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(dl))
	}
	if timeout <= 0 {
		return nil, false
	}
	refusal := consumerRefusal{l.JS.Conn(), stream}
	if at, ok := refusedConsumers.Load(refusal); ok && time.Since(at.(time.Time)) < consumerRetryAfter {
		return nil, false
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c, err := l.JS.CreateConsumer(cctx, stream, jetstream.ConsumerConfig{
		FilterSubject:     subject,
		DeliverPolicy:     jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:       next,
		AckPolicy:         jetstream.AckNonePolicy,
		MemoryStorage:     true,
		InactiveThreshold: 30 * time.Second, // if the delete below is lost
	})
	if err != nil {
		if ctx.Err() == nil {
			// Refused (permissions, the stream's consumer limit) or not
			// answered: a user whose permissions leave out consumers on
			// the stream would otherwise wait for the timeout on every
			// long read.
			refusedConsumers.Store(refusal, time.Now())
		}
		return nil, false
	}
	defer func() {
		// Not on the reader's time: the server also drops it once idle.
		name := c.CachedInfo().Name
		go func() {
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			_ = l.JS.DeleteConsumer(dctx, stream, name)
		}()
	}()
	batch, err := c.FetchNoWait(int(min(want, 1<<20)))
	if err != nil {
		return nil, false
	}
	var out []*jetstream.RawStreamMsg
	var delivered uint64
	for msg := range batch.Messages() {
		meta, err := msg.Metadata()
		// Consumer sequences count every delivery: one missing means a
		// message lost on the way (a slow-consumer drop), and nothing
		// after it can be taken as the next.
		if err != nil || meta.Sequence.Consumer != delivered+1 || meta.Sequence.Stream < next {
			return out, false
		}
		delivered = meta.Sequence.Consumer
		next = meta.Sequence.Stream + 1
		out = append(out, &jetstream.RawStreamMsg{
			Subject:  msg.Subject(),
			Sequence: meta.Sequence.Stream,
			Header:   msg.Headers(),
			Data:     msg.Data(),
			Time:     meta.Timestamp,
		})
		if meta.NumPending == 0 {
			consumerReads.Add(1)
			return out, true
		}
	}
	return out, false
}

// refusedConsumers holds, per connection and stream, when a consumer
// for a read was last refused: reads go without one for consumerRetryAfter.
var refusedConsumers sync.Map // consumerRefusal -> time.Time

type consumerRefusal struct {
	conn   *nats.Conn
	stream string
}

const consumerRetryAfter = 10 * time.Minute

// consumerReads counts the reads readConsumer completed (for tests).
var consumerReads atomic.Int64
