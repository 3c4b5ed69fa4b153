package scenarios

import (
	"context"
	"time"

	"github.com/durablefuture/durablefuture/examples/scenarios/saga"
	"github.com/durablefuture/durablefuture/pkg/history"
	"github.com/durablefuture/durablefuture/pkg/sdk/client"
)

// SagaCancelReason is the reason the saga scenario gives when it cancels
// its trip.
const SagaCancelReason = "traveller cancelled before paying"

func init() {
	all = append(all, Scenario{
		Ends:        "canceled",
		Name:        "saga",
		Description: "a trip booking cancelled half way on purpose: it releases the car, hotel and flight it booked, in reverse order (ends canceled)",
		Workflows:   []any{saga.TripBookingWorkflow},
		Activities: []any{
			saga.BookFlightActivity, saga.BookHotelActivity, saga.BookCarActivity,
			saga.ConfirmTripActivity,
			saga.CancelCarActivity, saga.CancelHotelActivity, saga.CancelFlightActivity,
		},
		Start: func(ctx context.Context, c *client.Client, opts client.StartOptions) (client.WorkflowRun, error) {
			trip := saga.Itinerary{Traveller: "Ana Souza", From: "LIS", To: "OSL", Depart: "2026-06-12", Nights: 4}
			run, err := c.ExecuteWorkflow(ctx, opts, saga.TripBookingWorkflow, "trip-2291", trip, 3600)
			if err != nil {
				return nil, err
			}
			// The traveller changes their mind once all three bookings are
			// made and the trip waits for payment.
			go func() {
				if waitForPaymentWait(ctx, c, run) {
					_ = c.CancelWorkflow(ctx, run.ID(), run.RunID(), SagaCancelReason)
				}
			}()
			return run, nil
		},
	})
}

// waitForPaymentWait watches run's history until its three bookings are
// recorded and its payment deadline timer has started. It reports false if
// ctx ends or the run closes first.
func waitForPaymentWait(ctx context.Context, c *client.Client, run client.WorkflowRun) bool {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		evs, err := c.History(ctx, run.ID(), run.RunID())
		if err == nil {
			booked, waiting := 0, false
			for _, ev := range evs {
				switch {
				case ev.Type == history.ActivityCompleted && (ev.Name == "BookFlightActivity" || ev.Name == "BookHotelActivity" || ev.Name == "BookCarActivity"):
					booked++
				case ev.Type == history.TimerStarted:
					waiting = true
				case ev.Type.IsClosing():
					return false
				}
			}
			if booked == 3 && waiting {
				return true
			}
		}
		select {
		case <-ctx.Done():
			return false
		case <-tick.C:
		}
	}
}
