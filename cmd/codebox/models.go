package main

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/anthropics/anthropic-sdk-go"
	"github.com/spf13/cobra"
)

func newModelsCmd() *cobra.Command {
	var cf clientFlags
	cmd := &cobra.Command{
		Use:   "models",
		Short: "List the providers and models a codebox server reaches",
		Long: "List the providers and models a codebox server reaches, as GET /v1/models answers: each\n" +
			"provider's models when its upstream lists them, else <provider>/* standing for any of them.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			client, err := cf.client()
			if err != nil {
				return err
			}
			return listModels(cmd, client, cmd.OutOrStdout())
		},
	}
	bindClientFlags(cmd, &cf)
	return cmd
}

func init() { rootCmd.AddCommand(newModelsCmd()) }

// listModels prints every model of the server, one per line.
func listModels(cmd *cobra.Command, client anthropic.Client, out io.Writer) error {
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "MODEL\tNAME")
	pager := client.Models.ListAutoPaging(cmd.Context(), anthropic.ModelListParams{Limit: anthropic.Int(1000)})
	for pager.Next() {
		m := pager.Current()
		fmt.Fprintf(tw, "%s\t%s\n", m.ID, m.DisplayName)
	}
	if err := pager.Err(); err != nil {
		return err
	}
	return tw.Flush()
}
