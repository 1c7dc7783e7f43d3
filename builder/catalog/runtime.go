package catalog

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// Image is an image a component starts at run time that its rendered chart
// does not name as a container image: a controller's executor, an
// operator's sidecar, a notebook server. From says where the build finds
// it, so that a site's values that change it change what is baked; Ref
// is a fixed reference, only for an image that has no place in the values
// or the render.
type Image struct {
	// From is where the image is named: in the values, or in the rendered
	// chart (a container's argument or environment variable, a ConfigMap).
	From *Source `yaml:"from"`
	// Ref is a fixed image reference, pinned to a tag or digest (never
	// "latest"), when there is no From; Why must then say why.
	Ref string `yaml:"ref"`
	// Why says what starts it, for `builder images --why`.
	Why string `yaml:"why"`
	// Line is the entry's line in its file.
	Line int `yaml:"-"`
}

// Source is where a run-time image is named. Exactly one of Values, Arg,
// Env and ConfigMap is set.
//
//	from: {values: singleuser.image}
//	from: {values: "singleuser.profileList[*].kubespawner_override.image", optional: true}
//	from: {workload: Deployment/argo-workflows-workflow-controller, container: controller, arg: --executor-image}
//	from: {workload: Deployment/seldon-controller-manager, container: manager, env: EXECUTOR_CONTAINER_IMAGE_AND_VERSION}
//	from: {configMap: seldon-config, key: predictor_servers, path: MLFLOW_SERVER.protocols.v2}
//
// The value found is an image reference, or a map holding one as charts
// write them: {registry, repository, tag, digest}, {name, tag} or
// {image, defaultImageVersion}.
type Source struct {
	// Values is a path into the values the chart is rendered with (its
	// defaults with the catalog's and the site's merged over them).
	Values string `yaml:"values"`
	// Workload is the rendered Kind/name whose container has Arg or Env.
	Workload string `yaml:"workload"`
	// Container is the container (or init container) in Workload.
	Container string `yaml:"container"`
	// Arg is a flag of the container's command line ("--executor-image");
	// the image is its value, written "--flag=image" or "--flag image".
	Arg string `yaml:"arg"`
	// Env is an environment variable of the container, with a literal
	// value.
	Env string `yaml:"env"`
	// ConfigMap is a rendered ConfigMap's name, Key a key of its data.
	ConfigMap string `yaml:"configMap"`
	Key       string `yaml:"key"`
	// Path is a path into Key's value parsed as JSON or YAML; empty means
	// the value is the reference itself.
	Path string `yaml:"path"`
	// Optional lets the place be absent or empty: then no image is
	// derived. A path with a wildcard finds every match.
	Optional bool `yaml:"optional"`
	// When is a path into the values: the image is derived only when the
	// value there is true (a feature that starts it is on).
	When string `yaml:"when"`
	// Line is the from: map's line in its file.
	Line int `yaml:"-"`
}

// Kinds of Source.
const (
	SourceValues    = "values"
	SourceArg       = "arg"
	SourceEnv       = "env"
	SourceConfigMap = "configMap"
)

// Kind says which place s names: SourceValues, SourceArg, SourceEnv or
// SourceConfigMap ("" when none or several are set, which Load rejects).
func (s *Source) Kind() string {
	var set []string
	for kind, v := range map[string]string{SourceValues: s.Values, SourceArg: s.Arg, SourceEnv: s.Env, SourceConfigMap: s.ConfigMap} {
		if v != "" {
			set = append(set, kind)
		}
	}
	if len(set) != 1 {
		return ""
	}
	return set[0]
}

// ValuesPath is Values parsed (Load has checked it).
func (s *Source) ValuesPath() Path { p, _ := ParsePath(s.Values); return p }

// WhenPath is When parsed; zero when When is empty (Load has checked it).
func (s *Source) WhenPath() Path {
	if s.When == "" {
		return Path{}
	}
	p, _ := ParsePath(s.When)
	return p
}

// ConfigPath is Path parsed; zero when Path is empty (Load has checked it).
func (s *Source) ConfigPath() Path {
	if s.Path == "" {
		return Path{}
	}
	p, _ := ParsePath(s.Path)
	return p
}

// String says where s points, for messages: "values singleuser.image",
// "Deployment/x container c arg --executor-image", "ConfigMap
// seldon-config key predictor_servers path MLFLOW_SERVER.protocols.v2".
func (s *Source) String() string {
	var out string
	switch s.Kind() {
	case SourceValues:
		out = "values " + s.Values
	case SourceArg:
		out = fmt.Sprintf("%s container %s arg %s", s.Workload, s.Container, s.Arg)
	case SourceEnv:
		out = fmt.Sprintf("%s container %s env %s", s.Workload, s.Container, s.Env)
	case SourceConfigMap:
		out = fmt.Sprintf("ConfigMap %s key %s", s.ConfigMap, s.Key)
		if s.Path != "" {
			out += " path " + s.Path
		}
	default:
		out = "an unset place"
	}
	if s.When != "" {
		out += " when " + s.When
	}
	if s.Optional {
		out += " (optional)"
	}
	return out
}

