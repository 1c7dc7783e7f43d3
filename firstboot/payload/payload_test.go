package payload

import (
	"io/fs"
	"sort"
	"strings"
	"testing"
)

func TestFiles(t *testing.T) {
	files := Files()
	if !sort.SliceIsSorted(files, func(i, j int) bool { return files[i].Path < files[j].Path }) {
		t.Errorf("Files not sorted by path")
	}
	byPath := map[string]File{}
	for _, f := range files {
		byPath[f.Path] = f
	}
	link, ok := byPath[UnitWantsPath]
	if !ok || link.Mode.Type() != fs.ModeSymlink || link.Linkname != UnitPath || link.Content != nil {
		t.Errorf("wants symlink = %+v, want symlink to %s", link, UnitPath)
	}
	mask, ok := byPath[MachineIDCommitMask]
	if !ok || mask.Mode.Type() != fs.ModeSymlink || mask.Linkname != "/dev/null" {
		t.Errorf("machine-id-commit mask = %+v, want symlink to /dev/null", mask)
	}
	snippet := string(byPath[SSHDSnippetPath].Content)
	for _, want := range []string{"HostKey /var/lib/appliance/ssh/ssh_host_ed25519_key\n", "HostKey /var/lib/appliance/ssh/ssh_host_rsa_key\n"} {
		if !strings.Contains(snippet, want) {
			t.Errorf("sshd snippet %q lacks %q", snippet, want)
		}
	}
}

// TestUnit checks the unit lines systemd acts on, so an edit of the embedded
// file that breaks ordering or the command shows up here.
func TestUnit(t *testing.T) {
	unitFile, ok := File{}, false
	for _, f := range Files() {
		if f.Path == UnitPath {
			unitFile, ok = f, true
		}
	}
	if !ok || unitFile.Mode != 0o644 {
		t.Fatalf("unit %s missing or mode %v", UnitPath, unitFile.Mode)
	}
	lines := map[string]bool{}
	for _, l := range strings.Split(string(unitFile.Content), "\n") {
		lines[l] = true
	}
	for _, want := range []string{
		"After=local-fs.target systemd-networkd.service",
		"Before=k3s.service k3s-agent.service ssh.service",
		"Type=oneshot",
		"RemainAfterExit=yes",
		"ExecStart=" + BinaryPath + " run --console /dev/console",
		"StandardOutput=journal",
		"WantedBy=multi-user.target",
	} {
		if !lines[want] {
			t.Errorf("unit lacks line %q:\n%s", want, unitFile.Content)
		}
	}
}
