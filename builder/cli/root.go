// Package cli holds the builder's cobra commands. Each command checks its
// arguments, calls a library function and prints the result; no logic lives
// here.
package cli

import (
	"errors"
	"io"
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/ml-appliance/appliance/builder/site"
)

// version is set at link time (-X .../builder/cli.version=...).
var version = "dev"

// New returns the root command.
func New() *cobra.Command {
	root := &cobra.Command{
		Use:           "builder",
		Short:         "Bake bootable air-gapped K3s ML appliance images from a site.yaml",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newValidateCmd(), newBuildCmd(), newImagesCmd(), newLockCmd(), newDoctorCmd(), newServeCmd(), newVersionCmd())
	return root
}

// ExitCode maps an error to the process exit status: 2 for a bad config or
// bad command line, 1 for everything else.
func ExitCode(err error) int {
	var cfgErr *site.Error
	var usage *usageError
	if errors.As(err, &cfgErr) || errors.As(err, &usage) {
		return 2
	}
	return 1
}

// usageError is a bad command line.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func newLogger(w io.Writer, verbose bool) *slog.Logger {
	level := slog.LevelInfo
	if verbose {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the builder's version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := io.WriteString(cmd.OutOrStdout(), version+"\n")
			return err
		},
	}
}
