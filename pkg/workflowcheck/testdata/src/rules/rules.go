// Package rules triggers every rule of the checker at least once.
package rules

import (
	crand "crypto/rand"
	"database/sql"
	"fmt"
	"io/ioutil"
	"log"
	"log/slog"
	"maps"
	"math/rand"
	randv2 "math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"sync"
	"time"

	"github.com/durablefuture/durablefuture/pkg/engine"
	"github.com/durablefuture/durablefuture/pkg/sdk/workflow"
)

// DF2001

func GoWorkflow(ctx workflow.Context) error {
	go func() {}() // want `DF2001 go statement in workflow GoWorkflow: .*use workflow.Go`
	return nil
}

// DF2002

func ChannelWorkflow(ctx workflow.Context, in chan int) int {
	ch := make(chan int, 1) // want `DF2002 make\(chan\) in workflow ChannelWorkflow: .*use workflow.NewChannel`
	ch <- 1                 // want `DF2002 channel send`
	v := <-ch               // want `DF2002 channel receive`
	select {                // want `DF2002 select statement in workflow ChannelWorkflow: .*use workflow.NewSelector`
	case x := <-in:
		v += x
	case in <- v:
	default:
	}
	for x := range in { // want `DF2002 range over a channel`
		v += x
	}
	close(ch) // want `DF2002 close of a channel`
	return v
}

// DF2003

func TimeWorkflow(ctx workflow.Context) time.Duration {
	start := time.Now()                    // want `DF2003 time.Now in workflow TimeWorkflow: reads the wall clock.*use workflow.Now\(ctx\)`
	time.Sleep(time.Second)                // want `DF2003 time.Sleep .*use workflow.Sleep`
	<-time.After(time.Second)              // want `DF2002 channel receive` `DF2003 time.After .*use workflow.NewTimer`
	t := time.NewTimer(time.Second)        // want `DF2003 time.NewTimer`
	tk := time.NewTicker(time.Second)      // want `DF2003 time.NewTicker`
	_ = time.Tick(time.Second)             // want `DF2003 time.Tick`
	time.AfterFunc(time.Second, func() {}) // want `DF2003 time.AfterFunc`
	_ = time.Until(start)                  // want `DF2003 time.Until`
	t.Stop()
	tk.Stop()
	now := time.Now // want `DF2003 time.Now`
	_ = now
	return time.Since(start) // want `DF2003 time.Since`
}

// DF2004

func RandomWorkflow(ctx workflow.Context) (int, error) {
	n := rand.Intn(10)   // want `DF2004 rand.Intn in workflow RandomWorkflow: .*workflow.SideEffect`
	n += randv2.IntN(10) // want `DF2004 rand.IntN`
	b := make([]byte, 8)
	_, err := crand.Read(b) // want `DF2004 rand.Read`
	_ = crand.Reader        // want `DF2004 rand.Reader`
	return n, err
}

// DF2008

func ThreadWorkflow(ctx workflow.Context) error {
	runtime.LockOSThread() // want `DF2008 runtime.LockOSThread in workflow ThreadWorkflow: .*do thread-bound work in an activity`
	defer runtime.UnlockOSThread()
	return workflow.Sleep(ctx, time.Second)
}

// DF2005

func MapRangeWorkflow(ctx workflow.Context, prices map[string]float64) error {
	for item, price := range prices { // want `DF2005 range over a map that calls workflow.ExecuteActivity in workflow MapRangeWorkflow: Go randomises map order.*slices.Sorted\(maps.Keys\(m\)\)`
		if err := workflow.ExecuteActivity(ctx, Charge, item, price).Get(ctx, nil); err != nil {
			return err
		}
	}
	for item := range prices { // want `DF2005 range over a map that calls chargeOne → workflow.ExecuteActivity`
		chargeOne(ctx, item)
	}
	for k := range maps.Keys(prices) { // want `DF2005 range over maps.Keys that calls workflow.NewTimer`
		_ = workflow.NewTimer(ctx, time.Duration(len(k))*time.Second)
	}
	sig := workflow.GetSignalChannel(ctx, "price")
	for k := range prices { // want `DF2005 range over a map that calls workflow.Channel.Receive`
		var p float64
		sig.Receive(ctx, &p)
		prices[k] = p
	}
	for k := range prices { // want `DF2005 range over a map that calls workflow.Go`
		workflow.Go(ctx, func(ctx workflow.Context) { _ = k })
	}
	return nil
}

