//go:build unix

package metrics_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/durablefuture/durablefuture/internal/testsrv"
	"github.com/durablefuture/durablefuture/pkg/engine"
	"github.com/durablefuture/durablefuture/pkg/sdk/client"
	"github.com/durablefuture/durablefuture/pkg/sdk/metrics"
	"github.com/durablefuture/durablefuture/pkg/sdk/tracing"
	"github.com/durablefuture/durablefuture/pkg/sdk/worker"
	"github.com/durablefuture/durablefuture/pkg/sdk/workflow"
	"github.com/prometheus/client_golang/prometheus"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

func BenchNoop(ctx context.Context, n int) (int, error) { return n, nil }

func BenchWorkflow(ctx workflow.Context, n int) (int, error) {
	var out int
	err := workflow.ExecuteActivity(ctx, BenchNoop, n).Get(ctx, &out)
	return out, err
}

// both fans the hooks out to two observers.
type both struct{ a, b engine.Observer }

func (o both) WorkflowTaskHandled(d engine.WorkflowTaskDone) {
	o.a.WorkflowTaskHandled(d)
	o.b.WorkflowTaskHandled(d)
}
func (o both) EventsRecorded(e engine.RecordedEvents) { o.a.EventsRecorded(e); o.b.EventsRecorded(e) }
func (o both) ActivityAttemptStarted(x engine.ActivityAttempt) {
	o.a.ActivityAttemptStarted(x)
	o.b.ActivityAttemptStarted(x)
}
func (o both) ActivityAttemptFinished(x engine.ActivityAttempt) {
	o.a.ActivityAttemptFinished(x)
	o.b.ActivityAttemptFinished(x)
}
func (o both) RunBlocked(x engine.BlockedRun)   { o.a.RunBlocked(x); o.b.RunBlocked(x) }
func (o both) RunUnblocked(x engine.BlockedRun) { o.a.RunUnblocked(x); o.b.RunUnblocked(x) }
func (o both) BacklogSampled(x engine.Backlog)  { o.a.BacklogSampled(x); o.b.BacklogSampled(x) }

// BenchmarkObserverOverhead is sdktest's BenchmarkOneActivityWorkflow
// (one-activity workflows, 100 in flight, embedded server) without an
// observer, with the Prometheus observer, with the tracing observer (an
// in-memory exporter behind a batch span processor), and with both.
func BenchmarkObserverOverhead(b *testing.B) {
	newMetrics := func(b *testing.B) engine.Observer {
		obs, err := metrics.New(metrics.Options{Registry: prometheus.NewRegistry()})
		if err != nil {
			b.Fatal(err)
		}
		return obs
	}
	newTracing := func(b *testing.B) engine.Observer {
		tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(tracetest.NewInMemoryExporter()), sdktrace.WithIDGenerator(tracing.IDGenerator{}))
		b.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
		return tracing.New(tracing.Options{TracerProvider: tp})
	}
	for _, bc := range []struct {
		name string
		obs  func(b *testing.B) engine.Observer
	}{
		{"none", func(*testing.B) engine.Observer { return nil }},
		{"prometheus", newMetrics},
		{"tracing", newTracing},
		{"both", func(b *testing.B) engine.Observer { return both{newMetrics(b), newTracing(b)} }},
	} {
		b.Run(bc.name, func(b *testing.B) { benchOneActivity(b, bc.obs(b)) })
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func benchOneActivity(b *testing.B, obs engine.Observer) {
	s := testsrv.Start(b)
	c := testsrv.Client(b, s)
	w := worker.New(c, worker.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Observer: obs})
	if err := w.RegisterWorkflow(BenchWorkflow); err != nil {
		b.Fatal(err)
	}
	if err := w.RegisterActivity(BenchNoop); err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	defer func() { cancel(); <-done }()

	const conc = 100
	sem := make(chan struct{}, conc)
	var mu sync.Mutex
	lat := make([]time.Duration, 0, b.N)
	var wg sync.WaitGroup
	b.ResetTimer()
	cpu0 := cpuTime()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			t0 := time.Now()
			r, err := c.ExecuteWorkflow(ctx, client.StartOptions{ID: fmt.Sprintf("bench-%d", i)}, BenchWorkflow, i)
			if err != nil {
				b.Error(err)
				return
			}
			if err := r.Get(ctx, nil); err != nil {
				b.Error(err)
				return
			}
			mu.Lock()
			lat = append(lat, time.Since(t0))
			mu.Unlock()
		}()
	}
	wg.Wait()
	el := time.Since(start)
	// CPU time of the whole process (worker, client and embedded server)
	// per workflow: steadier than throughput on a shared machine.
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu_us/workflow")
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	if len(lat) > 0 {
		b.ReportMetric(float64(len(lat))/el.Seconds(), "workflows/s")
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50_ms")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99_ms")
	}
}
