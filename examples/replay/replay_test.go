package replay_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/durablefuture/durablefuture/examples/scenarios"
	"github.com/durablefuture/durablefuture/examples/scenarios/order"
	"github.com/durablefuture/durablefuture/pkg/sdk/failure"
	"github.com/durablefuture/durablefuture/pkg/sdk/replayer"
	"github.com/durablefuture/durablefuture/pkg/sdk/worker"
	"github.com/durablefuture/durablefuture/pkg/sdk/workflow"
)

// newReplayer registers the workflows of every example scenario, as the
// workers of this commit would.
func newReplayer(t testing.TB) *replayer.Replayer {
	t.Helper()
	r := replayer.New()
	for _, sc := range scenarios.All() {
		for _, fn := range sc.Workflows {
			if err := r.RegisterWorkflow(fn); err != nil {
				t.Fatalf("register %s: %v", sc.Name, err)
			}
		}
	}
	return r
}

// TestReplayHistories is the CI gate: every stored history replays against
// the current workflow code.
func TestReplayHistories(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no histories in testdata: run DF_UPDATE_HISTORIES=1 go test -run TestUpdateHistories")
	}
	r := newReplayer(t)
	for _, path := range files {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".json"), func(t *testing.T) {
			if err := r.ReplayFile(path); err != nil {
				var nde *failure.NonDeterminismError
				if errors.As(err, &nde) {
					t.Fatalf("the workflow code no longer replays this history: %v\n"+
						"guard the change with workflow.GetVersion, or wait until the runs that may have this history are closed", err)
				}
				t.Fatal(err)
			}
		})
	}
}

// BenchmarkReplayHistories is the CI gate's cost: one op replays every
// stored history from its file (read, decode, replay); history/op is the
// time per history.
//
//	go test ./examples/replay -run '^$' -bench ReplayHistories
func BenchmarkReplayHistories(b *testing.B) {
	paths, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil || len(paths) == 0 {
		b.Fatalf("no histories in testdata (%v)", err)
	}
	r := newReplayer(b)
	for b.Loop() {
		for _, path := range paths {
			if err := r.ReplayFile(path); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(paths)), "ns/history")
	b.ReportMetric(float64(len(paths)), "histories")
}

// OrderWorkflowShipFirst is OrderWorkflow changed incompatibly: it ships
// before it charges.
func OrderWorkflowShipFirst(ctx workflow.Context, customerID, productID string, amount float64, quantity int) (order.OrderResult, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 10 * time.Second})
	var ship order.ShipResult
	pending := order.ChargeResult{CustomerID: customerID, Amount: amount}
	if err := workflow.ExecuteActivity(ctx, order.ShipPackageActivity, pending, productID, quantity).Get(ctx, &ship); err != nil {
		return order.OrderResult{}, err
	}
	var charge order.ChargeResult
	if err := workflow.ExecuteActivity(ctx, order.ChargeCreditCardActivity, customerID, amount).Get(ctx, &charge); err != nil {
		return order.OrderResult{}, err
	}
	return order.OrderResult{ChargeID: charge.ChargeID, TrackingID: ship.TrackingID}, nil
}

// TestReplayCatchesAnIncompatibleChange shows what the gate reports when
// the code changes what a history records.
func TestReplayCatchesAnIncompatibleChange(t *testing.T) {
	r := replayer.New()
	if err := r.RegisterWorkflowWithOptions(OrderWorkflowShipFirst, worker.RegisterOptions{Name: "OrderWorkflow"}); err != nil {
		t.Fatal(err)
	}
	err := r.ReplayFile(filepath.Join("testdata", "order.json"))
	var nde *failure.NonDeterminismError
	if !errors.As(err, &nde) {
		t.Fatalf("want a non-determinism error, got %v", err)
	}
	if nde.Seq != 2 || !strings.Contains(nde.Recorded, "ChargeCreditCardActivity") || !strings.Contains(nde.Produced, "ShipPackageActivity") {
		t.Fatalf("the error does not name the event: %v", err)
	}
	t.Log(err)
}
