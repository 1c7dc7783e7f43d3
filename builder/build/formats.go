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
func formats(s *site.Site) []output.Format {
	var fs []output.Format
	if r := s.Outputs.Raw; r != nil {
		fs = append(fs, raw.New(raw.Options{Size: int64(r.Size)}))
	}
	if o := s.Outputs.ISO; o != nil && o.Install != nil {
		fs = append(fs, iso.NewInstaller(o.Install.Target()))
	} else if o != nil {
		fs = append(fs, iso.New())
	}
	if s.Outputs.PXE != nil {
		fs = append(fs, pxe.New())
	}
	return fs
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
