//go:build chaos

package chaos_test

// The chaos suite: a real nats-server process (stock settings) and three
// chaos worker processes; 500+ runs of mixed shapes; a random worker
// SIGKILLed (and restarted) every 500 ms; the server SIGSTOPped for 5-10 s
// twice and SIGKILLed and restarted on the same store twice. Once the
// faults stop, every run must complete with the right result, every history
// must be well-formed, and no activity attempt may start after its outcome
// was recorded.
//
//	go test -tags chaos -count=1 -v -run TestChaos ./internal/chaos/
//	scripts/chaos.sh
//
// Environment: CHAOS_RUNS (top-level runs, default 540), CHAOS_SEED,
// CHAOS_FAULT_SECONDS (length of the fault phase, default 60),
// CHAOS_RECOVERY_SECONDS (bound on the wait after it, default 120),
// CHAOS_ARTIFACTS (a directory that keeps the store, the server and worker
// logs, the attempts logs and the histories of failing runs; default the
// test's artifact directory, kept with -artifacts).

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/durablefuture/durablefuture/internal/testsrv"
	"github.com/durablefuture/durablefuture/pkg/engine"
	"github.com/durablefuture/durablefuture/pkg/sdk/client"
	"github.com/nats-io/nats.go"
)

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func TestChaos(t *testing.T) {
	nRuns := envInt("CHAOS_RUNS", 540)
	faultFor := time.Duration(envInt("CHAOS_FAULT_SECONDS", 60)) * time.Second
	recoverFor := time.Duration(envInt("CHAOS_RECOVERY_SECONDS", 120)) * time.Second
	seed := int64(envInt("CHAOS_SEED", int(time.Now().UnixNano()%1_000_000)))
	rng := rand.New(rand.NewPCG(uint64(seed), 0x5eed))
	dir := os.Getenv("CHAOS_ARTIFACTS")
	if dir == "" {
		dir = t.ArtifactDir() // kept with go test -artifacts -outputdir DIR
	}
	testsrv.Must(t, os.MkdirAll(dir, 0o755))
	t.Logf("chaos: seed %d, %d top-level runs, faults for %v, artifacts in %s", seed, nRuns, faultFor, dir)

	srv := testsrv.StartServerProcess(t, testsrv.ServerOptions{
		Name: "df-chaos", StoreDir: filepath.Join(dir, "store"), LogFile: filepath.Join(dir, "nats-server.log"),
	})
	t.Logf("chaos: nats-server pid %d at %s, store %s", srv.Pid(), srv.URL(), srv.StoreDir())
	bin := testsrv.BuildBinary(t, "github.com/durablefuture/durablefuture/internal/chaos/worker")

	cctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	c, err := client.Dial(cctx, client.Options{URL: srv.URL(), NatsOptions: []nats.Option{
		nats.MaxReconnects(-1), nats.ReconnectWait(250 * time.Millisecond), nats.Name("chaos-test"),
	}})
	cancel()
	testsrv.Must(t, err)
	t.Cleanup(c.Close)

	ws := &workerSet{bin: bin, url: srv.URL(), dir: dir}
	for i := range 3 {
		ws.slots = append(ws.slots, &workerSlot{n: i + 1})
	}
	for _, s := range ws.slots {
		testsrv.Must(t, ws.start(s))
	}
	t.Cleanup(ws.stopAll)

	top, all := plan("chaos", nRuns, seed)
	d := &driver{c: c, retryAfter: 250 * time.Millisecond}
	ctx, cancelAll := context.WithTimeout(context.Background(), faultFor+recoverFor)
	defer cancelAll()

	// The workload: runs start over the first nine tenths of the fault
	// phase (so that runs are in flight when the faults stop), each driven (started, signalled, awaited) by its goroutine.
	t0 := time.Now()
	var drivers sync.WaitGroup
	for i, r := range top {
		at := t0.Add(time.Duration(i) * faultFor * 9 / 10 / time.Duration(len(top)))
		drivers.Add(1)
		go func() {
			defer drivers.Done()
			select {
			case <-time.After(time.Until(at)):
			case <-ctx.Done():
				return
			}
			d.drive(ctx, r)
		}()
	}

	// The faults.
	var stalls, restarts atomic.Int64
	faultErrs := make(chan error, 8)
	var faults sync.WaitGroup
	faults.Add(2)
	go func() { // a random worker SIGKILLed (and restarted) every 500 ms
		defer faults.Done()
		tick := time.NewTicker(500 * time.Millisecond)
		defer tick.Stop()
		for time.Since(t0) < faultFor {
			<-tick.C
			ws.kill(ws.slots[rng.IntN(len(ws.slots))])
		}
	}()
	schedule := []struct {
		at    float64 // fraction of the fault phase
		stall bool
	}{{0.13, true}, {0.40, false}, {0.55, true}, {0.80, false}}
	stallFor := []time.Duration{5*time.Second + time.Duration(rng.IntN(5000))*time.Millisecond, 5*time.Second + time.Duration(rng.IntN(5000))*time.Millisecond}
	go func() { // the server: stalled twice, restarted twice
		defer faults.Done()
		for _, f := range schedule {
			time.Sleep(time.Until(t0.Add(time.Duration(f.at * float64(faultFor))))) // the fault schedule
			if f.stall {
				dur := stallFor[stalls.Load()]
				t.Logf("chaos: %6.1fs server SIGSTOP for %v", time.Since(t0).Seconds(), dur)
				if err := srv.Freeze(); err != nil {
					faultErrs <- err
					return
				}
				time.Sleep(dur) // the fault schedule
				if err := srv.Thaw(); err != nil {
					faultErrs <- err
					return
				}
				stalls.Add(1)
				t.Logf("chaos: %6.1fs server SIGCONT", time.Since(t0).Seconds())
				continue
			}
			t.Logf("chaos: %6.1fs server SIGKILL", time.Since(t0).Seconds())
			if err := srv.Restart(time.Second); err != nil {
				faultErrs <- err
				return
			}
			restarts.Add(1)
			t.Logf("chaos: %6.1fs server restarted on the same store (pid %d)", time.Since(t0).Seconds(), srv.Pid())
		}
	}()
	faults.Wait()
	close(faultErrs)
	for err := range faultErrs {
		t.Fatalf("fault schedule: %v", err)
	}
	faultsEnd := time.Now()
	t.Logf("chaos: %6.1fs faults stopped: %d worker kills, %d unexpected worker exits, %d server stalls, %d server restarts",
		faultsEnd.Sub(t0).Seconds(), ws.kills.Load(), ws.unexpected.Load(), stalls.Load(), restarts.Load())

	// Every run must close by itself now (bounded by ctx).
	drivers.Wait()
	waitEnd := time.Now()
	open := 0
	for _, r := range top {
		r.mu.Lock()
		if r.info == nil {
			open++
		}
		r.mu.Unlock()
	}
	t.Logf("chaos: %6.1fs waits done: %d of %d top-level runs not seen closed", waitEnd.Sub(t0).Seconds(), open, len(top))

	// Let the workers finish what JetStream still holds (late redeliveries
	// are where activities re-run after their outcome), then stop them.
	left := drainTasks(t, c, 30*time.Second)
	ws.stopAll()

	// The checks.
	chk := testsrv.Context(t, 2*time.Minute)
	p := &problems{}
	records, undecodable, err := readAllRecords(chk, c.Store().JS, strings.ToUpper(c.Store().Config.Prefix)+"_HISTORY", c.Store().Config.Prefix+".hist")
	testsrv.Must(t, err)
	if undecodable > 0 {
		p.add("", "undecodable record", "%d history records do not decode", undecodable)
	}
	checkRuns(chk, c, all, records, p)
	if running, err := c.ListWorkflows(chk, client.ListFilter{Status: engine.StatusRunning}); err != nil {
		p.add("", "index", "list running: %v", err)
	} else {
		for _, ri := range running {
			p.add(ri.WorkflowID, "still running in the index", "%s (run %s) is still running in the index (blocked %q, last event %d)", ri.WorkflowID, ri.RunID, ri.Blocked, ri.LastEventSeq)
		}
	}
	var attemptFiles []string
	for _, s := range ws.slots {
		attemptFiles = append(attemptFiles, ws.attemptsPath(s))
	}
	lines, malformed, err := readAttempts(attemptFiles)
	testsrv.Must(t, err)
	st := analyzeAttempts(lines, records)
	st.malformed = malformed
	if st.rerunAfter > 0 {
		p.add("", "re-run after record", "%d activity attempts started after their outcome was recorded (%d after the run closed)", st.rerunAfter, st.afterClose)
	}
	if st.unknown > 0 {
		p.add("", "attempts", "%d activity attempts match no scheduled activity", st.unknown)
	}
	if st.unlogged > 0 {
		p.add("", "attempts", "%d completed activities were completed by an attempt no log shows", st.unlogged)
	}
	if left != "" {
		p.add("", "tasks left", "tasks left after the runs closed: %s", left)
	}

	// The counts.
	var lastClose time.Time
	closed := 0
	for _, r := range all {
		r.mu.Lock()
		if r.final != nil && r.final.CloseTime != nil {
			closed++
			if r.final.CloseTime.After(lastClose) {
				lastClose = *r.final.CloseTime
			}
		}
		r.mu.Unlock()
	}
	recovery := "not recovered"
	if closed == len(all) {
		recovery = max(lastClose.Sub(faultsEnd), 0).Round(time.Millisecond).String()
	}
	counts := []string{
		fmt.Sprintf("runs                     %d (%d top-level, %d children), %d closed", len(all), len(top), len(all)-len(top), closed),
		fmt.Sprintf("runs with a problem      %d", len(p.runs)),
		fmt.Sprintf("worker kills             %d (SIGKILL every 500 ms; %d unexpected exits)", ws.kills.Load(), ws.unexpected.Load()),
		fmt.Sprintf("server stalls            %d (SIGSTOP %v, %v)", stalls.Load(), stallFor[0].Round(time.Millisecond), stallFor[1].Round(time.Millisecond)),
		fmt.Sprintf("server restarts          %d (SIGKILL, 1 s down, same store and port)", restarts.Load()),
		fmt.Sprintf("client retries           %d starts, %d signals, %d waits", d.startRetries.Load(), d.signalRetries.Load(), d.waitRetries.Load()),
		fmt.Sprintf("activity attempts        %d (%d reported in histories)", st.total, st.reported),
		fmt.Sprintf("re-runs before record    %d (+%d started before the record, body after it)", st.rerunBefore, st.raced),
		fmt.Sprintf("re-runs after record     %d (must be 0; %d after the run closed)", st.rerunAfter, st.afterClose),
		fmt.Sprintf("recovery after faults    %s (last close after the faults stopped)", recovery),
		fmt.Sprintf("wall time                %v", time.Since(t0).Round(time.Second)),
	}
	for _, s := range counts {
		t.Log("chaos: " + s)
	}
	for _, s := range p.summary() {
		t.Log("chaos: problem: " + s)
	}
	for _, ex := range st.examples {
		t.Log("chaos: " + ex)
	}
	if len(p.list) > 0 {
		for _, path := range writeHistories(chk, c, dir, p.runs, 30) {
			t.Logf("chaos: history of a failing run: %s", path)
		}
		var logs []string
		for _, s := range ws.slots {
			logs = append(logs, ws.logPath(s))
		}
		for _, s := range logSummary(logs) {
			t.Log("chaos: worker log: " + s)
		}
		t.Logf("chaos: artifacts (store, logs, attempts) in %s", dir)
		p.report(t, 60)
	}
}

