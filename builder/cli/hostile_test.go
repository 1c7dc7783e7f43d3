package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ml-appliance/appliance/builder/site"
	"github.com/ml-appliance/appliance/builder/site/sitetest"
)

// hostileCorpus is the corpus of builder/site/testdata/hostile.
const hostileCorpus = "../site/testdata/hostile"

// validateWithin runs `builder validate --config config` and fails t when
// it does not return within 10 s (a FIFO read would block forever).
func validateWithin(t *testing.T, config string) error {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		_, _, err := execute(t, "validate", "--config", config)
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatalf("validate --config %s hangs", config)
		return nil
	}
}

// TestValidateHostileConfigs runs `builder validate` on every config of the
// hostile corpus, and on some made here (too large to commit, or not
// files), and wants exit status 2 and the exact message: FILE:LINE: field:
// problem where the file has a line, never a crash, a hang or a quoted
// secret. DIR stands for the directory holding the configs and fixtures.
func TestValidateHostileConfigs(t *testing.T) {
	configs := sitetest.Configs(t, hostileCorpus)
	dir := sitetest.Fixtures(t, configs)
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("large.yaml", strings.Repeat("k: v\n", site.MaxConfigBytes/5+1))
	write("deep.yaml", "apiVersion: appliance/v1alpha1\nkind: Site\nos:\n  cmdline: "+strings.Repeat("[", 10001)+strings.Repeat("]", 10001)+"\n")
	var many strings.Builder
	for i := range 60 {
		fmt.Fprintf(&many, "unknown%d: 1\n", i)
	}
	write("many.yaml", many.String())

	const hostileHeader = "DIR/%s:9: cluster.token: token file DIR/%s: "
	cases := map[string]string{
		// Not a config file at all.
		"/dev/zero":  "/dev/zero: a character device, not a regular file",
		"dir":        "DIR/dir: a directory, not a regular file",
		"fifo":       "DIR/fifo: a named pipe (FIFO), not a regular file",
		"large.yaml": "DIR/large.yaml: larger than 1MiB, the limit for this file",
		// Text that is not YAML, with its line.
		"latin1.yaml":          "DIR/latin1.yaml:4: invalid YAML: column 12: byte 0xE9 is not UTF-8 (save the file as UTF-8)",
		"binary.yaml":          "DIR/binary.yaml:4: invalid YAML: column 9: control character U+007F is not allowed (is this a text file?)",
		"unknown-anchor.yaml":  "DIR/unknown-anchor.yaml:6: invalid YAML: alias *nope: no anchor &nope before it",
		"deep.yaml":            "DIR/deep.yaml:4: invalid YAML: exceeded max depth of 10000",
		"empty.yaml":           "DIR/empty.yaml: the file is empty",
		"comment-only.yaml":    "DIR/comment-only.yaml: the file is empty",
		"second-document.yaml": "DIR/second-document.yaml:3: a second YAML document: a site config is one document",
		"top-level-list.yaml":  "DIR/top-level-list.yaml:1: expected a mapping, got a list",
		"merge-key.yaml":       `DIR/merge-key.yaml:7: cluster.nodes[0]: expected a field name, got merge "<<"`,
		// Aliases.
		"alias-bomb-nodes-labels.yaml": "DIR/alias-bomb-nodes-labels.yaml:9: cluster.nodes[99].labels[19]: alias *node: aliases add more than 10000 values to the document (anchors and aliases are for repeating small parts)",
		"billion-laughs-values.yaml":   "DIR/billion-laughs-values.yaml:5: anchors: unknown field\nDIR/billion-laughs-values.yaml:16: platform: the platform runs on K3s: add a k3s section\nDIR/billion-laughs-values.yaml:17: platform.minio.values: invalid chart values: document contains excessive aliasing",
		"billion-laughs-cmdline.yaml":  "DIR/billion-laughs-cmdline.yaml:4: anchors: unknown field" + laughsCmdline(),
		"alias-cycle.yaml":             "DIR/alias-cycle.yaml:6: cluster.nodes[0].nodes: unknown field\nDIR/alias-cycle.yaml:6: cluster.nodes[0].hostname: required",
		// Files the config names.
		"token-dev-zero.yaml":            fmt.Sprintf(hostileHeader, "token-dev-zero.yaml", "zero") + "a character device, not a regular file",
		"token-fifo.yaml":                fmt.Sprintf(hostileHeader, "token-fifo.yaml", "fifo") + "a named pipe (FIFO), not a regular file",
		"token-too-large.yaml":           fmt.Sprintf(hostileHeader, "token-too-large.yaml", "big") + "larger than 64KiB, the limit for this file",
		"token-control-character.yaml":   "DIR/token-control-character.yaml:9: cluster.token: holds the control character U+000A: want one line of printable text",
		"userdata-dev-zero.yaml":         "DIR/userdata-dev-zero.yaml:13: outputs.pxe.userData.agent: DIR/zero: a character device, not a regular file",
		"userdata-fifo.yaml":             "DIR/userdata-fifo.yaml:13: outputs.pxe.userData.server: DIR/fifo: a named pipe (FIFO), not a regular file",
		"userdata-not-cloud-config.yaml": "DIR/userdata-not-cloud-config.yaml:13: outputs.pxe.userData.agent: DIR/passwd line 1: not a #cloud-config document (its first line must be #cloud-config)",
		"s3-files.yaml": "DIR/s3-files.yaml:12: cluster.etcdSnapshots.s3.secretKeyFile: DIR/fifo: a named pipe (FIFO), not a regular file\n" +
			"DIR/s3-files.yaml:12: cluster.etcdSnapshots.s3.endpointCA: DIR/zero: a character device, not a regular file",
		// The site's own charts and manifests.
		"chart-values-dev-zero.yaml": "DIR/chart-values-dev-zero.yaml:12: charts[0].valuesFiles[0]: DIR/zero: a character device, not a regular file\n" +
			"DIR/chart-values-dev-zero.yaml:12: charts[0].valuesFiles[1]: DIR/big:1: expected a mapping of chart values, got a single value",
		"chart-and-manifests-not-files.yaml": "DIR/chart-and-manifests-not-files.yaml:10: charts[0].path: local chart DIR/fifo: a named pipe (FIFO), neither a chart directory nor a chart archive (.tgz)\n" +
			"DIR/chart-and-manifests-not-files.yaml:11: charts[1].path: local chart DIR/dir: not a chart directory: no Chart.yaml\n" +
			"DIR/chart-and-manifests-not-files.yaml:12: manifests[0]: DIR/passwd: K3s applies only files named *.yaml, *.yml or *.json\n" +
			"DIR/chart-and-manifests-not-files.yaml:12: manifests[1]: DIR/zero: a symbolic link: the build follows none; list the file or directory it points to\n" +
			"DIR/chart-and-manifests-not-files.yaml:12: manifests[2]: DIR/fifo: a named pipe (FIFO), not a regular file or a directory",
		// Build inputs and sizes.
		"rootfs-missing.yaml":     "DIR/rootfs-missing.yaml:7: os.base.rootfs: DIR/missing.tar: no such file or directory",
		"rootfs-directory.yaml":   "DIR/rootfs-directory.yaml:7: os.base.rootfs: DIR/dir is a directory, not a regular file",
		"base-dir-is-a-file.yaml": "DIR/base-dir-is-a-file.yaml:7: os.base.dir: DIR/base.tar is a regular file, not a directory",
		"kernel-and-efi-not-files.yaml": "DIR/kernel-and-efi-not-files.yaml:8: os.kernel.deb: DIR/fifo is a named pipe (FIFO), not a regular file\n" +
			"DIR/kernel-and-efi-not-files.yaml:9: os.bootloader.efi: DIR/dir is a directory, not a regular file",
		"raw-size-1mib.yaml":     "DIR/raw-size-1mib.yaml:12: outputs.raw.size: 1MiB is too small: the disk layout needs at least 2819MiB (ESP, two OS slots, SECRETS, STATE), more for an OS image over 512MiB and for the image payload (its own partition); 0 makes the smallest image that fits",
		"raw-size-8000tib.yaml":  "DIR/raw-size-8000tib.yaml:12: outputs.raw.size: 8000TiB is larger than 4TiB, the most a raw image may be (STATE grows to fill the real disk at first boot, so the image need not be the disk's size)",
		"raw-size-overflow.yaml": "DIR/raw-size-overflow.yaml:12: outputs.raw.size: invalid size 18446744073709551615: too large",
	}
	for name := range configs {
		if _, ok := cases[name]; !ok {
			t.Errorf("%s/%s has no case here", hostileCorpus, name)
		}
	}
	for name, want := range cases {
		t.Run(name, func(t *testing.T) {
			config := name
			if !filepath.IsAbs(name) {
				config = filepath.Join(dir, name)
			}
			err := validateWithin(t, config)
			if err == nil {
				t.Fatal("validate accepted it")
			}
			if code := ExitCode(err); code != 2 {
				t.Errorf("exit status %d, want 2", code)
			}
			if want = strings.ReplaceAll(want, "DIR", dir); err.Error() != want {
				t.Errorf("error:\n got: %v\nwant: %s", err, want)
			}
			if strings.Contains(err.Error(), sitetest.Secret) {
				t.Errorf("the error quotes passwd")
			}
		})
	}
	t.Run("many.yaml", func(t *testing.T) {
		lines := strings.Split(validateWithin(t, filepath.Join(dir, "many.yaml")).Error(), "\n")
		if len(lines) != site.MaxErrors+1 || lines[site.MaxErrors] != dir+"/many.yaml: ... and 14 more errors (only the first 50 are listed)" {
			t.Errorf("%d lines, the last %q", len(lines), lines[len(lines)-1])
		}
	})
}

