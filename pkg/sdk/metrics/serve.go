package metrics

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Handler serves the metrics of Prometheus's default registry (where
// Observers made without Options.Registry register), with the Go runtime
// and process metrics, in the Prometheus text format.
func Handler() http.Handler { return promhttp.Handler() }

// Handler serves the metrics of the Observer's registry.
func (o *Observer) Handler() http.Handler {
	if o.gatherer == prometheus.DefaultGatherer {
		return Handler()
	}
	return promhttp.HandlerFor(o.gatherer, promhttp.HandlerOpts{})
}

// Server is an HTTP server for a metrics handler, at /metrics.
type Server struct {
	srv  *http.Server
	addr string
	done chan struct{}
}

// Serve listens on addr ("127.0.0.1:9464", ":0" for any free port) and
// serves Handler at /metrics until Close. It returns at once with an
// error if addr cannot be listened on.
func Serve(addr string) (*Server, error) { return ServeHandler(addr, Handler()) }

// ServeHandler is Serve with another handler (Observer.Handler).
func ServeHandler(addr string, h http.Handler) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", h)
	s := &Server{
		srv:  &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second},
		addr: ln.Addr().String(),
		done: make(chan struct{}),
	}
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			_ = ln.Close()
		}
	}()
	return s, nil
}

// Addr is the address the server listens on (with the port it got for
// ":0").
func (s *Server) Addr() string { return s.addr }

// URL is the metrics endpoint: http://Addr/metrics.
func (s *Server) URL() string { return "http://" + s.addr + "/metrics" }

// Close stops the server, letting scrapes in progress finish for up to
// two seconds.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	<-s.done
	return err
}
