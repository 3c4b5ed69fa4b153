// Package saga is the `saga` scenario: a trip booking that reserves a
// flight, a hotel and a car, then waits for the traveller's payment. When
// the booking is cancelled while it waits (client.CancelWorkflow, dfctl
// cancel), or the payment deadline passes, it releases what it booked, in
// reverse order, from a disconnected context: the compensations run even
// though the workflow's own context is cancelled.
//
// Every confirmation and cancellation ID is derived from the trip (no
// randomness, no network): the same trip always gives the same IDs.
package saga

import (
	"context"
	"fmt"
	"time"

	"github.com/durablefuture/durablefuture/examples/scenarios/internal/fake"
	"github.com/durablefuture/durablefuture/pkg/sdk/activity"
	"github.com/durablefuture/durablefuture/pkg/sdk/failure"
	"github.com/durablefuture/durablefuture/pkg/sdk/workflow"
)

// PaymentSignal is the signal that carries the traveller's Payment.
const PaymentSignal = "payment"

// Itinerary is what the traveller asked for.
type Itinerary struct {
	Traveller string `json:"traveller"`
	From      string `json:"from"`
	To        string `json:"to"`
	Depart    string `json:"depart"` // YYYY-MM-DD
	Nights    int    `json:"nights"`
}

// Booking is one confirmed reservation.
type Booking struct {
	Kind         string `json:"kind"` // flight, hotel or car
	Confirmation string `json:"confirmation"`
	Detail       string `json:"detail"`
}

// Payment is the payload of the "payment" signal.
type Payment struct {
	PaymentID string  `json:"payment_id"`
	Amount    float64 `json:"amount"`
}

// Result is the workflow's result when the trip was paid for.
type Result struct {
	TripID    string    `json:"trip_id"`
	Status    string    `json:"status"` // confirmed
	Bookings  []Booking `json:"bookings"`
	PaymentID string    `json:"payment_id"`
	Receipt   string    `json:"receipt"`
}

// TripBookingWorkflow books the flight, the hotel and the car of trip, then
// waits for the "payment" signal for at most paymentDeadlineSeconds.
//
// Paid: the trip is confirmed. Cancelled while waiting: the bookings are
// cancelled in reverse order and the run ends as canceled. Deadline passed:
// the bookings are cancelled the same way and the run fails with a
// PaymentDeadlineExceeded error.
func TripBookingWorkflow(ctx workflow.Context, tripID string, trip Itinerary, paymentDeadlineSeconds int) (Result, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 10 * time.Second,
		RetryPolicy:         &workflow.RetryPolicy{InitialInterval: 100 * time.Millisecond, MaximumInterval: time.Second, MaximumAttempts: 10},
	})
	log := workflow.GetLogger(ctx)

	// What has been booked so far, and how to undo each, in booking order.
	var booked []Booking
	var undo []any
	steps := []struct {
		book, cancel any
	}{
		{BookFlightActivity, CancelFlightActivity},
		{BookHotelActivity, CancelHotelActivity},
		{BookCarActivity, CancelCarActivity},
	}
	var err error
	for _, s := range steps {
		var b Booking
		if err = workflow.ExecuteActivity(ctx, s.book, tripID, trip).Get(ctx, &b); err != nil {
			break
		}
		booked = append(booked, b)
		undo = append(undo, s.cancel)
	}

	var pay Payment
	if err == nil {
		err = waitForPayment(ctx, time.Duration(paymentDeadlineSeconds)*time.Second, &pay)
	}
	if err == nil {
		res := Result{TripID: tripID, Status: "confirmed", Bookings: booked, PaymentID: pay.PaymentID}
		if err = workflow.ExecuteActivity(ctx, ConfirmTripActivity, tripID, pay).Get(ctx, &res.Receipt); err == nil {
			return res, nil
		}
	}

	// Something stopped the trip half way: release what was booked, newest
	// first. The workflow's context may be cancelled, so the compensations
	// run on a context that is not.
	log.Info("compensating", "trip", tripID, "bookings", len(booked), "cause", err)
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	var compErr error
	for i := len(booked) - 1; i >= 0; i-- {
		if cerr := workflow.ExecuteActivity(dctx, undo[i], tripID, booked[i].Confirmation).Get(dctx, nil); cerr != nil && compErr == nil {
			compErr = fmt.Errorf("cancel %s %s: %w", booked[i].Kind, booked[i].Confirmation, cerr)
		}
	}
	if compErr != nil {
		// A booking is still held: that is a failure to look at, not a
		// clean cancellation.
		return Result{}, failure.NewNonRetryableError(fmt.Sprintf("trip %s stopped (%v) but compensation failed: %v", tripID, err, compErr), "CompensationFailed")
	}
	if failure.IsCanceledError(err) {
		// Returning the cancellation ends the run as canceled.
		return Result{}, fmt.Errorf("trip %s cancelled, %d bookings released: %w", tripID, len(booked), err)
	}
	return Result{}, err
}