// drainTasks waits until no consumer of the task stream has a task pending
// or unacknowledged (or until d), and says what is left.
func drainTasks(t *testing.T, c *client.Client, d time.Duration) string {
	ctx := testsrv.Context(t, d)
	var left string
	for {
		left = ""
		st, err := c.Store().JS.Stream(ctx, strings.ToUpper(c.Store().Config.Prefix)+"_TASKS")
		if err == nil {
			for ci := range st.ListConsumers(ctx).Info() {
				if n := ci.NumPending + uint64(ci.NumAckPending); n > 0 {
					left += fmt.Sprintf("%s: %d pending, %d unacknowledged; ", ci.Name, ci.NumPending, ci.NumAckPending)
				}
			}
		} else {
			left = err.Error()
		}
		if left == "" {
			return ""
		}
		select {
		case <-ctx.Done():
			return left
		case <-time.After(100 * time.Millisecond): // polling the consumers: there is no event to wait on
		}
	}
}

// workerSet supervises the chaos worker processes: a slot whose process
// exits (killed or not) gets a new one until stopAll.
type workerSet struct {
	bin, url, dir string
	slots         []*workerSlot
	stopping      atomic.Bool
	kills         atomic.Int64
	unexpected    atomic.Int64
	wg            sync.WaitGroup
}

