package site

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestYAMLErrorsHaveLines: yaml.v3 reports a byte that is not UTF-8, a
// control character and an unknown anchor without a line; the decoder
// finds it in the text.
func TestYAMLErrorsHaveLines(t *testing.T) {
	for _, tc := range []struct{ name, data, want string }{{
		name: "Latin-1 byte",
		data: "apiVersion: appliance/v1alpha1\nkind: Site\nmetadata:\n  name: caf\xe9\n",
		want: "site.yaml:4: invalid YAML: column 12: byte 0xE9 is not UTF-8 (save the file as UTF-8)",
	}, {
		name: "NUL in a binary file",
		data: "apiVersion: appliance/v1alpha1\r\nkind: Site\r\n\x00\x01\x02",
		want: "site.yaml:3: invalid YAML: column 1: control character U+0000 is not allowed (is this a text file?)",
	}, {
		name: "unknown anchor after decoys in a comment and a string",
		data: "# *nope in a comment\napiVersion: appliance/v1alpha1\nkind: Site\nmetadata: {name: \"*nope\"}\nseed: *nopeLonger\nos: *nope\n",
		want: "site.yaml:5: invalid YAML: alias *nopeLonger: no anchor &nopeLonger before it",
	}, {
		name: "anchor defined after its alias",
		data: "apiVersion: appliance/v1alpha1\nkind: Site\n# *m\nseed: *m\nmetadata: &m {name: lab}\n",
		want: "site.yaml:4: invalid YAML: alias *m: no anchor &m before it",
	}, {
		name: "unknown anchor in a second document",
		data: "apiVersion: appliance/v1alpha1\n---\nkind: *k\n",
		want: "site.yaml:3: invalid YAML: alias *k: no anchor &k before it",
	}, {
		name: "UTF-16 with a byte order mark is left to yaml.v3",
		data: "\xff\xfea\x00:\x00 \x00\xe9",
		want: "site.yaml: invalid YAML: incomplete UTF-16 character",
	}} {
		t.Run(tc.name, func(t *testing.T) { checkLoad(t, tc.data, tc.want, nil) })
	}
}

// TestAliases: anchors that repeat a little decode; an alias bomb walked
// through the schema (nodes x labels) is refused with one error at the
// alias, fast; an alias cycle ends.
func TestAliases(t *testing.T) {
	nodes := "cluster:\n  server: https://10.0.0.10:6443\n  nodes:\n    - {hostname: a, role: server, init: true, labels: &l [gpu=true, zone=a]}\n" +
		"    - {hostname: b, role: agent, labels: *l}\n    - {hostname: c, role: agent, labels: *l}\n"
	s := checkLoad(t, strings.Replace(valid, "cluster:\n  nodes:\n    - {hostname: a, role: server, init: true}\n", nodes, 1), "", nil)
	if s == nil {
		t.Fatal("anchors that repeat a little: refused")
	}
	if got := s.Cluster.Nodes[2].Labels; len(got) != 2 || got[1] != "zone=a" {
		t.Errorf("labels of an alias: %q", got)
	}

	bomb := "apiVersion: appliance/v1alpha1\nkind: Site\nmetadata: {name: lab}\nos: {base: {rootfs: base.tar}}\n" +
		"anchors:\n  - &labels [" + strings.Repeat("gpu=true, ", 99) + "gpu=true]\n" +
		"  - &node {hostname: x, role: agent, labels: *labels}\n" +
		"cluster:\n  nodes: [" + strings.Repeat("*node, ", 199) + "*node]\n"
	start := time.Now()
	checkLoad(t, bomb, "site.yaml:9: cluster.nodes[99].labels[19]: alias *node: aliases add more than 10000 values to the document (anchors and aliases are for repeating small parts)", nil)
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("refusing the alias bomb took %v", d)
	}

	cycle := "apiVersion: appliance/v1alpha1\nkind: Site\ncluster: &c\n  nodes: [*c]\n"
	_, _, err := load("site.yaml", []byte(cycle))
	if err == nil || !strings.Contains(err.Error(), "site.yaml:4: cluster.nodes[0].nodes: unknown field") {
		t.Errorf("alias cycle: %v", err)
	}
}