func chargeOne(ctx workflow.Context, item string) {
	workflow.ExecuteActivity(ctx, Charge, item, 1.0)
}

// DF2006

func IOWorkflow(ctx workflow.Context, db *sql.DB, f *os.File) error {
	fmt.Println("charging")            // want `DF2006 fmt.Println in workflow IOWorkflow: prints again every time the code is replayed; use workflow.GetLogger\(ctx\)`
	log.Printf("charging %d", 1)       // want `DF2006 log.Printf .*workflow.GetLogger`
	slog.Info("charging")              // want `DF2006 slog.Info`
	_ = os.Getenv("HOME")              // want `DF2006 os.Getenv in workflow IOWorkflow: does I/O .*do it in an activity`
	fmt.Fprintln(os.Stderr, "x")       // want `DF2006 os.Stderr`
	_, _ = f.Write([]byte("x"))        // want `DF2006 os.File.Write`
	_, _ = ioutil.ReadFile("/etc/x")   // want `DF2006 ioutil.ReadFile`
	_, _ = net.Dial("tcp", "x:1")      // want `DF2006 net.Dial`
	_, _ = http.Get("http://x")        // want `DF2006 http.Get`
	_, _ = http.DefaultClient.Get("x") // want `DF2006 http.DefaultClient`
	_, _ = db.Query("select 1")        // want `DF2006 sql.DB.Query`
	cmd := exec.Command("ls")          // want `DF2006 exec.Command`
	_ = cmd.Run()                      // want `DF2006 exec.Cmd.Run`
	_ = net.ParseIP("127.0.0.1")       // pure: no finding
	_ = os.IsNotExist(nil)             // pure: no finding
	return nil
}

// DF2007

var (
	counter  int
	cache    = map[string]int{}
	registry []string
	limits   struct{ max int }
)

func Count() { counter++ }

func Remember(k string) { cache[k] = len(k) }

func Register(name string) { registry = append(registry, name) }

func SetMax(n int) { limits.max = n }

func GlobalWorkflow(ctx workflow.Context, k string) int {
	counter++             // want `DF2007 package variable counter \(assigned at rules.go:\d+\) in workflow GlobalWorkflow: it is shared by every run`
	n := cache[k]         // want `DF2007 package variable cache`
	n += len(registry)    // want `DF2007 package variable registry`
	return n + limits.max // want `DF2007 package variable limits`
}

// Mutation through a pointer method or an address taken counts.

var (
	mu     sync.Mutex
	config struct{ region string }
)

func lock() { mu.Lock() }

func load(dst *struct{ region string }) {}

func Configure() { load(&config) }

func PointerGlobalWorkflow(ctx workflow.Context) string {
	mu.Unlock()          // want `DF2007 package variable mu`
	return config.region // want `DF2007 package variable config`
}

// Generic helpers are followed too.

func GenericWorkflow(ctx workflow.Context) int {
	return pick([]int{1, 2})
}

func pick[T any](xs []T) T { return xs[rand.Intn(len(xs))] } // want `DF2004 rand.Intn in pick \(called from workflow GenericWorkflow\)`

// Rules apply to the functions a workflow calls, transitively, and name the
// path.

func HelperWorkflow(ctx workflow.Context) int {
	return stamp()
}

func stamp() int { return deeper() + int(time.Now().Unix()) } // want `DF2003 time.Now in stamp \(called from workflow HelperWorkflow\)`

func deeper() int { return rand.Int() } // want `DF2004 rand.Int in deeper \(called from workflow HelperWorkflow via stamp\)`

// A method is a workflow when its first parameter is workflow.Context.

type Order struct{}

func (o *Order) Run(ctx workflow.Context) {
	go o.Run(ctx) // want `DF2001 go statement in workflow Order.Run`
}

// engine.Context, which workflow.Context aliases, marks a workflow too.

func EngineWorkflow(ctx engine.Context) {
	time.Sleep(time.Millisecond) // want `DF2003 time.Sleep in workflow EngineWorkflow`
}

// A function literal with a workflow.Context first is a workflow.

var Registered = func(ctx workflow.Context) {
	fmt.Print("x") // want `DF2006 fmt.Print in workflow func literal at rules.go:\d+`
}

// Charge is an activity: it is not checked.
func Charge(ctx any, item string, price float64) error { return nil }
