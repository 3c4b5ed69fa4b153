// Package orderrecovery is the `order-recovery` scenario: the payment
// processor is flaky, and instead of leaving retries to the engine the
// workflow handles each failed charge itself, in ordinary Go code: it tries
// the customer's primary card again, then falls back to the backup payment
// method. Every decision it takes is recorded, so a crash in the middle
// resumes the loop where it was.
package orderrecovery

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/durablefuture/durablefuture/examples/scenarios/internal/fake"
	"github.com/durablefuture/durablefuture/pkg/sdk/activity"
	"github.com/durablefuture/durablefuture/pkg/sdk/failure"
	"github.com/durablefuture/durablefuture/pkg/sdk/workflow"
)

const (
	// ChargeAttempts is how many charges the workflow tries.
	ChargeAttempts = 4
	// FlakyCharges is how many charges fail before the processor recovers.
	FlakyCharges = 2
	// PrimaryAttempts is how many charges go to the primary card before the
	// workflow falls back to the backup payment method.
	PrimaryAttempts = 2

	PrimaryMethod = "card_visa_4242"
	BackupMethod  = "paypal_wallet"
)

// ChargeRequest is one charge the workflow asks for.
type ChargeRequest struct {
	OrderID    string  `json:"order_id"`
	CustomerID string  `json:"customer_id"`
	Amount     float64 `json:"amount"`
	Method     string  `json:"method"`
	// Attempt is the workflow's own attempt number (each is a separate
	// activity with a single engine attempt).
	Attempt int `json:"attempt"`
}

// Charge is a successful charge.
type Charge struct {
	ChargeID string `json:"charge_id"`
	Method   string `json:"method"`
}

// Delivery is the booked delivery.
type Delivery struct {
	TrackingID        string `json:"tracking_id"`
	Carrier           string `json:"carrier"`
	EstimatedDelivery string `json:"estimated_delivery"`
}

// Result is the workflow's result.
type Result struct {
	OrderID           string   `json:"order_id"`
	ChargeID          string   `json:"charge_id"`
	PaymentMethod     string   `json:"payment_method"`
	ChargeAttempts    int      `json:"charge_attempts"`
	FailedCharges     []string `json:"failed_charges"`
	TrackingID        string   `json:"tracking_id"`
	Carrier           string   `json:"carrier"`
	EstimatedDelivery string   `json:"estimated_delivery"`
}

// OrderRecoveryWorkflow charges the customer, retrying failed charges itself
// and falling back to the backup payment method, then books the delivery.
func OrderRecoveryWorkflow(ctx workflow.Context, customerID, productID string, amount float64, quantity int) (Result, error) {
	log := workflow.GetLogger(ctx)
	res := Result{OrderID: fake.ID("ord", workflow.GetInfo(ctx).WorkflowID, customerID, productID)}

	// One engine attempt per charge: the workflow decides what happens next.
	chargeCtx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 10 * time.Second,
		RetryPolicy:         &workflow.RetryPolicy{MaximumAttempts: 1},
	})
	var charge Charge
	declined := false
	for attempt := 1; ; attempt++ {
		method := PrimaryMethod
		if attempt > PrimaryAttempts || declined {
			method = BackupMethod
		}
		req := ChargeRequest{OrderID: res.OrderID, CustomerID: customerID, Amount: amount, Method: method, Attempt: attempt}
		err := workflow.ExecuteActivity(chargeCtx, ChargePaymentActivity, req).Get(ctx, &charge)
		res.ChargeAttempts = attempt
		if err == nil {
			break
		}
		res.FailedCharges = append(res.FailedCharges, fmt.Sprintf("attempt %d (%s): %s", attempt, method, cause(err)))
		if attempt == ChargeAttempts || method == BackupMethod && failure.Type(err) == "CardDeclined" {
			return res, fmt.Errorf("payment failed after %d attempts: %w", attempt, err)
		}
		// A declined card will not work on a second try: go straight to the
		// backup method. Anything else is worth another try.
		declined = declined || failure.Type(err) == "CardDeclined"
		log.Warn("charge failed, the workflow retries it", "workflow_attempt", attempt, "method", method, "error", err)
	}
	res.ChargeID, res.PaymentMethod = charge.ChargeID, charge.Method

	var delivery Delivery
	shipCtx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 10 * time.Second,
		RetryPolicy:         &workflow.RetryPolicy{InitialInterval: 200 * time.Millisecond, MaximumAttempts: 5},
	})
	if err := workflow.ExecuteActivity(shipCtx, BookDeliveryActivity, res.OrderID, customerID, productID, quantity).Get(ctx, &delivery); err != nil {
		// A real system would refund charge.ChargeID here.
		return res, fmt.Errorf("book delivery: %w", err)
	}
	res.TrackingID, res.Carrier, res.EstimatedDelivery = delivery.TrackingID, delivery.Carrier, delivery.EstimatedDelivery
	return res, nil
}

// cause is the message of the activity's own error, without the wrapping.
func cause(err error) string {
	var ae *failure.ActivityError
	if errors.As(err, &ae) && ae.Cause != nil {
		return ae.Cause.Error()
	}
	return err.Error()
}

// ChargePaymentActivity charges req.Method. The processor is down for the
// first FlakyCharges attempts of an order.
func ChargePaymentActivity(ctx context.Context, req ChargeRequest) (Charge, error) {
	if req.Amount <= 0 {
		return Charge{}, failure.NewNonRetryableError(fmt.Sprintf("cannot charge %.2f", req.Amount), "CardDeclined")
	}
	activity.GetLogger(ctx).Info("charging", "method", req.Method, "amount", req.Amount, "workflow_attempt", req.Attempt)
	if req.Attempt <= FlakyCharges {
		return Charge{}, failure.NewApplicationError("payment processor unavailable: connection reset by peer", "ProcessorUnavailable")
	}
	return Charge{ChargeID: fake.ID("ch", req.OrderID, req.Method, req.Amount), Method: req.Method}, nil
}

// BookDeliveryActivity books a carrier for the order.
func BookDeliveryActivity(ctx context.Context, orderID, customerID, productID string, quantity int) (Delivery, error) {
	return Delivery{
		TrackingID:        fake.ID("tr", orderID, productID, quantity),
		Carrier:           fake.Carrier(customerID),
		EstimatedDelivery: fake.EstimatedDelivery(time.Now()),
	}, nil
}
