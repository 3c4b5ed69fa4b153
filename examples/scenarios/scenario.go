// Package scenarios holds the runnable example scenarios shared by
// examples/cmd, `dfctl demo` and `dfctl dev --examples`.
package scenarios

import (
	"context"

	"github.com/durablefuture/durablefuture/pkg/sdk/client"
	"github.com/durablefuture/durablefuture/pkg/sdk/worker"
)

// Scenario is one runnable example.
type Scenario struct {
	// Name as typed on the command line ("order-retries").
	Name string
	// Description in one line.
	Description string
	// Workflows and Activities are registered by RegisterWorkflows and
	// RegisterActivities.
	Workflows  []any
	Activities []any
	// Ends is how a run of the scenario ends when all goes as designed
	// ("" means completed; the saga ends "canceled" on purpose).
	Ends string
	// Start starts one run of the scenario (the ID is chosen by the caller).
	Start func(ctx context.Context, c *client.Client, opts client.StartOptions) (client.WorkflowRun, error)
}

// RegisterWorkflows registers the scenario's workflows on w.
func (s Scenario) RegisterWorkflows(w *worker.Worker) error {
	for _, fn := range s.Workflows {
		if err := w.RegisterWorkflow(fn); err != nil {
			return err
		}
	}
	return nil
}

// RegisterActivities registers the scenario's activities on w.
func (s Scenario) RegisterActivities(w *worker.Worker) error {
	for _, fn := range s.Activities {
		if err := w.RegisterActivity(fn); err != nil {
			return err
		}
	}
	return nil
}

// Expected reports whether a run that ended with status is how the
// scenario is designed to end.
func (s Scenario) Expected(status string) bool {
	if s.Ends == "" {
		return status == "completed"
	}
	return status == s.Ends
}
