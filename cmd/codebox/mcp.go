package main

import (
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/spf13/cobra"

	codeboxmcp "github.com/codebox-dev/codebox/mcp"
)

func newMCPCmd() *cobra.Command {
	var cf clientFlags
	cmd := &cobra.Command{
		Use:   "mcp",
		Short: "Serve codebox's sandbox tools over MCP on stdio, for local MCP clients",
		Long: "mcp speaks MCP on stdin/stdout and runs its tools (bash, Python, the text editor, file upload,\n" +
			"read and list, container control) in containers of the codebox server at --base-url, through its\n" +
			"containers API with --api-key.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			key, err := cf.key()
			if err != nil {
				return err
			}
			srv := codeboxmcp.NewServer(&codeboxmcp.Remote{BaseURL: cf.BaseURL, APIKey: key}, "")
			return srv.Run(cmd.Context(), &mcp.StdioTransport{})
		},
	}
	bindClientFlags(cmd, &cf)
	return cmd
}

func init() { rootCmd.AddCommand(newMCPCmd()) }
