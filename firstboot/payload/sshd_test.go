package payload

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/ml-appliance/appliance/internal/testassets"
)

// sshdIncludeLine is how Debian 12's sshd_config (openssh-server 9.2)
// reads the drop-ins, before any setting of its own.
const sshdIncludeLine = "Include /etc/ssh/sshd_config.d/*.conf"

// nobody runs sshd when the test runs as root: as root, sshd -T wants the
// privilege separation user "sshd" and /run/sshd, which a build host
// without openssh-server lacks (sshd.c, main: privsep_chroot).
const nobody = 65534

func TestSSHDKeysOnlyDropIn(t *testing.T) {
	var content string
	for _, f := range Files() {
		if f.Path == SSHDKeysOnlyPath {
			content = string(f.Content)
			if f.Mode != 0o644 {
				t.Errorf("%s mode %v, want 0644", f.Path, f.Mode)
			}
		}
	}
	lines := map[string]bool{}
	for _, l := range strings.Split(content, "\n") {
		lines[l] = true
	}
	for _, want := range []string{"PasswordAuthentication no", "KbdInteractiveAuthentication no", "PermitRootLogin prohibit-password", "AuthenticationMethods publickey"} {
		if !lines[want] {
			t.Errorf("%s lacks the line %q:\n%s", SSHDKeysOnlyPath, want, content)
		}
	}
}

// TestImageSSHDAllowsKeysOnly asks the base OS's own sshd (Debian 12's
// OpenSSH 9.2, run with the base's loader and libraries) for its
// effective configuration (sshd -T, for a connection as root) from the
// base's sshd_config and the payload's drop-ins, with a later drop-in
// that turns passwords on, as cloud-init's ssh_pwauth would: keys only
// must win. Without the payload's drop-ins, the same sshd must allow
// passwords (Debian's default), or this test could not fail.
func TestImageSSHDAllowsKeysOnly(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the sshd of the base OS in out/testassets")
	}
	root := baseSSHD(t)
	cloudInit := File{Path: "/etc/ssh/sshd_config.d/50-cloud-init.conf", Mode: 0o644, Content: []byte("PasswordAuthentication yes\n")}

	got := sshdEffective(t, root, append(Files(), cloudInit))
	for key, want := range map[string]string{
		"passwordauthentication":       "no",
		"kbdinteractiveauthentication": "no",
		"permitrootlogin":              "without-password", // sshd -T's name for prohibit-password
		"authenticationmethods":        "publickey",
	} {
		if got[key] != want {
			t.Errorf("sshd -T: %s %q, want %q", key, got[key], want)
		}
	}
	for _, keyType := range SSHHostKeyTypes {
		if !strings.Contains(got["hostkey"], SSHHostKeyPath(keyType)) {
			t.Errorf("sshd -T: hostkey %q lacks %s", got["hostkey"], SSHHostKeyPath(keyType))
		}
	}

	without := sshdEffective(t, root, []File{cloudInit})
	if without["passwordauthentication"] != "yes" {
		t.Errorf("without the payload, sshd -T says passwordauthentication %q; the control expects yes", without["passwordauthentication"])
	}
}

// baseSSHD extracts the base OS's sshd, sshd_config and shared libraries
// into a directory sshd can read when it runs as nobody.
func baseSSHD(t *testing.T) string {
	t.Helper()
	base := testassets.Path(t, testassets.BaseTar)
	root := t.TempDir()
	for _, d := range []string{filepath.Dir(root), root} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	out, err := exec.Command("tar", "-xf", base, "-C", root, "--wildcards", "--no-wildcards-match-slash",
		"./usr/sbin/sshd", "./etc/ssh/sshd_config", "./usr/lib/x86_64-linux-gnu/*.so*").CombinedOutput()
	if err != nil {
		t.Fatalf("extract sshd from %s: %v\n%s", base, err, out)
	}
	return root
}

// sshdEffective writes the drop-ins files (those under
// /etc/ssh/sshd_config.d) beside the base's sshd_config, points its
// Include there, and returns sshd -T's settings: keyword -> value, values
// of repeated keywords joined by spaces.
func sshdEffective(t *testing.T, root string, files []File) map[string]string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	dropIns := filepath.Join(dir, "sshd_config.d")
	if err := os.Mkdir(dropIns, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if name, ok := strings.CutPrefix(f.Path, "/etc/ssh/sshd_config.d/"); ok {
			if err := os.WriteFile(filepath.Join(dropIns, name), f.Content, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	base, err := os.ReadFile(filepath.Join(root, "etc/ssh/sshd_config"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(base), "\n"+sshdIncludeLine+"\n"); n != 1 {
		t.Fatalf("the base's sshd_config has %d lines %q, want 1", n, sshdIncludeLine)
	}
	config := filepath.Join(dir, "sshd_config")
	edited := strings.Replace(string(base), sshdIncludeLine, "Include "+dropIns+"/*.conf", 1)
	if err := os.WriteFile(config, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	hostKey := writeHostKey(t, dir)

	libs := filepath.Join(root, "usr/lib/x86_64-linux-gnu")
	cmd := exec.Command(filepath.Join(libs, "ld-linux-x86-64.so.2"), "--library-path", libs, filepath.Join(root, "usr/sbin/sshd"),
		"-T", "-f", config, "-h", hostKey, "-C", "user=root,host=client.test,addr=192.0.2.10,laddr=192.0.2.1,lport=22")
	cmd.Env = []string{}
	if os.Geteuid() == 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(cmd.Args, " "), err, stderr.String())
	}
	settings := map[string]string{}
	for _, line := range strings.Split(string(out), "\n") {
		key, value, _ := strings.Cut(line, " ")
		if settings[key] != "" {
			value = settings[key] + " " + value
		}
		settings[key] = value
	}
	return settings
}

// writeHostKey writes an ECDSA host key (sshd -T exits without one),
// owned by the user sshd runs as.
func writeHostKey(t *testing.T, dir string) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "host_key")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		if err := os.Chown(path, nobody, nobody); err != nil {
			t.Fatal(err)
		}
	}
	return path
}
