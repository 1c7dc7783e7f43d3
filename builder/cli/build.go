package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/ml-appliance/appliance/builder/build"
	"github.com/ml-appliance/appliance/builder/lock"
	"github.com/ml-appliance/appliance/builder/progress"
)

func newBuildCmd() *cobra.Command {
	var (
		config   string
		opts     build.Options
		verbose  bool
		epochStr string
	)
	cmd := &cobra.Command{
		Use:   "build --config FILE [--output DIR]",
		Short: "Bake the site's bootable artifacts",
		Long: "Build every output the site config enables (raw GPT disk image, ...) into the output\n" +
			"directory, with build-report.json listing each artifact and input with its digest.\n" +
			"Artifacts appear under their final names only when the whole build succeeded.\n" +
			"A lock file beside the config (site.yaml -> site.lock, see `builder lock`) pins downloads.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if config == "" {
				return &usageError{"build: --config is required"}
			}
			// A bad flag is reported before the config is read.
			epoch, err := sourceDateEpoch(epochStr)
			if err != nil {
				return err
			}
			s, warnings, err := loadSite(cmd, "build", config)
			if err != nil {
				return err
			}
			if err := s.CheckInputs(); err != nil {
				return err
			}
			opts.SourceDateEpoch = epoch
			if opts.AgentDir == "" {
				if opts.AgentDir, err = executableDir(); err != nil {
					return err
				}
			}
			opts.LockPath = lock.PathFor(config)
			if opts.Lock, err = build.ReadLock(opts.LockPath); err != nil {
				return err
			}
			if opts.Locked && opts.Lock == nil {
				return &usageError{fmt.Sprintf("build: --locked needs a lock file, and %s does not exist: run `builder lock --config %s`", opts.LockPath, config)}
			}
			opts.ConfigPath = config
			opts.Version = version
			opts.Warnings = warnings
			opts.Progress = progress.New(cmd.ErrOrStderr(), progress.Options{})
			defer opts.Progress.Close()
			opts.Logger = newLogger(opts.Progress.LogOutput(), verbose)
			rep, err := build.Run(cmd.Context(), s, opts)
			if err != nil {
				return err
			}
			for _, a := range rep.Artifacts {
				fmt.Fprintf(cmd.OutOrStdout(), "%-10s %s  %d bytes  sha256:%s\n",
					a.Kind, filepath.Join(opts.OutputDir, a.Path), a.Size, a.SHA256)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&config, "config", "c", "", "site config file (site.yaml)")
	f.StringVarP(&opts.OutputDir, "output", "o", "out", "directory for the artifacts and build-report.json")
	f.StringVar(&opts.CacheDir, "cache", filepath.Join("out", "cache"), "content-addressed download cache")
	f.BoolVar(&opts.Offline, "offline", false, "fail instead of downloading anything not in the cache")
	f.BoolVar(&opts.Locked, "locked", false, "fail if the config needs anything the lock file beside it does not pin, or the base image's tag has moved since")
	f.StringVar(&opts.AgentDir, "agent-dir", "", "directory holding the firstboot and appliance-init binaries (default: beside the builder)")
	f.StringVar(&epochStr, "source-date-epoch", os.Getenv("SOURCE_DATE_EPOCH"),
		"timestamp (Unix seconds) of every file in the artifacts (default $SOURCE_DATE_EPOCH, else 0)")
	f.BoolVarP(&verbose, "verbose", "v", false, "log every step")
	return cmd
}

func sourceDateEpoch(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, &usageError{fmt.Sprintf("build: --source-date-epoch / SOURCE_DATE_EPOCH: %q is not a non-negative Unix time", s)}
	}
	return n, nil
}

func executableDir() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("find the builder's own directory: %w", err)
	}
	exe, err = filepath.EvalSymlinks(exe)
	if err != nil {
		return "", fmt.Errorf("find the builder's own directory: %w", err)
	}
	return filepath.Dir(exe), nil
}
