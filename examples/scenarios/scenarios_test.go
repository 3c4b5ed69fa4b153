package scenarios_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/durablefuture/durablefuture/examples/scenarios"
	"github.com/durablefuture/durablefuture/examples/scenarios/approval"
	"github.com/durablefuture/durablefuture/examples/scenarios/fanout"
	"github.com/durablefuture/durablefuture/examples/scenarios/order"
	"github.com/durablefuture/durablefuture/examples/scenarios/orderrecovery"
	"github.com/durablefuture/durablefuture/examples/scenarios/orderretries"
	"github.com/durablefuture/durablefuture/examples/scenarios/saga"
	"github.com/durablefuture/durablefuture/internal/testsrv"
	"github.com/durablefuture/durablefuture/pkg/engine"
	"github.com/durablefuture/durablefuture/pkg/history"
	"github.com/durablefuture/durablefuture/pkg/sdk/client"
	"github.com/durablefuture/durablefuture/pkg/sdk/failure"
	"github.com/durablefuture/durablefuture/pkg/sdk/worker"
)

// startWorker runs a worker until the test ends; register adds what it serves.
func startWorker(t *testing.T, c *client.Client, register func(w *worker.Worker) error) {
	t.Helper()
	w := worker.New(c, worker.Options{WorkflowTaskTimeout: 2 * time.Second, ActivityTaskTimeout: 3 * time.Second, ShutdownTimeout: 2 * time.Second})
	if err := register(w); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("worker: %v", err)
		}
	})
}

// serve runs one worker serving both the workflows and the activities of sc.
func serve(t *testing.T, c *client.Client, sc scenarios.Scenario) {
	startWorker(t, c, func(w *worker.Worker) error {
		if err := sc.RegisterWorkflows(w); err != nil {
			return err
		}
		return sc.RegisterActivities(w)
	})
}

func timeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func get(t *testing.T, name string) scenarios.Scenario {
	t.Helper()
	sc, err := scenarios.Get(name)
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

// run starts one run of sc with id and decodes its result into out.
func run(t *testing.T, ctx context.Context, c *client.Client, sc scenarios.Scenario, id string, out any) time.Duration {
	t.Helper()
	start := time.Now()
	r, err := sc.Start(ctx, c, client.StartOptions{ID: id})
	if err != nil {
		t.Fatalf("start %s: %v", sc.Name, err)
	}
	if err := r.Get(ctx, out); err != nil {
		t.Fatalf("%s: %v", sc.Name, err)
	}
	return time.Since(start)
}

// count returns how many events of each type name's activity has (name ""
// counts every event).
func count(evs []history.Event, name string) map[history.EventType]int {
	n := map[history.EventType]int{}
	for _, ev := range evs {
		if name == "" || ev.Name == name {
			n[ev.Type]++
		}
	}
	return n
}

func historyOf(t *testing.T, ctx context.Context, c *client.Client, id string) []history.Event {
	t.Helper()
	evs, err := c.History(ctx, id, "")
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

func TestRegistry(t *testing.T) {
	var names []string
	for _, sc := range scenarios.All() {
		names = append(names, sc.Name)
		if sc.Description == "" || len(sc.Workflows) == 0 || len(sc.Activities) == 0 || sc.Start == nil {
			t.Errorf("scenario %s is incomplete", sc.Name)
		}
	}
	if got := strings.Join(names, ","); got != "approval,fan-out,order,order-recovery,order-retries,saga" {
		t.Fatalf("scenarios: %s", got)
	}
	if _, err := scenarios.Get(scenarios.DefaultName); err != nil {
		t.Fatal(err)
	}
	if _, err := scenarios.Get("nope"); err == nil || !strings.Contains(err.Error(), "order-retries") {
		t.Fatalf("unknown scenario: %v", err)
	}
	// Every scenario registers on one worker (dfctl dev --examples): no two
	// share a workflow or activity name.
	seen := map[string]string{}
	for _, sc := range scenarios.All() {
		for _, fn := range append(append([]any{}, sc.Workflows...), sc.Activities...) {
			n := engine.FunctionName(fn)
			if other, dup := seen[n]; dup {
				t.Errorf("%s is registered by both %s and %s", n, other, sc.Name)
			}
			seen[n] = sc.Name
		}
	}
}

func TestOrder(t *testing.T) {
	s := testsrv.Start(t)
	c := testsrv.Client(t, s)
	sc := get(t, "order")
	// Workflows and activities on separate workers, as with
	// --workflow-worker and --activity-worker.
	startWorker(t, c, sc.RegisterWorkflows)
	startWorker(t, c, sc.RegisterActivities)

	ctx := timeout(t, 30*time.Second)
	var res order.OrderResult
	took := run(t, ctx, c, sc, "order-1", &res)
	t.Logf("order took %v: %+v", took, res)
	if !strings.HasPrefix(res.ChargeID, "ch_") || !strings.HasPrefix(res.TrackingID, "tr_") || res.Carrier == "" {
		t.Fatalf("result: %+v", res)
	}
	if _, err := time.Parse("2006-01-02", res.EstimatedDelivery); err != nil {
		t.Fatalf("estimated_delivery: %v", err)
	}
	// The result as a client that knows nothing of the Go types sees it.
	var m map[string]any
	if err := c.GetWorkflow("order-1", "").Get(ctx, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"charge_id", "tracking_id", "carrier", "estimated_delivery"} {
		if s, _ := m[k].(string); s == "" {
			t.Errorf("result has no %s: %v", k, m)
		}
	}
	// The seed README's event log: started, charge, ship, completed.
	var types []string
	for _, ev := range historyOf(t, ctx, c, "order-1") {
		types = append(types, fmt.Sprintf("%s %s", ev.Type, ev.Name))
	}
	want := []string{
		"WorkflowStarted OrderWorkflow",
		"ActivityScheduled ChargeCreditCardActivity", "ActivityCompleted ChargeCreditCardActivity",
		"ActivityScheduled ShipPackageActivity", "ActivityCompleted ShipPackageActivity",
		"WorkflowCompleted ",
	}
	if strings.Join(types, "|") != strings.Join(want, "|") {
		t.Fatalf("history:\n%s\nwant:\n%s", strings.Join(types, "\n"), strings.Join(want, "\n"))
	}
}

func checkRetries(t *testing.T, ctx context.Context, c *client.Client, id string, res orderretries.Result) {
	t.Helper()
	if res.Status != "shipped" || res.ChargeID == "" || res.ReservationID == "" || res.PackageID == "" || res.TrackingID == "" || res.NotificationID == "" {
		t.Errorf("%s: result %+v", id, res)
	}
	wantAttempts := map[string]int{"validate": 1, "payment": 3, "inventory": 2, "package": 1, "shipping": 4, "notify": 1}
	if fmt.Sprint(res.Attempts) != fmt.Sprint(wantAttempts) {
		t.Errorf("%s: attempts %v, want %v", id, res.Attempts, wantAttempts)
	}
	evs := historyOf(t, ctx, c, id)
	for name, fails := range map[string]int{
		"ValidateOrderActivity":    0,
		"ProcessPaymentActivity":   orderretries.PaymentFailures,
		"ReserveInventoryActivity": orderretries.InventoryFailures,
		"PackageOrderActivity":     0,
		"ShipOrderActivity":        orderretries.ShippingFailures,
		"NotifyCustomerActivity":   0,
	} {
		n := count(evs, name)
		if n[history.ActivityScheduled] != 1 || n[history.ActivityAttemptFailed] != fails || n[history.ActivityCompleted] != 1 || n[history.ActivityFailed] != 0 {
			t.Errorf("%s: %s events %v, want 1 scheduled, %d attempt failures, 1 completed", id, name, n, fails)
		}
	}
	all := count(evs, "")
	if all[history.ActivityAttemptFailed] != 6 || all[history.WorkflowCompleted] != 1 || all[history.WorkflowTaskFailed] != 0 {
		t.Errorf("%s: events %v", id, all)
	}
	if last := evs[len(evs)-1]; last.Type != history.WorkflowCompleted {
		t.Errorf("%s: last event %s", id, last.Type)
	}
}

func TestOrderRetries(t *testing.T) {
	s := testsrv.Start(t)
	c := testsrv.Client(t, s)
	sc := get(t, "order-retries")
	serve(t, c, sc)

	ctx := timeout(t, 60*time.Second)
	var res orderretries.Result
	took := run(t, ctx, c, sc, "order-retries-1", &res)
	t.Logf("order-retries took %v: %+v", took, res)
	checkRetries(t, ctx, c, "order-retries-1", res)
}

// TestOrderRetriesConcurrent runs several at once: the failures depend on the
// attempt, not on shared state, so each run fails and recovers the same way.
func TestOrderRetriesConcurrent(t *testing.T) {
	s := testsrv.Start(t)
	c := testsrv.Client(t, s)
	sc := get(t, "order-retries")
	serve(t, c, sc)
	serve(t, c, sc)

	ctx := timeout(t, 60*time.Second)
	const n = 8
	results := make([]orderretries.Result, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := sc.Start(ctx, c, client.StartOptions{ID: fmt.Sprintf("order-retries-%d", i)})
			if err == nil {
				err = r.Get(ctx, &results[i])
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("run %d: %v", i, errs[i])
		}
		checkRetries(t, ctx, c, fmt.Sprintf("order-retries-%d", i), results[i])
	}
}

func TestOrderRecovery(t *testing.T) {
	s := testsrv.Start(t)
	c := testsrv.Client(t, s)
	sc := get(t, "order-recovery")
	serve(t, c, sc)

	ctx := timeout(t, 30*time.Second)
	var res orderrecovery.Result
	took := run(t, ctx, c, sc, "order-recovery-1", &res)
	t.Logf("order-recovery took %v: %+v", took, res)
	if res.ChargeAttempts != orderrecovery.FlakyCharges+1 || len(res.FailedCharges) != orderrecovery.FlakyCharges ||
		res.PaymentMethod != orderrecovery.BackupMethod || !strings.HasPrefix(res.ChargeID, "ch_") || res.TrackingID == "" {
		t.Fatalf("result: %+v", res)
	}
	// Each charge is its own activity with a single engine attempt: the
	// engine records the first two as failed, and the workflow went on.
	evs := historyOf(t, ctx, c, "order-recovery-1")
	n := count(evs, "ChargePaymentActivity")
	if n[history.ActivityScheduled] != 3 || n[history.ActivityFailed] != 2 || n[history.ActivityAttemptFailed] != 0 || n[history.ActivityCompleted] != 1 {
		t.Fatalf("charge events: %v", n)
	}
	if last := evs[len(evs)-1]; last.Type != history.WorkflowCompleted {
		t.Fatalf("last event %s", last.Type)
	}
}

// The approval waits on its deadline timer until the signal comes, then
// cancels the timer.
func TestApproval(t *testing.T) {
	s := testsrv.Start(t)
	c := testsrv.Client(t, s)
	sc, err := scenarios.Get("approval")
	if err != nil {
		t.Fatal(err)
	}
	startWorker(t, c, func(w *worker.Worker) error {
		if err := sc.RegisterWorkflows(w); err != nil {
			return err
		}
		return sc.RegisterActivities(w)
	})
	ctx := timeout(t, 30*time.Second)
	var res approval.Result
	run(t, ctx, c, sc, "approval-1", &res)
	if res.Status != "approved" || res.By == "" || res.Receipt == "" {
		t.Fatalf("result %+v", res)
	}
	var types []string
	for _, ev := range historyOf(t, ctx, c, "approval-1") {
		types = append(types, string(ev.Type))
	}
	want := "WorkflowStarted,ActivityScheduled,ActivityCompleted,TimerStarted,SignalReceived,TimerCanceled,ActivityScheduled,ActivityCompleted,WorkflowCompleted"
	if got := strings.Join(types, ","); got != want {
		t.Fatalf("history:\n got %s\nwant %s", got, want)
	}
}

// eventNames returns "Type Name" for each event (Name only for activities
// and the first event).
func eventNames(evs []history.Event) []string {
	var out []string
	for _, ev := range evs {
		switch ev.Type {
		case history.WorkflowStarted, history.ActivityScheduled, history.ActivityCompleted:
			out = append(out, string(ev.Type)+" "+ev.Name)
		default:
			out = append(out, string(ev.Type))
		}
	}
	return out
}

// checkCanceled checks that err is the error of a run that ended canceled.
func checkCanceled(t *testing.T, err error) {
	t.Helper()
	var wee *failure.WorkflowExecutionError
	if !errors.As(err, &wee) || wee.Status != engine.StatusCanceled || !failure.IsCanceledError(err) {
		t.Fatalf("want a canceled run, got %v", err)
	}
}

// The saga books three things, is cancelled while it waits for payment, and
// releases the three bookings in reverse order before ending as canceled.
func TestSagaCancelled(t *testing.T) {
	s := testsrv.Start(t)
	c := testsrv.Client(t, s)
	sc := get(t, "saga")
	serve(t, c, sc)

	ctx := timeout(t, 30*time.Second)
	start := time.Now()
	r, err := sc.Start(ctx, c, client.StartOptions{ID: "saga-1"})
	if err != nil {
		t.Fatal(err)
	}
	err = r.Get(ctx, nil)
	t.Logf("saga took %v: %v", time.Since(start), err)
	checkCanceled(t, err)
	if !strings.Contains(err.Error(), "3 bookings released") {
		t.Errorf("error %v", err)
	}

	evs := historyOf(t, ctx, c, "saga-1")
	want := []string{
		"WorkflowStarted TripBookingWorkflow",
		"ActivityScheduled BookFlightActivity", "ActivityCompleted BookFlightActivity",
		"ActivityScheduled BookHotelActivity", "ActivityCompleted BookHotelActivity",
		"ActivityScheduled BookCarActivity", "ActivityCompleted BookCarActivity",
		"TimerStarted",
		"WorkflowCancelRequested",
		"TimerCanceled",
		"ActivityScheduled CancelCarActivity", "ActivityCompleted CancelCarActivity",
		"ActivityScheduled CancelHotelActivity", "ActivityCompleted CancelHotelActivity",
		"ActivityScheduled CancelFlightActivity", "ActivityCompleted CancelFlightActivity",
		"WorkflowCanceled",
	}
	if got := eventNames(evs); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("history:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// Each compensation cancels the confirmation its booking returned.
	confirmations := map[string]string{}
	for _, ev := range evs {
		if ev.Type == history.ActivityCompleted && strings.HasPrefix(ev.Name, "Book") {
			var b saga.Booking
			if err := json.Unmarshal(ev.Result, &b); err != nil || b.Confirmation == "" {
				t.Fatalf("%s result %s: %v", ev.Name, ev.Result, err)
			}
			confirmations[strings.TrimSuffix(strings.TrimPrefix(ev.Name, "Book"), "Activity")] = b.Confirmation
		}
	}
	for _, ev := range evs {
		switch {
		case ev.Type == history.WorkflowCancelRequested:
			if ev.Reason != scenarios.SagaCancelReason {
				t.Errorf("cancel reason %q", ev.Reason)
			}
		case ev.Type == history.ActivityScheduled && strings.HasPrefix(ev.Name, "Cancel"):
			var args []string
			if err := json.Unmarshal(ev.Input, &args); err != nil || len(args) != 2 {
				t.Fatalf("%s input %s: %v", ev.Name, ev.Input, err)
			}
			kind := strings.TrimSuffix(strings.TrimPrefix(ev.Name, "Cancel"), "Activity")
			if args[1] != confirmations[kind] {
				t.Errorf("%s cancels %s, booked %s", ev.Name, args[1], confirmations[kind])
			}
		}
	}
	if len(confirmations) != 3 {
		t.Errorf("confirmations %v", confirmations)
	}
}

// Paid in time, the trip is confirmed and nothing is compensated.
func TestSagaPaid(t *testing.T) {
	s := testsrv.Start(t)
	c := testsrv.Client(t, s)
	serve(t, c, get(t, "saga"))

	ctx := timeout(t, 30*time.Second)
	trip := saga.Itinerary{Traveller: "Ben", From: "AMS", To: "ROM", Depart: "2026-09-01", Nights: 2}
	r, err := c.ExecuteWorkflow(ctx, client.StartOptions{ID: "saga-paid"}, saga.TripBookingWorkflow, "trip-7", trip, 3600)
	if err != nil {
		t.Fatal(err)
	}
	// Pay while the trip waits on its deadline timer.
	testsrv.WaitFor(t, ctx, "the payment deadline timer", func() bool {
		evs, err := c.History(ctx, "saga-paid", "")
		return err == nil && count(evs, "")[history.TimerStarted] == 1
	})
	if err := c.SignalWorkflow(ctx, r.ID(), r.RunID(), saga.PaymentSignal, saga.Payment{PaymentID: "pay_1", Amount: 840}); err != nil {
		t.Fatal(err)
	}
	var res saga.Result
	if err := r.Get(ctx, &res); err != nil {
		t.Fatal(err)
	}
	if res.Status != "confirmed" || len(res.Bookings) != 3 || res.PaymentID != "pay_1" || res.Receipt == "" {
		t.Fatalf("result %+v", res)
	}
	n := count(historyOf(t, ctx, c, "saga-paid"), "")
	if n[history.ActivityCompleted] != 4 || n[history.SignalReceived] != 1 || n[history.TimerCanceled] != 1 || n[history.ActivityFailed] != 0 || n[history.WorkflowCompleted] != 1 {
		t.Fatalf("events %v", n)
	}
}

// Unpaid at the deadline, the bookings are released and the run fails.
func TestSagaDeadline(t *testing.T) {
	s := testsrv.Start(t)
	c := testsrv.Client(t, s)
	serve(t, c, get(t, "saga"))

	ctx := timeout(t, 30*time.Second)
	trip := saga.Itinerary{Traveller: "Cy", From: "BER", To: "MAD", Depart: "2026-10-01", Nights: 1}
	r, err := c.ExecuteWorkflow(ctx, client.StartOptions{ID: "saga-late"}, saga.TripBookingWorkflow, "trip-8", trip, 1)
	if err != nil {
		t.Fatal(err)
	}
	err = r.Get(ctx, nil)
	var wee *failure.WorkflowExecutionError
	if !errors.As(err, &wee) || wee.Status != engine.StatusFailed || failure.Type(err) != "PaymentDeadlineExceeded" {
		t.Fatalf("want a PaymentDeadlineExceeded failure, got %v", err)
	}
	var comp []string
	for _, ev := range historyOf(t, ctx, c, "saga-late") {
		if ev.Type == history.ActivityCompleted && strings.HasPrefix(ev.Name, "Cancel") {
			comp = append(comp, ev.Name)
		}
	}
	if got := strings.Join(comp, ","); got != "CancelCarActivity,CancelHotelActivity,CancelFlightActivity" {
		t.Fatalf("compensations %s", got)
	}
}

// The fan-out parent starts one child per shard; each child's history
// starts with a link to the parent, and the parent's sums their results.
func TestFanOut(t *testing.T) {
	s := testsrv.Start(t)
	c := testsrv.Client(t, s)
	sc := get(t, "fan-out")
	// Two workers: the children spread over both.
	serve(t, c, sc)
	serve(t, c, sc)

	ctx := timeout(t, 30*time.Second)
	var res fanout.Summary
	took := run(t, ctx, c, sc, "fan-out-1", &res)
	t.Logf("fan-out took %v: %+v", took, res)
	n := scenarios.FanOutShards
	if res.BatchID == "" || len(res.Shards) != n {
		t.Fatalf("result %+v", res)
	}
	var wantRecords int
	var wantTotal int64
	for i, sh := range res.Shards {
		amounts := fanout.ShardAmounts(res.BatchID, i)
		var sum int64
		for _, a := range amounts {
			sum += a
		}
		wantRecords += len(amounts)
		wantTotal += sum
		if sh.Shard != i || sh.WorkflowID != fanout.ShardWorkflowID("fan-out-1", i) || sh.Records != len(amounts) || sh.AmountCents != sum || sh.Digest == "" {
			t.Errorf("shard %d: %+v, want %d records, %d cents", i, sh, len(amounts), sum)
		}
	}
	if res.TotalRecords != wantRecords || res.TotalAmountCents != wantTotal {
		t.Errorf("totals %d records, %d cents; want %d, %d", res.TotalRecords, res.TotalAmountCents, wantRecords, wantTotal)
	}

	parent := historyOf(t, ctx, c, "fan-out-1")
	pn := count(parent, "")
	if pn[history.ChildWorkflowScheduled] != n || pn[history.ChildWorkflowStarted] != n || pn[history.ChildWorkflowCompleted] != n || pn[history.WorkflowCompleted] != 1 {
		t.Fatalf("parent events %v", pn)
	}
	parentRun := runIDOf(t, ctx, c, "fan-out-1")
	scheduled := map[string]int64{}
	for _, ev := range parent {
		if ev.Type == history.ChildWorkflowScheduled {
			if ev.Child == nil {
				t.Fatalf("ChildWorkflowScheduled %d names no child", ev.Seq)
			}
			scheduled[ev.Child.WorkflowID] = ev.Seq
		}
	}
	for i := range n {
		id := fanout.ShardWorkflowID("fan-out-1", i)
		if _, ok := scheduled[id]; !ok {
			t.Errorf("no ChildWorkflowScheduled for %s: %v", id, scheduled)
		}
		evs := historyOf(t, ctx, c, id)
		first, last := evs[0], evs[len(evs)-1]
		if first.Type != history.WorkflowStarted || first.Name != "ProcessShardWorkflow" || first.Parent == nil ||
			first.Parent.WorkflowID != "fan-out-1" || first.Parent.RunID != parentRun || first.Parent.Seq != scheduled[id] {
			t.Errorf("%s: first event %+v (parent %+v)", id, first, first.Parent)
		}
		if last.Type != history.WorkflowCompleted {
			t.Errorf("%s: last event %s", id, last.Type)
		}
		if cn := count(evs, ""); cn[history.ActivityCompleted] != 2 {
			t.Errorf("%s: events %v", id, cn)
		}
	}
}

// runIDOf returns the run ID of id's latest run.
func runIDOf(t *testing.T, ctx context.Context, c *client.Client, id string) string {
	t.Helper()
	ri, err := c.Describe(ctx, id, "")
	if err != nil {
		t.Fatal(err)
	}
	return ri.RunID
}

// TestAllOnOneWorker registers every scenario on one worker, as
// `dfctl dev --examples` and `examples/cmd --worker --scenario all` do, and
// runs each once.
func TestAllOnOneWorker(t *testing.T) {
	s := testsrv.Start(t)
	c := testsrv.Client(t, s)
	startWorker(t, c, func(w *worker.Worker) error {
		for _, sc := range scenarios.All() {
			if err := sc.RegisterWorkflows(w); err != nil {
				return err
			}
			if err := sc.RegisterActivities(w); err != nil {
				return err
			}
		}
		return nil
	})
	ctx := timeout(t, 60*time.Second)
	for _, sc := range scenarios.All() {
		start := time.Now()
		r, err := sc.Start(ctx, c, client.StartOptions{ID: "all-" + sc.Name})
		if err != nil {
			t.Fatalf("start %s: %v", sc.Name, err)
		}
		var out map[string]any
		err = r.Get(ctx, &out)
		t.Logf("%s took %v", sc.Name, time.Since(start))
		if sc.Name == "saga" {
			// Cancelled half way on purpose.
			checkCanceled(t, err)
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", sc.Name, err)
		}
		key := "tracking_id"
		switch sc.Name {
		case "approval":
			key = "receipt"
		case "fan-out":
			key = "total_records"
		}
		if v := out[key]; v == "" || v == nil || v == 0.0 {
			t.Errorf("%s: result %v", sc.Name, out)
		}
	}
}
