// Package cli implements dfctl, the DurableFuture command-line tool: one file
// per command, each with an options struct holding its flags, the IO streams
// and the lazily dialled client.
//
// It builds on pkg/sdk and pkg/engine and must never be imported by them.
package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/durablefuture/durablefuture/internal/natsurl"
	"github.com/durablefuture/durablefuture/pkg/engine"
	"github.com/durablefuture/durablefuture/pkg/sdk/client"
	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"
)

// Output formats.
const (
	outText  = "text"
	outJSON  = "json"
	outJSONL = "jsonl"
)

// App is what every command shares: the streams, the global flags and the
// client, dialled on first use.
type App struct {
	IO *IOStreams

	Server      string
	ContextName string
	Creds       string
	TLSCert     string
	TLSKey      string
	TLSCA       string
	Prefix      string
	Replicas    int
	Partitions  int
	Output      string
	Timeout     time.Duration

	client *client.Client
	conn   *nats.Conn
	url    string     // the URL dialled (with its secrets: print it redacted)
	watch  *connWatch // the connection's state
	// connected is the server dialled, redacted (one of a list).
	connected string
	// cancel ends the command's context with a cause (a lost connection).
	cancel context.CancelCauseFunc
	// started is set once a command's own code runs: an error before it is
	// a usage error (unknown command, bad flags or arguments).
	started bool
}

// Run executes dfctl with args and returns its exit code. ctx is cancelled
// on SIGINT/SIGTERM by main.
func Run(ctx context.Context, args []string, ios *IOStreams) int {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	app := &App{IO: ios, cancel: cancel}
	root := NewRootCmd(app)
	root.SetArgs(args)
	root.SetIn(ios.In)
	root.SetOut(ios.Out)
	root.SetErr(ios.ErrOut)
	err := root.ExecuteContext(ctx)
	if err != nil {
		err = app.explain(ctx, err)
	}
	app.close()
	if err == nil {
		return ExitOK
	}
	code := ExitCode(err)
	if !app.started {
		var ee *ExitError
		if !errors.As(err, &ee) {
			code = ExitUsage
		}
	}
	var ee *ExitError
	if errors.As(err, &ee) && ee.Silent {
		return code
	}
	if code == ExitInterrupt {
		fmt.Fprintln(ios.ErrOut, "interrupted")
		return code
	}
	st := ios.ErrStyles()
	// No password or token of a server URL in any message.
	msg := natsurl.RedactIn(natsurl.RedactIn(err.Error(), app.url), app.Server)
	fmt.Fprintln(ios.ErrOut, st.bad.Render("Error:")+" "+msg)
	if code == ExitUsage && !app.started {
		fmt.Fprintln(ios.ErrOut, "Run 'dfctl --help' for usage.")
	}
	return code
}

