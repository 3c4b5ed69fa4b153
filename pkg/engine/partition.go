package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Partitions (Config.Partitions). With N > 1 an installation has N history
// streams and N task streams; the runs of a workflow ID live in partition
// history.Partition(id, N): its history in <PREFIX>_HISTORY[_k] under
// <prefix>.hist.<k>.<id>.<run>, its workflow and activity tasks and its
// timers in <PREFIX>_TASKS[_k] under <prefix>.task.<k>.*. Partition 0's
// streams keep the names of an installation without partitions, and the
// first history stream records N in its metadata, so every client and
// worker finds the same placement. The runs bucket, the runs index and the
// heartbeats bucket are not partitioned (one small write per state change).

// PartitionsError says that an installation was opened with a number of
// partitions other than its own.
type PartitionsError struct {
	Prefix     string
	Have, Want int
}

// Unwrap makes errors.Is(err, ErrInvalidArgument) hold: the number asked
// for is wrong for this installation.
func (e *PartitionsError) Unwrap() error { return ErrInvalidArgument }

func (e *PartitionsError) Error() string {
	return fmt.Sprintf("the installation with prefix %q has %d partition(s), not %d: runs are placed by a hash of their workflow ID over the partitions, so their number is fixed when the installation is created (leave the partitions unset to use the installation's, or use another prefix)",
		e.Prefix, e.Have, e.Want)
}

// installedPartitions reads the number of partitions of the installation
// from its first history stream (no metadata: 1). fresh says that the
// stream does not exist yet: the number is the one asked for (default 1).
func (s *Store) installedPartitions(ctx context.Context) (n int, fresh bool, err error) {
	st, err := s.JS.Stream(ctx, s.historyStream())
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return max(1, s.Config.Partitions), true, nil
	}
	if err != nil {
		return 0, false, err
	}
	have := 1
	if v, ok := st.CachedInfo().Config.Metadata[partitionsMeta]; ok {
		have, err = strconv.Atoi(v)
		if err != nil || have < 1 || have > MaxPartitions {
			return 0, false, fmt.Errorf("stream %s: metadata %s=%q is not a number of partitions (1 to %d)", s.historyStream(), partitionsMeta, v, MaxPartitions)
		}
	}
	if s.Config.Partitions > 0 && s.Config.Partitions != have {
		return 0, false, &PartitionsError{Prefix: s.Config.Prefix, Have: have, Want: s.Config.Partitions}
	}
	return have, false, nil
}

// setPartitions makes the store, and its history log, use n partitions.
func (s *Store) setPartitions(n int) {
	s.Config.Partitions = n
	s.Log.Partitions = n
	s.Log.Streams = nil
	if n > 1 {
		for p := range n {
			s.Log.Streams = append(s.Log.Streams, s.historyStreamOf(p))
		}
	}
}

// Partitions is the installation's number of partitions.
func (s *Store) Partitions() int { return s.partitions() }

// PartitionOf is the partition holding the runs of a workflow ID.
func (s *Store) PartitionOf(workflowID string) int { return s.partOf(workflowID) }

// StreamLeaders names, per partition, the servers leading its history and
// task streams (empty on a single server).
func (s *Store) StreamLeaders(ctx context.Context) (history, tasks []string, err error) {
	for p := range s.partitions() {
		for _, name := range []string{s.historyStreamOf(p), s.taskStreamOf(p)} {
			st, err := s.JS.Stream(ctx, name)
			if err != nil {
				return nil, nil, fmt.Errorf("stream %s: %w", name, err)
			}
			info, err := st.Info(ctx)
			if err != nil {
				return nil, nil, fmt.Errorf("stream %s: %w", name, err)
			}
			leader := ""
			if info.Cluster != nil {
				leader = info.Cluster.Leader
			}
			if name == s.historyStreamOf(p) {
				history = append(history, leader)
			} else {
				tasks = append(tasks, leader)
			}
		}
	}
	return history, tasks, nil
}

// spreadLeaders asks, once, as the partitioned streams are created on a
// cluster, that their leaders be spread over the nodes holding them: the
// history stream of partition k led by the k-th of its peers (by name), its
// task stream by the next one, so that no node leads every stream (a
// leader takes every write of its stream). JetStream elects leaders at
// random otherwise. Best effort: a refused or unanswered request is ignored
// (it only costs the placement); leaders move again after failures.
func (s *Store) spreadLeaders(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for p := range s.partitions() {
		for i, name := range []string{s.historyStreamOf(p), s.taskStreamOf(p)} {
			st, err := s.JS.Stream(ctx, name)
			if err != nil {
				continue
			}
			info, err := st.Info(ctx)
			if err != nil || info.Cluster == nil || info.Cluster.Leader == "" || len(info.Cluster.Replicas) == 0 {
				continue // a single server, or no leader to move yet
			}
			peers := []string{info.Cluster.Leader}
			for _, r := range info.Cluster.Replicas {
				peers = append(peers, r.Name)
			}
			slices.Sort(peers)
			want := peers[(p+i)%len(peers)]
			if want == info.Cluster.Leader {
				continue
			}
			req, _ := json.Marshal(map[string]any{"placement": map[string]string{"preferred": want}})
			_, _ = s.NC.RequestWithContext(ctx, s.apiPrefix()+"STREAM.LEADER.STEPDOWN."+name, req)
		}
	}
}

// apiPrefix is the JetStream API prefix of the store's context.
func (s *Store) apiPrefix() string {
	if p := s.JS.Options().APIPrefix; p != "" {
		return strings.TrimSuffix(p, ".") + "."
	}
	return "$JS.API."
}