// UnmarshalYAML decodes an images entry strictly: yaml.v3 does not carry
// Decoder.KnownFields into a custom unmarshaller, so unknown keys are
// rejected here, with their line.
func (img *Image) UnmarshalYAML(n *yaml.Node) error {
	if err := knownKeys(n, "images entry", "from", "ref", "why"); err != nil {
		return err
	}
	type plain Image
	if err := n.Decode((*plain)(img)); err != nil {
		return err
	}
	img.Line = n.Line
	return nil
}

// UnmarshalYAML decodes a from: map strictly (see Image.UnmarshalYAML).
func (s *Source) UnmarshalYAML(n *yaml.Node) error {
	if err := knownKeys(n, "from", "values", "workload", "container", "arg", "env", "configMap", "key", "path", "optional", "when"); err != nil {
		return err
	}
	type plain Source
	if err := n.Decode((*plain)(s)); err != nil {
		return err
	}
	s.Line = n.Line
	return nil
}

// knownKeys fails on a mapping key not in keys, as a *yaml.TypeError so
// the decoder goes on and reports every problem.
func knownKeys(n *yaml.Node, what string, keys ...string) error {
	if n.Kind != yaml.MappingNode {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: %s must be a map", n.Line, what)}}
	}
	var errs []string
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if !slices.Contains(keys, k.Value) {
			errs = append(errs, fmt.Sprintf("line %d: field %s not found in %s (want %s)", k.Line, k.Value, what, strings.Join(keys, ", ")))
		}
	}
	if errs != nil {
		return &yaml.TypeError{Errors: errs}
	}
	return nil
}

// flagName is a command-line flag: one or two dashes and a name.
var flagName = regexp.MustCompile(`^--?[A-Za-z0-9][-A-Za-z0-9_.]*$`)

// envName is an environment variable name as Kubernetes accepts it.
var envName = regexp.MustCompile(`^[-._a-zA-Z][-._a-zA-Z0-9]*$`)

// check validates the entry, returning each problem as "line N: field:
// problem".
func (img Image) check(field string) []error {
	var errs []error
	bad := func(f, format string, args ...any) {
		errs = append(errs, fmt.Errorf("line %d: %s: %s", img.Line, f, fmt.Sprintf(format, args...)))
	}
	switch {
	case img.From == nil && img.Ref == "":
		bad(field, "set from (where the image is named) or ref (a fixed image)")
	case img.From != nil && img.Ref != "":
		bad(field, "set from or ref, not both: the image from says where to find needs no fixed ref")
	case img.Ref != "":
		if err := CheckImageRef(img.Ref); err != nil {
			bad(field+".ref", "%v", err)
		}
	}
	if img.Why == "" {
		bad(field+".why", "required: say what starts the image (and, with ref, why it has no place in the values or the render)")
	}
	if img.From != nil {
		errs = append(errs, img.From.check(field+".from")...)
	}
	return errs
}

func (s *Source) check(field string) []error {
	var errs []error
	bad := func(f, format string, args ...any) {
		errs = append(errs, fmt.Errorf("line %d: %s: %s", s.Line, f, fmt.Sprintf(format, args...)))
	}
	kind := s.Kind()
	if kind == "" {
		bad(field, "set exactly one of values, arg, env or configMap")
		return errs
	}
	usable := map[string][]string{
		SourceArg:       {"workload", "container"},
		SourceEnv:       {"workload", "container"},
		SourceConfigMap: {"key", "path"},
	}[kind]
	for _, f := range []struct{ name, value string }{{"workload", s.Workload}, {"container", s.Container}, {"key", s.Key}, {"path", s.Path}} {
		if f.value != "" && !slices.Contains(usable, f.name) {
			bad(field+"."+f.name, "not used with %s", kind)
		}
	}
	switch kind {
	case SourceValues:
		if _, err := ParsePath(s.Values); err != nil {
			bad(field+".values", "%v", err)
		}
	case SourceArg, SourceEnv:
		k, n, ok := strings.Cut(s.Workload, "/")
		if !ok || k == "" || !dnsSubdomain.MatchString(n) {
			bad(field+".workload", "%q is not Kind/name (Deployment/x, StatefulSet/x, DaemonSet/x, Job/x, CronJob/x, Pod/x)", s.Workload)
		}
		if !dnsLabel.MatchString(s.Container) {
			bad(field+".container", "%q is not a container name", s.Container)
		}
		if kind == SourceArg && !flagName.MatchString(s.Arg) {
			bad(field+".arg", "%q is not a flag like --executor-image (no value: the value is the image)", s.Arg)
		}
		if kind == SourceEnv && !envName.MatchString(s.Env) {
			bad(field+".env", "%q is not an environment variable name", s.Env)
		}
	case SourceConfigMap:
		if !dnsSubdomain.MatchString(s.ConfigMap) {
			bad(field+".configMap", "%q is not a ConfigMap name", s.ConfigMap)
		}
		if s.Key == "" {
			bad(field+".key", "required with configMap: the data key holding the image")
		}
		if s.Path != "" {
			if _, err := ParsePath(s.Path); err != nil {
				bad(field+".path", "%v", err)
			}
		}
	}
	if s.When != "" {
		if _, err := ParsePath(s.When); err != nil {
			bad(field+".when", "%v", err)
		}
	}
	return errs
}

// dnsSubdomain is a Kubernetes object name (RFC 1123 subdomain).
var dnsSubdomain = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
