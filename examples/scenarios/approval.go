package scenarios

import (
	"context"
	"time"

	"github.com/durablefuture/durablefuture/examples/scenarios/approval"
	"github.com/durablefuture/durablefuture/pkg/sdk/client"
)

func init() {
	all = append(all, Scenario{
		Name:        "approval",
		Description: "an expense waits for an approve/reject signal, with a durable timer as deadline",
		Workflows:   []any{approval.ExpenseApprovalWorkflow},
		Activities:  []any{approval.RequestApprovalActivity, approval.RecordDecisionActivity},
		Start: func(ctx context.Context, c *client.Client, opts client.StartOptions) (client.WorkflowRun, error) {
			run, err := c.ExecuteWorkflow(ctx, opts, approval.ExpenseApprovalWorkflow, "exp-1042", 1280.0, 3600)
			if err != nil {
				return nil, err
			}
			// The approver answers a second later, while the workflow waits
			// on its deadline timer.
			go func() {
				select {
				case <-time.After(time.Second):
				case <-ctx.Done():
					return
				}
				_ = c.SignalWorkflow(ctx, run.ID(), run.RunID(), approval.SignalName,
					approval.Decision{Approved: true, By: "dana@example.com", Comment: "within budget"})
			}()
			return run, nil
		},
	})
}
