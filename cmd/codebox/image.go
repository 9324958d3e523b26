package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/codebox-dev/codebox/image"
)

// imageDirConfig locates the image directory: --image-dir, or <data-dir>/images.
type imageDirConfig struct {
	DataDir  string
	ImageDir string
}

func bindImageDirFlags(fs *pflag.FlagSet, c *imageDirConfig) {
	fs.StringVar(&c.DataDir, "data-dir", "./codebox-data", "data directory; images live in its images/ subdirectory")
	fs.StringVar(&c.ImageDir, "image-dir", "", "directory of container images (default <data-dir>/images)")
}

func (c *imageDirConfig) dir() (string, error) {
	d := c.ImageDir
	if d == "" {
		d = filepath.Join(c.DataDir, "images")
	}
	return filepath.Abs(d)
}

func newImageCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "image",
		Short: "Build and inspect the container root filesystem",
	}
	cmd.AddCommand(newImageBuildCmd(), newImageInfoCmd(), newImagePruneCmd(), newImageListCmd(), newImageDefaultCmd())
	return cmd
}

func newImageBuildCmd() *cobra.Command {
	var (
		cfg    imageDirConfig
		force  bool
		recipe string
	)
	cmd := &cobra.Command{
		Use:   "build",
		Short: "Build the container image from Debian packages (needs root and network access to deb.debian.org)",
		Long: `Build the root filesystem every sandbox container runs on: Debian 12 with Python 3.11,
its data-science libraries and command-line tools. The image is cached under the image
directory by the hash of its recipe; an image that is already built is reused unless
--force is given. ` + "`codebox serve`" + ` builds it on first start when it is missing.

With --recipe, build a custom image: the default image plus the Debian packages, pinned
wheels and files a recipe file names (see the README). Until the build succeeds, the
image's name keeps serving its previous build.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			dir, err := cfg.dir()
			if err != nil {
				return err
			}
			opts := image.Options{Dir: dir, Progress: os.Stderr, Force: force}
			if recipe != "" {
				if opts.Recipe, err = image.LoadRecipeFile(recipe); err != nil {
					return err
				}
				// Made from a copy of the default image when that is built.
				opts.Base = image.DefaultRecipe()
			}
			img, err := image.Build(cmd.Context(), opts)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), img.RootFS)
			return nil
		},
	}
	bindImageDirFlags(cmd.Flags(), &cfg)
	cmd.Flags().BoolVar(&force, "force", false, "rebuild even if the image for the current recipe exists")
	cmd.Flags().StringVar(&recipe, "recipe", "", "recipe file (JSON) of a custom image to build")
	return cmd
}

func newImageInfoCmd() *cobra.Command {
	var (
		cfg  imageDirConfig
		name string
	)
	cmd := &cobra.Command{
		Use:   "info",
		Short: "Show an image: where it is, its size, and the libraries and tools in it, with their versions and sources",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			dir, err := cfg.dir()
			if err != nil {
				return err
			}
			img, err := image.Resolve(dir, name)
			if errors.Is(err, image.ErrNotBuilt) {
				return fmt.Errorf("%w (run `codebox image build --image-dir %s`)", err, dir)
			}
			if err != nil {
				return err
			}
			if err := printImageInfo(cmd.OutOrStdout(), img); err != nil {
				return err
			}
			stale, err := image.Stale(dir, image.DefaultRecipe())
			if err != nil {
				return err
			}
			if len(stale) > 0 {
				fmt.Fprintf(cmd.OutOrStdout(), "\nNo longer used (remove with `codebox image prune`): %s\n", strings.Join(stale, " "))
			}
			return nil
		},
	}
	bindImageDirFlags(cmd.Flags(), &cfg)
	cmd.Flags().StringVar(&name, "name", image.DefaultName, "the image to show")
	return cmd
}

func newImagePruneCmd() *cobra.Command {
	var cfg imageDirConfig
	cmd := &cobra.Command{
		Use:   "prune",
		Short: "Delete images built from older recipes and leftovers of interrupted builds",
		Long: `Delete every image in the image directory except the one for the current recipe.
Stop containers still running on an old image first.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			dir, err := cfg.dir()
			if err != nil {
				return err
			}
			removed, err := image.Prune(cmd.Context(), dir, image.DefaultRecipe())
			for _, path := range removed {
				fmt.Fprintln(cmd.OutOrStdout(), "removed", path)
			}
			return err
		},
	}
	bindImageDirFlags(cmd.Flags(), &cfg)
	return cmd
}

func printImageInfo(w io.Writer, img *image.Image) error {
	m := img.Manifest
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	name := m.Recipe.Name
	if name == "" {
		name = image.DefaultName
	}
	fmt.Fprintf(tw, "Image:\t%s\n", name)
	fmt.Fprintf(tw, "Root filesystem:\t%s\n", img.RootFS)
	fmt.Fprintf(tw, "Recipe hash:\t%s\n", m.Hash)
	if m.Base != "" {
		fmt.Fprintf(tw, "Made from:\t%s (a copy, with the recipe's additions)\n", m.Base)
	}
	fmt.Fprintf(tw, "Debian:\t%s (%d packages)\n", m.Recipe.Suite, len(m.Packages))
	fmt.Fprintf(tw, "Python:\t%s\n", m.Python)
	fmt.Fprintf(tw, "Size:\t%.0f MiB\n", float64(m.SizeBytes)/(1<<20))
	fmt.Fprintf(tw, "Built:\t%s (in %s)\n", m.BuiltAt.Format(time.RFC3339), (time.Duration(m.BuildSeconds) * time.Second).String())
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "LIBRARY\tIMPORT\tVERSION\tSOURCE")
	for _, mod := range m.Modules {
		v := mod.Version
		if mod.Error != "" {
			v = "BROKEN: " + mod.Error
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", mod.Name, mod.Import, v, mod.Source())
	}
	fmt.Fprintln(tw)
	var tools []string
	for _, t := range m.Tools {
		if t.Error == "" {
			tools = append(tools, t.Name)
		} else {
			tools = append(tools, t.Name+" (BROKEN: "+t.Error+")")
		}
	}
	fmt.Fprintf(tw, "Tools:\t%s\n", strings.Join(tools, " "))
	if len(m.Missing) > 0 {
		fmt.Fprintln(tw)
		fmt.Fprintln(tw, "MISSING\tWHY")
		for _, x := range m.Missing {
			fmt.Fprintf(tw, "%s\t%s\n", x.Name, x.Reason)
		}
	}
	return tw.Flush()
}

func init() { rootCmd.AddCommand(newImageCmd()) }
