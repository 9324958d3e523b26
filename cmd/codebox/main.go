// Command codebox is the codebox server and its command-line client.
//
// One binary plays every role: `codebox serve` runs the HTTP server; `files`, `exec`,
// `ask`, `models` and `usage` are clients of a running server; `keys` and `image` act on the
// server's database (--database) and data directory directly; `agent` is the in-container
// init, which the server bind-mounts into every sandbox. Every flag has an environment twin, CODEBOX_<FLAG_NAME>.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

var rootCmd = &cobra.Command{
	Use:           "codebox",
	Short:         "Self-hosted code execution and Files API, wire-compatible with Anthropic's",
	SilenceUsage:  true,
	SilenceErrors: true,
	PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
		return bindEnv(cmd)
	},
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := rootCmd.ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "codebox:", err)
		os.Exit(1)
	}
}

// bindEnv fills every flag the user did not set from its CODEBOX_* twin: --data-dir
// reads CODEBOX_DATA_DIR. Empty variables are ignored. A flag may name extra variables with the "env" annotation
// (ANTHROPIC_BASE_URL for the client's --base-url), tried after its CODEBOX_ twin.
func bindEnv(cmd *cobra.Command) error {
	var firstErr error
	set := func(f *pflag.Flag) {
		if f.Changed || firstErr != nil {
			return
		}
		names := append([]string{envName(f.Name)}, f.Annotations["env"]...)
		for _, name := range names {
			// An empty variable counts as unset, so that CODEBOX_API_KEY= does not hide
			// ANTHROPIC_API_KEY behind it.
			if v := os.Getenv(name); v != "" {
				if err := f.Value.Set(v); err != nil {
					firstErr = fmt.Errorf("%s=%q: %w", name, v, err)
				}
				f.Changed = true
				return
			}
		}
	}
	cmd.Flags().VisitAll(set)
	cmd.InheritedFlags().VisitAll(set)
	return firstErr
}

// envName is the CODEBOX_* twin of a flag name.
func envName(flag string) string {
	return "CODEBOX_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// alsoEnv makes flag name on fs also read the given environment variables.
func alsoEnv(fs *pflag.FlagSet, name string, vars ...string) {
	if err := fs.SetAnnotation(name, "env", vars); err != nil {
		panic(err)
	}
}