// TestReportBoundsFindings: a report lists the first MaxErrors errors and
// warnings in line order, found in any order, and counts the rest.
func TestReportBoundsFindings(t *testing.T) {
	r := &report{file: "site.yaml"}
	for i := 1000; i > 0; i-- { // found last line first
		r.errorf(i, fmt.Sprintf("k%d", i), "unknown field")
		r.warnf(i, "w", "odd")
	}
	o := &report{file: "site.yaml"}
	o.errorf(1, "first", "found later, on the first line")
	r.merge(o)
	lines := strings.Split(r.err().Error(), "\n")
	if len(lines) != MaxErrors+1 {
		t.Fatalf("%d lines, want %d", len(lines), MaxErrors+1)
	}
	for i, want := range map[int]string{
		0:         "site.yaml:1: k1: unknown field",
		1:         "site.yaml:1: first: found later, on the first line",
		2:         "site.yaml:2: k2: unknown field",
		MaxErrors: "site.yaml: ... and 951 more errors (only the first 50 are listed)",
	} {
		if lines[i] != want {
			t.Errorf("line %d: %q, want %q", i, lines[i], want)
		}
	}
	w := r.warningStrings()
	if len(w) != MaxErrors+1 || w[0] != "site.yaml:1: w: odd" || w[MaxErrors] != "site.yaml: ... and 950 more warnings" {
		t.Errorf("warnings: %d, first %q, last %q", len(w), w[0], w[len(w)-1])
	}
}

func TestRawSizeBounds(t *testing.T) {
	withSize := func(size string) string { return valid + "outputs:\n  raw: {size: " + size + "}\n" }
	for _, size := range []string{"0", "2819MiB", "8GiB", "4TiB"} {
		checkLoad(t, withSize(size), "", nil)
	}
	for size, want := range map[string]string{
		"1MiB":    "1MiB is too small: the disk layout needs at least 2819MiB (ESP, two OS slots, SECRETS, STATE), more for an OS image over 512MiB and for the image payload (its own partition); 0 makes the smallest image that fits",
		"2818MiB": "2818MiB is too small: the disk layout needs at least 2819MiB (ESP, two OS slots, SECRETS, STATE), more for an OS image over 512MiB and for the image payload (its own partition); 0 makes the smallest image that fits",
		"8000TiB": "8000TiB is larger than 4TiB, the most a raw image may be (STATE grows to fill the real disk at first boot, so the image need not be the disk's size)",
	} {
		checkLoad(t, withSize(size), "site.yaml:12: outputs.raw.size: "+want, nil)
	}
}

// TestFileBounds: every file the config names is read non-blocking and
// within its bound: a FIFO, a device or a large file is an error naming
// the field and the file, at once.
func TestFileBounds(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big")
	if err := os.WriteFile(big, make([]byte, MaxUserDataBytes+1), 0o600); err != nil {
		t.Fatal(err)
	}
	huge := filepath.Join(dir, "huge")
	if err := os.WriteFile(huge, make([]byte, MaxCAFileBytes+1), 0o600); err != nil {
		t.Fatal(err)
	}
	cluster := func(extra string) string {
		return strings.Replace(valid, "cluster:\n", "cluster:\n"+extra, 1)
	}
	for _, tc := range []struct{ name, data, want string }{{
		name: "token from a FIFO",
		data: cluster("  token: file:" + fifo + "\n"),
		want: "site.yaml:9: cluster.token: token file " + fifo + ": a named pipe (FIFO), not a regular file",
	}, {
		name: "token from /dev/zero",
		data: cluster("  token: file:/dev/zero\n"),
		want: "site.yaml:9: cluster.token: token file /dev/zero: a character device, not a regular file",
	}, {
		name: "token too large",
		data: cluster("  token: file:" + big + "\n"),
		want: "site.yaml:9: cluster.token: token file " + big + ": larger than 64KiB, the limit for this file",
	}, {
		name: "S3 secret key and CA",
		data: cluster("  etcdSnapshots:\n    s3: {endpoint: s3.lab, bucket: snaps, accessKey: AK, secretKeyFile: " + fifo + ", endpointCA: " + huge + "}\n"),
		want: "site.yaml:10: cluster.etcdSnapshots.s3.secretKeyFile: " + fifo + ": a named pipe (FIFO), not a regular file\n" +
			"site.yaml:10: cluster.etcdSnapshots.s3.endpointCA: " + huge + ": larger than 1MiB, the limit for this file",
	}, {
		name: "user-data too large",
		data: valid + "outputs:\n  pxe:\n    userData: {agent: " + big + "}\n",
		want: "site.yaml:13: outputs.pxe.userData.agent: " + big + ": larger than 512KiB, the limit for this file",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			done := make(chan struct{})
			go func() { defer close(done); checkLoad(t, tc.data, tc.want, nil) }()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("Load blocks")
			}
		})
	}
	if _, err := (Token("file:" + fifo)).Secret(); err == nil || err.Error() != "cluster token file "+fifo+": a named pipe (FIFO), not a regular file" {
		t.Errorf("Secret of a FIFO: %v", err)
	}
}

