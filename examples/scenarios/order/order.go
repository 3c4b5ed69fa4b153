// Package order is the `order` scenario: the seed README's OrderWorkflow,
// which charges a credit card and then ships the package.
package order

import (
	"context"
	"fmt"
	"time"

	"github.com/durablefuture/durablefuture/examples/scenarios/internal/fake"
	"github.com/durablefuture/durablefuture/pkg/sdk/activity"
	"github.com/durablefuture/durablefuture/pkg/sdk/failure"
	"github.com/durablefuture/durablefuture/pkg/sdk/workflow"
)

// ChargeResult is what the payment processor returns.
type ChargeResult struct {
	ChargeID   string  `json:"charge_id"`
	CustomerID string  `json:"customer_id"`
	Amount     float64 `json:"amount"`
	Currency   string  `json:"currency"`
}

// ShipResult is what the carrier returns.
type ShipResult struct {
	TrackingID        string `json:"tracking_id"`
	Carrier           string `json:"carrier"`
	EstimatedDelivery string `json:"estimated_delivery"`
}

// OrderResult is the workflow's result.
type OrderResult struct {
	ChargeID          string `json:"charge_id"`
	TrackingID        string `json:"tracking_id"`
	Carrier           string `json:"carrier"`
	EstimatedDelivery string `json:"estimated_delivery"`
}

// OrderWorkflow charges the customer's card for amount, then ships quantity
// units of productID.
func OrderWorkflow(ctx workflow.Context, customerID, productID string, amount float64, quantity int) (OrderResult, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 10 * time.Second,
		RetryPolicy: &workflow.RetryPolicy{
			InitialInterval:        200 * time.Millisecond,
			BackoffCoefficient:     2,
			MaximumInterval:        5 * time.Second,
			MaximumAttempts:        5,
			NonRetryableErrorTypes: []string{"InvalidOrder"},
		},
	})

	var charge ChargeResult
	if err := workflow.ExecuteActivity(ctx, ChargeCreditCardActivity, customerID, amount).Get(ctx, &charge); err != nil {
		return OrderResult{}, fmt.Errorf("credit card charge failed: %w", err)
	}

	var ship ShipResult
	if err := workflow.ExecuteActivity(ctx, ShipPackageActivity, charge, productID, quantity).Get(ctx, &ship); err != nil {
		// In a real system the charge would be refunded here.
		return OrderResult{}, fmt.Errorf("package shipping failed: %w", err)
	}

	return OrderResult{
		ChargeID:          charge.ChargeID,
		TrackingID:        ship.TrackingID,
		Carrier:           ship.Carrier,
		EstimatedDelivery: ship.EstimatedDelivery,
	}, nil
}

// ChargeCreditCardActivity charges the customer's card on file (a fake
// payment processor: the charge ID is derived from the run and the inputs).
func ChargeCreditCardActivity(ctx context.Context, customerID string, amount float64) (ChargeResult, error) {
	if amount <= 0 {
		return ChargeResult{}, failure.NewNonRetryableError(fmt.Sprintf("cannot charge %.2f", amount), "InvalidOrder")
	}
	info := activity.GetInfo(ctx)
	activity.GetLogger(ctx).Info("charging credit card", "customer", customerID, "amount", amount)
	return ChargeResult{
		ChargeID:   fake.ID("ch", info.WorkflowID, info.RunID, customerID, amount),
		CustomerID: customerID,
		Amount:     amount,
		Currency:   "USD",
	}, nil
}

// ShipPackageActivity hands the package to a carrier.
func ShipPackageActivity(ctx context.Context, charge ChargeResult, productID string, quantity int) (ShipResult, error) {
	if quantity <= 0 {
		return ShipResult{}, failure.NewNonRetryableError(fmt.Sprintf("cannot ship %d units", quantity), "InvalidOrder")
	}
	activity.GetLogger(ctx).Info("shipping package", "product", productID, "quantity", quantity, "charge", charge.ChargeID)
	return ShipResult{
		TrackingID:        fake.ID("tr", charge.ChargeID, productID, quantity),
		Carrier:           fake.Carrier(charge.CustomerID),
		EstimatedDelivery: fake.EstimatedDelivery(time.Now()),
	}, nil
}
