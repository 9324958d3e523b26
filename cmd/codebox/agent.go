package main

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/codebox-dev/codebox/sandbox/agent"
)

// The agent subcommand is the in-container init. It is hidden: only the server starts
// it, as PID 1 of a sandbox, with the codebox binary bind-mounted into the container.
func init() {
	rootCmd.AddCommand(&cobra.Command{
		Use:                "agent",
		Short:              "Run as a sandbox container's init (started by the server)",
		Hidden:             true,
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			os.Exit(agent.Main())
			return nil
		},
	})
}
