package sdktest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/durablefuture/durablefuture/internal/testsrv"
	"github.com/durablefuture/durablefuture/pkg/sdk/client"
	"github.com/durablefuture/durablefuture/pkg/sdk/worker"
	"github.com/durablefuture/durablefuture/pkg/sdk/workflow"
)

// WaitForGo blocks on a signal: an open run that holds nothing but its
// place in the worker's cache.
func WaitForGo(ctx workflow.Context) (string, error) {
	var s string
	workflow.GetSignalChannel(ctx, "go").Receive(ctx, &s)
	return s, nil
}

// rssBytes is this process's resident set (VmRSS), 0 where /proc is not.
func rssBytes() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb * 1024
		}
	}
	return 0
}

// BenchmarkTenThousandOpenRuns starts 10,000 workflows that wait on a
// signal, against a nats-server process (so the server's memory is not
// counted), on one worker with the default options, and reports this
// process's RSS once every run has made its first decision: the memory
// the open runs cost (the client's share included). Run it alone:
//
//	go test -run '^$' -bench TenThousandOpenRuns -benchtime 1x ./pkg/sdk/sdktest/
func BenchmarkTenThousandOpenRuns(b *testing.B) {
	const runs = 10000
	srv := testsrv.StartServerProcess(b, testsrv.ServerOptions{})
	c := testsrv.ClientURL(b, srv.URL())
	w := worker.New(c, worker.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err := w.RegisterWorkflow(WaitForGo); err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	defer func() { cancel(); <-done }()
	settle := func() int64 {
		runtime.GC()
		debug.FreeOSMemory()
		return rssBytes()
	}
	for i := 0; i < b.N; i++ {
		base := settle()
		var wg sync.WaitGroup
		sem := make(chan struct{}, 100)
		for j := range runs {
			sem <- struct{}{}
			wg.Add(1)
			go func() {
				defer func() { <-sem; wg.Done() }()
				if _, err := c.ExecuteWorkflow(ctx, client.StartOptions{ID: fmt.Sprintf("open-%d-%d", i, j)}, WaitForGo); err != nil {
					b.Error(err)
				}
			}()
		}
		wg.Wait()
		// Every start task handled: the runs wait on their signal.
		st, err := c.Store().JS.Stream(ctx, "DF_TASKS")
		if err != nil {
			b.Fatal(err)
		}
		cons, err := st.Consumer(ctx, "wf_default")
		if err != nil {
			b.Fatal(err)
		}
		for {
			info, err := cons.Info(ctx)
			if err == nil && info.NumPending == 0 && info.NumAckPending == 0 {
				break
			}
			select {
			case <-ctx.Done():
				b.Fatal("the start tasks were not all handled")
			case <-time.After(100 * time.Millisecond):
			}
		}
		rss := settle()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		b.ReportMetric(float64(rss)/(1<<20), "rss_MB")
		b.ReportMetric(float64(rss-base)/(1<<20), "rss_added_MB")
		b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap_MB")
		b.ReportMetric(float64(ms.StackInuse)/(1<<20), "stacks_MB")
		b.ReportMetric(float64(runtime.NumGoroutine()), "goroutines")
	}
}
