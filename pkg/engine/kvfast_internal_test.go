package engine

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/durablefuture/durablefuture/pkg/devserver"
	"github.com/nats-io/nats.go/jetstream"
)

// The bucket writes published by the Store behave as nats.go's Create and
// Update: a taken key, a deleted one, a stale revision, a TTL, a key
// nats.go refuses.
func TestKVWritesAsNatsGo(t *testing.T) {
	s := openTestStore(t, devserver.Options{Port: -1})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	kv, err := s.JS.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "kvfast", Storage: jetstream.MemoryStorage})
	if err != nil {
		t.Fatal(err)
	}
	rev, err := s.kvCreate(ctx, kv, "a.b", []byte("1"), 0)
	if err != nil || rev != 1 {
		t.Fatalf("create: %d %v", rev, err)
	}
	if e, err := kv.Get(ctx, "a.b"); err != nil || string(e.Value()) != "1" || e.Revision() != 1 {
		t.Fatalf("read back: %v %v", e, err)
	}
	_, err = s.kvCreate(ctx, kv, "a.b", []byte("2"), 0)
	_, werr := kv.Create(ctx, "a.b", []byte("2"))
	if !errors.Is(err, jetstream.ErrKeyExists) || !isWrongLastSeq(err) || werr == nil || err.Error() != werr.Error() {
		t.Fatalf("create of a taken key: %v, want %v (nats.go's)", err, werr)
	}
	if _, err := s.kvUpdate(ctx, kv, "a.b", []byte("2"), 7); !errors.Is(err, jetstream.ErrKeyRevisionMismatch) || !isWrongLastSeq(err) {
		t.Fatalf("update from a stale revision: %v", err)
	}
	if rev, err = s.kvUpdate(ctx, kv, "a.b", []byte("2"), 1); err != nil || rev != 2 {
		t.Fatalf("update: %d %v", rev, err)
	}
	if err := kv.Delete(ctx, "a.b"); err != nil {
		t.Fatal(err)
	}
	if rev, err = s.kvCreate(ctx, kv, "a.b", []byte("3"), 0); err != nil || rev != 4 {
		t.Fatalf("create over a deleted key: %d %v", rev, err)
	}
	if _, err := s.kvCreate(ctx, kv, ".bad", nil, 0); !errors.Is(err, jetstream.ErrInvalidKey) {
		t.Fatalf("invalid key: %v, want %v", err, jetstream.ErrInvalidKey)
	}
	if _, err := s.kvUpdate(ctx, kv, "bad key", nil, 1); !errors.Is(err, jetstream.ErrInvalidKey) {
		t.Fatalf("invalid key: %v, want %v", err, jetstream.ErrInvalidKey)
	}

	// A claim's TTL reaches the server: the key expires by itself.
	if _, err := s.kvCreate(ctx, s.heartbeats, "ttl.claim.1", nil, time.Second); err != nil {
		t.Fatal(err)
	}
	raw, err := s.JS.Stream(ctx, "KV_"+s.heartbeats.Bucket())
	if err != nil {
		t.Fatal(err)
	}
	m, err := raw.GetLastMsgForSubject(ctx, "$KV."+s.heartbeats.Bucket()+".ttl.claim.1")
	if err != nil || m.Header.Get(jetstream.MsgTTLHeader) != "1s" {
		t.Fatalf("claim message: %v %v", m, err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, err := s.heartbeats.Get(ctx, "ttl.claim.1")
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the claim did not expire: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := s.kvCreate(ctx, s.heartbeats, "ttl.claim.1", nil, time.Second); err != nil {
		t.Fatalf("create after the expiry: %v", err)
	}
}
