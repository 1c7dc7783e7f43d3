// Package images holds what the appliance is made of besides Go code: the
// default base OS recipe (base/) and the platform catalog (catalog/), one
// YAML file per component of the ML platform. The catalog is embedded in the
// builder; builder/catalog reads and checks it.
package images

import "embed"

// Catalog is the platform catalog: catalog/<component>.yaml.
//
//go:embed catalog/*.yaml
var Catalog embed.FS
