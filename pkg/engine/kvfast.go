package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/durablefuture/durablefuture/pkg/history"
)

// The hot writes of the runs and heartbeats buckets (a run's reservation
// and close, an activity attempt's claim) are published here, through the
// Store's FastPublish, rather than by nats.go's KeyValue, whose publish
// with options decodes each acknowledgement by reflection (a twentieth of
// a worker's CPU in `dfctl bench --parallel 1000`). The message is the one
// nats.go's Create and Update send; a refused create reads the key, as
// nats.go's Create does, and returns its error for a key that is there
// (anything else, a deleted key, is handed to nats.go's Create, which
// writes over it). A JetStream with
// an API prefix or a domain, or a key nats.go would refuse, goes to
// nats.go.

// kvDirect says whether bucket writes can be published here.
func (s *Store) kvDirect(key string) bool {
	return s.plainJSAPI() && kvKeyValid(key)
}

// plainJSAPI: the JetStream API is on its default subjects ($JS.API.…, no
// prefix or domain), the ones this file writes requests to.
func (s *Store) plainJSAPI() bool {
	o := s.JS.Options()
	return o.APIPrefix == "" && o.Domain == ""
}

// kvKeyValid is nats.go's rule for a key: [-/_=.a-zA-Z0-9]+, not starting
// or ending with a dot.
func kvKeyValid(key string) bool {
	if key == "" || key[0] == '.' || key[len(key)-1] == '.' {
		return false
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '/' || c == '_' || c == '=' || c == '.') {
			return false
		}
	}
	return true
}

// kvPublish writes value to key of the bucket if the key's last revision
// is rev (0: the key has no message), with a per-message TTL if ttl > 0.
func (s *Store) kvPublish(ctx context.Context, bucket, key string, value []byte, rev uint64, ttl time.Duration) (uint64, error) {
	m := &nats.Msg{Subject: "$KV." + bucket + "." + key, Data: value, Header: nats.Header{
		jetstream.ExpectedLastSubjSeqHeader: []string{strconv.FormatUint(rev, 10)},
	}}
	if ttl > 0 {
		m.Header.Set(jetstream.MsgTTLHeader, ttl.String())
	}
	ack, err := s.JS.PublishMsg(ctx, m)
	if err != nil {
		return 0, err
	}
	return ack.Sequence, nil
}

// kvCreate is kv.Create(ctx, key, value) with a TTL of ttl (0: none).
func (s *Store) kvCreate(ctx context.Context, kv jetstream.KeyValue, key string, value []byte, ttl time.Duration) (uint64, error) {
	var opts []jetstream.KVCreateOpt
	if ttl > 0 {
		opts = append(opts, jetstream.KeyTTL(ttl))
	}
	if !s.kvDirect(key) {
		return kv.Create(ctx, key, value, opts...)
	}
	rev, err := s.kvPublish(ctx, kv.Bucket(), key, value, 0, ttl)
	if err == nil || !history.IsWrongLastSeq(err) {
		return rev, err
	}
	// Taken, or deleted (a delete marker is a message). A key that reads
	// is taken: the error nats.go's Create gives (it reads too). For
	// anything else nats.go's Create, which writes over a deleted key.
	if _, gerr := kv.Get(ctx, key); gerr == nil {
		if errors.Is(err, jetstream.ErrKeyExists) {
			return 0, fmt.Errorf("%w: %s", err, "key exists")
		}
		return 0, fmt.Errorf("%w: %w", err, jetstream.ErrKeyExists)
	}
	return kv.Create(ctx, key, value, opts...)
}

// kvUpdate is kv.Update(ctx, key, value, rev).
func (s *Store) kvUpdate(ctx context.Context, kv jetstream.KeyValue, key string, value []byte, rev uint64) (uint64, error) {
	if !s.kvDirect(key) {
		return kv.Update(ctx, key, value, rev)
	}
	n, err := s.kvPublish(ctx, kv.Bucket(), key, value, rev, 0)
	if err != nil && history.IsWrongLastSeq(err) {
		err = fmt.Errorf("%w: %w", err, jetstream.ErrKeyRevisionMismatch)
	}
	return n, err
}

// purgeSuccess is how the server begins its answer to a purge that
// succeeded; the count of purged messages and "}" follow.
const purgeSuccess = `{"type":"io.nats.jetstream.api.v1.stream_purge_response","success":true,"purged":`

// streamPurge is st.Purge(ctx, WithPurgeSubject(filter)) and, if seq > 0,
// WithPurgeSequence(seq): a run's close purges its older index entry, and
// nats.go's Purge decodes the request and the answer by reflection. An
// answer other than a success is decoded as nats.go does (same errors).
func (s *Store) streamPurge(ctx context.Context, st jetstream.Stream, filter string, seq uint64) error {
	req, ok := purgeRequest(filter, seq)
	if !ok || !s.plainJSAPI() {
		opts := []jetstream.StreamPurgeOpt{jetstream.WithPurgeSubject(filter)}
		if seq > 0 {
			opts = append(opts, jetstream.WithPurgeSequence(seq))
		}
		return st.Purge(ctx, opts...)
	}
	ctx, cancel := withDefaultTimeout(ctx, s.JS.Options().DefaultTimeout)
	defer cancel()
	resp, err := s.NC.RequestWithContext(ctx, "$JS.API.STREAM.PURGE."+st.CachedInfo().Config.Name, req)
	if err != nil {
		return err
	}
	if purgeSucceeded(resp.Data) {
		return nil
	}
	var r struct {
		Error *jetstream.APIError `json:"error,omitempty"`
	}
	if err := json.Unmarshal(resp.Data, &r); err != nil {
		return err
	}
	if r.Error != nil {
		return r.Error
	}
	return nil
}

// purgeRequest is the body nats.go's Purge sends for filter and seq;
// false when filter is empty or needs escaping (then nats.go writes it).
func purgeRequest(filter string, seq uint64) ([]byte, bool) {
	if filter == "" {
		return nil, false // the whole stream: not a purge this file sends
	}
	b := make([]byte, 0, len(filter)+40)
	if seq > 0 {
		b = append(b, `{"seq":`...)
		b = strconv.AppendUint(b, seq, 10)
		b = append(b, `,"filter":`...)
	} else {
		b = append(b, `{"filter":`...)
	}
	b, ok := history.AppendJSONString(b, filter)
	return append(b, '}'), ok
}

// purgeSucceeded: data is the server's answer to a purge that succeeded.
func purgeSucceeded(data []byte) bool {
	n, ok := bytes.CutPrefix(data, []byte(purgeSuccess))
	if !ok || len(n) < 2 || n[len(n)-1] != '}' {
		return false
	}
	for _, c := range n[:len(n)-1] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
