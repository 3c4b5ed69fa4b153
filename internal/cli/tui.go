package cli

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/durablefuture/durablefuture/internal/natsurl"
	"github.com/durablefuture/durablefuture/tui"
	"github.com/mattn/go-isatty"
	"github.com/spf13/cobra"
)

type tuiOptions struct {
	app *App

	ID     string
	RunID  string
	WebURL string
}

func newTUICmd(app *App) *cobra.Command {
	o := &tuiOptions{app: app}
	cmd := &cobra.Command{
		Use:   "tui [ID] [--run R]",
		Short: "Browse runs and their histories interactively",
		Long: `Open the interactive history inspector: the runs list (live, newest
first), a run's event log with activities grouped with their attempts, the
selected event as JSON, a timeline (t) and follow mode (f, on by itself for
a running run). A run opens on a card with why it failed, or what it waits
for (activities with their attempts and retries, timers, children). Z zooms
the detail pane, S shows where the run's code waits (asked of a live
worker), : lists every action, y copies the workflow ID and Y the link
to its page in dfctl web (with --web-url or $DFCTL_WEB_URL). With ID, open that workflow's latest run (or
run R) at once. ? shows every key.

It needs a terminal; for scripts use dfctl list and dfctl show ID
(--follow, -o jsonl). Colour follows --color: auto (unless NO_COLOR is
set), always or never. Logs go to ` + "`$XDG_STATE_HOME/durablefuture/tui.log`" + `
(~/.local/state/durablefuture/tui.log), never to the screen.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				o.ID = args[0]
			}
			return runTUI(cmd, o)
		},
	}
	cmd.Flags().StringVarP(&o.RunID, "run", "r", "", "run ID (default: the latest run)")
	cmd.Flags().StringVar(&o.WebURL, "web-url", "", "address of dfctl web: Y copies the link to the run's page (default $"+webURLEnv+")")
	return cmd
}

func runTUI(cmd *cobra.Command, o *tuiOptions) error {
	ios := o.app.IO
	if !ios.OutTTY || !isTerminal(ios.In) {
		hint := "dfctl list, or dfctl show ID (--follow, -o jsonl)"
		return usageError("dfctl tui needs a terminal on stdin and stdout; without one use %s", hint)
	}
	if o.ID != "" {
		if err := validateID(o.ID); err != nil {
			return err
		}
	}
	if o.RunID != "" && o.ID == "" {
		return usageError("--run needs a workflow ID")
	}
	base, err := webBase(o.WebURL)
	if err != nil {
		return err
	}
	// The screen belongs to the TUI: logs go to a file, or nowhere.
	prev := slog.Default()
	defer slog.SetDefault(prev)
	slog.SetDefault(slog.New(slog.DiscardHandler))
	if logFile, logPath := openTUILog(); logFile != nil {
		defer logFile.Close()
		slog.SetDefault(slog.New(slog.NewTextHandler(logFile, &slog.HandlerOptions{Level: slog.LevelDebug})))
		slog.Info("dfctl tui starting", "server", natsurl.Redact(o.app.Server), "log", logPath)
	}
	c, err := o.app.ReadClient(cmd)
	if err != nil {
		return err
	}
	o.app.watch.rideOut()
	opts := tui.Options{
		Source:     tui.StoreSource{Store: c.Store()},
		WorkflowID: o.ID,
		RunID:      o.RunID,
		Output:     ios.Out,
		WebURL:     base,
	}
	opts.NoColor, opts.Profile = tuiColor(ios)
	err = tui.Run(cmd.Context(), opts, tea.WithInput(ios.In), tea.WithOutput(ios.Out))
	if err != nil {
		slog.Error("dfctl tui", "err", err)
		if cmd.Context().Err() != nil {
			return cmd.Context().Err()
		}
		return fmt.Errorf("tui: %w", err)
	}
	return nil
}

// tuiColor is the inspector's colour from --color: never (or auto with
// NO_COLOR) draws without colour; always draws with at least 16 colours,
// whatever the environment says; auto lets the program detect the
// terminal's colours (colorprofile.Unknown).
func tuiColor(ios *IOStreams) (noColor bool, profile colorprofile.Profile) {
	switch {
	case !ios.colour(true):
		return true, colorprofile.Unknown
	case ios.Color == ColorAlways:
		var env []string
		for _, kv := range os.Environ() {
			if k, _, _ := strings.Cut(kv, "="); k != "NO_COLOR" {
				env = append(env, kv)
			}
		}
		return false, max(colorprofile.Detect(ios.Out, env), colorprofile.ANSI)
	}
	return false, colorprofile.Unknown
}

func isTerminal(r any) bool {
	f, ok := r.(*os.File)
	return ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
}

// openTUILog opens the inspector's log file in the state directory, else in
// the temporary directory; nil means there is none to write.
func openTUILog() (*os.File, string) {
	dir := os.Getenv("XDG_STATE_HOME")
	if dir == "" {
		if home, err := os.UserHomeDir(); err == nil {
			dir = filepath.Join(home, ".local", "state")
		}
	}
	for _, d := range []string{filepath.Join(dir, "durablefuture"), os.TempDir()} {
		if d == "durablefuture" { // no state dir
			continue
		}
		if os.MkdirAll(d, 0o755) != nil {
			continue
		}
		p := filepath.Join(d, "tui.log")
		if f, err := os.OpenFile(p, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644); err == nil {
			return f, p
		}
	}
	return nil, ""
}
