package chaos_test

// The 3-node cluster test: streams and buckets at R3 on three nats-server
// processes on loopback; runs of mixed shapes in flight; the history
// stream's leader SIGKILLed, twice (restarted in between, so the second
// kill hits the leader elected after the first). Zero runs lost: all
// complete with the right results and well-formed histories.
//
// It runs under the plain `go test` (it takes well under a minute; -short
// skips it): the replicated path is the production path and must not
// regress unnoticed.

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/durablefuture/durablefuture/internal/chaos"
	"github.com/durablefuture/durablefuture/internal/testsrv"
	"github.com/durablefuture/durablefuture/pkg/sdk/client"
	"github.com/durablefuture/durablefuture/pkg/sdk/worker"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func dialCluster(t *testing.T, urls []string) *client.Client { return dialClusterWith(t, urls, 0) }

// dialClusterWith dials with partitions n (0: the installation's).
func dialClusterWith(t *testing.T, urls []string, n int) *client.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, client.Options{URL: strings.Join(urls, ","), Replicas: 3, Partitions: n, ConnectTimeout: 20 * time.Second,
		NatsOptions: []nats.Option{nats.MaxReconnects(-1), nats.ReconnectWait(100 * time.Millisecond)}})
	testsrv.Must(t, err)
	t.Cleanup(c.Close)
	return c
}

// clusterWorkers runs two workers of the chaos workflows, each on its own
// connection (dial) to the whole cluster. Their attempts and their logs
// (debug and up) go to files kept with go test -artifacts.
func clusterWorkers(t *testing.T, dial func() *client.Client) (attemptsPath, logPath string) {
	attemptsPath = filepath.Join(t.ArtifactDir(), "attempts.log")
	al, err := chaos.OpenAttemptsLog(attemptsPath)
	testsrv.Must(t, err)
	t.Cleanup(func() { al.Close() })
	logPath = filepath.Join(t.ArtifactDir(), "workers.log")
	logf, err := os.Create(logPath)
	testsrv.Must(t, err)
	t.Cleanup(func() { logf.Close() })
	for i := range 2 {
		wc := dial()
		log := slog.New(slog.NewTextHandler(logf, &slog.HandlerOptions{Level: slog.LevelDebug})).With("worker", i+1)
		testsrv.RunWorker(t, wc, worker.Options{WorkflowTaskTimeout: 3 * time.Second, ActivityTaskTimeout: 5 * time.Second, Logger: log},
			func(w *worker.Worker) { testsrv.Must(t, chaos.Register(w, al)) })
	}
	return attemptsPath, logPath
}

// histSource is a history stream and the subject prefix of its runs.
type histSource struct{ stream, prefix string }

// checkCluster checks every planned run against the records of the
// history streams and the attempts the workers logged.
func checkCluster(t *testing.T, ctx context.Context, c *client.Client, all []*run, sources []histSource, attemptsPath string) (*problems, attemptStats) {
	p := &problems{}
	records := map[string][]storedRecord{}
	for _, src := range sources {
		recs, undecodable, err := readAllRecords(ctx, c.Store().JS, src.stream, src.prefix)
		testsrv.Must(t, err)
		if undecodable > 0 {
			p.add("", "undecodable record", "%d history records of %s do not decode", undecodable, src.stream)
		}
		for run, rs := range recs {
			records[run] = rs
		}
	}
	checkRuns(ctx, c, all, records, p)
	lines, _, err := readAttempts([]string{attemptsPath})
	testsrv.Must(t, err)
	st := analyzeAttempts(lines, records)
	if st.rerunAfter > 0 || st.unknown > 0 || st.unlogged > 0 {
		p.add("", "re-run after record", "attempts: %d after their outcome was recorded, %d of unknown activities, %d completions without a logged attempt",
			st.rerunAfter, st.unknown, st.unlogged)
		for _, ex := range st.examples {
			if !strings.HasPrefix(ex, "raced") {
				p.add("", "re-run after record", "%s", ex)
			}
		}
	}
	return p, st
}