// laughsCmdline is the rest of billion-laughs-cmdline.yaml's error: its
// *l9 is a list of ten lists, each refused without following it.
func laughsCmdline() string {
	var b strings.Builder
	for i := range 10 {
		fmt.Fprintf(&b, "\nDIR/billion-laughs-cmdline.yaml:14: os.cmdline[%d]: expected a string, got a list", i)
	}
	return b.String()
}

// TestBuildOfAMissingInputCreatesNothing: a build whose base is missing
// fails before it starts, as a config error, and creates neither the
// output nor the cache directory.
func TestBuildOfAMissingInputCreatesNothing(t *testing.T) {
	configs := sitetest.Configs(t, hostileCorpus)
	dir := sitetest.Fixtures(t, configs)
	out, cache := filepath.Join(dir, "out"), filepath.Join(dir, "cache")
	_, _, err := execute(t, "build", "--config", filepath.Join(dir, "rootfs-missing.yaml"), "--output", out, "--cache", cache, "--agent-dir", dir)
	if err == nil || ExitCode(err) != 2 || !strings.Contains(err.Error(), "os.base.rootfs: "+dir+"/missing.tar: no such file or directory") {
		t.Fatalf("build: %v (exit %d), want the missing base as a config error", err, ExitCode(err))
	}
	for _, p := range []string{out, cache} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("the failed build created %s", p)
		}
	}
}
