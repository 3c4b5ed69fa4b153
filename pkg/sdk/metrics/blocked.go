package metrics

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// blockedRuns is the durablefuture_blocked_runs gauge: the runs this
// process found blocked and has not seen decide since, by reason. A
// blocked run's task is retried at least once a minute by whichever
// worker gets it, so an entry not refreshed within the TTL is dropped:
// the run went to another process, or was reset or terminated.
type blockedRuns struct {
	desc *prometheus.Desc
	ttl  time.Duration
	mu   sync.Mutex
	runs map[string]blockedEntry
}

type blockedEntry struct {
	reason string
	seen   time.Time
}

func newBlockedRuns(ttl time.Duration) *blockedRuns {
	return &blockedRuns{
		desc: prometheus.NewDesc("durablefuture_blocked_runs",
			"Runs this process found blocked and has not seen decide since, by reason (an entry lapses when no task finds the run blocked again within the TTL).",
			[]string{"reason"}, nil),
		ttl:  ttl,
		runs: map[string]blockedEntry{},
	}
}

// add notes runID as blocked; it reports whether the run is newly so.
func (b *blockedRuns) add(runID, reason string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	_, had := b.runs[runID]
	b.runs[runID] = blockedEntry{reason: reason, seen: time.Now()}
	return !had
}

func (b *blockedRuns) remove(runID string) {
	b.mu.Lock()
	delete(b.runs, runID)
	b.mu.Unlock()
}

// Describe implements prometheus.Collector.
func (b *blockedRuns) Describe(ch chan<- *prometheus.Desc) { ch <- b.desc }

// Collect implements prometheus.Collector.
func (b *blockedRuns) Collect(ch chan<- prometheus.Metric) {
	b.mu.Lock()
	byReason := map[string]int{}
	for id, e := range b.runs {
		if time.Since(e.seen) > b.ttl {
			delete(b.runs, id)
			continue
		}
		byReason[e.reason]++
	}
	b.mu.Unlock()
	for reason, n := range byReason {
		ch <- prometheus.MustNewConstMetric(b.desc, prometheus.GaugeValue, float64(n), reason)
	}
}
