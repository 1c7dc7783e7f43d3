package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/ml-appliance/appliance/firstboot/bootinit"
	"github.com/ml-appliance/appliance/firstboot/bootparam"
	"github.com/ml-appliance/appliance/firstboot/clustersecrets"
	"github.com/ml-appliance/appliance/firstboot/nodeconfig"
)

// secretsSource is where a node's secrets volume is.
type secretsSource struct {
	// path is the host path (under Env.Root) of the partition or file.
	path string
	// what names it on the console.
	what string
	// wipe: the volume is the raw disk's SECRETS partition, which the
	// first boot wipes; an ISO is read-only.
	wipe bool
}

// clusterSecrets installs, under nodeconfig.SecretsDir on STATE, what the
// node's role needs of the site's secrets volume (package clustersecrets)
// and wipes the volume: a server keeps every secret, an agent the agent
// join token alone. It runs on every boot, before the network is up; a
// volume already wiped is reported and skipped. On an agent it also
// removes any server secret STATE holds (a node that was a server before).
//
// Interrupted at any point it resumes: the files are written atomically,
// then a marker (installedMarker) says they are all on STATE, and only
// then is the volume wiped, its secrets first and its header last. A
// volume that no longer decodes while the marker is there is a wipe a
// power cut interrupted: the next boot finishes it.
func clusterSecrets(_ context.Context, env *Env) error {
	c := env.Config.Cluster
	switch {
	case !env.hasK3s():
		return nil
	case c == nil || !c.Token:
		env.Printf("cluster-secrets: the site has no cluster token, no secrets to install")
		return nil
	}
	src, found, err := findSecretsVolume(env)
	if err != nil {
		return err
	}
	if found {
		if err := installSecrets(env, src); err != nil {
			return err
		}
	} else {
		env.Printf("cluster-secrets: no secrets volume on this node's boot medium (netbooted, or a state disk of its own)")
	}
	if env.Role != nodeconfig.RoleServer {
		n, err := scrubServerSecrets(env)
		if err != nil {
			return err
		}
		if n > 0 {
			env.Printf("cluster-secrets: agent: removed %d server secret files from %s", n, nodeconfig.SecretsDir)
		}
	}
	return nil
}

// installSecrets installs the role's part of the volume at src and wipes
// it when it is a partition.
func installSecrets(env *Env, src secretsSource) error {
	f, err := os.OpenFile(env.Path(src.path), os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return fmt.Errorf("secrets volume %s: %w", src.what, err)
	}
	defer f.Close()
	if err := checkVolumeFile(f); err != nil {
		return fmt.Errorf("secrets volume %s: %w", src.what, err)
	}
	vol, size, err := clustersecrets.Decode(f)
	marker := env.Path(path.Join(nodeconfig.SecretsDir, installedMarker))
	_, markerErr := os.Stat(marker)
	switch {
	case errors.Is(err, clustersecrets.ErrNone):
		env.Printf("cluster-secrets: %s is empty (wiped at the first boot); %s holds what this node keeps", src.what, nodeconfig.SecretsDir)
		return nil
	case err != nil && markerErr == nil && src.wipe:
		if err := wipeVolume(env.Path(src.path), clustersecrets.MaxVolume); err != nil {
			return fmt.Errorf("finish wiping the secrets volume %s: %w", src.what, err)
		}
		env.Printf("cluster-secrets: finished wiping %s, which an earlier boot had begun (%v)", src.what, err)
		return nil
	case err != nil:
		return fmt.Errorf("secrets volume %s: %w", src.what, err)
	}
	keep := vol
	if env.Role != nodeconfig.RoleServer {
		keep = vol.ForAgent()
	}
	for _, name := range keep.Names() {
		p := env.Path(path.Join(nodeconfig.SecretsDir, name))
		if err := writeAtomic(p, 0o600, 0o700, func(w io.Writer) error {
			_, err := w.Write(keep[name])
			return err
		}); err != nil {
			return fmt.Errorf("install %s: %w", name, err)
		}
	}
	// writeAtomic makes missing parents 0700; SecretsDir may predate it.
	if err := os.Chmod(env.Path(nodeconfig.SecretsDir), 0o700); err != nil && len(keep) > 0 {
		return err
	}
	if err := writeAtomic(marker, 0o600, 0o700, func(w io.Writer) error {
		_, err := io.WriteString(w, src.what+"\n")
		return err
	}); err != nil {
		return err
	}
	env.Printf("cluster-secrets: %s: installed %d of its %d files in %s for role %s (%s)",
		src.what, len(keep), len(vol), nodeconfig.SecretsDir, env.Role, strings.Join(keep.Names(), ", "))
	if !src.wipe {
		env.Printf("cluster-secrets: %s is read-only and keeps the server secrets: keep the medium locked away", src.what)
		return nil
	}
	if err := wipeVolume(env.Path(src.path), size); err != nil {
		return fmt.Errorf("wipe the secrets volume %s: %w", src.what, err)
	}
	env.Printf("cluster-secrets: wiped %s (%d bytes)", src.what, size)
	return nil
}

