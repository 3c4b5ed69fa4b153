package scenarios

import (
	"context"

	"github.com/durablefuture/durablefuture/examples/scenarios/order"
	"github.com/durablefuture/durablefuture/pkg/sdk/client"
)

func init() {
	all = append(all, Scenario{
		Name:        "order",
		Description: "charge a credit card, then ship the package (the seed README's OrderWorkflow)",
		Workflows:   []any{order.OrderWorkflow},
		Activities:  []any{order.ChargeCreditCardActivity, order.ShipPackageActivity},
		Start: func(ctx context.Context, c *client.Client, opts client.StartOptions) (client.WorkflowRun, error) {
			return c.ExecuteWorkflow(ctx, opts, order.OrderWorkflow, "Bob", "widget-1000", 1000.0, 2)
		},
	})
}
