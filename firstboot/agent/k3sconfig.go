package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/ml-appliance/appliance/firstboot/k3sconfig"
	"github.com/ml-appliance/appliance/firstboot/nodeconfig"
	"github.com/ml-appliance/appliance/firstboot/nodelabels"
	"github.com/ml-appliance/appliance/firstboot/payload"
	"github.com/ml-appliance/appliance/internal/smallfile"
)

// k3sServerTLSDir is where K3s keeps its CAs; files already there are used
// as they are (K3s's custom CA support).
const k3sServerTLSDir = "/var/lib/rancher/k3s/server/tls"

// k3sIdentity puts the site's custom cluster CA where K3s reads it, on the
// initial server only and before K3s first starts: the certificates from
// the image (nodeconfig.CADir), the keys from the node's secrets
// (nodeconfig.CAKeyDir, installed by the cluster-secrets step). K3s uses
// CA files it finds and makes the rest. Joining servers receive the CAs
// from the cluster, agents never need their keys. CA files K3s already
// has (it ran before) are never replaced: changing a running cluster's CA
// breaks it.
func k3sIdentity(_ context.Context, env *Env) error {
	c := env.Config.Cluster
	switch {
	case !env.hasK3s():
		return nil
	case c == nil || !c.CA:
		env.Printf("k3s-identity: no custom CA in this image; K3s makes its own")
		return nil
	case !env.ClusterInit:
		env.Printf("k3s-identity: not the initial server; the cluster's CAs come from it")
		return nil
	}
	dst := env.Path(k3sServerTLSDir)
	if _, err := os.Stat(filepath.Join(dst, "server-ca.crt")); err == nil {
		env.Printf("k3s-identity: %s already has the cluster's CAs, left as they are", k3sServerTLSDir)
		return nil
	}
	keys, err := copyTree(env.Path(nodeconfig.CAKeyDir), dst)
	if errors.Is(err, fs.ErrNotExist) || (err == nil && keys == 0) {
		return fmt.Errorf("install the cluster CA: its keys are not in %s: this server was not booted from the raw disk or ISO that carries the site's secrets volume (docs/security.md)", nodeconfig.CAKeyDir)
	}
	if err != nil {
		return fmt.Errorf("install the cluster CA keys: %w", err)
	}
	certs, err := copyTree(env.Path(nodeconfig.CADir), dst)
	if err != nil {
		return fmt.Errorf("install the cluster CA certificates: %w", err)
	}
	env.Printf("k3s-identity: installed the site's cluster CA (%d certificates, %d keys) in %s", certs, keys, k3sServerTLSDir)
	return nil
}

// copyTree copies the regular files of src into dst, keeping their modes,
// each atomically; directories are made 0700. It returns how many files.
func copyTree(src, dst string) (int, error) {
	n := 0
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o700)
		}
		if !d.Type().IsRegular() {
			return fmt.Errorf("%s: not a regular file", p)
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		n++
		return writeAtomic(filepath.Join(dst, rel), info.Mode().Perm(), 0o700, func(w io.Writer) error {
			_, err := w.Write(data)
			return err
		})
	})
	return n, err
}

// k3sConfig writes /etc/rancher/k3s/config.yaml (0600: it may hold the
// token or the S3 secret key) for the node's role, every boot, so a changed
// node config or image reaches K3s; it is rewritten only when it differs.
func k3sConfig(_ context.Context, env *Env) error {
	if !env.hasK3s() {
		env.Printf("k3s-config: no K3s in this image, nothing to configure or start")
		return nil
	}
	in, err := k3sInput(env)
	if err != nil {
		return err
	}
	data, err := k3sconfig.Render(in)
	if err != nil {
		return fmt.Errorf("K3s config: %w", err)
	}
	path := env.Path(payload.K3sConfigPath)
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("read %s: %w", path, err)
	}
	if !bytes.Equal(old, data) {
		if err := writeAtomic(path, 0o600, 0o755, func(w io.Writer) error {
			_, err := w.Write(data)
			return err
		}); err != nil {
			return err
		}
	}
	env.Printf("k3s-config: %s: %s", payload.K3sConfigPath, describeK3s(in))
	return nil
}

