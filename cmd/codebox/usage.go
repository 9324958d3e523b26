package main

import (
	"fmt"
	"net/url"
	"text/tabwriter"
	"time"

	"github.com/codebox-dev/codebox/api"
	"github.com/spf13/cobra"
)

func newUsageCmd() *cobra.Command {
	var cf clientFlags
	var since time.Duration
	var start, end string
	cmd := &cobra.Command{
		Use:   "usage",
		Short: "Print the workspace's metered usage: tokens, code execution requests, container time",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cf.client()
			if err != nil {
				return err
			}
			q := url.Values{}
			if start == "" {
				start = time.Now().UTC().Add(-since).Format(time.RFC3339)
			}
			q.Set("start", start)
			if end != "" {
				q.Set("end", end)
			}
			var rep api.UsageReport
			if err := c.Get(cmd.Context(), "v1/usage?"+q.Encode(), nil, &rep); err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintf(tw, "workspace\t%s\n", rep.Workspace)
			fmt.Fprintf(tw, "period\t%s to %s\n", rep.Start, rep.End)
			fmt.Fprintf(tw, "requests\t%d\n", rep.Requests)
			fmt.Fprintf(tw, "input tokens\t%d (cache write %d, cache read %d)\n", rep.InputTokens, rep.CacheCreationInputTokens, rep.CacheReadInputTokens)
			fmt.Fprintf(tw, "output tokens\t%d\n", rep.OutputTokens)
			fmt.Fprintf(tw, "code execution requests\t%d\n", rep.CodeExecutionRequests)
			fmt.Fprintf(tw, "container time\t%s\n", secs(rep.ContainerSeconds))
			fmt.Fprintf(tw, "container time billed\t%s (%.3f container-hours, 5-minute minimum per session)\n", secs(rep.ContainerBilledSeconds), rep.ContainerHoursBilled)
			return tw.Flush()
		},
	}
	bindClientFlags(cmd, &cf)
	fs := cmd.Flags()
	fs.DurationVar(&since, "since", 30*24*time.Hour, "report the period from this long ago until now")
	fs.StringVar(&start, "start", "", "start of the period (RFC 3339); overrides --since")
	fs.StringVar(&end, "end", "", "end of the period (RFC 3339; default now)")
	return cmd
}

func init() { rootCmd.AddCommand(newUsageCmd()) }
