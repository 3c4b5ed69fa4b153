// Package fanout is the `fan-out` scenario: a parent workflow splits a batch
// into shards, starts one child workflow per shard (each with its own
// workflow ID and history, linked to the parent's), waits for all of them
// and sums up their results.
//
// The shards' data is derived from the batch ID and shard number, so the
// same batch always gives the same totals.
package fanout

import (
	"context"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/durablefuture/durablefuture/examples/scenarios/internal/fake"
	"github.com/durablefuture/durablefuture/pkg/sdk/activity"
	"github.com/durablefuture/durablefuture/pkg/sdk/workflow"
)

// MaxShards bounds n: a batch is split into at most this many children.
const MaxShards = 100

// ShardResult is one child's result.
type ShardResult struct {
	Shard       int    `json:"shard"`
	WorkflowID  string `json:"workflow_id"`
	Records     int    `json:"records"`
	AmountCents int64  `json:"amount_cents"`
	Digest      string `json:"digest"`
}

// Summary is the parent's result.
type Summary struct {
	BatchID          string        `json:"batch_id"`
	Shards           []ShardResult `json:"shards"`
	TotalRecords     int           `json:"total_records"`
	TotalAmountCents int64         `json:"total_amount_cents"`
}

// ShardWorkflowID is the workflow ID of shard i of the parent parentID.
func ShardWorkflowID(parentID string, i int) string {
	return fmt.Sprintf("%s-shard-%d", parentID, i)
}

// FanOutWorkflow starts n ProcessShardWorkflow children at once, then waits
// for each and returns the per-shard results and their totals. Each child's
// ID is the parent's workflow ID + "-shard-" + its number, so two batches
// running at once never collide.
func FanOutWorkflow(ctx workflow.Context, batchID string, n int) (Summary, error) {
	if n < 1 || n > MaxShards {
		return Summary{}, fmt.Errorf("n must be between 1 and %d, got %d", MaxShards, n)
	}
	parentID := workflow.GetInfo(ctx).WorkflowID
	futures := make([]workflow.ChildWorkflowFuture, n)
	for i := range n {
		cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
			WorkflowID:        ShardWorkflowID(parentID, i),
			ParentClosePolicy: workflow.ParentCloseRequestCancel,
		})
		futures[i] = workflow.ExecuteChildWorkflow(cctx, ProcessShardWorkflow, batchID, i)
	}
	sum := Summary{BatchID: batchID, Shards: make([]ShardResult, n)}
	for i, f := range futures {
		if err := f.Get(ctx, &sum.Shards[i]); err != nil {
			return Summary{}, fmt.Errorf("shard %d: %w", i, err)
		}
		sum.TotalRecords += sum.Shards[i].Records
		sum.TotalAmountCents += sum.Shards[i].AmountCents
	}
	return sum, nil
}

// ProcessShardWorkflow loads one shard and aggregates it, each step an
// activity.
func ProcessShardWorkflow(ctx workflow.Context, batchID string, shard int) (ShardResult, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 10 * time.Second,
		RetryPolicy:         &workflow.RetryPolicy{InitialInterval: 100 * time.Millisecond, MaximumInterval: time.Second, MaximumAttempts: 5},
	})
	var amounts []int64
	if err := workflow.ExecuteActivity(ctx, LoadShardActivity, batchID, shard).Get(ctx, &amounts); err != nil {
		return ShardResult{}, fmt.Errorf("load: %w", err)
	}
	res := ShardResult{Shard: shard, WorkflowID: workflow.GetInfo(ctx).WorkflowID}
	if err := workflow.ExecuteActivity(ctx, AggregateShardActivity, batchID, shard, amounts).Get(ctx, &res); err != nil {
		return ShardResult{}, fmt.Errorf("aggregate: %w", err)
	}
	res.Shard, res.WorkflowID = shard, workflow.GetInfo(ctx).WorkflowID
	return res, nil
}

// ShardAmounts is the data of shard: between 5 and 12 amounts in cents,
// derived from the batch ID and shard number.
func ShardAmounts(batchID string, shard int) []int64 {
	h := fnv.New64a()
	fmt.Fprintf(h, "%s\x00%d", batchID, shard)
	x := h.Sum64()
	out := make([]int64, 5+x%8)
	for i := range out {
		x = x*6364136223846793005 + 1442695040888963407
		out[i] = int64(100 + (x>>33)%99900) // 1.00 to 999.99
	}
	return out
}

// LoadShardActivity reads the shard's records (here: made up from its name).
func LoadShardActivity(ctx context.Context, batchID string, shard int) ([]int64, error) {
	a := ShardAmounts(batchID, shard)
	activity.GetLogger(ctx).Info("shard loaded", "batch", batchID, "shard", shard, "records", len(a))
	return a, nil
}

// AggregateShardActivity sums the shard's amounts and returns the count,
// the total and a digest of the shard.
func AggregateShardActivity(ctx context.Context, batchID string, shard int, amounts []int64) (ShardResult, error) {
	var total int64
	for _, a := range amounts {
		total += a
	}
	return ShardResult{Records: len(amounts), AmountCents: total, Digest: fake.ID("sh", batchID, shard, total)}, nil
}
