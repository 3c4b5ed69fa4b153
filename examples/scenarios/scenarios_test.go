package scenarios_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/durablefuture/durablefuture/examples/scenarios"
	"github.com/durablefuture/durablefuture/examples/scenarios/approval"
	"github.com/durablefuture/durablefuture/examples/scenarios/order"
	"github.com/durablefuture/durablefuture/examples/scenarios/orderrecovery"
	"github.com/durablefuture/durablefuture/examples/scenarios/orderretries"
	"github.com/durablefuture/durablefuture/internal/testsrv"
	"github.com/durablefuture/durablefuture/pkg/engine"
	"github.com/durablefuture/durablefuture/pkg/history"
	"github.com/durablefuture/durablefuture/pkg/sdk/client"
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
	if got := strings.Join(names, ","); got != "approval,order,order-recovery,order-retries" {
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

// TestAllOnOneWorker registers every scenario on one worker, as
// `dfctl dev --examples` and `examples/cmd --worker --scenario all` do, and
// runs each once.
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
		var out map[string]any
		took := run(t, ctx, c, sc, "all-"+sc.Name, &out)
		t.Logf("%s took %v", sc.Name, took)
		key := "tracking_id"
		if sc.Name == "approval" {
			key = "receipt"
		}
		if out[key] == "" || out[key] == nil {
			t.Errorf("%s: result %v", sc.Name, out)
		}
	}
}
