package agent

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	"github.com/ml-appliance/appliance/firstboot/atomicfile"
	"github.com/ml-appliance/appliance/firstboot/nodeconfig"
	"github.com/ml-appliance/appliance/firstboot/payload"
	"golang.org/x/sys/unix"
)

// k3sPlatform makes the baked ML platform visible to K3s, every boot, so an
// upgraded image's platform reaches the node:
//
//   - on a server, every chart archive of payload.PlatformChartsDir is
//     copied into payload.K3sStaticChartsDir and every HelmChart manifest of
//     payload.PlatformManifestsDir into payload.K3sServerManifestsDir, and
//     the files a previous image placed there that this image lacks are
//     removed;
//   - on an agent, nothing of that (HelmChart manifests belong on servers);
//   - on every node, payload.K3sRegistriesPath is written from
//     payload.RegistriesTemplate and, when the image names an image
//     payload, the payload's registries with the image-payload step's
//     endpoints (registries.go), unless the operator changed the
//     installed one.
//
// The files are copied, not linked into the read-only image: K3s documents
// neither its deploy controller nor its static file server following
// symlinks, and the deploy controller notices a change by the mtime of the
// directory entry (a symlink's own, not its target's), so a link whose
// target an upgrade replaced would not be re-applied until K3s restarts.
// A copy is a plain file K3s reads like its own; it is written atomically
// and only when its content differs (K3s notices a changed mtime, then
// re-applies the manifest if its checksum changed).
//
// Removing a manifest does not uninstall its component: K3s's deploy
// controller deletes the objects of a manifest only for names given to
// --disable, not for a file that went away.
//
// What it placed is recorded in K3sPlatformRecord; only those files are ever
// replaced or removed. K3s writes its own manifests (traefik, coredns,
// local-storage...) and charts into the same directories, and the operator
// may add files: those are never touched, and one at a name this step needs
// is an error.
func k3sPlatform(_ context.Context, env *Env) error {
	if env.Role != nodeconfig.RoleServer && env.Role != nodeconfig.RoleAgent {
		return fmt.Errorf("role %q: want %q or %q", env.Role, nodeconfig.RoleServer, nodeconfig.RoleAgent)
	}
	rec, err := readPlatformRecord(env)
	if err != nil {
		return err
	}
	baked, err := platformBaked(env)
	if err != nil {
		return err
	}
	if !baked {
		env.Printf("k3s-platform: no %s, charts or registries.yaml in this image (no platform)", payload.PlatformManifestsDir)
	}
	next := rec
	if env.Role == nodeconfig.RoleServer {
		for _, d := range []platformDir{
			{src: payload.PlatformChartsDir, dst: payload.K3sStaticChartsDir, ext: ".tgz", placed: &next.Charts},
			{src: payload.PlatformManifestsDir, dst: payload.K3sServerManifestsDir, ext: ".yaml", placed: &next.Manifests},
		} {
			if err := syncPlatformDir(env, d); err != nil {
				return err
			}
		}
	} else if baked {
		env.Printf("k3s-platform: agent node: no charts or manifests placed (they belong on servers)")
	}
	if next.Registries, err = syncRegistries(env, rec.Registries); err != nil {
		return err
	}
	return writePlatformRecord(env, rec, next)
}

// platformBaked says whether the image has any part of the platform.
func platformBaked(env *Env) (bool, error) {
	for _, p := range []string{payload.PlatformChartsDir, payload.PlatformManifestsDir, payload.RegistriesTemplate} {
		_, err := os.Stat(env.Path(p))
		if err == nil {
			return true, nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			return false, fmt.Errorf("stat %s: %w", p, err)
		}
	}
	return false, nil
}

// platformDir is a directory of the image whose files are kept copied into
// a directory of K3s.
type platformDir struct {
	src, dst string
	// ext is the ending every file of src must have.
	ext string
	// placed holds the recorded names on entry and the names now placed on
	// return.
	placed *[]string
}

