package cli

import (
	"context"
	"fmt"
	"sync"
)

// defaultParallel bounds the requests export and replay keep in flight.
const defaultParallel = 8

// forEach calls do(ctx, i) for i in [0, n) on up to workers goroutines, and
// done(i) after each, one call at a time (done may print). It stops handing
// out work when ctx ends and returns once every started call has finished.
func forEach(ctx context.Context, n, workers int, do func(ctx context.Context, i int), done func(i int)) {
	workers = max(1, min(workers, n))
	next := make(chan int)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range next {
				do(ctx, i)
				mu.Lock()
				done(i)
				mu.Unlock()
			}
		})
	}
feed:
	for i := range n {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
}

// progress is a one-line counter on stderr, redrawn in place, only when
// stderr is a terminal (a log or a CI job gets the summary alone).
type progress struct {
	ios   *IOStreams
	verb  string
	total int
	n     int
}

func newProgress(ios *IOStreams, verb string, total int) *progress {
	return &progress{ios: ios, verb: verb, total: total}
}

// step counts one more done; note is appended (e.g. "2 incompatible").
func (p *progress) step(note string) {
	p.n++
	if !p.ios.ErrTTY {
		return
	}
	line := fmt.Sprintf("%s %d/%d", p.verb, p.n, p.total)
	if note != "" {
		line += " (" + note + ")"
	}
	fmt.Fprint(p.ios.ErrOut, "\r\x1b[K"+p.ios.ErrStyles().faint.Render(line))
}

// clear erases the line before the summary is printed.
func (p *progress) clear() {
	if p.ios.ErrTTY && p.n > 0 {
		fmt.Fprint(p.ios.ErrOut, "\r\x1b[K")
	}
}
