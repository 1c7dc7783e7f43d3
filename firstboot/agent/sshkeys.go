package agent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/ml-appliance/appliance/firstboot/payload"
)

// sshHostKeys generates the node's SSH host keys under payload.SSHHostKeyDir
// (on STATE) with ssh-keygen. A key already there is kept; a private key
// without its .pub (a power cut between the two renames) gets its public
// half back from ssh-keygen -y.
func sshHostKeys(ctx context.Context, env *Env) error {
	dir := env.Path(payload.SSHHostKeyDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	for _, keyType := range payload.SSHHostKeyTypes {
		key := env.Path(payload.SSHHostKeyPath(keyType))
		action, err := ensureHostKey(ctx, env, keyType, key)
		if err != nil {
			return err
		}
		out, err := env.Runner.Run(ctx, "ssh-keygen", "-l", "-f", key+".pub")
		if err != nil {
			return fmt.Errorf("fingerprint %s host key: %w", keyType, err)
		}
		fields := strings.Fields(string(out))
		if len(fields) < 2 {
			return fmt.Errorf("fingerprint %s host key: unexpected output %q", keyType, out)
		}
		env.Printf("ssh-host-keys: %s %s %s", action, payload.SSHHostKeyPath(keyType), fields[1])
	}
	return syncDir(dir)
}

// ensureHostKey makes sure key and key.pub exist and says what it did.
func ensureHostKey(ctx context.Context, env *Env, keyType, key string) (string, error) {
	if _, err := os.Stat(key); err == nil {
		if _, err := os.Stat(key + ".pub"); err == nil {
			return "kept", nil
		}
		pub, err := env.Runner.Run(ctx, "ssh-keygen", "-y", "-f", key)
		if err != nil {
			return "", fmt.Errorf("recover public %s host key: %w", keyType, err)
		}
		if err := writeFileAtomic(key+".pub", pub, 0o644); err != nil {
			return "", err
		}
		return "recovered public key of", nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("stat %s host key: %w", keyType, err)
	}

	tmp := filepath.Join(filepath.Dir(key), ".tmp-"+filepath.Base(key))
	for _, p := range []string{tmp, tmp + ".pub"} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("remove stale %s: %w", p, err)
		}
	}
	args := []string{"-q", "-N", "", "-t", keyType, "-C", "root@" + env.Hostname, "-f", tmp}
	if keyType == "rsa" {
		args = append(args, "-b", "3072")
	}
	if _, err := env.Runner.Run(ctx, "ssh-keygen", args...); err != nil {
		return "", fmt.Errorf("generate %s host key: %w", keyType, err)
	}
	// Private key first: a private key without .pub is recovered above.
	for _, p := range [][2]string{{tmp, key}, {tmp + ".pub", key + ".pub"}} {
		if err := syncFile(p[0]); err != nil {
			return "", err
		}
		if err := os.Rename(p[0], p[1]); err != nil {
			return "", fmt.Errorf("install %s host key: %w", keyType, err)
		}
	}
	return "generated", nil
}

func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("sync %s: %w", path, err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", path, err)
	}
	return nil
}
