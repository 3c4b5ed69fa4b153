package scenarios

import (
	"context"

	"github.com/durablefuture/durablefuture/examples/scenarios/orderretries"
	"github.com/durablefuture/durablefuture/pkg/sdk/client"
)

func init() {
	all = append(all, Scenario{
		Name:        "order-retries",
		Description: "six-step order; payment fails twice, inventory once, shipping three times, all recovered by retry policies",
		Workflows:   []any{orderretries.OrderWithRetriesWorkflow},
		Activities: []any{
			orderretries.ValidateOrderActivity,
			orderretries.ProcessPaymentActivity,
			orderretries.ReserveInventoryActivity,
			orderretries.PackageOrderActivity,
			orderretries.ShipOrderActivity,
			orderretries.NotifyCustomerActivity,
		},
		Start: func(ctx context.Context, c *client.Client, opts client.StartOptions) (client.WorkflowRun, error) {
			return c.ExecuteWorkflow(ctx, opts, orderretries.OrderWithRetriesWorkflow, "Alice", "laptop-pro-15", 2499.0, 1)
		},
	})
}
