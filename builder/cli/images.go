package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/spf13/cobra"

	"github.com/ml-appliance/appliance/builder/build"
	"github.com/ml-appliance/appliance/builder/cache"
	"github.com/ml-appliance/appliance/builder/catalog"
	"github.com/ml-appliance/appliance/builder/lock"
	"github.com/ml-appliance/appliance/builder/platform"
)

func newImagesCmd() *cobra.Command {
	var config, cacheDir, why string
	var offline, verbose bool
	cmd := &cobra.Command{
		Use:   "images --config FILE [--why IMAGE]",
		Short: "List the images the site's platform and its own workloads need, and why",
		Long: "Pull the enabled components' and the site's charts, render them with the site's values and\n" +
			"list every image they, the site's manifests, the catalog's run-time images and the site's\n" +
			"own image lists need, one per line. With --why, say which chart, manifest, catalog entry or\n" +
			"site.yaml list needs IMAGE (a reference, with or without its tag).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, _, err := loadSite(cmd, "images", config)
			if err != nil {
				return err
			}
			log := newLogger(cmd.ErrOrStderr(), verbose)
			c, err := build.OpenCache(s, cache.Options{Dir: cacheDir, Offline: offline, Logger: log})
			if err != nil {
				return err
			}
			pins, err := build.ReadLock(lock.PathFor(config))
			if err != nil {
				return err
			}
			cat, err := catalog.Default()
			if err != nil {
				return err
			}
			localCharts, err := os.MkdirTemp("", "builder-images-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(localCharts)
			plan, err := platform.Resolve(cmd.Context(), s, platform.Options{Catalog: cat, Charts: c, Lock: pins, Logger: log,
				LocalCharts: localCharts})
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if why == "" {
				for _, n := range plan.Images {
					fmt.Fprintln(out, n.Ref)
				}
				return nil
			}
			found := false
			for _, n := range plan.Images {
				if !sameImage(n.Ref, why) {
					continue
				}
				found = true
				fmt.Fprintf(out, "%s is needed by:\n", n.Ref)
				for _, f := range n.From {
					fmt.Fprintf(out, "  %s\n", f)
				}
			}
			if !found {
				return fmt.Errorf("images: nothing the site enables needs %s", why)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&config, "config", "c", "", "site config file (site.yaml)")
	f.StringVar(&why, "why", "", "say what needs this image")
	f.StringVar(&cacheDir, "cache", filepath.Join("out", "cache"), "content-addressed download cache")
	f.BoolVar(&offline, "offline", false, "fail instead of downloading anything not in the cache")
	f.BoolVarP(&verbose, "verbose", "v", false, "log every step")
	return cmd
}

// sameImage reports whether ref is what the operator asked about: the same
// repository (nginx = docker.io/library/nginx) and, when the question names
// a tag or digest, the same one.
func sameImage(ref, asked string) bool {
	r, err := name.ParseReference(ref)
	if err != nil {
		return false
	}
	a, err := name.ParseReference(asked)
	if err != nil || r.Context().Name() != a.Context().Name() {
		return false
	}
	lastPart := asked[strings.LastIndex(asked, "/")+1:]
	return !strings.ContainsAny(lastPart, ":@") || r.Identifier() == a.Identifier()
}