// NewRootCmd builds the dfctl command tree.
func NewRootCmd(app *App) *cobra.Command {
	root := &cobra.Command{
		Use:   "dfctl",
		Short: "Run and inspect DurableFuture workflows",
		Long: `dfctl starts, waits for and inspects DurableFuture workflows, whose every
step is recorded in NATS JetStream.

Quick start:
  dfctl demo                     run an example workflow in one process
  dfctl dev --examples           a development server with the example workers
  dfctl execute OrderWorkflow --input '"cust-1"' --input '"prod-9"' --input 99.5 --input 2
  dfctl list; dfctl show ID
  source <(dfctl completion bash)  complete IDs, types and flags (also zsh, fish, powershell)

Output: data goes to stdout, progress and errors to stderr. On a terminal
output has colour (--color never or NO_COLOR turns it off) and relative
times; otherwise it is plain, tab-separated, with ISO 8601 times. -o json and -o jsonl give the
stable JSON contracts for scripts.

` + exitCodesDocs,
		SilenceErrors: true,
		SilenceUsage:  true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			switch app.Output {
			case outText, outJSON, outJSONL:
			default:
				return usageError("--output %q: use text, json or jsonl", app.Output)
			}
			if app.Timeout <= 0 {
				return usageError("--timeout must be positive")
			}
			if app.Replicas < 1 || app.Replicas > 5 {
				return usageError("--replicas %d: use 1 to 5 (3 on a 3-node cluster)", app.Replicas)
			}
			if app.Partitions < 0 || app.Partitions > engine.MaxPartitions {
				return usageError("--partitions %d: use 1 to %d (as many as the cluster has nodes, or a multiple)", app.Partitions, engine.MaxPartitions)
			}
			if f := cmd.Flags().Lookup("run"); f != nil && f.Changed {
				if err := validateRunID(f.Value.String()); err != nil {
					return err
				}
			}
			app.started = true
			return nil
		},
	}
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return &ExitError{Code: ExitUsage, Err: err}
	})
	defServer := os.Getenv("NATS_URL")
	if defServer == "" {
		defServer = nats.DefaultURL
	}
	f := root.PersistentFlags()
	f.StringVarP(&app.Server, "server", "s", defServer, "NATS server URL, or a comma-separated list ($NATS_URL)")
	f.Lookup("server").DefValue = natsurl.Redact(defServer) // --help shows it
	f.StringVar(&app.ContextName, "context", os.Getenv("NATS_CONTEXT"), "connect with the nats CLI context `NAME` ($NATS_CONTEXT)")
	f.StringVar(&app.Creds, "creds", "", "NATS user credentials file")
	f.StringVar(&app.TLSCert, "tlscert", "", "TLS client certificate file")
	f.StringVar(&app.TLSKey, "tlskey", "", "TLS client key file")
	f.StringVar(&app.TLSCA, "tlsca", "", "TLS CA certificate file")
	f.StringVar(&app.Prefix, "prefix", "df", "prefix of the DurableFuture streams, subjects and buckets")
	f.IntVar(&app.Replicas, "replicas", 1, "replicas of the streams and buckets when a write command creates them (3 on a cluster); an existing installation is left as it is")
	f.IntVar(&app.Partitions, "partitions", 0, "history and task streams the runs are spread over, by a hash of their workflow ID, when a write command creates the installation (3 or 5 on a cluster: their leaders spread over its nodes); fixed once created; 0: the installation's (docs/deploy.md)")
	f.StringVarP(&app.Output, "output", "o", outText, "output format: text, json or jsonl")
	f.Var(app.IO.ColorFlag(), "color", "colour `WHEN`: auto (on terminals, unless NO_COLOR is set), always (into pipes too) or never")
	f.DurationVar(&app.Timeout, "timeout", 10*time.Second, "timeout of each request to the server, and how long a lost connection may stay down before the command gives up (waiting for a workflow is bounded by --wait-timeout of execute and result)")

	root.AddCommand(
		newDevCmd(app),
		newDemoCmd(app),
		newStartCmd(app),
		newExecuteCmd(app),
		newDescribeCmd(app),
		newShowCmd(app),
		newListCmd(app),
		newCountCmd(app), newDeleteCmd(app),
		newResultCmd(app),
		newBenchCmd(app),
		newSignalCmd(app),
		newQueryCmd(app),
		newCancelCmd(app),
		newTerminateCmd(app),
		newTUICmd(app),
		newWebCmd(app),
		newReplayCmd(app), newResetCmd(app), newExportCmd(app),
		newVetCmd(app),
		newTaskQueueCmd(app), newStackCmd(app),
		newVersionCmd(app),
	)
	// After every command is added: these walk the tree.
	setVersion(root)
	setupCompletion(root, app)
	setExamples(root)
	return root
}

func (a *App) close() {
	if a.client != nil {
		a.client.Close()
		a.conn.Close()
	}
}

// requestContext bounds one request by --timeout.
func (a *App) requestContext(cmd *cobra.Command) (context.Context, context.CancelFunc) {
	return context.WithTimeout(cmd.Context(), a.Timeout)
}