// TestUserDataIsNotQuoted: a user-data path naming a file that is not a
// #cloud-config document is an error that quotes none of it.
func TestUserDataIsNotQuoted(t *testing.T) {
	shadow := filepath.Join(t.TempDir(), "shadow")
	if err := os.WriteFile(shadow, []byte("root:$6$s3cr3t:19000:0:99999:7:::\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	checkLoad(t, valid+"outputs:\n  pxe:\n    userData: {agent: "+shadow+"}\n",
		"site.yaml:13: outputs.pxe.userData.agent: "+shadow+" line 1: not a #cloud-config document (its first line must be #cloud-config)", nil)
	data, err := ReadUserData(shadow)
	if err != nil || len(data) == 0 {
		t.Errorf("ReadUserData: %v", err)
	}
}

func TestLoadRefusesWhatIsNotAConfigFile(t *testing.T) {
	dir := t.TempDir()
	large := filepath.Join(dir, "large.yaml")
	if err := os.WriteFile(large, make([]byte, MaxConfigBytes+1), 0o600); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{
		dir:         dir + ": a directory, not a regular file",
		"/dev/zero": "/dev/zero: a character device, not a regular file",
		large:       large + ": larger than 1MiB, the limit for this file",
	} {
		_, _, err := Load(path)
		if err == nil || !IsConfigError(err) || err.Error() != want {
			t.Errorf("Load(%s) = %v, want the config error %q", path, err, want)
		}
	}
}

func TestCheckInputs(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"base.tar", "k3s", "airgap.tar.zst"} {
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o600); err != nil {
		t.Fatal(err)
	}
	config := filepath.Join(dir, "site.yaml")
	load := func(t *testing.T, text string) *Site {
		t.Helper()
		if err := os.WriteFile(config, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		s, _, err := Load(config)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	withK3s := valid + "k3s: {binary: k3s, airgap: airgap.tar.zst}\n"
	if err := load(t, withK3s).CheckInputs(); err != nil {
		t.Errorf("inputs that are there: %v", err)
	}
	text := strings.Replace(withK3s, "rootfs: base.tar", "rootfs: missing.tar", 1)
	text = strings.Replace(text, "binary: k3s", "binary: fifo", 1)
	text = strings.Replace(text, "os:\n", "os:\n  kernel: {deb: .}\n", 1)
	err := load(t, text).CheckInputs()
	want := config + ":6: os.kernel.deb: " + dir + " is a directory, not a regular file\n" +
		config + ":8: os.base.rootfs: " + filepath.Join(dir, "missing.tar") + ": no such file or directory\n" +
		config + ":12: k3s.binary: " + filepath.Join(dir, "fifo") + " is a named pipe (FIFO), not a regular file"
	if err == nil || !IsConfigError(err) || err.Error() != want {
		t.Errorf("CheckInputs:\n got: %v\nwant: %s", err, want)
	}
	text = strings.Replace(valid, "rootfs: base.tar", "dir: base.tar", 1)
	if err := load(t, text).CheckInputs(); err == nil || !strings.HasSuffix(err.Error(), "os.base.dir: "+filepath.Join(dir, "base.tar")+" is a regular file, not a directory") {
		t.Errorf("base dir that is a file: %v", err)
	}
}
