package cli_test

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/durablefuture/durablefuture/internal/cli"
)

// dfctl dev --examples --metrics-addr serves the example workers' metrics;
// a workflow run shows in a scrape.
func TestDevMetricsAddr(t *testing.T) {
	port := freePort(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	errOut := &syncBuffer{want: "Ctrl-C stops the server", found: make(chan struct{})}
	done := make(chan int, 1)
	go func() {
		ios := &cli.IOStreams{In: strings.NewReader(""), Out: &syncBuffer{}, ErrOut: errOut}
		done <- cli.Run(ctx, []string{"dev", "--port", strconv.Itoa(port), "--store", t.TempDir(),
			"--examples", "--metrics-addr", "127.0.0.1:0"}, ios)
	}()
	select {
	case <-errOut.found:
	case code := <-done:
		t.Fatalf("dev exited with %d: %s", code, errOut.String())
	}
	m := regexp.MustCompile(`metrics: (http://\S+/metrics)`).FindStringSubmatch(errOut.String())
	if m == nil {
		t.Fatalf("dfctl dev does not say where the metrics are:\n%s", errOut.String())
	}
	// dfctl dev serves Prometheus's default registry, which lives as long
	// as the test binary: count the difference.
	closed := regexp.MustCompile(`durablefuture_workflows_closed_total\{outcome="completed",task_queue="default",workflow_type="OrderWorkflow"\} (\S+)`)
	scrape := func() (string, float64) {
		resp, err := http.Get(m[1])
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		v := 0.0
		if c := closed.FindStringSubmatch(string(b)); c != nil {
			v, _ = strconv.ParseFloat(c[1], 64)
		}
		return string(b), v
	}
	_, before := scrape()
	expectCode(t, runCtx(t, "-s", "nats://127.0.0.1:"+strconv.Itoa(port), "execute", "OrderWorkflow", "--id", "order-1",
		"--input", `"alice"`, "--input", `"widget-1000"`, "--input", "99.5", "--input", "2"), 0)
	// The close is counted as its decision commits, before the result is
	// visible; poll all the same, with the test's deadline.
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for body, n := scrape(); n != before+1; body, n = scrape() {
		select {
		case <-tick.C:
		case <-ctx.Done():
			t.Fatalf("workflows_closed_total{OrderWorkflow} = %v, want %v:\n%s", n, before+1, body)
		}
	}
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("dev exited with %d", code)
	}
	if _, err := http.Get(m[1]); err == nil {
		t.Error("the metrics endpoint still answers after dfctl dev stopped")
	}
}

// --metrics-addr without --examples is a usage error: there is no worker
// to observe.
func TestDevMetricsAddrNeedsExamples(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r := dfctl(t, ctx, false, "dev", "--port", strconv.Itoa(freePort(t)), "--store", t.TempDir(), "--metrics-addr", "127.0.0.1:0")
	expectCode(t, r, cli.ExitUsage)
	if !strings.Contains(r.errOut, "add --examples") {
		t.Errorf("stderr:\n%s", r.errOut)
	}
}
