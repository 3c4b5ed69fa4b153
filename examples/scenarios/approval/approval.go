// Package approval is the `approval` scenario: an expense that waits for a
// person's decision, sent as a signal, with a durable timer as deadline.
package approval

import (
	"context"
	"fmt"
	"time"

	"github.com/durablefuture/durablefuture/pkg/sdk/activity"
	"github.com/durablefuture/durablefuture/pkg/sdk/workflow"
)

// Decision is the payload of the "decision" signal.
type Decision struct {
	Approved bool   `json:"approved"`
	By       string `json:"by"`
	Comment  string `json:"comment,omitempty"`
}

// Result is the workflow's result.
type Result struct {
	RequestID string `json:"request_id"`
	Status    string `json:"status"` // approved, rejected or expired
	By        string `json:"by,omitempty"`
	Comment   string `json:"comment,omitempty"`
	Receipt   string `json:"receipt"`
}

// SignalName is the signal that carries the approver's Decision.
const SignalName = "decision"

// ExpenseApprovalWorkflow asks an approver, then waits for the "decision"
// signal for at most deadlineSeconds; an unanswered request expires.
func ExpenseApprovalWorkflow(ctx workflow.Context, requestID string, amount float64, deadlineSeconds int) (Result, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 10 * time.Second,
		RetryPolicy:         &workflow.RetryPolicy{InitialInterval: 100 * time.Millisecond, MaximumAttempts: 5},
	})
	state := "asking for approval"
	// dfctl query ID status
	if err := workflow.SetQueryHandler(ctx, "status", func() (string, error) { return state, nil }); err != nil {
		return Result{}, err
	}
	if err := workflow.ExecuteActivity(ctx, RequestApprovalActivity, requestID, amount).Get(ctx, nil); err != nil {
		return Result{}, fmt.Errorf("ask for approval: %w", err)
	}
	res := Result{RequestID: requestID, Status: "expired"}
	timerCtx, cancelTimer := workflow.WithCancel(ctx)
	sel := workflow.NewSelector(ctx)
	sel.AddReceive(workflow.GetSignalChannel(ctx, SignalName), func(c workflow.Channel, _ bool) {
		var d Decision
		c.Receive(ctx, &d)
		cancelTimer()
		res.Status, res.By, res.Comment = "rejected", d.By, d.Comment
		if d.Approved {
			res.Status = "approved"
		}
	})
	sel.AddFuture(workflow.NewTimer(timerCtx, time.Duration(deadlineSeconds)*time.Second), func(workflow.Future) {})
	state = fmt.Sprintf("waiting for a decision, at most %ds", deadlineSeconds)
	sel.Select(ctx)
	state = "recording the decision: " + res.Status
	if err := workflow.ExecuteActivity(ctx, RecordDecisionActivity, res).Get(ctx, &res.Receipt); err != nil {
		return Result{}, fmt.Errorf("record decision: %w", err)
	}
	state = res.Status
	return res, nil
}

// RequestApprovalActivity notifies the approver (here: a log line).
func RequestApprovalActivity(ctx context.Context, requestID string, amount float64) error {
	activity.GetLogger(ctx).Info("approval requested", "request", requestID, "amount", amount)
	return nil
}

// RecordDecisionActivity stores the outcome and returns a receipt ID.
func RecordDecisionActivity(ctx context.Context, r Result) (string, error) {
	return fmt.Sprintf("rcpt_%s_%s", r.RequestID, r.Status), nil
}
