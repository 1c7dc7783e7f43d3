package build

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/ml-appliance/appliance/builder/atomicfile"
	"github.com/ml-appliance/appliance/builder/site"
	"github.com/ml-appliance/appliance/internal/smallfile"
)

// SecretsDirName is the directory, in the build's output directory, that
// keeps the cluster identity the builder generates, one subdirectory per
// site (secrets/<metadata.name>/): the server token (token), the agent
// token (agent-token) and the cluster CA (tls/, laid out as K3s's custom
// CA script lays it out, root and intermediate keys included), and, for
// every site with a raw or ISO output, the upgrade bundles' signing key
// (UpgradeKeyName, upgrade.go). Generated once, it is reused by every later
// build of the site into the same output directory, so images rebuilt for
// a site join the cluster the earlier ones formed. Deleting it makes the
// next build a new cluster. Back it up like any root of trust; nothing in
// it goes into an artifact but what the secrets volume carries.
const SecretsDirName = "secrets"

// tokenBytes is the generated token's entropy; hex-encoded, 64 characters.
const tokenBytes = 32

// clusterIdentity is what makes nodes of one site one cluster.
type clusterIdentity struct {
	// secret is the token's secret: K3s's --token on the initial server.
	secret string
	// tokenSource is where it came from: site.TokenGenerate, "file" or "literal".
	tokenSource string
	// agentSecret is the agent token's secret (K3s --agent-token on every
	// server): it joins agents, never servers. Always generated.
	agentSecret string
	// ca is the cluster CA; nil with ca: none.
	ca *clusterCA
}

// joinToken is the token a node joins with as user ("server" or "node"):
// K3s's full form K10<CA hash>::<user>:<secret> when the site has a
// cluster CA, so the node verifies the servers before sending the secret;
// else the secret alone. K3s replaces the user part with the role's own
// (pkg/clientaccess: NormalizeAndValidateTokenForUser(.., "server") in
// pkg/cluster, "node" in pkg/agent), and checks the password against its
// passwd file, where "node" has the agent token's secret when servers are
// given agent-token (pkg/daemons/control/deps: genUsers, getNodePass).
func (id *clusterIdentity) joinToken(user, secret string) string {
	if id.ca == nil {
		return secret
	}
	return "K10" + id.ca.hash + "::" + user + ":" + secret
}

// agentJoinToken is what agents join with.
func (id *clusterIdentity) agentJoinToken() string { return id.joinToken("node", id.agentSecret) }

// loadClusterIdentity returns the site's cluster identity, generating into
// secretsDir (created 0700) what the site asks generated and is not there
// yet, and reusing what is.
func loadClusterIdentity(secretsDir string, c *site.Cluster, now time.Time) (*clusterIdentity, error) {
	id := &clusterIdentity{tokenSource: c.Token.Source()}
	if err := makeSecretsDir(secretsDir); err != nil {
		return nil, fmt.Errorf("cluster identity: %w", err)
	}
	var err error
	if c.Token.Generate() {
		id.secret, err = loadOrGenerateToken(filepath.Join(secretsDir, "token"))
	} else {
		id.secret, err = c.Token.Secret()
	}
	if err != nil {
		return nil, err
	}
	if id.agentSecret, err = loadOrGenerateToken(filepath.Join(secretsDir, "agent-token")); err != nil {
		return nil, err
	}
	if id.agentSecret == id.secret {
		return nil, fmt.Errorf("cluster identity: %s equals the server token: an agent could then join as a server; remove it to generate another", filepath.Join(secretsDir, "agent-token"))
	}
	if c.CA == site.CAGenerate {
		dir := filepath.Join(secretsDir, "tls")
		if err := ensureCA(dir, now); err != nil {
			return nil, err
		}
		if id.ca, err = loadCA(dir, now); err != nil {
			return nil, err
		}
	}
	return id, nil
}

// makeSecretsDir creates a site's secrets directory, or makes the one
// there 0700.
func makeSecretsDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	return os.Chmod(dir, 0o700)
}

func loadOrGenerateToken(path string) (string, error) {
	data, err := readSecret(path, true)
	switch {
	case err == nil:
		secret := strings.TrimSpace(string(data))
		if problem := site.CheckTokenSecret(secret); problem != "" {
			return "", fmt.Errorf("%s: the token %s (remove the file to generate a new one: nodes already installed will then not join)", path, problem)
		}
		return secret, nil
	case !errors.Is(err, fs.ErrNotExist):
		return "", err
	}
	b := make([]byte, tokenBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate %s: %w", path, err)
	}
	secret := hex.EncodeToString(b)
	if err := atomicfile.Write(path, []byte(secret+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("store %s: %w", path, err)
	}
	return secret, nil
}

// ensureCA generates a CA set at dir unless one is there. The set is made
// in a temporary directory beside it and renamed into place, so an
// interrupted build leaves either none or a whole one.
func ensureCA(dir string, now time.Time) error {
	if _, err := os.Stat(dir); err == nil {
		return nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("cluster CA: %w", err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), ".tls-new-")
	if err != nil {
		return fmt.Errorf("cluster CA: %w", err)
	}
	if err := generateCA(tmp, now); err != nil {
		return errors.Join(err, os.RemoveAll(tmp))
	}
	if err := os.Rename(tmp, dir); err != nil {
		return errors.Join(fmt.Errorf("cluster CA: %w", err), os.RemoveAll(tmp))
	}
	return nil
}

// readSecret reads a file of the cluster identity; a key or token must not
// be readable by group or others.
func readSecret(path string, private bool) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("cluster identity: %w", err)
	}
	if private && st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("cluster identity: %s has mode %04o: others may read it; want 0600 (chmod 600 %s)", path, st.Mode().Perm(), path)
	}
	data, err := smallfile.Read(path, site.MaxCAFileBytes)
	if err != nil {
		return nil, fmt.Errorf("cluster identity: %w", err)
	}
	return data, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