// waitForPayment waits for the payment signal for at most deadline. It
// returns the cancellation when the workflow is cancelled while waiting.
func waitForPayment(ctx workflow.Context, deadline time.Duration, pay *Payment) error {
	timerCtx, cancelTimer := workflow.WithCancel(ctx)
	defer cancelTimer()
	var err error
	sel := workflow.NewSelector(ctx)
	sel.AddReceive(workflow.GetSignalChannel(ctx, PaymentSignal), func(c workflow.Channel, _ bool) {
		c.Receive(ctx, pay)
	})
	sel.AddFuture(workflow.NewTimer(timerCtx, deadline), func(f workflow.Future) {
		// A cancelled workflow cancels the timer: its Get says so.
		if err = f.Get(ctx, nil); err == nil {
			err = failure.NewNonRetryableError(fmt.Sprintf("no payment within %v", deadline), "PaymentDeadlineExceeded")
		}
	})
	sel.Select(ctx)
	return err
}

func nightsAfter(depart string, nights int) string {
	d, err := time.Parse("2006-01-02", depart)
	if err != nil {
		return "?"
	}
	return d.AddDate(0, 0, nights).Format("2006-01-02")
}

// BookFlightActivity reserves the outbound flight.
func BookFlightActivity(ctx context.Context, tripID string, trip Itinerary) (Booking, error) {
	b := Booking{Kind: "flight", Confirmation: fake.ID("fl", "flight", tripID, trip.From, trip.To, trip.Depart),
		Detail: fmt.Sprintf("%s→%s on %s", trip.From, trip.To, trip.Depart)}
	activity.GetLogger(ctx).Info("flight booked", "trip", tripID, "confirmation", b.Confirmation)
	return b, nil
}

// BookHotelActivity reserves the hotel for the trip's nights.
func BookHotelActivity(ctx context.Context, tripID string, trip Itinerary) (Booking, error) {
	b := Booking{Kind: "hotel", Confirmation: fake.ID("ht", "hotel", tripID, trip.To, trip.Depart, trip.Nights),
		Detail: fmt.Sprintf("%d nights in %s from %s", trip.Nights, trip.To, trip.Depart)}
	activity.GetLogger(ctx).Info("hotel booked", "trip", tripID, "confirmation", b.Confirmation)
	return b, nil
}

// BookCarActivity reserves a rental car at the destination.
func BookCarActivity(ctx context.Context, tripID string, trip Itinerary) (Booking, error) {
	b := Booking{Kind: "car", Confirmation: fake.ID("car", "car", tripID, trip.To, trip.Depart, trip.Nights),
		Detail: fmt.Sprintf("compact car in %s, %s to %s", trip.To, trip.Depart, nightsAfter(trip.Depart, trip.Nights))}
	activity.GetLogger(ctx).Info("car booked", "trip", tripID, "confirmation", b.Confirmation)
	return b, nil
}

// ConfirmTripActivity records the payment and issues the itinerary receipt.
func ConfirmTripActivity(ctx context.Context, tripID string, pay Payment) (string, error) {
	return fake.ID("rcpt", tripID, pay.PaymentID), nil
}

// CancelFlightActivity releases a flight booking and returns the
// cancellation reference.
func CancelFlightActivity(ctx context.Context, tripID, confirmation string) (string, error) {
	activity.GetLogger(ctx).Info("flight cancelled", "trip", tripID, "confirmation", confirmation)
	return fake.ID("xfl", confirmation), nil
}

// CancelHotelActivity releases a hotel booking.
func CancelHotelActivity(ctx context.Context, tripID, confirmation string) (string, error) {
	activity.GetLogger(ctx).Info("hotel cancelled", "trip", tripID, "confirmation", confirmation)
	return fake.ID("xht", confirmation), nil
}

// CancelCarActivity releases a car booking.
func CancelCarActivity(ctx context.Context, tripID, confirmation string) (string, error) {
	activity.GetLogger(ctx).Info("car cancelled", "trip", tripID, "confirmation", confirmation)
	return fake.ID("xcar", confirmation), nil
}
