// Command firstboot is the appliance's node agent. systemd runs
// `firstboot run` on every boot, before K3s (see firstboot/payload); the
// steps themselves live in firstboot/agent. This file only wires flags to
// the library and maps errors to the exit code.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/ml-appliance/appliance/firstboot/agent"
	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = ""

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes the command line and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmd := newRootCmd()
	cmd.SetArgs(args)
	cmd.SetOut(stdout)
	cmd.SetErr(stderr)
	if err := cmd.ExecuteContext(ctx); err != nil {
		fmt.Fprintf(stderr, "firstboot: error: %v\n", err)
		return 1
	}
	return 0
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:               "firstboot",
		Short:             "Configure this appliance node (run by firstboot.service on every boot)",
		SilenceErrors:     true,
		SilenceUsage:      true,
		CompletionOptions: cobra.CompletionOptions{DisableDefaultCmd: true},
	}
	root.AddCommand(newRunCmd(), newPlatformCmd(), newStatusCmd(), newServePXECmd(), newRegistryCmd(), newVersionCmd())
	root.AddCommand(newUpgradeCmd())
	return root
}

func newRunCmd() *cobra.Command {
	var root, console string
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run the node agent's steps",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return onConsole(cmd, console, "firstboot: error: ", func(out io.Writer) error {
				return agent.Run(cmd.Context(), agent.NewEnv(root, out))
			})
		},
	}
	cmd.Flags().StringVar(&root, "root", "/", "host root directory (the kernel hostname is set only for /)")
	cmd.Flags().StringVar(&console, "console", "",
		"also write each line to this terminal (the service passes /dev/console, so operators see plain `firstboot:` lines)")
	return cmd
}

// onConsole runs f with the command's output, also written to the console
// device when one is named; f's error goes to the console too, after
// prefix, since operators watch it there.
func onConsole(cmd *cobra.Command, console, prefix string, f func(out io.Writer) error) error {
	out, con, closeConsole, err := withConsole(cmd.OutOrStdout(), console)
	if err != nil {
		return err
	}
	defer closeConsole()
	err = f(out)
	if err != nil && con != nil {
		fmt.Fprintf(con, "%s%v\n", prefix, err)
	}
	return err
}

// withConsole returns out, also writing to the console device when one is
// named, the console alone (nil when none), and a func that closes it.
// run prints a failing command's error to stderr; the console gets it
// from the caller, so operators see it there too.
func withConsole(out io.Writer, console string) (io.Writer, io.Writer, func(), error) {
	if console == "" {
		return out, nil, func() {}, nil
	}
	f, err := os.OpenFile(console, os.O_WRONLY|os.O_APPEND|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("open console %s: %w", console, err)
	}
	con := bestEffort{f}
	return io.MultiWriter(out, con), con, func() { f.Close() }, nil
}

// bestEffort writes to w and ignores failures: a console that cannot be
// written must not stop the agent, whose output also goes to the journal.
type bestEffort struct{ w io.Writer }

func (b bestEffort) Write(p []byte) (int, error) {
	b.w.Write(p)
	return len(p), nil
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintf(cmd.OutOrStdout(), "firstboot %s\n", buildVersion())
			return nil
		},
	}
}

// buildVersion is the -X version, else the module version Go recorded,
// else "(devel)".
func buildVersion() string {
	if version != "" {
		return version
	}
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" {
		return info.Main.Version
	}
	return "(devel)"
}
