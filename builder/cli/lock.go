package cli

import (
	"fmt"
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
		Long: "Resolve the K3s release, the platform's charts and every image afresh (tags followed),\n" +
			"download and verify them into the cache, and write the digests to the lock file beside\n" +
			"the config (site.yaml -> site.lock). `builder build` then uses those digests, and\n" +
			"`builder build --locked` fails if the config needs anything the lock does not pin.",
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
			res, err := build.Resolve(cmd.Context(), s, build.ResolveOptions{Cache: c, Logger: log, Progress: display})
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
			fmt.Fprintf(out, "wrote %s: %d charts, %d images\n", path, len(res.Lock.Charts), len(res.Lock.Images))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&config, "config", "c", "", "site config file (site.yaml)")
	f.StringVar(&cacheDir, "cache", filepath.Join("out", "cache"), "content-addressed download cache")
	f.BoolVarP(&verbose, "verbose", "v", false, "log every step")
	return cmd
}
