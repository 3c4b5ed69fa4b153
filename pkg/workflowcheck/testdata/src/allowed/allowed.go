// Package allowed is workflow code the checker accepts: nothing here is
// reported.
package allowed

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"math/rand"
	"net/http"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/durablefuture/durablefuture/pkg/sdk/workflow"
)

const maxItems = 10

var (
	// Never assigned: read-only tables are fine.
	carriers  = []string{"UPS", "DHL"}
	zones     = map[string]int{"eu": 1, "us": 2}
	ErrClosed = errors.New("closed")
	// Assigned only in init.
	defaultTimeout time.Duration
)

func init() { defaultTimeout = 10 * time.Second }

type Summary struct {
	Items []string
	Total float64
	At    time.Time
}

// OrderWorkflow uses the deterministic counterparts of goroutines, channels,
// select, the clock and random numbers.
func OrderWorkflow(ctx workflow.Context, prices map[string]float64) (Summary, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: defaultTimeout})
	log := workflow.GetLogger(ctx)
	log.Info("started", "items", len(prices), "max", maxItems, "carrier", carriers[0], "zone", zones["eu"])

	// Sorted keys: the same order on every replay.
	for _, item := range slices.Sorted(maps.Keys(prices)) {
		if err := workflow.ExecuteActivity(ctx, ChargeActivity, item, prices[item]).Get(ctx, nil); err != nil {
			return Summary{}, fmt.Errorf("charge %s: %w", item, err)
		}
	}
	keys := make([]string, 0, len(prices))
	for k := range prices { // a map range that schedules nothing
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		_ = workflow.NewTimer(ctx, time.Duration(len(k))*time.Millisecond)
	}
	var total float64
	for _, p := range prices { // summing commutes
		total += p
	}
	for k := range prices { // a recursive helper that schedules nothing
		total += depth(k, 3)
	}

	ch := workflow.NewChannel(ctx)
	workflow.Go(ctx, func(ctx workflow.Context) {
		ch.Send(ctx, total)
	})
	var got float64
	sel := workflow.NewSelector(ctx)
	sel.AddReceive(ch, func(c workflow.Channel, _ bool) { c.Receive(ctx, &got) })
	sel.AddFuture(workflow.NewTimer(ctx, time.Minute), func(workflow.Future) {})
	sel.Select(ctx)
	if err := workflow.Sleep(ctx, time.Second); err != nil {
		return Summary{}, err
	}

	// The clock and random numbers are fine inside SideEffect.
	var jitter int
	_ = workflow.SideEffect(ctx, func(ctx workflow.Context) any {
		return rand.Intn(100) + time.Now().Nanosecond()
	}).Get(&jitter)
	_ = workflow.SideEffect(ctx, newID).Get(nil)
	// A generator with a given seed replays.
	r := rand.New(rand.NewSource(int64(len(prices))))
	_ = r.Intn(10)

	if v := workflow.GetVersion(ctx, "summary-time", 0, 1); v == 1 {
		_ = time.Duration(5) * time.Second
	}
	at, _ := time.Parse(time.RFC3339, "2024-01-01T00:00:00Z")
	_ = at.Add(time.Hour)
	return Summary{Items: keys, Total: total, At: workflow.Now(ctx)}, ctx.Err()
}

func depth(k string, n int) float64 {
	if n == 0 {
		return float64(len(k))
	}
	return depth(k, n-1)
}

// newID is given to SideEffect by name: it may use random numbers.
func newID(ctx workflow.Context) any { return rand.Int63() }

// ChargeActivity is an activity (context.Context first): it may do I/O and
// read the clock.
func ChargeActivity(ctx context.Context, item string, price float64) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "https://pay.example/"+item, strings.NewReader(fmt.Sprint(price)))
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	fmt.Println("charged", item, time.Now())
	return nil
}

// A plain function that no workflow calls is not checked.
func Report(db *sql.DB) {
	go func() { _, _ = db.Exec("delete"); os.Exit(0) }()
}
