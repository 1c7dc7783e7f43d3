package lock

import "fmt"

// Diff lists how want (what the config resolves to now) differs from have
// (the lock on disk), one line per difference, sorted by kind then name:
//
//	base os.base.image r.example/debian:12 is not in the lock
//	image quay.io/x/y:1.2 is not in the lock
//	chart minio: lock has 5.3.0 (sha256:...), config needs 5.4.0 (sha256:...)
//
// An empty result means the lock describes the build exactly.
func Diff(have, want *Lock) []string {
	if have == nil {
		have = New()
	}
	var out []string
	out = append(out, diffBase(have.Base, want.Base)...)
	out = append(out, diffK3s(have.K3s, want.K3s)...)
	out = append(out, diffKeyed(have.Charts, want.Charts, "chart",
		func(c Chart) string { return c.Component },
		func(c Chart) string { return fmt.Sprintf("%s %s from %s (%s)", c.Name, c.Version, c.Repo, c.Digest) })...)
	out = append(out, diffKeyed(have.Images, want.Images, "image",
		func(i Image) string { return i.Ref },
		describeImage)...)
	return out
}

// describeImage says what an image pin holds.
func describeImage(i Image) string {
	if i.Index != "" {
		return fmt.Sprintf("index %s, linux/amd64 %s", i.Index, i.Manifest)
	}
	return "manifest " + i.Manifest
}

// diffBase compares the base image pins.
func diffBase(have, want *Image) []string {
	switch {
	case have == nil && want == nil:
		return nil
	case have == nil:
		return []string{fmt.Sprintf("base os.base.image %s is not in the lock", want.Ref)}
	case want == nil:
		return []string{fmt.Sprintf("base image %s is in the lock but os.base is not an image", have.Ref)}
	case have.Ref != want.Ref:
		return []string{fmt.Sprintf("base: lock has image %s, os.base.image is %s", have.Ref, want.Ref)}
	case *have != *want:
		return []string{fmt.Sprintf("base os.base.image %s: lock has %s, config needs %s", have.Ref, describeImage(*have), describeImage(*want))}
	}
	return nil
}

func diffK3s(have, want *K3s) []string {
	switch {
	case have == nil && want == nil:
		return nil
	case have == nil:
		return []string{fmt.Sprintf("k3s %s is not in the lock", want.Version)}
	case want == nil:
		return []string{fmt.Sprintf("k3s %s is in the lock but the config has no k3s release", have.Version)}
	case *have != *want:
		return []string{fmt.Sprintf("k3s: lock has %s (checksums %s), config needs %s (checksums %s)",
			have.Version, have.Checksums, want.Version, want.Checksums)}
	}
	return nil
}

// diffKeyed compares two lists of pins matched by key.
func diffKeyed[T comparable](have, want []T, kind string, key func(T) string, describe func(T) string) []string {
	haveBy := map[string]T{}
	for _, h := range have {
		haveBy[key(h)] = h
	}
	var out []string
	seen := map[string]bool{}
	for _, w := range want {
		k := key(w)
		seen[k] = true
		h, ok := haveBy[k]
		switch {
		case !ok:
			out = append(out, fmt.Sprintf("%s %s is not in the lock", kind, k))
		case h != w:
			out = append(out, fmt.Sprintf("%s %s: lock has %s, config needs %s", kind, k, describe(h), describe(w)))
		}
	}
	for _, h := range have {
		if !seen[key(h)] {
			out = append(out, fmt.Sprintf("%s %s is in the lock but no longer needed", kind, key(h)))
		}
	}
	return out
}
