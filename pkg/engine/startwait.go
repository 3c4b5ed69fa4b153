package engine

// Waiting for the client's start record.
//
// The client stores the start task before it reserves the workflow ID and
// appends WorkflowStarted (start.go), so a worker that is not busy gets the
// task before the record exists. Completing the start itself is correct
// (only one of them writes the record) but costs a read of the runs entry,
// a refused create or append and another read, and the server's work for
// each refusal: at one start at a time, a third of the starts went that
// way. So a worker that finds no record for a fresh start task listens on
// the run's subject: the client's publish of the record reaches a core
// subscription as it reaches the stream, and the worker reads the record
// when it is told. It also reads between waits that grow from 2 ms (a
// publish just before the subscription is not heard), and completes the
// start itself only when startPolls (about 130 ms) have passed without a
// record: the client died, or was refused and is deleting the task.
//
// A worker with nothing else pending subscribes before its first read (its
// client is most likely still writing); a busy one, which most often finds
// the record, only after a first read finds nothing. A worker whose user
// may not subscribe to history subjects is refused the subscription (seen
// by the read that follows it) and stops waiting for 10 minutes.

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"github.com/durablefuture/durablefuture/pkg/history"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// startPolls are the waits for the client's start record, each ended by a
// read (about 130 ms in all). A variable for tests.
var startPolls = []time.Duration{2 * time.Millisecond, 4 * time.Millisecond, 8 * time.Millisecond,
	16 * time.Millisecond, 32 * time.Millisecond, 64 * time.Millisecond}

const (
	// startWaitYoung: only a start task stored this recently (by the
	// server's clock, compared with the worker's) is waited for; an older
	// one's client has had its time.
	startWaitYoung = 5 * time.Second
	// startWaitOff: a worker whose subscription to a history subject was
	// denied (its user may not subscribe there) stops waiting this long.
	startWaitOff = 10 * time.Minute
	// startWakeReads: reads right after a wake-up (the stream stores a
	// record just after it delivers it to subscribers); if none finds it,
	// the reads between waits go on.
	startWakeReads = 3
)

// startWaits is what a worker learnt from its waits for start records.
type startWaits struct {
	off atomic.Int64 // until when (Unix nanoseconds) not to wait
}

// readStartRecord reads the last record of the run of a start task (subj),
// as Log.LastWithHeader does. When the history is empty and the task is
// fresh, it waits for the record to be written. A worker with nothing else
// pending listens before its first read (its client is most likely still
// writing); a busy one, which most often finds the record written, only
// after a first read that finds nothing.
func (w *Worker) readStartRecord(ctx context.Context, msg jetstream.Msg, subj string) (history.Record, nats.Header, error) {
	wait, idle := w.shouldAwaitStart(msg)
	if !idle {
		rec, hdr, err := w.store.Log.LastWithHeader(ctx, subj)
		if !errors.Is(err, history.ErrNotFound) || !wait {
			return rec, hdr, err
		}
	}
	woke := make(chan struct{}, 1)
	sub, err := w.store.NC.Subscribe(subj, func(*nats.Msg) {
		select {
		case woke <- struct{}{}:
		default:
		}
	})
	if err != nil {
		return w.store.Log.LastWithHeader(ctx, subj)
	}
	defer func() { _ = sub.Unsubscribe() }()
	// The subscription is asked for before this read, on the same
	// connection, and the server handles them in that order: a record the
	// read does not find is published after the subscription exists, or
	// just before and not stored yet. That one is found by the reads
	// between the waits (startPolls).
	rec, hdr, err := w.store.Log.LastWithHeader(ctx, subj)
	if subscribeDenied(w.store.NC, subj) {
		// Nothing will be heard: this worker stops asking for a while.
		w.startWaits.off.Store(time.Now().Add(startWaitOff).UnixNano())
		return rec, hdr, err
	}
	if !errors.Is(err, history.ErrNotFound) {
		return rec, hdr, err
	}
	timer := time.NewTimer(startPolls[0])
	defer timer.Stop()
	for i := 1; ; {
		select {
		case <-woke:
			// The stream stores the record just after it delivers it (on
			// a cluster, once replicated): a few reads now, then the
			// reads between the waits.
			for range startWakeReads {
				runtime.Gosched()
				rec, hdr, err = w.store.Log.LastWithHeader(ctx, subj)
				if !errors.Is(err, history.ErrNotFound) {
					return rec, hdr, err
				}
			}
		case <-timer.C:
			rec, hdr, err = w.store.Log.LastWithHeader(ctx, subj)
			if !errors.Is(err, history.ErrNotFound) {
				return rec, hdr, err
			}
			if i == len(startPolls) {
				return rec, hdr, err
			}
			timer.Reset(startPolls[i])
			i++
		case <-ctx.Done():
			return history.Record{}, nil, ctx.Err()
		}
	}
}

// subscribeDenied says whether the server refused nc's subscription to
// subj: its refusal is the connection's last error by the time the answer
// to a request sent after the subscription is in (the server answers the
// subscription first).
func subscribeDenied(nc *nats.Conn, subj string) bool {
	err := nc.LastError()
	return errors.Is(err, nats.ErrPermissionViolation) && strings.Contains(err.Error(), `Subscription to "`+subj+`"`)
}

// shouldAwaitStart says whether to wait for the start record of msg's run:
// the task is delivered for the first time and was stored recently, and
// this worker was not refused a subscription lately. idle: nothing else is
// pending on the consumer.
func (w *Worker) shouldAwaitStart(msg jetstream.Msg) (wait, idle bool) {
	if w.store.NC == nil || time.Now().UnixNano() < w.startWaits.off.Load() {
		return false, false
	}
	md, err := msg.Metadata()
	if err != nil || md.NumDelivered != 1 {
		return false, false
	}
	if age := time.Since(md.Timestamp); age <= -startWaitYoung || age >= startWaitYoung {
		return false, false
	}
	return true, md.NumPending == 0
}