// syncPlatformDir copies the files of d.src into d.dst and removes the
// recorded ones d.src no longer has.
func syncPlatformDir(env *Env, d platformDir) error {
	names, err := bakedFiles(env, d.src, d.ext)
	if err != nil {
		return err
	}
	if err := removeLeftovers(env, "k3s-platform", d.dst); err != nil {
		return err
	}
	recorded, current := map[string]bool{}, map[string]bool{}
	for _, name := range *d.placed {
		recorded[name] = true
	}
	for _, name := range names {
		current[name] = true
		src, dst := path.Join(d.src, name), path.Join(d.dst, name)
		verb, err := placeFile(env, src, dst, recorded[name])
		if err != nil {
			return err
		}
		if verb == "kept" {
			env.Printf("k3s-platform: kept %s (same as %s)", dst, src)
		} else {
			env.Printf("k3s-platform: %s %s from %s", verb, dst, src)
		}
	}
	removed := false
	for _, name := range *d.placed {
		if current[name] {
			continue
		}
		p := path.Join(d.dst, name)
		err := os.Remove(env.Path(p))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("remove stale %s: %w", p, err)
		}
		removed = true
		env.Printf("k3s-platform: removed stale %s (not in this image)", p)
	}
	if removed {
		if err := syncDir(env.Path(d.dst)); err != nil {
			return err
		}
	}
	*d.placed = names
	return nil
}

// bakedFiles lists the files of dir in the image (none when dir is
// missing), sorted; each must be a regular file named <name><ext>.
func bakedFiles(env *Env, dir, ext string) ([]string, error) {
	entries, err := os.ReadDir(env.Path(dir))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", dir, err)
	}
	var names []string
	for _, e := range entries {
		name := e.Name()
		switch {
		case !e.Type().IsRegular():
			return nil, fmt.Errorf("%s: %s is not a regular file", dir, name)
		case !strings.HasSuffix(name, ext) || strings.HasPrefix(name, "."):
			return nil, fmt.Errorf("%s: %s is not named <name>%s", dir, name, ext)
		}
		names = append(names, name)
	}
	return names, nil
}

// placeFile makes dst (mode 0600, as K3s writes its own manifests and
// charts) a copy of src and says what it did: "copied", "updated" or
// "kept". It replaces dst only when ours says this step placed it, or when
// dst already has src's content.
func placeFile(env *Env, src, dst string, ours bool) (string, error) {
	same, exists, err := sameContent(env, src, dst)
	if err != nil {
		return "", err
	}
	verb := "copied"
	switch {
	case same:
		return "kept", nil
	case exists && !ours:
		return "", fmt.Errorf("%s exists, differs from %s and was not placed by firstboot: not replacing it", dst, src)
	case exists:
		verb = "updated"
	}
	// K3s creates its data directories with mode 0700.
	if err := copyFileAtomic(env, src, dst, 0o600, 0o700); err != nil {
		return "", err
	}
	return verb, nil
}

// sameContent says whether dst exists and whether it is a regular file with
// the content of src, which must be a regular file.
func sameContent(env *Env, src, dst string) (same, exists bool, err error) {
	srcInfo, err := os.Stat(env.Path(src))
	if err != nil {
		return false, false, fmt.Errorf("stat %s: %w", src, err)
	}
	dstInfo, err := os.Lstat(env.Path(dst))
	if errors.Is(err, os.ErrNotExist) {
		return false, false, nil
	}
	if err != nil {
		return false, false, fmt.Errorf("stat %s: %w", dst, err)
	}
	if !dstInfo.Mode().IsRegular() || dstInfo.Size() != srcInfo.Size() {
		return false, true, nil
	}
	srcSum, err := regularFileSHA256(env, src)
	if err != nil {
		return false, true, err
	}
	dstSum, err := regularFileSHA256(env, dst)
	if err != nil {
		return false, true, err
	}
	return srcSum == dstSum, true, nil
}

