package history

import (
	"context"
	"errors"
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
// through an ephemeral pull consumer: no acks, pulls that the server
// answers at once with what it has (consumerPull messages at most each).
// It returns the messages read, contiguous from next, and whether they end
// the subject: the last one is the stream's last on it (no message pending
// after it). Anything short of that (the consumer refused by permissions or
// limits, a message lost on the way, a server gone silent) leaves the rest
// to the caller's batched direct gets, from after the last message
// returned.
func (l *Log) readConsumer(ctx context.Context, subject string, next uint64, want uint64) ([]*jetstream.RawStreamMsg, bool) {
	stream := l.StreamOf(subject)
	// A consumer is made in a millisecond or two; a request that the
	// user's permissions deny is never answered, and the direct gets the
	// read goes on with need no consumer: it is not worth a long wait.
	timeout := min(l.JS.Conn().Opts.Timeout, consumerCreateWait)
	if dl, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(dl))
	}
	if timeout <= 0 {
		return nil, false
	}
	refusal := consumerRefusal{l.JS.Conn(), stream}
	if until, ok := refusedConsumers.Load(refusal); ok && time.Now().Before(until.(time.Time)) {
		return nil, false
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	consumerAttempts.Add(1)
	testHookConsumerRead("create")
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
			// Refused (the stream's consumer limit) or not answered (a
			// request the user's permissions do not allow goes
			// unanswered): a long read would otherwise wait for that on
			// every run. A refusal holds longer than a silence, which a
			// stalled server also causes.
			until := time.Now().Add(time.Minute)
			if _, ok := errors.AsType[*jetstream.APIError](err); ok {
				until = time.Now().Add(10 * time.Minute)
			}
			refusedConsumers.Store(refusal, until)
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
	var out []*jetstream.RawStreamMsg
	var delivered uint64
	for {
		// In pulls of at most consumerPull: a pull's buffers are sized
		// for its batch.
		ask := int(min(want-min(want, uint64(len(out))), uint64(consumerPull)))
		if ask == 0 {
			ask = consumerPull // the stream grew: read on
		}
		testHookConsumerRead("fetch")
		batch, err := c.FetchNoWait(ask)
		if err != nil {
			return out, false
		}
		got := 0
		for msg := range batch.Messages() {
			meta, err := msg.Metadata()
			// Consumer sequences count every delivery: one missing means a
			// message lost on the way (a slow-consumer drop), and nothing
			// after it can be taken as the next.
			if err != nil || meta.Sequence.Consumer != delivered+1 || meta.Sequence.Stream < next {
				return out, false
			}
			got++
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
		if got < ask {
			// Cut short (the server went silent for a second, or the
			// pull was answered in part): the caller reads on.
			return out, false
		}
	}
}

// consumerCreateWait bounds the wait for the consumer's creation.
const consumerCreateWait = 500 * time.Millisecond

// consumerPull bounds one pull of readConsumer (a variable for tests).
var consumerPull = 8192

// refusedConsumers holds, per connection and stream, until when reads go
// without a consumer, after one was refused.
var refusedConsumers sync.Map // consumerRefusal -> time.Time

type consumerRefusal struct {
	conn   *nats.Conn
	stream string
}

// testHookConsumerRead is called before the consumer is asked for
// ("create") and before each pull ("fetch"): tests stall the server there.
var testHookConsumerRead = func(step string) {}

// consumerReads counts the reads readConsumer completed, and
// consumerAttempts the consumers it asked for (for tests).
var consumerReads, consumerAttempts atomic.Int64
