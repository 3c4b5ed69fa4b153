package engine

import "testing"

// A waiter that has not read an update yet gets the latest one, not the
// first: dropping later updates lost the close of a continue-as-new chain.
func TestOfferLatestKeepsTheNewest(t *testing.T) {
	ch := make(chan RunInfo, 1)
	offerLatest(ch, RunInfo{RunID: "r1", Status: StatusRunning})
	offerLatest(ch, RunInfo{RunID: "r2", Status: StatusRunning})
	offerLatest(ch, RunInfo{RunID: "r2", Status: StatusCompleted})
	if got := <-ch; got.RunID != "r2" || got.Status != StatusCompleted {
		t.Fatalf("waiter got %+v, want the latest entry", got)
	}
}