// regularFileSHA256 returns the hex sha256 of the regular file p, "" when
// p is missing or is not a regular file (a symlink is not followed).
func regularFileSHA256(env *Env, p string) (string, error) {
	f, err := os.OpenFile(env.Path(p), os.O_RDONLY|unix.O_NOFOLLOW, 0)
	if errors.Is(err, os.ErrNotExist) || errors.Is(err, unix.ELOOP) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("open %s: %w", p, err)
	}
	defer f.Close()
	if info, err := f.Stat(); err != nil {
		return "", fmt.Errorf("stat %s: %w", p, err)
	} else if !info.Mode().IsRegular() {
		return "", nil
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("read %s: %w", p, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// copyFileAtomic copies src to dst (both in the host) with writeAtomic, so
// dst holds either its old content or all of src's, even across a power
// cut. A missing directory is created with dirPerm.
func copyFileAtomic(env *Env, src, dst string, perm, dirPerm os.FileMode) error {
	in, err := os.Open(env.Path(src))
	if err != nil {
		return fmt.Errorf("copy %s: %w", src, err)
	}
	defer in.Close()
	if err := writeAtomic(env.Path(dst), perm, dirPerm, func(w io.Writer) error {
		_, err := io.Copy(w, in)
		return err
	}); err != nil {
		return fmt.Errorf("copy %s to %s: %w", src, dst, err)
	}
	return nil
}

// removeLeftovers removes the temporary files of copies a power cut
// interrupted from dir (of the host), if dir exists.
func removeLeftovers(env *Env, step, dir string) error {
	entries, err := os.ReadDir(env.Path(dir))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", dir, err)
	}
	for _, e := range entries {
		if !atomicfile.IsTemp(e.Name()) || !e.Type().IsRegular() {
			continue
		}
		p := path.Join(dir, e.Name())
		if err := os.Remove(env.Path(p)); err != nil {
			return fmt.Errorf("remove leftover %s: %w", p, err)
		}
		env.Printf("%s: removed leftover %s (interrupted write)", step, p)
	}
	return nil
}

// K3sPlatformRecord records what k3sPlatform placed, on STATE.
const K3sPlatformRecord = StateDir + "/k3s-platform.json"

// platformRecord is the JSON form of K3sPlatformRecord.
type platformRecord struct {
	// Charts and Manifests are the file names placed in
	// payload.K3sStaticChartsDir and payload.K3sServerManifestsDir.
	Charts    []string `json:"charts,omitempty"`
	Manifests []string `json:"manifests,omitempty"`
	// Registries is the sha256 of the registries.yaml installed, "" when
	// none is firstboot's.
	Registries string `json:"registriesSHA256,omitempty"`
}

func readPlatformRecord(env *Env) (platformRecord, error) {
	var rec platformRecord
	data, err := os.ReadFile(env.Path(K3sPlatformRecord))
	if errors.Is(err, os.ErrNotExist) {
		return rec, nil
	}
	if err != nil {
		return rec, fmt.Errorf("read %s: %w", K3sPlatformRecord, err)
	}
	if err := json.Unmarshal(data, &rec); err != nil {
		return rec, fmt.Errorf("parse %s: %w", K3sPlatformRecord, err)
	}
	for _, name := range append(append([]string{}, rec.Charts...), rec.Manifests...) {
		if path.Base(name) != name || strings.HasPrefix(name, ".") {
			return rec, fmt.Errorf("%s: %q is not a file name", K3sPlatformRecord, name)
		}
	}
	return rec, nil
}

// writePlatformRecord writes next when it differs from old.
func writePlatformRecord(env *Env, old, next platformRecord) error {
	oldData, err := json.MarshalIndent(old, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", K3sPlatformRecord, err)
	}
	data, err := json.MarshalIndent(next, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", K3sPlatformRecord, err)
	}
	if bytes.Equal(oldData, data) {
		return nil
	}
	return writeFileAtomic(env.Path(K3sPlatformRecord), append(data, '\n'), 0o644)
}
