package catalog

import (
	"errors"
	"fmt"
	"strings"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
)

// upstreamCharts finds charts in downloaded module snapshots.
type upstreamCharts struct {
	repos []upstreamRepo
	dirs  moduleDirs
	// standIns receives a line for each subchart a stand-in version
	// replaced (upstreamRepo.StandIns); nil drops them.
	standIns func(string)
}

// repo finds the snapshot of a chart repository URL (a trailing slash does
// not matter).
func (s upstreamCharts) repo(url string) (upstreamRepo, bool) {
	for _, u := range s.repos {
		if strings.TrimSuffix(u.Repo, "/") == strings.TrimSuffix(url, "/") {
			return u, true
		}
	}
	return upstreamRepo{}, false
}

// load loads chart name from the snapshot of repository repo and checks
// that it is exactly version: a snapshot holding another version is an
// error, not a reason to skip.
func (s upstreamCharts) load(repo, name, version string) (*chart.Chart, error) {
	u, ok := s.repo(repo)
	if !ok {
		return nil, fmt.Errorf("chart %s: no module snapshot of repository %s in upstreamRepos", name, repo)
	}
	dir := chartDir(s.dirs, u, name)
	ch, err := loader.LoadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("chart %s from %s@%s: %w", name, u.Module, u.Version, err)
	}
	if got := ch.Metadata.Version; got != version {
		return nil, fmt.Errorf("chart %s: the snapshot %s@%s has version %s, the catalog pins %s", name, u.Module, u.Version, got, version)
	}
	return ch, nil
}

// addSubcharts does what packaging the chart does: it vendors every
// dependency Chart.yaml lists that the values enable, taking each from the
// snapshot of its repository and checking its version against the
// dependency's range. Dependencies the values disable are left out (Helm
// drops them before rendering). Subcharts already vendored under charts/
// must satisfy their range too. Every problem is returned.
func (s upstreamCharts) addSubcharts(ch *chart.Chart, values map[string]any) error {
	vals, err := chartutil.CoalesceValues(ch, values)
	if err != nil {
		return fmt.Errorf("chart %s: values: %w", ch.Name(), err)
	}
	var errs []error
	for _, dep := range ch.Metadata.Dependencies {
		if !dependencyEnabled(dep, vals) {
			continue
		}
		where := fmt.Sprintf("chart %s %s: subchart %s %s", ch.Name(), ch.Metadata.Version, dep.Name, dep.Version)
		if vendored := findDependency(ch, dep.Name); vendored != nil {
			if err := versionInRange(vendored.Metadata.Version, dep.Version); err != nil {
				errs = append(errs, fmt.Errorf("%s: vendored under charts/: %w", where, err))
			}
			continue
		}
		u, ok := s.repo(dep.Repository)
		if !ok {
			errs = append(errs, fmt.Errorf("%s from %s: no module snapshot of that repository in upstreamRepos", where, dep.Repository))
			continue
		}
		sub, err := loader.LoadDir(chartDir(s.dirs, u, dep.Name))
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: load from %s@%s: %w", where, u.Module, u.Version, err))
			continue
		}
		if err := versionInRange(sub.Metadata.Version, dep.Version); err != nil {
			reason, ok := u.StandIns[dep.Name]
			if !ok {
				errs = append(errs, fmt.Errorf("%s: the snapshot %s@%s does not have it: %w", where, u.Module, u.Version, err))
				continue
			}
			if s.standIns != nil {
				s.standIns(fmt.Sprintf("%s: STAND-IN %s %s: %s", where, dep.Name, sub.Metadata.Version, reason))
			}
			sub.Metadata.Version = dep.Version // so Helm's range check takes it
		}
		key := dep.Name
		if dep.Alias != "" {
			key = dep.Alias
		}
		subValues, _ := vals[key].(map[string]any)
		if err := s.addSubcharts(sub, subValues); err != nil {
			errs = append(errs, err)
			continue
		}
		ch.AddDependency(sub)
	}
	return errors.Join(errs...)
}

func findDependency(ch *chart.Chart, name string) *chart.Chart {
	for _, d := range ch.Dependencies() {
		if d.Name() == name {
			return d
		}
	}
	return nil
}

// versionInRange checks version against a Chart.yaml dependency range
// ("12.11.2", "~0.40.0", "0.12.*").
func versionInRange(version, constraint string) error {
	if !chartutil.IsCompatibleRange(constraint, version) {
		return fmt.Errorf("it has version %s, outside the range %s", version, constraint)
	}
	return nil
}

// dependencyEnabled evaluates a dependency's condition (the first of its
// comma-separated value paths that is set to a boolean decides) and, when
// no condition decides, its tags (any tag set true enables, all set false
// disable), as Helm does. With neither it is enabled.
func dependencyEnabled(dep *chart.Dependency, vals chartutil.Values) bool {
	for _, path := range strings.Split(dep.Condition, ",") {
		path = strings.TrimSpace(path)
		if path == "" {
			continue
		}
		if v, err := vals.PathValue(path); err == nil {
			if b, ok := v.(bool); ok {
				return b
			}
		}
	}
	if len(dep.Tags) == 0 {
		return true
	}
	tags, _ := vals["tags"].(map[string]any)
	seen := false
	for _, tag := range dep.Tags {
		b, ok := tags[tag].(bool)
		if ok && b {
			return true
		}
		seen = seen || ok
	}
	return !seen
}
