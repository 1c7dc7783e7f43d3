package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/ml-appliance/appliance/builder/build"
	"github.com/ml-appliance/appliance/builder/doctor"
)

func newDoctorCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "doctor",
		Short: "Check that this host has the programs a build needs",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			results, err := doctor.Check(build.HostTools(), nil)
			for _, r := range results {
				status := "missing (apt-get install " + r.Package + ")"
				if r.Found() {
					status = r.Path
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%-10s %-45s %s\n", r.Command, r.Purpose, status)
			}
			return err
		},
	}
}
