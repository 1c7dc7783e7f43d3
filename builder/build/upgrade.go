package build

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ml-appliance/appliance/builder/output"
	"github.com/ml-appliance/appliance/builder/report"
	"github.com/ml-appliance/appliance/firstboot/upgradebundle"
)

// The upgrade bundle: <site>-upgrade/ in the output directory, laid out as
// package firstboot/upgradebundle says, for the nodes installed from the
// raw disk or the ISO (`firstboot upgrade apply`). Its OS image, kernel,
// initramfs and payload are hard links to the artifacts this build wrote
// (no byte copied, no byte hashed again: their sha256s are the report's),
// and its manifest is signed with the site's key (UpgradeKeyName). It is
// staged with the other artifacts and appears only when the whole build
// succeeds (package outdir).

// UpgradeKind is the bundle's artifact kind in the build report. Its path
// is the bundle's manifest.json, which names every other file by sha256.
const UpgradeKind = "upgrade"

// UpgradeDetails are the bundle artifact's details in the build report.
type UpgradeDetails struct {
	// Dir is the bundle directory, relative to the output directory.
	Dir string `json:"dir"`
	// Release is the release the bundle carries (the OS image's own).
	Release upgradebundle.Release `json:"release"`
	// Files are the bundle's files besides manifest.json: manifest.sig,
	// then the manifest's files.
	Files []upgradebundle.File `json:"files"`
}

// bundleFile is one file of the bundle and the artifact it links to.
type bundleFile struct {
	name string
	// src is the staged artifact; digest its report (or cache) digest.
	src    string
	digest report.Digest
}

// writeUpgradeBundle writes the bundle when the build makes one
// (addRelease loaded its key) and lists it in the report. It runs after
// the formats and markServedImage: the bundle's OS image is the artifact's
// inode, so it has its mode, and the bundle says what secrets it holds.
func (b *pipeline) writeUpgradeBundle(in output.Inputs) error {
	if b.upgrade == nil || b.upgrade.key == nil {
		return nil
	}
	if b.upgrade.freshKey {
		if err := storeUpgradeKey(b.secretsDir(), b.upgrade.key); err != nil {
			return err
		}
		b.upgrade.freshKey = false
		b.log.Info("generated the upgrade signing key", "kept in", filepath.Join(b.secretsDir(), UpgradeKeyName))
	}
	files, osImage, err := b.bundleFiles(in)
	if err != nil {
		return err
	}
	dirName := upgradebundle.DirName(b.site.Metadata.Name)
	dir := b.dir.Path(dirName)
	// A bundle whose OS image holds a secret is the build user's only, as
	// every artifact holding one is (output.DescribeSecret): its OS image
	// is that artifact's inode, and its directory and manifest follow.
	dirMode, fileMode := os.FileMode(0o755), os.FileMode(0o644)
	if osImage.Secrets != "" {
		dirMode, fileMode = 0o700, 0o600
	}
	if err := os.Mkdir(dir, dirMode); err != nil {
		return fmt.Errorf("upgrade bundle: %w", err)
	}
	m := upgradebundle.Manifest{Format: upgradebundle.Format, Release: b.upgrade.release, Cmdline: in.Cmdline}
	var listed []upgradebundle.File
	for _, f := range files {
		if err := linkArtifact(f, filepath.Join(dir, f.name)); err != nil {
			return fmt.Errorf("upgrade bundle %s: %w", f.name, err)
		}
		bf := upgradebundle.File{Name: f.name, Size: f.digest.Size, SHA256: f.digest.SHA256}
		switch f.name {
		case upgradebundle.OSImageFile:
			m.OSImage = bf
		case upgradebundle.KernelFile:
			m.Kernel = bf
		case upgradebundle.InitrdFile:
			m.Initrd = bf
		case upgradebundle.PayloadFile:
			m.Payload = &bf
		}
		listed = append(listed, bf)
	}
	manifest, sig, err := upgradebundle.Encode(m, b.upgrade.key)
	if err != nil {
		return fmt.Errorf("upgrade bundle: %w", err)
	}
	for _, f := range []struct {
		name string
		data []byte
	}{{upgradebundle.ManifestFile, manifest}, {upgradebundle.SignatureFile, sig}} {
		if err := os.WriteFile(filepath.Join(dir, f.name), f.data, fileMode); err != nil {
			return fmt.Errorf("upgrade bundle: %w", err)
		}
	}
	mf := describeBytes(upgradebundle.ManifestFile, manifest)
	b.report.Artifacts = append(b.report.Artifacts, report.Artifact{
		Kind: UpgradeKind, Path: dirName + "/" + mf.Name, Size: mf.Size, SHA256: mf.SHA256,
		Secrets: osImage.Secrets, // the OS image may carry the agent join token
		Details: UpgradeDetails{Dir: dirName, Release: m.Release,
			Files: append([]upgradebundle.File{describeBytes(upgradebundle.SignatureFile, sig)}, listed...)},
	})
	b.log.Info("upgrade bundle", "dir", dirName, "release", m.Release.Version, "files", len(listed)+2)
	return nil
}

// describeBytes describes the bundle file name that holds data.
func describeBytes(name string, data []byte) upgradebundle.File {
	sum := sha256.Sum256(data)
	return upgradebundle.File{Name: name, Size: int64(len(data)), SHA256: hex.EncodeToString(sum[:])}
}

// linkArtifact makes dst the staged artifact f.src (linkOrCopy), with its
// mode (a copy is made read-only; the OS image may be 0600), and checks
// it against f's digest without reading it.
func linkArtifact(f bundleFile, dst string) error {
	info, err := os.Stat(f.src)
	if err != nil {
		return err
	}
	if err := linkOrCopy(f.src, dst, f.digest.Size); err != nil {
		return err
	}
	if err := os.Chmod(dst, info.Mode().Perm()); err != nil {
		return err
	}
	return f.digest.Check(dst)
}

// bundleFiles are the bundle's files with the digests the build already
// has, and the OS image's artifact.
func (b *pipeline) bundleFiles(in output.Inputs) ([]bundleFile, *report.Artifact, error) {
	var files []bundleFile
	var osImage *report.Artifact
	for _, f := range []struct{ kind, src, name string }{
		{"os-image", in.OSImage, upgradebundle.OSImageFile},
		{"kernel", in.Kernel, upgradebundle.KernelFile},
		{"initramfs", in.Initramfs, upgradebundle.InitrdFile},
	} {
		a := b.findArtifact(f.kind, f.src)
		if a == nil {
			return nil, nil, fmt.Errorf("upgrade bundle: the report has no %s artifact at %s", f.kind, f.src)
		}
		if f.kind == "os-image" {
			osImage = a
		}
		files = append(files, bundleFile{name: f.name, src: f.src, digest: report.Digest{Size: a.Size, SHA256: a.SHA256}})
	}
	if in.Payload != "" {
		files = append(files, bundleFile{name: upgradebundle.PayloadFile, src: in.Payload,
			digest: report.Digest{Size: in.PayloadSize, SHA256: in.PayloadSHA256}})
	}
	return files, osImage, nil
}

// findArtifact returns the report's artifact of kind staged at path, nil
// if there is none.
func (b *pipeline) findArtifact(kind, path string) *report.Artifact {
	for i := range b.report.Artifacts {
		if a := &b.report.Artifacts[i]; a.Kind == kind && b.dir.Path(a.Path) == path {
			return a
		}
	}
	return nil
}
