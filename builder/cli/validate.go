package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/ml-appliance/appliance/builder/site"
)

func newValidateCmd() *cobra.Command {
	var config string
	cmd := &cobra.Command{
		Use:   "validate --config FILE",
		Short: "Check a site config without building anything",
		Long: "Decode and validate a site config with the same checks a build runs.\n" +
			"Problems are printed as FILE:LINE: field: what is wrong; the exit status is 2 if any.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, _, err := loadSite(cmd, "validate", config)
			if err != nil {
				return err
			}
			if err := s.CheckInputs(); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: site %q is valid\n", config, s.Metadata.Name)
			return nil
		},
	}
	cmd.Flags().StringVarP(&config, "config", "c", "", "site config file (site.yaml)")
	return cmd
}

// loadSite loads the site config a command's --config names (required),
// printing its warnings on stderr.
func loadSite(cmd *cobra.Command, verb, config string) (*site.Site, []string, error) {
	if config == "" {
		return nil, nil, &usageError{verb + ": --config is required"}
	}
	s, warnings, err := site.Load(config)
	for _, w := range warnings {
		fmt.Fprintln(cmd.ErrOrStderr(), "warning:", w)
	}
	return s, warnings, err
}
