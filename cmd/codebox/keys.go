package main

import (
	"fmt"
	"os"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/codebox-dev/codebox"
	"github.com/codebox-dev/codebox/apikey"
)

// newKeysCmd manages API keys directly in the server's database. It runs beside a live
// server (SQLite's WAL, or PostgreSQL's sessions), which sees changes at the next request.
func newKeysCmd() *cobra.Command {
	var dataDir, dbSpec string
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "Create, list and revoke API keys (acts on the server's database; works while the server runs)",
	}
	cmd.PersistentFlags().StringVar(&dataDir, "data-dir", "./codebox-data", "the server's data directory")
	bindDatabaseFlag(cmd.PersistentFlags(), &dbSpec)

	open := func(cmd *cobra.Command) (*apikey.Service, func(), error) {
		db, err := openDatabase(cmd.Context(), dbSpec, dataDir)
		if err != nil {
			return nil, nil, err
		}
		return apikey.New(db), func() { db.Close() }, nil
	}

	var workspace string
	create := &cobra.Command{
		Use:   "create",
		Short: "Create a key (and its workspace if needed) and print it once",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			svc, done, err := open(cmd)
			if err != nil {
				return err
			}
			defer done()
			secret, k, err := svc.Create(cmd.Context(), codebox.WorkspaceID(workspace))
			if err != nil {
				return err
			}
			fmt.Fprintf(os.Stderr, "created key %s for workspace %s; it is shown only now:\n", k.ID, k.Workspace)
			fmt.Println(secret)
			return nil
		},
	}
	create.Flags().StringVar(&workspace, "workspace", string(codebox.DefaultWorkspace), "workspace the key belongs to")

	list := &cobra.Command{
		Use:   "list",
		Short: "List keys (ids and hints, never the secrets)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			svc, done, err := open(cmd)
			if err != nil {
				return err
			}
			defer done()
			keys, err := svc.List(cmd.Context())
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tWORKSPACE\tKEY\tCREATED\tSTATUS")
			for _, k := range keys {
				status := "active"
				if !k.RevokedAt.IsZero() {
					status = "revoked " + k.RevokedAt.Format("2006-01-02 15:04")
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", k.ID, k.Workspace, k.Hint, k.CreatedAt.Format("2006-01-02 15:04"), status)
			}
			return tw.Flush()
		},
	}

	revoke := &cobra.Command{
		Use:   "revoke KEY_ID",
		Short: "Revoke a key at once",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			svc, done, err := open(cmd)
			if err != nil {
				return err
			}
			defer done()
			if err := svc.Revoke(cmd.Context(), args[0]); err != nil {
				return fmt.Errorf("revoke %s: %w", args[0], err)
			}
			fmt.Fprintf(os.Stderr, "revoked %s\n", args[0])
			return nil
		},
	}
	cmd.AddCommand(create, list, revoke)
	return cmd
}

func init() { rootCmd.AddCommand(newKeysCmd()) }
