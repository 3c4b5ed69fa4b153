package engine

import (
	"context"
	"time"

	"github.com/durablefuture/durablefuture/pkg/history"
	"github.com/nats-io/nats.go"
)

// SetTestHookStart makes StartWorkflow stop, as if its client died, right
// after the step for which f returns true ("task", "reserved",
// "appended"). It returns the function that removes the hook.
func SetTestHookStart(f func(step string) bool) func() {
	testHookStart = f
	return func() { testHookStart = nil }
}

// ErrTestCrash is what StartWorkflow returns where the hook stopped it.
var ErrTestCrash = errTestCrash

// SetStartWaitDeliveries sets how many deliveries a start task whose ID
// another run holds gets before it is dropped; it returns the restore.
func SetStartWaitDeliveries(n uint64) func() {
	old := startWaitDeliveries
	startWaitDeliveries = n
	return func() { startWaitDeliveries = old }
}

// RunsEntryHint is the runs entry a start record's headers name, as the
// worker that builds the run from it sees it (nil value: none).
func (s *Store) RunsEntryHint(hdr nats.Header, started *history.Event) (value []byte, rev uint64) {
	if e := s.runsEntryOf(hdr, started); e != nil {
		return e.value, e.rev
	}
	return nil, 0
}

// SetBlockedForTest marks a running run blocked (why "") or not, as a
// worker that cannot run it does.
func (s *Store) SetBlockedForTest(ctx context.Context, workflowID, runID, why string) error {
	return s.setBlocked(ctx, workflowID, runID, why)
}

// SetStartPolls sets the waits of a worker for a client's start record
// (startwait.go); it returns the restore.
func SetStartPolls(polls ...time.Duration) func() {
	old := startPolls
	startPolls = polls
	return func() { startPolls = old }
}
