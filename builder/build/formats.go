package build

import (
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

// formatTools are the host tools of the formats s enables; nil s means
// every format's (for `builder doctor`).
func formatTools(s *site.Site) []doctor.Tool {
	var tools []doctor.Tool
	if s == nil || s.Outputs.ISO != nil {
		tools = append(tools, iso.HostTools()...)
	}
	if s == nil || servesPXE(s) {
		tools = append(tools, pxeTools()...)
	}
	return tools
}
