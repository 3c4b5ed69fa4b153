package sdktest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/durablefuture/durablefuture/internal/testsrv"
	"github.com/durablefuture/durablefuture/pkg/sdk/client"
	"github.com/durablefuture/durablefuture/pkg/sdk/worker"
	"github.com/durablefuture/durablefuture/pkg/sdk/workflow"
)

func BenchNoop(ctx context.Context, n int) (int, error) { return n, nil }

func BenchWorkflow(ctx workflow.Context, n int) (int, error) {
	var out int
	err := workflow.ExecuteActivity(ctx, BenchNoop, n).Get(ctx, &out)
	return out, err
}

// BenchmarkOneActivityWorkflow runs one-activity workflows, 100 in flight,
// on an embedded server with file storage and an in-process worker.
func BenchmarkOneActivityWorkflow(b *testing.B) {
	s := testsrv.Start(b)
	c := testsrv.Client(b, s)
	w := worker.New(c, worker.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
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
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	if len(lat) > 0 {
		b.ReportMetric(float64(len(lat))/el.Seconds(), "workflows/s")
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50_ms")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99_ms")
	}
}