// k3sInput gathers the node's K3s settings: the cloud-config's appliance
// section first, then the node config and the node's inventory entry.
func k3sInput(env *Env) (k3sconfig.Input, error) {
	app := env.Cloud.Appliance
	c := env.Config.Cluster
	if c == nil {
		c = &nodeconfig.Cluster{}
	}
	in := k3sconfig.Input{
		Role: env.Role, ClusterInit: env.ClusterInit, NodeName: env.Hostname,
		TLSSAN: c.TLSSAN, Disable: c.Disable, SecretsEncryption: c.SecretsEncryption,
		EtcdSnapshots: c.EtcdSnapshots, Server: joinServerURL(env),
	}
	if err := joinToken(env, app.Token.Reveal(), c, &in); err != nil {
		return in, err
	}
	if entry := env.inventoryEntry(); entry != nil {
		in.NodeLabels, in.NodeTaints = entry.Labels, entry.Taints
		if pfx, err := netip.ParsePrefix(entry.Address); err == nil {
			in.NodeIP = pfx.Addr().String()
		}
	}
	// The cloud-config's items replace the inventory's of the same key
	// (taints: key and effect), which K3s would refuse twice.
	in.NodeLabels = nodelabels.MergeLabels(in.NodeLabels, app.NodeLabels)
	in.NodeTaints = nodelabels.MergeTaints(in.NodeTaints, app.NodeTaints)
	if app.NodeIP != "" {
		in.NodeIP = app.NodeIP
	}
	if env.Role == nodeconfig.RoleServer {
		if _, err := os.Stat(env.Path(payload.RegistriesTemplate)); err == nil {
			in.EmbeddedRegistry = true
		}
		if s := c.EtcdSnapshots; s != nil && s.S3 != nil && s.S3.SecretKey {
			key, err := smallfile.Read(env.Path(nodeconfig.EtcdS3SecretKeyPath), 64<<10)
			if err != nil {
				return in, fmt.Errorf("etcd snapshot S3 secret key: %w", err)
			}
			in.EtcdS3SecretKey = strings.TrimSpace(string(key))
		}
	}
	return in, nil
}

// describeK3s says what the config sets, never a secret.
func describeK3s(in k3sconfig.Input) string {
	parts := []string{in.Role}
	if in.ClusterInit {
		parts = append(parts, "cluster-init")
	}
	if in.Server != "" {
		parts = append(parts, "server "+in.Server)
	}
	switch {
	case in.Token != "":
		parts = append(parts, "token from the cloud-config")
	case in.TokenFile != "":
		parts = append(parts, "token file "+in.TokenFile)
	}
	if in.AgentTokenFile != "" {
		parts = append(parts, "agent token file "+in.AgentTokenFile)
	}
	if in.NodeIP != "" {
		parts = append(parts, "node-ip "+in.NodeIP)
	}
	if in.EmbeddedRegistry {
		parts = append(parts, "embedded registry")
	}
	return strings.Join(parts, ", ")
}

func firstNonEmpty(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}

// joinToken sets in's token for the node's role: the cloud-config's
// appliance.token when it gives one (a netbooted agent's node config),
// else the files the cluster-secrets step installed: the server token on
// the initial server, the full server token on joining servers (both with
// the agent token for K3s's agent-token-file), the agent join token on
// agents.
func joinToken(env *Env, cloudToken string, c *nodeconfig.Cluster, in *k3sconfig.Input) error {
	server := env.Role == nodeconfig.RoleServer
	if server && c.Token {
		in.AgentTokenFile = nodeconfig.AgentTokenPath
	}
	switch {
	case cloudToken != "":
		in.Token = cloudToken
	case !c.Token:
		return errors.New("no cluster token: the site has none (cluster.token) and the cloud-config gives no appliance.token")
	case server && env.ClusterInit:
		in.TokenFile = nodeconfig.TokenPath
	case server:
		in.TokenFile = nodeconfig.JoinTokenPath
	default:
		in.TokenFile = nodeconfig.AgentJoinTokenPath
	}
	for _, p := range []string{in.TokenFile, in.AgentTokenFile} {
		if p == "" {
			continue
		}
		if _, err := os.Stat(env.Path(p)); err != nil {
			return fmt.Errorf("cluster token %s: %w: this %s gets it from the secrets volume of the raw disk or ISO it boots from; "+
				"the network serves no server secret, and a netbooted agent gets its token in its node config "+
				"or, with outputs.pxe.agentToken: none, as appliance.token of a NoCloud seed (docs/security.md)", p, err, env.Role)
		}
	}
	return nil
}
