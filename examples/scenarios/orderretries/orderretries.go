// Package orderretries is the `order-retries` scenario: a six-step order in
// which three steps fail transiently (payment twice, inventory once, shipping
// three times) and every failure is recovered by the activity retry policies,
// without a line of retry code in the workflow.
//
// The failures are decided by the attempt number the engine hands the
// activity (activity.GetInfo(ctx).Attempt), so every run behaves the same,
// however many run at once and whichever worker runs them.
package orderretries

import (
	"context"
	"fmt"
	"time"

	"github.com/durablefuture/durablefuture/examples/scenarios/internal/fake"
	"github.com/durablefuture/durablefuture/pkg/sdk/activity"
	"github.com/durablefuture/durablefuture/pkg/sdk/failure"
	"github.com/durablefuture/durablefuture/pkg/sdk/workflow"
)

// How many times each flaky step fails before it succeeds.
const (
	PaymentFailures   = 2
	InventoryFailures = 1
	ShippingFailures  = 3
)

// Order is what the customer asked for.
type Order struct {
	OrderID    string  `json:"order_id"`
	CustomerID string  `json:"customer_id"`
	ProductID  string  `json:"product_id"`
	Amount     float64 `json:"amount"`
	Quantity   int     `json:"quantity"`
}

// Step is the outcome of one step: the ID it produced and the attempt that
// succeeded.
type Step struct {
	ID      string `json:"id"`
	Attempt int    `json:"attempt"`
}

// Shipment is the outcome of the shipping step.
type Shipment struct {
	TrackingID        string `json:"tracking_id"`
	Carrier           string `json:"carrier"`
	EstimatedDelivery string `json:"estimated_delivery"`
	Attempt           int    `json:"attempt"`
}

// Result is the workflow's result.
type Result struct {
	OrderID           string         `json:"order_id"`
	Status            string         `json:"status"`
	ChargeID          string         `json:"charge_id"`
	ReservationID     string         `json:"reservation_id"`
	PackageID         string         `json:"package_id"`
	TrackingID        string         `json:"tracking_id"`
	Carrier           string         `json:"carrier"`
	EstimatedDelivery string         `json:"estimated_delivery"`
	NotificationID    string         `json:"notification_id"`
	Attempts          map[string]int `json:"attempts"`
}

// retry returns activity options whose retry policy retries quickly: the
// whole scenario takes a couple of seconds.
func retry(ctx workflow.Context, initial time.Duration, maxAttempts int) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 10 * time.Second,
		RetryPolicy: &workflow.RetryPolicy{
			InitialInterval:        initial,
			BackoffCoefficient:     1.5,
			MaximumInterval:        time.Second,
			MaximumAttempts:        maxAttempts,
			NonRetryableErrorTypes: []string{"InvalidOrder"},
		},
	})
}

// OrderWithRetriesWorkflow validates the order, takes the payment, reserves
// the stock, packages, ships and notifies the customer.
func OrderWithRetriesWorkflow(ctx workflow.Context, customerID, productID string, amount float64, quantity int) (Result, error) {
	log := workflow.GetLogger(ctx)
	order := Order{
		OrderID:    fake.ID("ord", workflow.GetInfo(ctx).WorkflowID, customerID, productID),
		CustomerID: customerID,
		ProductID:  productID,
		Amount:     amount,
		Quantity:   quantity,
	}
	res := Result{OrderID: order.OrderID, Attempts: map[string]int{}}

	// 1. Validation fails only on bad input, which no retry can fix.
	var valid Step
	if err := workflow.ExecuteActivity(retry(ctx, 100*time.Millisecond, 3), ValidateOrderActivity, order).Get(ctx, &valid); err != nil {
		return res, fmt.Errorf("validate order: %w", err)
	}
	res.Attempts["validate"] = valid.Attempt

	// 2. The payment gateway times out twice.
	var payment Step
	if err := workflow.ExecuteActivity(retry(ctx, 200*time.Millisecond, 5), ProcessPaymentActivity, order).Get(ctx, &payment); err != nil {
		return res, fmt.Errorf("process payment: %w", err)
	}
	res.ChargeID, res.Attempts["payment"] = payment.ID, payment.Attempt

	// 3. The inventory row is locked once.
	var reservation Step
	if err := workflow.ExecuteActivity(retry(ctx, 100*time.Millisecond, 5), ReserveInventoryActivity, order).Get(ctx, &reservation); err != nil {
		return res, fmt.Errorf("reserve inventory: %w", err)
	}
	res.ReservationID, res.Attempts["inventory"] = reservation.ID, reservation.Attempt

	// 4. Packaging always works.
	var pkg Step
	if err := workflow.ExecuteActivity(retry(ctx, 100*time.Millisecond, 3), PackageOrderActivity, order, reservation.ID).Get(ctx, &pkg); err != nil {
		return res, fmt.Errorf("package order: %w", err)
	}
	res.PackageID, res.Attempts["package"] = pkg.ID, pkg.Attempt

	// 5. The carrier's API is down for three attempts.
	var ship Shipment
	if err := workflow.ExecuteActivity(retry(ctx, 200*time.Millisecond, 6), ShipOrderActivity, order, pkg.ID).Get(ctx, &ship); err != nil {
		return res, fmt.Errorf("ship order: %w", err)
	}
	res.TrackingID, res.Carrier, res.EstimatedDelivery = ship.TrackingID, ship.Carrier, ship.EstimatedDelivery
	res.Attempts["shipping"] = ship.Attempt

	// 6. Tell the customer.
	var note Step
	if err := workflow.ExecuteActivity(retry(ctx, 100*time.Millisecond, 3), NotifyCustomerActivity, order, ship.TrackingID).Get(ctx, &note); err != nil {
		return res, fmt.Errorf("notify customer: %w", err)
	}
	res.NotificationID, res.Attempts["notify"] = note.ID, note.Attempt

	res.Status = "shipped"
	log.Info("order shipped", "order", order.OrderID, "tracking", ship.TrackingID)
	return res, nil
}

