package engine

import (
	"context"
	"encoding/json"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// PublishIndexEntryAsync publishes ri's index entry straight to the index
// stream (no runs bucket entry): benchmarks fill the index with it.
func (s *Store) PublishIndexEntryAsync(ctx context.Context, ri RunInfo) (jetstream.PubAckFuture, error) {
	key, err := s.runKey(ri.WorkflowID)
	if err != nil {
		return nil, err
	}
	if err := s.noteType(ctx, ri.Type); err != nil {
		return nil, err
	}
	msg := nats.NewMsg(s.idxSubject(&ri, key))
	msg.Data, _ = json.Marshal(compactEntry(ri))
	return s.JS.PublishMsgAsync(msg)
}

// SetTestHookIndex installs the index-write crash hook for a test.
func SetTestHookIndex(f func(key, step string) bool) func() {
	testHookIndex.Store(&f)
	return func() { testHookIndex.Store(nil) }
}

// IndexStream is the name of the index stream.
func (s *Store) IndexStream() string { return s.indexStream() }

// ReindexForTest writes ri's index entry as a change of the run would
// (its older entries purged), without a runs bucket entry.
func (s *Store) ReindexForTest(ctx context.Context, ri RunInfo) error {
	key, err := s.runKey(ri.WorkflowID)
	if err != nil {
		return err
	}
	data, _ := json.Marshal(ri)
	_, err = s.indexPre(ctx, key, data)
	return err
}
