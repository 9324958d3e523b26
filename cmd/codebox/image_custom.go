package main

import (
	"errors"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/codebox-dev/codebox"
	"github.com/codebox-dev/codebox/errdefs"
	"github.com/codebox-dev/codebox/image"
)

func newImageListCmd() *cobra.Command {
	var cfg imageDirConfig
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the default image and the custom images, with their state",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			dir, err := cfg.dir()
			if err != nil {
				return err
			}
			entries, err := image.List(dir)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tSTATE\tHASH\tSIZE\tBUILT")
			for _, e := range entries {
				state, hash, size, built := "ready", "-", "-", "-"
				if e.Image != nil {
					m := e.Image.Manifest
					hash, size, built = e.Image.Hash, fmt.Sprintf("%.0f MiB", float64(m.SizeBytes)/(1<<20)), m.BuiltAt.Format("2006-01-02 15:04")
				} else {
					state = "not built"
				}
				if e.Building {
					state = "building"
					if e.Image != nil {
						state = "ready (rebuilding)"
					}
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", e.Name, state, hash, size, built)
			}
			return tw.Flush()
		},
	}
	bindImageDirFlags(cmd.Flags(), &cfg)
	return cmd
}

// newImageDefaultCmd sets the image new containers of a workspace run. It acts on the
// server's database and works while the server runs.
func newImageDefaultCmd() *cobra.Command {
	var (
		cfg       imageDirConfig
		workspace string
		dbSpec    string
	)
	cmd := &cobra.Command{
		Use:   "default [NAME]",
		Short: "Show or set the image new containers of a workspace run (\"default\" is the built-in image)",
		Long: `Show or set the image new containers of a workspace run when a request names none.
The choice is stored in the server's database (--database); running containers keep their
image. A request may still name another image (POST /v1/containers "image", or the
Messages API's container.image).`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			db, err := openDatabase(cmd.Context(), dbSpec, cfg.DataDir)
			if err != nil {
				return err
			}
			defer db.Close()
			ws := codebox.WorkspaceID(workspace)
			if len(args) == 0 {
				name, err := db.WorkspaceImage(cmd.Context(), ws)
				if err != nil {
					return err
				}
				if name == "" {
					name = image.DefaultName
				}
				fmt.Fprintln(cmd.OutOrStdout(), name)
				return nil
			}
			name := args[0]
			dir, err := cfg.dir()
			if err != nil {
				return err
			}
			// An image whose first build runs may be chosen; an unknown one may not.
			if _, err := image.Resolve(dir, name); err != nil && !errors.Is(err, errdefs.ErrConflict) {
				return err
			}
			if name == image.DefaultName {
				name = ""
			}
			return db.SetWorkspaceImage(cmd.Context(), ws, name)
		},
	}
	bindImageDirFlags(cmd.Flags(), &cfg)
	bindDatabaseFlag(cmd.Flags(), &dbSpec)
	cmd.Flags().StringVar(&workspace, "workspace", string(codebox.DefaultWorkspace), "the workspace")
	return cmd
}