// reportCluster logs the problems found (label: the test's log prefix),
// with what a failure needs to be read afterwards, and fails the test on
// any.
func reportCluster(t *testing.T, ctx context.Context, label string, c *client.Client, cl *testsrv.ProcessCluster, p *problems, logPath string) {
	for _, s := range p.summary() {
		t.Log(label + ": problem: " + s)
	}
	if len(p.list) > 0 {
		// Kept with go test -artifacts -outputdir DIR.
		for _, path := range writeHistories(ctx, c, t.ArtifactDir(), p.runs, 20) {
			t.Logf("%s: history of a failing run: %s", label, path)
		}
		for _, s := range logSummary([]string{logPath}) {
			t.Logf("%s: worker log: %s", label, s)
		}
		for _, n := range cl.Nodes {
			t.Logf("%s: %s log: %s", label, n.Name(), n.LogFile())
		}
	}
	p.report(t, 40)
}

// streamLeader returns the server name of stream's leader ("" while none).
func streamLeader(ctx context.Context, js jetstream.JetStream, stream string) (string, *jetstream.StreamInfo) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	st, err := js.Stream(ctx, stream)
	if err != nil {
		return "", nil
	}
	info, err := st.Info(ctx)
	if err != nil || info.Cluster == nil {
		return "", nil
	}
	return info.Cluster.Leader, info
}

// allCurrent returns "" when every stream and consumer has a leader and
// all its replicas are current, or the name of one that is not.
func allCurrent(ctx context.Context, js jetstream.JetStream) string {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	current := func(ci *jetstream.ClusterInfo, replicas int) bool {
		if ci == nil || ci.Leader == "" || len(ci.Replicas) != replicas-1 {
			return false
		}
		for _, p := range ci.Replicas {
			if !p.Current || p.Offline {
				return false
			}
		}
		return true
	}
	names := js.StreamNames(ctx)
	var streams []string
	for name := range names.Name() {
		streams = append(streams, name)
	}
	if names.Err() != nil || len(streams) == 0 {
		return "the stream list"
	}
	for _, name := range streams {
		st, err := js.Stream(ctx, name)
		if err != nil {
			return name
		}
		info, err := st.Info(ctx)
		if err != nil || !current(info.Cluster, info.Config.Replicas) {
			return name
		}
		cons := st.ListConsumers(ctx)
		for ci := range cons.Info() {
			// Ephemeral consumers (watchers, ordered readers) are R1.
			replicas := ci.Config.Replicas
			if replicas == 0 {
				replicas = info.Config.Replicas
			}
			if !current(ci.Cluster, replicas) {
				return name + " > " + ci.Name
			}
		}
		if cons.Err() != nil {
			return name + " consumers"
		}
	}
	return ""
}

func TestClusterLeaderKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-node cluster of nats-server processes")
	}
	cl := testsrv.StartClusterProcesses(t, 3)
	c := dialCluster(t, cl.URLs())
	store := c.Store()
	if store.Config.Replicas != 3 {
		t.Fatalf("replicas %d", store.Config.Replicas)
	}
	ctx := testsrv.Context(t, 3*time.Minute)
	histStream := strings.ToUpper(store.Config.Prefix) + "_HISTORY"
	// Streams and buckets at R3.
	for name := range store.JS.StreamNames(ctx).Name() {
		st, err := store.JS.Stream(ctx, name)
		testsrv.Must(t, err)
		if r := st.CachedInfo().Config.Replicas; r != 3 {
			t.Fatalf("stream %s has %d replicas, want 3", name, r)
		}
	}

	attemptsPath, logPath := clusterWorkers(t, func() *client.Client { return dialCluster(t, cl.URLs()) })

	top, all := plan("cluster", 60, time.Now().UnixNano()%1000)
	d := &driver{c: c, retryAfter: 100 * time.Millisecond}
	// Every run must close within this bound (it takes 20-40 s).
	driveCtx, cancelDrive := context.WithTimeout(ctx, 100*time.Second)
	defer cancelDrive()
	var drivers sync.WaitGroup
	t0 := time.Now()
	// Two waves of runs, one per kill: how long a run takes depends on the
	// machine, so the second kill does not rely on the first wave still
	// being in flight after the first node's recovery.
	waves := [][]*run{top[:len(top)/2], top[len(top)/2:]}
	startWave := func(runs []*run, over time.Duration) {
		start := time.Now()
		for i, r := range runs {
			at := start.Add(time.Duration(i) * over / time.Duration(len(runs)))
			drivers.Add(1)
			go func() {
				defer drivers.Done()
				time.Sleep(time.Until(at)) // the workload's schedule
				d.drive(driveCtx, r)
			}()
		}
	}
	openRuns := func(runs []*run) (started, open int) {
		for _, r := range runs {
			r.mu.Lock()
			if r.runID != "" {
				started++
				if r.info == nil {
					open++
				}
			}
			r.mu.Unlock()
		}
		return started, open
	}

	// Kill the history stream's leader twice, mid-run: each wave of runs
	// is started over 5 s, and the leader killed once half of it is: the
	// rest starts while the stream has no leader.
	var killed []string
	for round := 1; round <= 2; round++ {
		wave := waves[round-1]
		startWave(wave, 5*time.Second)
		testsrv.WaitFor(t, ctx, "half of the wave started", func() bool {
			started, _ := openRuns(wave)
			return started >= len(wave)/2
		})
		var leader string
		testsrv.WaitFor(t, ctx, "a history stream leader", func() bool {
			leader, _ = streamLeader(ctx, store.JS, histStream)
			return leader != ""
		})
		node := cl.Node(leader)
		if node == nil {
			t.Fatalf("leader %q is not a node of the cluster", leader)
		}
		_, open := openRuns(top)
		if open == 0 {
			t.Fatalf("round %d: no run in flight to kill the leader under", round)
		}
		t.Logf("cluster: %5.1fs round %d: SIGKILL of history leader %s (pid %d) with %d of %d runs open",
			time.Since(t0).Seconds(), round, leader, node.Pid(), open, len(top))
		node.Kill()
		killed = append(killed, leader)
		var next string
		testsrv.WaitFor(t, ctx, "a new history stream leader", func() bool {
			next, _ = streamLeader(ctx, store.JS, histStream)
			return next != "" && next != leader
		})
		t.Logf("cluster: %5.1fs round %d: new leader %s", time.Since(t0).Seconds(), round, next)
		testsrv.Must(t, node.Start())
		// As an operator's rolling restart does (nats-server's /healthz):
		// the next node goes down only once every stream and consumer
		// (tasks, runs, index, not only the history) has a leader and two
		// current replicas again. Killing a second node while a replica is
		// still catching up can lose what the first kill cut from its
		// unsynced store: that is JetStream's contract, not the engine's.
		testsrv.WaitFor(t, ctx, "every replica of every stream and consumer current", func() bool {
			return allCurrent(ctx, store.JS) == ""
		})
		t.Logf("cluster: %5.1fs round %d: %s restarted and every stream and consumer current", time.Since(t0).Seconds(), round, leader)
	}
	if killed[0] == killed[1] {
		t.Logf("cluster: the same node (%s) led the history stream both times", killed[0])
	}

	drivers.Wait()
	_, open := openRuns(top)
	t.Logf("cluster: %5.1fs all waits returned (%d open)", time.Since(t0).Seconds(), open)

	ctx = testsrv.Context(t, 2*time.Minute) // for the checks
	p, st := checkCluster(t, ctx, c, all, []histSource{{histStream, store.Config.Prefix + ".hist"}}, attemptsPath)
	t.Logf("cluster: %d runs (%d top-level), leaders killed %v, %d attempts (%d re-runs before record, %d racing it, %d after), %d runs with a problem, %v",
		len(all), len(top), killed, st.total, st.rerunBefore, st.raced, st.rerunAfter, len(p.runs), time.Since(t0).Round(time.Second))
	reportCluster(t, ctx, "cluster", c, cl, p, logPath)
}