type workerSlot struct {
	n      int
	mu     sync.Mutex
	cmd    *exec.Cmd
	killed bool
	exited chan struct{}
}

func (ws *workerSet) attemptsPath(s *workerSlot) string {
	return filepath.Join(ws.dir, fmt.Sprintf("attempts-w%d.log", s.n))
}

func (ws *workerSet) logPath(s *workerSlot) string {
	return filepath.Join(ws.dir, fmt.Sprintf("worker-w%d.log", s.n))
}

func (ws *workerSet) start(s *workerSlot) error {
	logf, err := os.OpenFile(ws.logPath(s), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(ws.bin, "-server", ws.url, "-attempts", ws.attemptsPath(s), "-identity", fmt.Sprintf("w%d", s.n))
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return err
	}
	fmt.Fprintf(logf, "=== %s: worker w%d started, pid %d\n", time.Now().Format(time.RFC3339Nano), s.n, cmd.Process.Pid)
	exited := make(chan struct{})
	s.mu.Lock()
	s.cmd, s.killed, s.exited = cmd, false, exited
	s.mu.Unlock()
	ws.wg.Add(1)
	go func() {
		defer ws.wg.Done()
		err := cmd.Wait()
		fmt.Fprintf(logf, "=== %s: worker w%d pid %d exited: %v\n", time.Now().Format(time.RFC3339Nano), s.n, cmd.Process.Pid, err)
		logf.Close()
		s.mu.Lock()
		killed := s.killed
		s.mu.Unlock()
		close(exited)
		if ws.stopping.Load() {
			return
		}
		if !killed {
			ws.unexpected.Add(1)
		}
		for ws.start(s) != nil && !ws.stopping.Load() {
			time.Sleep(100 * time.Millisecond) // could not fork: try again
		}
	}()
	return nil
}

// kill SIGKILLs the slot's process; its supervisor starts a new one.
func (ws *workerSet) kill(s *workerSlot) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil || s.killed {
		return
	}
	s.killed = true
	if s.cmd.Process.Signal(syscall.SIGKILL) == nil {
		ws.kills.Add(1)
	}
}

func (ws *workerSet) stopAll() {
	if ws.stopping.Swap(true) {
		ws.wg.Wait()
		return
	}
	for _, s := range ws.slots {
		s.mu.Lock()
		if s.cmd != nil {
			s.killed = true
			_ = s.cmd.Process.Signal(syscall.SIGKILL)
		}
		s.mu.Unlock()
	}
	ws.wg.Wait()
}
