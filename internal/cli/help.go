package cli

import "github.com/spf13/cobra"

// examples are the Examples sections of the commands' help, by command
// path: invocations that work as written against 'dfctl dev --examples'
// (the workers of examples/scenarios), where order-1 (OrderWorkflow) and
// order-2 (OrderWithRetriesWorkflow, whose steps fail and are retried) ran,
// and expense-1 (ExpenseApprovalWorkflow) waits for its "decision" signal.
// A command that sets its own Example keeps it; TestExamplesParse checks
// that every line names real commands and flags.
var examples = map[string]string{
	"dfctl": `  dfctl demo                              # one process: a server, the workers, a workflow
  dfctl dev --examples                    # a development server with the example workers
  dfctl execute OrderWorkflow --id order-1 --input '"alice"' --input '"widget-1000"' --input 99.5 --input 2
  dfctl list --status running`,

	"dfctl dev": `  dfctl dev --examples                    # also run the example workers
  dfctl dev --port 4223 --store /tmp/df-dev
  dfctl dev --sync always                 # fsync every write, as production`,

	"dfctl demo": `  dfctl demo                              # the order-retries scenario
  dfctl demo --list
  dfctl demo approval`,

	"dfctl start": `  dfctl start OrderWorkflow --id order-1 --input '"alice"' --input '"widget-1000"' --input 99.5 --input 2
  dfctl start ExpenseApprovalWorkflow --id expense-1 --input '"exp-7"' --input 1280 --input 3600
  dfctl start OrderWorkflow --input '"bob"' --input '"lamp"' --input 25 --input 1 -o json`,

	"dfctl execute": `  dfctl execute OrderWithRetriesWorkflow --id order-2 --input '"bob"' --input '"lamp"' --input 25 --input 1
  dfctl execute FanOutWorkflow --input '"batch-1"' --input 3 -o json`,

	"dfctl describe": `  dfctl describe order-1
  dfctl describe order-1 -o json`,

	"dfctl show": `  dfctl show order-1
  dfctl show order-1 -o json > order-1.json   # a history file for the replayer
  dfctl show expense-1 --follow               # until the run closes`,

	"dfctl list": `  dfctl list
  dfctl list --status running
  dfctl list --type OrderWorkflow --limit 10 -o jsonl`,

	"dfctl result": `  dfctl result order-1
  dfctl result expense-1 --wait               # blocks until the run closes`,

	"dfctl bench": `  dfctl bench
  dfctl bench --workflows 500 --concurrency 50 --sync always
  dfctl bench -o json`,

	"dfctl signal": `  dfctl signal expense-1 decision --input '{"approved":true,"by":"dana@example.com"}'`,

	"dfctl query": `  dfctl query expense-1 status`,

	"dfctl cancel": `  dfctl cancel expense-1 --reason "request withdrawn"`,

	"dfctl terminate": `  dfctl terminate expense-1 --reason "stuck"`,

	"dfctl tui": `  dfctl tui
  dfctl tui order-1`,

	"dfctl replay": `  dfctl replay order-1
  dfctl replay --file order-1.json            # written by dfctl show order-1 -o json
  dfctl replay --type OrderWorkflow --status any
  dfctl replay --dir testdata/histories`,

	"dfctl reset": `  dfctl reset order-2 --to last-failure --reason "payment gateway fixed"
  dfctl reset order-2 --to first
  dfctl reset order-2 --to-event 4 -o json`,

	"dfctl export": `  dfctl export --type OrderWorkflow --status any --dir testdata/histories
  dfctl export --status any --started-after 24h --dir /tmp/histories -o json`,

	"dfctl completion": `  dfctl completion bash > ~/.local/share/bash-completion/completions/dfctl
  dfctl completion zsh > "${fpath[1]}/_dfctl"
  dfctl completion fish > ~/.config/fish/completions/dfctl.fish`,

	"dfctl completion bash": `  source <(dfctl completion bash)                                        # this shell
  dfctl completion bash > ~/.local/share/bash-completion/completions/dfctl   # every new shell`,

	"dfctl completion zsh": `  source <(dfctl completion zsh)                # this shell
  dfctl completion zsh > "${fpath[1]}/_dfctl"   # every new shell`,

	"dfctl completion fish": `  dfctl completion fish | source
  dfctl completion fish > ~/.config/fish/completions/dfctl.fish`,

	"dfctl completion powershell": `  dfctl completion powershell | Out-String | Invoke-Expression`,
}

// setExamples gives every command of the tree without an Example the one
// of examples.
func setExamples(root *cobra.Command) {
	var walk func(*cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Example == "" {
			c.Example = examples[c.CommandPath()]
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}
