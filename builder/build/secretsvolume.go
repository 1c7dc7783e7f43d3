package build

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/ml-appliance/appliance/builder/report"
	"github.com/ml-appliance/appliance/firstboot/clustersecrets"
)

// writeSecretsVolume writes the cluster's secrets volume (root-only) into
// the scratch directory and returns its path; "" without K3s.
func (b *pipeline) writeSecretsVolume() (string, error) {
	if b.secrets == nil {
		return "", nil
	}
	data, err := clustersecrets.Encode(b.secrets)
	if err != nil {
		return "", err
	}
	p := filepath.Join(b.scratch, "secrets.img")
	if err := os.WriteFile(p, data, 0o600); err != nil {
		return "", fmt.Errorf("write the secrets volume: %w", err)
	}
	return p, nil
}

// markServedImage marks the OS image as holding the agent join token when
// the initial server serves PXE (the bundle baked into the image carries
// the agents' node configs) and makes it 0600, as every artifact that
// holds a secret is.
func (b *pipeline) markServedImage() error {
	if !servesPXE(b.site) || !b.site.Outputs.PXE.ServesAgentToken() || b.agentJoinToken == "" {
		return nil
	}
	for i, a := range b.report.Artifacts {
		if a.Kind == "os-image" && a.Secrets == "" {
			if err := os.Chmod(b.dir.Path(a.Path), 0o600); err != nil {
				return fmt.Errorf("os image: %w", err)
			}
			b.report.Artifacts[i].Secrets = report.SecretsAgentToken
		}
	}
	return nil
}

// logSecrets says which artifacts hold cluster secrets, so the operator
// knows what to lock away and what may be served.
func (b *pipeline) logSecrets() {
	for _, a := range b.report.Artifacts {
		switch a.Secrets {
		case report.SecretsServer:
			b.log.Warn("artifact holds the cluster's server secrets (tokens, CA keys, S3 key): mode 0600; keep it like a root key, never serve it",
				"artifact", a.Path)
		case report.SecretsAgentToken:
			b.log.Info("artifact holds the agent join token (joins agents, not servers): mode 0600; served to netbooting agents by design",
				"artifact", a.Path)
		}
	}
}
