package engine

import (
	"context"
	"errors"
	"fmt"

	"github.com/durablefuture/durablefuture/pkg/history"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Opening a Store: Open (store.go) creates the streams and buckets of an
// installation when they are missing, as workers and writing clients need;
// OpenExisting binds to them and creates nothing, as read-only tools need
// (a `describe` pointed at the wrong server must not install DurableFuture
// there).

// ErrNoInstallation is wrapped by the error of OpenExisting when the server
// has no installation with the prefix asked for.
var ErrNoInstallation = errors.New("no DurableFuture installation")

// ErrJetStreamNotEnabled is wrapped by the error of Open and OpenExisting
// when the server, or the account, has no JetStream.
var ErrJetStreamNotEnabled = errors.New("JetStream is not enabled")

// NoInstallationError says which resource of an installation is missing.
type NoInstallationError struct {
	Prefix  string
	Missing string // "stream DF_HISTORY", "bucket df_runs", ...
}

func (e *NoInstallationError) Error() string {
	return fmt.Sprintf("no DurableFuture installation with prefix %q (no %s)", e.Prefix, e.Missing)
}

// Is makes errors.Is(err, ErrNoInstallation) hold.
func (e *NoInstallationError) Is(target error) bool { return target == ErrNoInstallation }

// OpenExisting connects a Store to the streams and buckets of an existing
// installation without creating or updating any. It returns a
// *NoInstallationError when one of them is missing.
func OpenExisting(ctx context.Context, nc *nats.Conn, cfg Config) (*Store, error) {
	s, err := newStore(nc, cfg)
	if err != nil {
		return nil, err
	}
	if err := s.bindTopology(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

func newStore(nc *nats.Conn, cfg Config) (*Store, error) {
	cfg, err := cfg.normalize()
	if err != nil {
		return nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	js = history.FastPublish(js, nc)
	s := &Store{NC: nc, JS: js, Config: cfg, consumers: map[string]jetstream.Consumer{}}
	s.Log = &history.Log{JS: js, Stream: s.historyStream(), SubjectPrefix: cfg.Prefix + ".hist"}
	return s, nil
}

// bindTopology looks up what ensureTopology creates.
func (s *Store) bindTopology(ctx context.Context) error {
	bindErr := func(what string, err error) error {
		if errors.Is(err, jetstream.ErrStreamNotFound) || errors.Is(err, jetstream.ErrBucketNotFound) {
			return &NoInstallationError{Prefix: s.Config.Prefix, Missing: what}
		}
		return fmt.Errorf("open %s: %w", what, jetStreamError(err))
	}
	hist, err := s.JS.Stream(ctx, s.historyStream())
	if err != nil {
		return bindErr("stream "+s.historyStream(), err)
	}
	s.Log.LeaderCheck = hist.CachedInfo().Config.Replicas > 1
	n, _, err := s.installedPartitions(ctx)
	if err != nil {
		return err
	}
	s.setPartitions(n)
	for p := 1; p < n; p++ {
		if _, err := s.JS.Stream(ctx, s.historyStreamOf(p)); err != nil {
			return bindErr("stream "+s.historyStreamOf(p), err)
		}
	}
	s.taskStreams = make([]jetstream.Stream, n)
	for p := range n {
		if s.taskStreams[p], err = s.JS.Stream(ctx, s.taskStreamOf(p)); err != nil {
			return bindErr("stream "+s.taskStreamOf(p), err)
		}
	}
	if s.runs, err = s.JS.KeyValue(ctx, s.runsBucket()); err != nil {
		return bindErr("bucket "+s.runsBucket(), err)
	}
	// The runs index stream is bound when first used (index.go): an
	// installation made before it existed has none until a worker opens it.
	s.runs = indexedRuns{KeyValue: s.runs, s: s}
	if s.heartbeats, err = s.JS.KeyValue(ctx, s.heartbeatsBucket()); err != nil {
		return bindErr("bucket "+s.heartbeatsBucket(), err)
	}
	return nil
}

// jetStreamError wraps ErrJetStreamNotEnabled around the errors that mean
// there is no JetStream: the API's answer, or no responder at all on the
// API subject (a server without JetStream does not listen on it).
func jetStreamError(err error) error {
	if errors.Is(err, jetstream.ErrJetStreamNotEnabled) || errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount) ||
		errors.Is(err, nats.ErrNoResponders) {
		return fmt.Errorf("%w on this server or account (start nats-server with -js, or use `dfctl dev`): %w", ErrJetStreamNotEnabled, err)
	}
	return err
}
