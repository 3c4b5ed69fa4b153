package scenarios

import (
	"context"

	"github.com/durablefuture/durablefuture/examples/scenarios/fanout"
	"github.com/durablefuture/durablefuture/pkg/sdk/client"
)

// FanOutShards is how many children the fan-out scenario starts.
const FanOutShards = 5

func init() {
	all = append(all, Scenario{
		Name:        "fan-out",
		Description: "a parent workflow starts five child workflows (one per shard, each with its own ID), waits for all and sums their results",
		Workflows:   []any{fanout.FanOutWorkflow, fanout.ProcessShardWorkflow},
		Activities:  []any{fanout.LoadShardActivity, fanout.AggregateShardActivity},
		Start: func(ctx context.Context, c *client.Client, opts client.StartOptions) (client.WorkflowRun, error) {
			return c.ExecuteWorkflow(ctx, opts, fanout.FanOutWorkflow, "batch-0427", FanOutShards)
		},
	})
}