// checkVolumeFile refuses anything but a block device (the partition) or a
// regular file (the ISO's, or a test's).
func checkVolumeFile(f *os.File) error {
	info, err := f.Stat()
	if err != nil {
		return err
	}
	if t := info.Mode().Type(); t != 0 && t != fs.ModeDevice {
		return fmt.Errorf("not a block device or regular file (%s)", t)
	}
	return nil
}

// installedMarker, in SecretsDir, says every file of the volume the node
// keeps is installed: the volume may be wiped.
const installedMarker = ".installed"

// wipeVolume overwrites the first size bytes of the partition at p with
// zeros and flushes them to the disk: the secrets first, then the
// header's sector, so a cut leaves either the header (and the marker says
// what that means) or nothing.
func wipeVolume(p string, size int64) error {
	f, err := os.OpenFile(p, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	const headerSector = 512
	wipe := func(off, n int64) error {
		if n <= 0 {
			return nil
		}
		if _, err := io.CopyN(io.NewOffsetWriter(f, off), zeros{}, n); err != nil {
			return err
		}
		return f.Sync()
	}
	err = errors.Join(wipe(headerSector, size-headerSector), wipe(0, min(size, headerSector)))
	return errors.Join(err, f.Close())
}

// findSecretsVolume returns the node's secrets volume: the SECRETS
// partition on STATE's disk (a raw disk, or a disk an ISO installed), else
// the file on a live boot's ISO.
func findSecretsVolume(env *Env) (secretsSource, bool, error) {
	m, mounted, err := FindMount(env.Root, bootparam.StateMount)
	if err != nil {
		return secretsSource{}, false, err
	}
	if mounted {
		devs, err := bootinit.ScanBlockDevices(env.Path("/sys"), "")
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return secretsSource{}, false, err
		}
		disk := ""
		for _, d := range devs {
			if "/dev/"+d.Name == m.Source {
				disk = d.Disk
			}
		}
		for _, d := range devs {
			if disk != "" && d.Disk == disk && d.PartName == bootparam.LabelSecrets {
				p := "/dev/" + d.Name
				return secretsSource{path: p, what: "partition " + bootparam.LabelSecrets + " (" + p + ")", wipe: true}, true, nil
			}
		}
	}
	iso := bootparam.ISOMount + bootparam.ISOSecretsPath
	if _, err := os.Lstat(env.Path(iso)); err == nil {
		return secretsSource{path: iso, what: "the ISO's " + bootparam.ISOSecretsPath}, true, nil
	}
	return secretsSource{}, false, nil
}

// serverSecretFiles are the files of SecretsDir an agent must not keep.
var serverSecretFiles = []string{
	nodeconfig.TokenPath, nodeconfig.JoinTokenPath, nodeconfig.AgentTokenPath, nodeconfig.EtcdS3SecretKeyPath,
}

// scrubServerSecrets overwrites and removes the server secrets under
// SecretsDir and returns how many files it removed.
func scrubServerSecrets(env *Env) (int, error) {
	paths := append([]string{}, serverSecretFiles...)
	keys := env.Path(nodeconfig.CAKeyDir)
	err := filepath.WalkDir(keys, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(env.Root, p)
			paths = append(paths, "/"+rel)
		}
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return 0, err
	}
	n := 0
	for _, p := range paths {
		removed, err := scrubFile(env.Path(p))
		if err != nil {
			return n, fmt.Errorf("remove server secret %s: %w", p, err)
		}
		if removed {
			n++
		}
	}
	if err := os.RemoveAll(keys); err != nil {
		return n, err
	}
	return n, nil
}

// scrubFile overwrites the regular file at p with zeros, flushes, and
// removes it; a symbolic link or other non-regular file is removed
// without being followed. It reports whether there was a file.
func scrubFile(p string) (bool, error) {
	info, err := os.Lstat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if info.Mode().IsRegular() {
		f, err := os.OpenFile(p, os.O_WRONLY|syscall.O_NOFOLLOW, 0)
		if err != nil {
			return false, err
		}
		_, werr := io.CopyN(f, zeros{}, info.Size())
		serr := f.Sync()
		if err := errors.Join(werr, serr, f.Close()); err != nil {
			return false, err
		}
	}
	return true, os.Remove(p)
}

// zeros reads as an endless run of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
