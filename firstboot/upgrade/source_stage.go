package upgrade

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/ml-appliance/appliance/firstboot/atomicfile"
	"github.com/ml-appliance/appliance/firstboot/upgradebundle"
)

// verified is a bundle whose manifest the node's key verified and whose
// release the node accepts (upgradebundle.Manifest.Accept).
type verified struct {
	src     Source
	m       upgradebundle.Manifest
	signed  signed
	running upgradebundle.Release
}

// openVerified reads the running release and the site's public key from
// the OS image under root, opens the bundle at loc and reads, verifies
// and accepts its manifest. On success the caller closes v.src.
func openVerified(ctx context.Context, root, loc string, opts HTTPOptions, allowDowngrade bool) (*verified, error) {
	running, err := ReadRelease(root)
	if err != nil {
		return nil, err
	}
	pem, err := readImageFile(root, upgradebundle.PublicKeyPath, maxPublicKey)
	if err != nil {
		return nil, err
	}
	pub, err := upgradebundle.ParsePublicKey(pem)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", upgradebundle.PublicKeyPath, err)
	}
	src, err := OpenSource(loc, opts)
	if err != nil {
		return nil, err
	}
	m, s, err := readSigned(ctx, src, pub)
	if err == nil {
		err = m.Accept(running, allowDowngrade)
	}
	if err != nil {
		src.Close()
		return nil, err
	}
	return &verified{src: src, m: m, signed: s, running: running}, nil
}

// StageOptions configures Stage.
type StageOptions struct {
	// Bundle is where the bundle is, as Options.Bundle.
	Bundle string
	// Root is the host's root directory (default "/").
	Root string
	// Dir is where the copy goes: Dir/<upgradebundle.DirName(site)>, a
	// path under Root.
	Dir string
	// AllowDowngrade accepts a bundle older than the running release.
	AllowDowngrade bool
	HTTP           HTTPOptions
}

// Stage keeps a verified copy of a bundle on this node, for the initial
// server to serve to the others during a cluster upgrade: the bundle must
// be one this node would apply (its key, site and cluster, not older
// unless allowed), and every file is copied with its size and sha256
// checked. The copy is made in a temporary directory beside it and
// renamed into place, replacing an earlier copy, so the directory served
// is whole or absent. It returns the manifest and the copy's path (a
// path of the host).
func Stage(ctx context.Context, opts StageOptions) (upgradebundle.Manifest, string, error) {
	if opts.Root == "" {
		opts.Root = "/"
	}
	v, err := openVerified(ctx, opts.Root, opts.Bundle, opts.HTTP, opts.AllowDowngrade)
	if err != nil {
		return upgradebundle.Manifest{}, "", fmt.Errorf("stage the bundle: %w", err)
	}
	defer v.src.Close()
	name := upgradebundle.DirName(v.m.Release.Site)
	dir := filepath.Join(opts.Root, opts.Dir)
	if err := stageCopy(ctx, v, dir, name); err != nil {
		return upgradebundle.Manifest{}, "", fmt.Errorf("stage the bundle %s in %s: %w", v.src, opts.Dir, err)
	}
	return v.m, filepath.Join(opts.Dir, name), nil
}

// stageCopy copies v's files into dir/.<name>.tmp-<random>, then renames
// that to dir/name.
func stageCopy(ctx context.Context, v *verified, dir, name string) error {
	files := []upgradebundle.File{v.m.OSImage, v.m.Kernel, v.m.Initrd}
	if v.m.Payload != nil {
		files = append(files, *v.m.Payload)
	}
	var need int64
	for _, f := range files {
		need += f.Size
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := removeStaged(dir, "."+name+".tmp-"); err != nil {
		return err
	}
	if err := checkFree(dir, need, "the bundle's copy"); err != nil {
		return err
	}
	tmp := filepath.Join(dir, "."+name+".tmp-"+randomHex())
	if err := os.Mkdir(tmp, 0o755); err != nil {
		return err
	}
	if err := stageFiles(ctx, v, tmp, files); err != nil {
		return errors.Join(err, os.RemoveAll(tmp))
	}
	final := filepath.Join(dir, name)
	old := filepath.Join(dir, "."+name+".tmp-old-"+randomHex())
	if err := os.Rename(final, old); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return errors.Join(err, os.RemoveAll(tmp))
	}
	if err := os.Rename(tmp, final); err != nil {
		return errors.Join(err, os.RemoveAll(tmp))
	}
	if err := atomicfile.SyncDir(dir); err != nil {
		return err
	}
	return os.RemoveAll(old)
}

// stageFiles writes v's files, verified, and then its manifest and
// signature into dir.
func stageFiles(ctx context.Context, v *verified, dir string, files []upgradebundle.File) error {
	for _, f := range files {
		r, err := v.src.Open(ctx, f)
		if err != nil {
			return err
		}
		err = atomicfile.Write(filepath.Join(dir, f.Name), 0o644, func(w io.Writer) error {
			_, err := copyVerified(w, r, f)
			return err
		})
		r.Close()
		if err != nil {
			return err
		}
	}
	for name, data := range map[string][]byte{upgradebundle.ManifestFile: v.signed.manifest, upgradebundle.SignatureFile: v.signed.sig} {
		if err := atomicfile.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// removeStaged removes what an interrupted Stage left in dir: the
// directories whose names start with prefix.
func removeStaged(dir, prefix string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.IsDir() && strings.HasPrefix(e.Name(), prefix) {
			if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	return nil
}

func randomHex() string {
	var b [6]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