// ValidateOrderActivity checks the order.
func ValidateOrderActivity(ctx context.Context, o Order) (Step, error) {
	switch {
	case o.CustomerID == "" || o.ProductID == "":
		return Step{}, failure.NewNonRetryableError("order has no customer or product", "InvalidOrder")
	case o.Amount <= 0:
		return Step{}, failure.NewNonRetryableError(fmt.Sprintf("amount %.2f is not positive", o.Amount), "InvalidOrder")
	case o.Quantity <= 0:
		return Step{}, failure.NewNonRetryableError(fmt.Sprintf("quantity %d is not positive", o.Quantity), "InvalidOrder")
	}
	return Step{ID: o.OrderID, Attempt: activity.GetInfo(ctx).Attempt}, nil
}

// ProcessPaymentActivity charges the customer; the gateway times out on the
// first PaymentFailures attempts.
func ProcessPaymentActivity(ctx context.Context, o Order) (Step, error) {
	attempt := activity.GetInfo(ctx).Attempt
	if attempt <= PaymentFailures {
		return Step{}, failure.NewApplicationError(fmt.Sprintf("payment gateway timed out (attempt %d)", attempt), "PaymentGatewayTimeout")
	}
	return Step{ID: fake.ID("ch", o.OrderID, o.Amount), Attempt: attempt}, nil
}

// ReserveInventoryActivity reserves the stock; the inventory row is locked
// on the first InventoryFailures attempts.
func ReserveInventoryActivity(ctx context.Context, o Order) (Step, error) {
	attempt := activity.GetInfo(ctx).Attempt
	if attempt <= InventoryFailures {
		return Step{}, failure.NewApplicationError(fmt.Sprintf("inventory for %s is locked by another order (attempt %d)", o.ProductID, attempt), "InventoryLocked")
	}
	return Step{ID: fake.ID("res", o.OrderID, o.ProductID, o.Quantity), Attempt: attempt}, nil
}

// PackageOrderActivity packs the reserved items.
func PackageOrderActivity(ctx context.Context, o Order, reservationID string) (Step, error) {
	return Step{ID: fake.ID("pkg", o.OrderID, reservationID), Attempt: activity.GetInfo(ctx).Attempt}, nil
}

// ShipOrderActivity books the carrier; the carrier's API is unavailable on
// the first ShippingFailures attempts.
func ShipOrderActivity(ctx context.Context, o Order, packageID string) (Shipment, error) {
	attempt := activity.GetInfo(ctx).Attempt
	if attempt <= ShippingFailures {
		return Shipment{}, failure.NewApplicationError(fmt.Sprintf("carrier API unavailable: 503 Service Unavailable (attempt %d)", attempt), "CarrierUnavailable")
	}
	return Shipment{
		TrackingID:        fake.ID("tr", o.OrderID, packageID),
		Carrier:           fake.Carrier(o.CustomerID),
		EstimatedDelivery: fake.EstimatedDelivery(time.Now()),
		Attempt:           attempt,
	}, nil
}

// NotifyCustomerActivity emails the customer the tracking number.
func NotifyCustomerActivity(ctx context.Context, o Order, trackingID string) (Step, error) {
	return Step{ID: fake.ID("msg", o.CustomerID, trackingID), Attempt: activity.GetInfo(ctx).Attempt}, nil
}
