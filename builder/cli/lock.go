package cli

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/ml-appliance/appliance/builder/build"
	"github.com/ml-appliance/appliance/builder/cache"
	"github.com/ml-appliance/appliance/builder/lock"
	"github.com/ml-appliance/appliance/builder/progress"
)

func newLockCmd() *cobra.Command {
	var config, cacheDir string
	var verbose bool
	cmd := &cobra.Command{
		Use:   "lock --config FILE",
		Short: "Pin every download the site needs in a lock file beside the config",
		Long: "Resolve the base OS image (os.base.image), the K3s release, the platform's charts and\n" +
			"every image afresh (tags followed), download and verify them into the cache, and write\n" +
			"the digests to the lock file beside the config (site.yaml -> site.lock). `builder build`\n" +
			"then uses those digests, and `builder build --locked` fails if the config needs anything\n" +
			"the lock does not pin, or if the base image's tag has moved since.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, _, err := loadSite(cmd, "lock", config)
			if err != nil {
				return err
			}
			display := progress.New(cmd.ErrOrStderr(), progress.Options{})
			defer display.Close()
			log := newLogger(display.LogOutput(), verbose)
			c, err := build.OpenCache(s, cache.Options{Dir: cacheDir, Logger: log, Progress: display})
			if err != nil {
				return err
			}
			// The site's local charts are packaged to be rendered (their
			// images are locked); they are not pinned themselves.
			localCharts, err := os.MkdirTemp("", "builder-lock-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(localCharts)
			res, err := build.Resolve(cmd.Context(), s, build.ResolveOptions{Cache: c, LockOnly: true, Logger: log, Progress: display,
				LocalCharts: localCharts})
			if err != nil {
				return err
			}
			path := lock.PathFor(config)
			old, err := build.ReadLock(path)
			if err != nil {
				return err
			}
			if err := res.Lock.Write(path, filepath.Base(config)); err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			for _, d := range lock.Diff(old, res.Lock) {
				fmt.Fprintln(out, "changed:", d)
			}
			base := ""
			if b := res.Lock.Base; b != nil {
				base = ", base image " + b.Ref
			}
			fmt.Fprintf(out, "wrote %s: %d charts, %d images%s\n", path, len(res.Lock.Charts), len(res.Lock.Images), base)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&config, "config", "c", "", "site config file (site.yaml)")
	f.StringVar(&cacheDir, "cache", filepath.Join("out", "cache"), "content-addressed download cache")
	f.BoolVarP(&verbose, "verbose", "v", false, "log every step")
	return cmd
}
