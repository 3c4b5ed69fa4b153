// Package realsdk is workflow code against the real pkg/sdk/workflow (whose
// Context is an alias of the engine's), checked by TestRealSDK through
// Check, the driver of dfctl vet. It is under testdata so that go build,
// go vet and dfctl vet on ./... skip it.
package realsdk

import (
	"context"
	"fmt"
	"maps"
	"math/rand"
	"slices"
	"time"

	"github.com/durablefuture/durablefuture/pkg/sdk/workflow"
)

var attempts int

func ChargeActivity(ctx context.Context, item string) error {
	fmt.Println("charging", item, time.Now()) // an activity: not checked
	return nil
}

func ShipWorkflow(ctx workflow.Context, items map[string]int) error {
	attempts++               // want `DF2007 package variable attempts`
	deadline := time.Now()   // want `DF2003 time.Now in workflow ShipWorkflow`
	_ = rand.Intn(3)         // want `DF2004 rand.Intn`
	done := make(chan error) // want `DF2002 make\(chan\)`
	go func() {              // want `DF2001 go statement`
		done <- nil // want `DF2002 channel send`
	}()
	for item := range items { // want `DF2005 range over a map that calls charge → workflow.ExecuteActivity`
		charge(ctx, item)
	}
	sel := workflow.NewSelector(ctx)
	for item := range items { // want `DF2005 range over a map that calls workflow.Selector.AddFuture`
		sel.AddFuture(workflow.ExecuteActivity(ctx, ChargeActivity, item), func(workflow.Future) {})
	}
	fmt.Println(deadline) //dfvet:ignore DF2006 in a test corpus
	return nil
}

func charge(ctx workflow.Context, item string) {
	workflow.ExecuteActivity(ctx, ChargeActivity, item)
}

func CleanWorkflow(ctx workflow.Context, items map[string]int) (time.Time, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: time.Minute})
	for _, item := range slices.Sorted(maps.Keys(items)) {
		if err := workflow.ExecuteActivity(ctx, ChargeActivity, item).Get(ctx, nil); err != nil {
			return time.Time{}, err
		}
	}
	var n int
	_ = workflow.SideEffect(ctx, func(workflow.Context) any { return rand.Intn(10) }).Get(&n)
	workflow.Go(ctx, func(ctx workflow.Context) { _ = workflow.Sleep(ctx, time.Second) })
	workflow.GetLogger(ctx).Info("done", "n", n)
	return workflow.Now(ctx), nil
}
