package cli

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"

	"github.com/durablefuture/durablefuture/examples/scenarios"
	"github.com/durablefuture/durablefuture/pkg/sdk/client"
	"github.com/durablefuture/durablefuture/pkg/sdk/worker"
)

// runWorker runs w until the returned stop function is called; stop waits
// for the worker's graceful shutdown and returns its error.
func runWorker(w *worker.Worker) (stop func() error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	return func() error {
		cancel()
		return <-done
	}
}

// exampleWorker is a worker for the workflows and activities of every
// scenario, on the default task queue.
func exampleWorker(c *client.Client, logger *slog.Logger) (*worker.Worker, error) {
	return exampleWorkerWith(c, worker.Options{Logger: logger})
}

// exampleWorkerWith is exampleWorker with other options (dev
// --metrics-addr sets an Observer).
func exampleWorkerWith(c *client.Client, opts worker.Options) (*worker.Worker, error) {
	w := worker.New(c, opts)
	seen := map[uintptr]bool{}
	once := func(fn any) bool {
		p := reflect.ValueOf(fn).Pointer()
		if seen[p] {
			return false
		}
		seen[p] = true
		return true
	}
	for _, sc := range scenarios.All() {
		for _, fn := range sc.Workflows {
			if once(fn) {
				if err := w.RegisterWorkflow(fn); err != nil {
					return nil, fmt.Errorf("scenario %s: %w", sc.Name, err)
				}
			}
		}
		for _, fn := range sc.Activities {
			if once(fn) {
				if err := w.RegisterActivity(fn); err != nil {
					return nil, fmt.Errorf("scenario %s: %w", sc.Name, err)
				}
			}
		}
	}
	return w, nil
}
