package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"sync"
	"time"

	"github.com/durablefuture/durablefuture/examples/scenarios"
	"github.com/durablefuture/durablefuture/internal/web"
	"github.com/durablefuture/durablefuture/pkg/devserver"
	"github.com/durablefuture/durablefuture/pkg/history"
	"github.com/durablefuture/durablefuture/pkg/sdk/client"
	"github.com/durablefuture/durablefuture/tui"
	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"
)

// The web views read and act through the TUI's source: one set of calls.
var _ web.Source = tui.StoreSource{}

type webOptions struct {
	app *App

	Addr    string
	Actions bool
	Token   string
}

func newWebCmd(app *App) *cobra.Command {
	o := &webOptions{app: app}
	cmd := &cobra.Command{
		Use:   "web [--addr 127.0.0.1:8080] [--actions] [--token T]",
		Short: "Serve the history inspector to a browser",
		Long: `Serve the views of dfctl tui over HTTP: the runs list (the same filters
and counts), a run's grouped event log, timeline, pending card and event
JSON, with links between parents, children and continued runs. An open
run's page follows new events as they are written (server-sent events).

Every page has a stable URL to share: /runs/ID (the latest run),
/runs/ID/RUN (a given run), ?event=N (an event selected).

It is read-only unless --actions is given: then a run's page offers
signal, cancel, terminate, replay check and reset, each behind a
confirmation. It listens on the loopback interface unless --addr says
otherwise, with a warning when it does; --token (or $DFCTL_WEB_TOKEN)
makes every request carry the token (open the printed URL once).
The pages need no network beyond this server: no CDN.`,
		Example: `  dfctl web
  dfctl web --addr 127.0.0.1:9090 --actions
  dfctl web --addr 0.0.0.0:8080 --token "$(openssl rand -hex 16)"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return runWeb(cmd, o) },
	}
	f := cmd.Flags()
	f.StringVar(&o.Addr, "addr", "127.0.0.1:8080", "listen on `HOST:PORT` (port 0: any free port)")
	f.BoolVar(&o.Actions, "actions", false, "enable signal, cancel, terminate, replay check and reset (each confirmed)")
	// The environment is read when the command runs, so that --help never
	// prints the token as a default.
	f.StringVar(&o.Token, "token", "", "require this token on every request (default $DFCTL_WEB_TOKEN)")
	return cmd
}

func runWeb(cmd *cobra.Command, o *webOptions) error {
	if !cmd.Flags().Changed("token") {
		o.Token = os.Getenv("DFCTL_WEB_TOKEN")
	}
	c, err := o.app.ReadClient(cmd)
	if err != nil {
		return err
	}
	// A server outlives outages: pages show the error and read again.
	o.app.watch.rideOut()
	wo := web.Options{
		Source:  tui.StoreSource{Store: c.Store()},
		Actions: o.Actions,
		Token:   o.Token,
		Logger:  slog.New(slog.NewTextHandler(o.app.IO.ErrOut, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	return serveWeb(cmd.Context(), o.app.IO, o.Addr, wo, "/runs")
}

// serveWeb listens on addr, says where, and serves wo until ctx ends. path
// is the page the printed URL opens.
func serveWeb(ctx context.Context, ios *IOStreams, addr string, wo web.Options, path string) error {
	h, err := web.New(wo)
	if err != nil {
		return err
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return usageError("--addr %q: %v (use HOST:PORT, e.g. 127.0.0.1:8080)", addr, err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return &ExitError{Code: ExitUsage, Err: fmt.Errorf("listen on %s: %w", addr, err)}
	}
	est := ios.ErrStyles()
	if !loopback(host) {
		what := "read every run's history"
		if wo.Actions {
			what += " and signal, cancel, terminate or reset runs"
		}
		fmt.Fprintf(ios.ErrOut, "%s dfctl web listens on %s, not only on this machine: whoever reaches it can %s.\n", est.warn.Render("warning:"), ln.Addr(), what)
		if wo.Token == "" {
			fmt.Fprintln(ios.ErrOut, "  Set --token (or $DFCTL_WEB_TOKEN) to require a token, or listen on 127.0.0.1.")
		}
	}
	u := url.URL{Scheme: "http", Host: browseHost(ln.Addr().(*net.TCPAddr), host), Path: path}
	if wo.Token != "" {
		u.RawQuery = url.Values{"token": {wo.Token}}.Encode()
	}
	mode := "read-only; --actions enables signal, cancel, terminate, replay check and reset"
	if wo.Actions {
		mode = "actions enabled"
	}
	fmt.Fprintf(ios.ErrOut, "%s serving %s %s\n", est.info.Render("▶"), u.String(), est.faint.Render("("+mode+"; ctrl-c stops)"))
	fmt.Fprintf(ios.ErrOut, "  %s\n", est.faint.Render(fmt.Sprintf("links to these pages: %s=http://%s dfctl describe ID (dfctl tui: Y copies one)", webURLEnv, u.Host)))

	// Live streams end when the server stops: their requests' context is
	// this one.
	base, stop := context.WithCancel(context.Background())
	defer stop()
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return base },
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	stop()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// loopback reports whether host names only this machine.
func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// browseHost is the host:port to print: the listener's address, with
// "localhost" when it listens on every interface.
func browseHost(a *net.TCPAddr, host string) string {
	if host == "" || a.IP.IsUnspecified() {
		return net.JoinHostPort("localhost", fmt.Sprint(a.Port))
	}
	if host == "localhost" {
		return net.JoinHostPort(host, fmt.Sprint(a.Port))
	}
	return a.String()
}

// demoWeb is dfctl demo --web: the scenario's run in the browser, with a
// "crash the worker" button. The worker has a connection of its own, so a
// crash loses what it had in flight as a killed process would (unacked
// tasks come back after their timeout); a new worker starts a few seconds
// later and the run goes on from its history.
func demoWeb(cmd *cobra.Command, o *demoOptions, srv *devserver.Server, c *client.Client, sc scenarios.Scenario, logger *slog.Logger) error {
	ios := o.app.IO
	ctx := cmd.Context()
	d := &demoWorker{srv: srv, prefix: o.app.Prefix, logger: logger}
	if err := d.start(ctx); err != nil {
		return err
	}
	defer d.stop()
	id := "demo-" + sc.Name
	if _, err := sc.Start(ctx, c, client.StartOptions{ID: id}); err != nil {
		return err
	}
	var mu sync.Mutex // one crash at a time
	runs := 1
	crash := func(rctx context.Context) (string, error) {
		mu.Lock()
		defer mu.Unlock()
		ri, err := c.Store().Describe(rctx, id, "")
		if err != nil {
			return "", err
		}
		path := web.RunPath(id, ri.RunID)
		if ri.Status.IsClosed() {
			// Too late to crash this one: run the scenario again and crash
			// the worker once the run is under way.
			runs++
			id = fmt.Sprintf("demo-%s-%d", sc.Name, runs)
			run, err := sc.Start(rctx, c, client.StartOptions{ID: id})
			if err != nil {
				return "", err
			}
			path = web.RunPath(id, run.RunID())
			if err := waitUnderWay(rctx, c, id, run.RunID()); err != nil {
				return "", err
			}
		}
		d.crash(ctx, 3*time.Second)
		return path, nil
	}
	wo := web.Options{
		Source:      tui.StoreSource{Store: c.Store()},
		Actions:     true, // a throwaway server of this process
		CrashWorker: crash,
		Logger:      logger,
	}
	fmt.Fprintf(ios.ErrOut, "%s %s: %s\n  %s\n", ios.ErrStyles().info.Render("▶"), sc.Name, sc.Description,
		ios.ErrStyles().faint.Render("embedded NATS server and the example workers in this process; open the page below and press \"Crash the worker\""))
	return serveWeb(ctx, ios, o.WebAddr, wo, web.RunPath(id, ""))
}

// waitUnderWay waits until a run has recorded an activity's outcome, so
// that a crash falls in its middle.
func waitUnderWay(ctx context.Context, c *client.Client, id, runID string) error {
	log := c.Store().Log
	subj, err := log.Subject(id, runID)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for rec, err := range log.Follow(ctx, subj, 0) {
		if err != nil {
			return err
		}
		for _, ev := range rec.Events {
			if ev.Type == history.ActivityCompleted || ev.Type == history.ActivityAttemptFailed || ev.Type.IsClosing() {
				return nil
			}
		}
	}
	return ctx.Err()
}

// demoWorker is the demo's example worker, which the page can crash.
type demoWorker struct {
	srv    *devserver.Server
	prefix string
	logger *slog.Logger

	mu     sync.Mutex
	nc     *nats.Conn
	halt   func() error
	closed bool
}

func (d *demoWorker) start(ctx context.Context) error {
	nc, err := d.srv.Connect()
	if err != nil {
		return &ExitError{Code: ExitServer, Err: err}
	}
	c, err := client.Dial(ctx, client.Options{Conn: nc, Prefix: d.prefix})
	if err != nil {
		nc.Close()
		return &ExitError{Code: ExitServer, Err: err}
	}
	w, err := exampleWorker(c, d.logger)
	if err != nil {
		nc.Close()
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.nc, d.halt = nc, runWorker(w)
	return nil
}

// crash kills the worker at once (its connection first, so nothing it was
// doing is acknowledged) and starts a new one after pause.
func (d *demoWorker) crash(ctx context.Context, pause time.Duration) {
	d.mu.Lock()
	nc, halt := d.nc, d.halt
	d.nc, d.halt = nil, nil
	d.mu.Unlock()
	if nc != nil {
		nc.Close()
		go func() { _ = halt() }()
	}
	go func() {
		select {
		case <-time.After(pause):
		case <-ctx.Done():
			return
		}
		d.mu.Lock()
		closed := d.closed || d.nc != nil
		d.mu.Unlock()
		if !closed {
			if err := d.start(ctx); err != nil {
				d.logger.Error("demo: restart the worker", "err", err)
			}
		}
	}()
}

func (d *demoWorker) stop() {
	d.mu.Lock()
	d.closed = true
	nc, halt := d.nc, d.halt
	d.mu.Unlock()
	if halt != nil {
		_ = halt()
		nc.Close()
	}
}
