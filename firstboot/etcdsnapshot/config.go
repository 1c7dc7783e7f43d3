package etcdsnapshot

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/ml-appliance/appliance/internal/smallfile"
)

// Bounds on K3s's config files, which firstboot writes but an operator may
// add drop-ins to: a file is one YAML document of a few keys.
const (
	maxConfigBytes = 1 << 20
	maxDropIns     = 256
)

// settings are the K3s server keys that say where its datastore and
// snapshots are, as K3s reads them from its config file and drop-ins.
type settings struct {
	dataDir           string // data-dir (alias d)
	snapshotDir       string // etcd-snapshot-dir
	schedule          string // etcd-snapshot-schedule-cron
	datastoreEndpoint string // datastore-endpoint
	disableSnapshots  bool   // etcd-disable-snapshots
	s3                bool   // etcd-s3
}

// readSettings reads configFile (a path under root, K3s's
// /etc/rancher/k3s/config.yaml) and its drop-ins configFile+".d/*.yaml" as
// K3s merges them (k3s-io/k3s pkg/configfilearg/parser.go: dotDFiles and
// readConfigFile): the file first, then the drop-ins in name order, names
// ending in .yaml or .yml (case ignored), the last value of a key winning.
// A key ending in "+" appends in K3s; for the single-valued keys read here
// the last value is what K3s uses, so it wins too. A missing file is no
// error. Drop-ins that are symbolic links are refused, and the files and
// the drop-in directory are bounded.
func readSettings(root, configFile string) (settings, error) {
	var s settings
	path := filepath.Join(root, configFile)
	data, err := smallfile.Read(path, maxConfigBytes)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return s, fmt.Errorf("read %s: %w", configFile, smallfile.Cause(err))
	default:
		if err := s.apply(data); err != nil {
			return s, fmt.Errorf("%s: %w", configFile, err)
		}
	}
	dir, names, err := dropIns(path + ".d")
	if err != nil {
		return s, fmt.Errorf("%s.d: %w", configFile, err)
	}
	if dir == nil {
		return s, nil
	}
	defer dir.Close()
	for _, name := range names {
		data, err := smallfile.ReadIn(dir, name, maxConfigBytes)
		if err != nil {
			return s, fmt.Errorf("%s.d/%s: %w", configFile, name, smallfile.Cause(err))
		}
		if err := s.apply(data); err != nil {
			return s, fmt.Errorf("%s.d/%s: %w", configFile, name, err)
		}
	}
	return s, nil
}

// dropIns opens the drop-in directory and lists the names K3s reads, in
// order; a missing directory gives nil.
func dropIns(path string) (*os.File, []string, error) {
	dir, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, smallfile.Cause(err)
	}
	entries, err := dir.ReadDir(maxDropIns + 1)
	if err != nil && !errors.Is(err, io.EOF) {
		dir.Close()
		return nil, nil, err
	}
	if len(entries) > maxDropIns {
		dir.Close()
		return nil, nil, fmt.Errorf("more than %d entries", maxDropIns)
	}
	var names []string
	for _, e := range entries {
		lower := strings.ToLower(e.Name())
		if e.IsDir() || !(strings.HasSuffix(lower, ".yaml") || strings.HasSuffix(lower, ".yml")) {
			continue
		}
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return dir, names, nil
}

// apply sets the keys one config document gives. Only top-level scalar
// values are looked at; an alias is followed one step, to its scalar.
func (s *settings) apply(data []byte) error {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return err
	}
	if len(doc.Content) == 0 {
		return nil
	}
	m := doc.Content[0]
	if m.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: want a mapping of K3s flags", m.Line)
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		key, value := strings.TrimSuffix(m.Content[i].Value, "+"), m.Content[i+1]
		if value.Kind == yaml.AliasNode && value.Alias != nil {
			value = value.Alias
		}
		if value.Kind != yaml.ScalarNode {
			continue
		}
		if err := s.set(key, value); err != nil {
			return err
		}
	}
	return nil
}

// set takes one key's value; booleans are K3s's true/false flags.
func (s *settings) set(key string, v *yaml.Node) error {
	flag := func(dst *bool) error {
		switch v.Value {
		case "true", "True", "TRUE":
			*dst = true
		case "false", "False", "FALSE", "":
			*dst = false
		default:
			return fmt.Errorf("line %d: %s: want true or false, got %q", v.Line, key, v.Value)
		}
		return nil
	}
	switch key {
	case "data-dir", "d":
		s.dataDir = v.Value
	case "etcd-snapshot-dir":
		s.snapshotDir = v.Value
	case "etcd-snapshot-schedule-cron":
		s.schedule = v.Value
	case "datastore-endpoint":
		s.datastoreEndpoint = v.Value
	case "etcd-disable-snapshots":
		return flag(&s.disableSnapshots)
	case "etcd-s3":
		return flag(&s.s3)
	}
	return nil
}
