package build

import (
	"fmt"
	"os"

	"github.com/ml-appliance/appliance/builder/doctor"
	"github.com/ml-appliance/appliance/builder/output"
	"github.com/ml-appliance/appliance/builder/output/iso"
	"github.com/ml-appliance/appliance/builder/output/pxe"
	"github.com/ml-appliance/appliance/builder/output/raw"
	"github.com/ml-appliance/appliance/builder/site"
)

// formats returns the output formats s enables, in a fixed order. A new
// format is one package under builder/output and one line here.
func formats(s *site.Site) ([]output.Format, error) {
	var fs []output.Format
	if r := s.Outputs.Raw; r != nil {
		fs = append(fs, raw.New(raw.Options{Size: int64(r.Size)}))
	}
	if o := s.Outputs.ISO; o != nil {
		var install *iso.Install
		if o.Install != nil {
			t := o.Install.Target()
			install = &t
		}
		fs = append(fs, iso.New(iso.FormatOptions{Install: install, State: o.State.StateArg()}))
	}
	if o := s.Outputs.PXE; o != nil {
		opts, err := pxeOptions(s, o)
		if err != nil {
			return nil, err
		}
		fs = append(fs, pxe.New(opts))
	}
	return fs, nil
}

// pxeOptions are the bundle's choices from the site: state, roles and the
// operator's per-role user-data (checked when the site was validated).
func pxeOptions(s *site.Site, o *site.PXEOutput) (pxe.Options, error) {
	opts := pxe.Options{State: o.State.StateArg(), DefaultRole: s.Cluster.DefaultRole, UserData: map[string][]byte{}}
	for _, n := range s.Cluster.Nodes {
		opts.Nodes = append(opts.Nodes, pxe.Node{Hostname: n.Hostname, MAC: n.MAC, Role: n.Role})
	}
	for role, path := range o.UserData {
		data, err := os.ReadFile(path)
		if err != nil {
			return opts, fmt.Errorf("outputs.pxe.userData.%s: %w", role, err)
		}
		opts.UserData[role] = data
	}
	return opts, nil
}

// formatTools are the host tools of the formats s enables; nil s means
// every format's (for `builder doctor`).
func formatTools(s *site.Site) []doctor.Tool {
	var tools []doctor.Tool
	if s == nil || s.Outputs.ISO != nil {
		tools = append(tools, iso.HostTools()...)
	}
	return tools
}