// A 3-node cluster with the runs spread over 3 partitions at R3 (issue 12):
// the history and task streams' leaders are spread over the nodes, every
// run completes as planned while the node leading one history partition is
// killed mid-run and restarted, and no activity runs again after its
// outcome was recorded.
func TestPartitionedClusterLeaderKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-node cluster of nats-server processes")
	}
	const partitions = 3
	cl := testsrv.StartClusterProcesses(t, 3)
	c := dialClusterWith(t, cl.URLs(), partitions)
	store := c.Store()
	ctx := testsrv.Context(t, 3*time.Minute)
	prefix := strings.ToUpper(store.Config.Prefix)
	histStream := func(p int) string {
		if p == 0 {
			return prefix + "_HISTORY"
		}
		return fmt.Sprintf("%s_HISTORY_%d", prefix, p)
	}
	// The leaders are spread: each node leads one history stream.
	testsrv.WaitFor(t, ctx, "the history streams' leaders on 3 nodes", func() bool {
		hist, tasks, err := store.StreamLeaders(ctx)
		if err != nil {
			return false
		}
		distinct := map[string]bool{}
		for _, l := range hist {
			distinct[l] = l != ""
		}
		t.Logf("partitions: history leaders %v, task leaders %v", hist, tasks)
		return len(distinct) == partitions && !distinct[""]
	})

	attemptsPath, logPath := clusterWorkers(t, func() *client.Client {
		wc := dialClusterWith(t, cl.URLs(), 0) // the installation's number of partitions
		if n := wc.Store().Partitions(); n != partitions {
			t.Fatalf("a worker sees %d partitions, want %d", n, partitions)
		}
		return wc
	})

	top, all := plan("parts", 30, time.Now().UnixNano()%1000)
	d := &driver{c: c, retryAfter: 100 * time.Millisecond}
	driveCtx, cancelDrive := context.WithTimeout(ctx, 100*time.Second)
	defer cancelDrive()
	var drivers sync.WaitGroup
	started := func() (n int) {
		for _, r := range top {
			if r.RunID() != "" {
				n++
			}
		}
		return n
	}
	for i, r := range top {
		at := time.Now().Add(time.Duration(i) * 4 * time.Second / time.Duration(len(top)))
		drivers.Add(1)
		go func() {
			defer drivers.Done()
			time.Sleep(time.Until(at)) // the workload's schedule
			d.drive(driveCtx, r)
		}()
	}
	t0 := time.Now()
	testsrv.WaitFor(t, ctx, "half of the runs started", func() bool { return started() >= len(top)/2 })
	victim := histStream(1)
	var leader string
	testsrv.WaitFor(t, ctx, "a leader of "+victim, func() bool {
		leader, _ = streamLeader(ctx, store.JS, victim)
		return leader != ""
	})
	node := cl.Node(leader)
	if node == nil {
		t.Fatalf("leader %q is not a node of the cluster", leader)
	}
	t.Logf("partitions: %5.1fs SIGKILL of %s, leader of %s", time.Since(t0).Seconds(), leader, victim)
	node.Kill()
	testsrv.WaitFor(t, ctx, "a new leader of "+victim, func() bool {
		next, _ := streamLeader(ctx, store.JS, victim)
		return next != "" && next != leader
	})
	testsrv.Must(t, node.Start())
	testsrv.WaitFor(t, ctx, "every replica of every stream and consumer current", func() bool {
		return allCurrent(ctx, store.JS) == ""
	})
	t.Logf("partitions: %5.1fs %s restarted and every stream and consumer current", time.Since(t0).Seconds(), leader)
	drivers.Wait()

	ctx = testsrv.Context(t, 2*time.Minute) // for the checks
	var sources []histSource
	for part := range partitions {
		sources = append(sources, histSource{histStream(part), fmt.Sprintf("%s.hist.%d", store.Config.Prefix, part)})
	}
	p, st := checkCluster(t, ctx, c, all, sources, attemptsPath)
	t.Logf("partitions: %d runs (%d top-level) over %d partitions, %d attempts (%d re-runs before record, %d after), %d runs with a problem, %v",
		len(all), len(top), partitions, st.total, st.rerunBefore, st.rerunAfter, len(p.runs), time.Since(t0).Round(time.Second))
	reportCluster(t, ctx, "partitions", c, cl, p, logPath)
}
