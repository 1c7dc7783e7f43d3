package build

import (
	"github.com/ml-appliance/appliance/builder/output"
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
	return fs
}
