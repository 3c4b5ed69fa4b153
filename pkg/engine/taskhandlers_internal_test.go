package engine

import (
	"sync"
	"sync/atomic"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
)

// TestTaskHandlers: every message is handled, up to conc at once and no
// more, by at most conc goroutines, and stop waits for the last one.
func TestTaskHandlers(t *testing.T) {
	const conc, msgs = 4, 200
	sem := make(chan struct{}, conc)
	var running, handled atomic.Int32
	together := make(chan struct{}) // closed once conc messages run at once
	var once sync.Once
	th := handlers(conc, sem, func(jetstream.Msg) {
		n := running.Add(1)
		if n > conc {
			t.Errorf("%d messages handled at once; the limit is %d", n, conc)
		}
		if n == conc {
			once.Do(func() { close(together) })
		}
		<-together // the first ones wait until conc run at once
		running.Add(-1)
		handled.Add(1)
	})
	for range msgs {
		sem <- struct{}{}
		th.give(nil)
	}
	th.stop()
	if n := handled.Load(); n != msgs {
		t.Fatalf("%d of %d messages handled when stop returned", n, msgs)
	}
	if th.started > conc {
		t.Fatalf("%d handlers started for %d slots", th.started, conc)
	}
	if len(sem) != 0 {
		t.Fatalf("%d slots still taken", len(sem))
	}
}
