package history

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// FastPublish returns js whose PublishMsg and Publish without options read
// the server's acknowledgement with a parser of its common shape
// (`{"stream":"S","seq":N}`, with "domain" and "duplicate" when set) and
// hand anything else to encoding/json, as nats.go does. Everything else,
// and a publish with options, is js's own. Every write of a workflow
// (history records, tasks, index entries) is a synchronous publish:
// nats.go's reflective decode of each acknowledgement was 2.7% of a loaded
// worker's CPU (`dfctl bench -c 200 --cpuprofile`).
//
// It behaves as nats.go's publish: a context without a deadline gets js's
// default timeout, "no responders" is retried twice 250 ms apart and then
// is jetstream.ErrNoStreamResponse, and a refusal is a *jetstream.APIError
// wrapped as "nats: <error>".
func FastPublish(js jetstream.JetStream, nc *nats.Conn) jetstream.JetStream {
	if _, ok := js.(fastPublisher); ok || nc == nil {
		return js
	}
	return fastPublisher{JetStream: js, nc: nc}
}

type fastPublisher struct {
	jetstream.JetStream
	nc *nats.Conn
}

func (p fastPublisher) Publish(ctx context.Context, subject string, data []byte, opts ...jetstream.PublishOpt) (*jetstream.PubAck, error) {
	return p.PublishMsg(ctx, &nats.Msg{Subject: subject, Data: data}, opts...)
}

func (p fastPublisher) PublishMsg(ctx context.Context, m *nats.Msg, opts ...jetstream.PublishOpt) (*jetstream.PubAck, error) {
	if len(opts) > 0 {
		return p.JetStream.PublishMsg(ctx, m, opts...)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, p.Options().DefaultTimeout)
		defer cancel()
	}
	resp, err := p.nc.RequestMsgWithContext(ctx, m)
	for r := 0; errors.Is(err, nats.ErrNoResponders) && r < jetstream.DefaultPubRetryAttempts; r++ {
		// A leader election between streams: as nats.go, try again.
		select {
		case <-ctx.Done():
		case <-time.After(jetstream.DefaultPubRetryWait):
		}
		resp, err = p.nc.RequestMsgWithContext(ctx, m)
	}
	if err != nil {
		if errors.Is(err, nats.ErrNoResponders) {
			return nil, jetstream.ErrNoStreamResponse
		}
		return nil, err
	}
	return decodePubAck(resp.Data)
}

// decodePubAck decodes a publish acknowledgement.
func decodePubAck(data []byte) (*jetstream.PubAck, error) {
	if ack, ok := parsePubAck(data); ok {
		return ack, nil
	}
	var r struct {
		Error *jetstream.APIError `json:"error"`
		*jetstream.PubAck
	}
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, jetstream.ErrInvalidJSAck
	}
	if r.Error != nil {
		return nil, fmt.Errorf("nats: %w", r.Error)
	}
	if r.PubAck == nil || r.PubAck.Stream == "" {
		return nil, jetstream.ErrInvalidJSAck
	}
	return r.PubAck, nil
}

// parsePubAck reads the acknowledgement as the server writes it,
// `{"stream":"S","seq":N}`, with `"domain":"D"` before the sequence and
// `"duplicate": true` after it when set, and no escapes in the strings; ok
// is false for anything else.
func parsePubAck(b []byte) (_ *jetstream.PubAck, ok bool) {
	ack := &jetstream.PubAck{}
	rest, ok := cutPrefix(b, `{"stream":"`)
	if !ok {
		return nil, false
	}
	if ack.Stream, rest, ok = plainString(rest); !ok || ack.Stream == "" {
		return nil, false
	}
	if r, ok := cutPrefix(rest, `,"domain":"`); ok {
		if ack.Domain, rest, ok = plainString(r); !ok {
			return nil, false
		}
	}
	if rest, ok = cutPrefix(rest, `,"seq":`); !ok {
		return nil, false
	}
	n := 0
	for n < len(rest) && rest[n] >= '0' && rest[n] <= '9' {
		n++
	}
	if n == 0 || n > 19 || (n > 1 && rest[0] == '0') {
		return nil, false // no leading zeros; at most 19 digits, no overflow
	}
	for _, c := range rest[:n] {
		ack.Sequence = ack.Sequence*10 + uint64(c-'0')
	}
	rest = rest[n:]
	if r, ok := cutPrefix(rest, `,"duplicate": true`); ok {
		ack.Duplicate, rest = true, r
	} else if r, ok := cutPrefix(rest, `,"duplicate":true`); ok {
		ack.Duplicate, rest = true, r
	}
	if len(rest) != 1 || rest[0] != '}' {
		return nil, false
	}
	return ack, true
}

func cutPrefix(b []byte, prefix string) ([]byte, bool) {
	if len(b) < len(prefix) || string(b[:len(prefix)]) != prefix {
		return nil, false
	}
	return b[len(prefix):], true
}

// plainString reads a JSON string's body up to its closing quote; ok is
// false if it holds an escape, a control character or a byte beyond ASCII
// (encoding/json replaces invalid UTF-8).
func plainString(b []byte) (s string, rest []byte, ok bool) {
	for i, c := range b {
		switch {
		case c == '"':
			return string(b[:i]), b[i+1:], true
		case c == '\\' || c < 0x20 || c >= 0x80:
			return "", nil, false
		}
	}
	return "", nil, false
}
