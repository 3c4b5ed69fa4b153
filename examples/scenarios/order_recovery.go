package scenarios

import (
	"context"

	"github.com/durablefuture/durablefuture/examples/scenarios/orderrecovery"
	"github.com/durablefuture/durablefuture/pkg/sdk/client"
)

func init() {
	all = append(all, Scenario{
		Name:        "order-recovery",
		Description: "a flaky charge the workflow retries itself, falling back to the backup payment method",
		Workflows:   []any{orderrecovery.OrderRecoveryWorkflow},
		Activities:  []any{orderrecovery.ChargePaymentActivity, orderrecovery.BookDeliveryActivity},
		Start: func(ctx context.Context, c *client.Client, opts client.StartOptions) (client.WorkflowRun, error) {
			return c.ExecuteWorkflow(ctx, opts, orderrecovery.OrderRecoveryWorkflow, "Carol", "headphones-x2", 349.99, 1)
		},
	})
}
