package bringup

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/ml-appliance/appliance/firstboot/atomicfile"
	"github.com/ml-appliance/appliance/firstboot/payload"
)

// Component states.
const (
	// StateWaiting: the component's HelmChart has not appeared yet.
	StateWaiting = "waiting"
	// StateInstalling: the install job runs, or its workloads are not ready.
	StateInstalling = "installing"
	// StateReady: installed and every workload ready.
	StateReady = "ready"
	// StateFailed: the install failed or did not finish in time.
	StateFailed = "failed"
)

// API states (Status.API).
const (
	APIWaiting = "waiting"
	APIReady   = "ready"
)

// Status is the platform's bring-up state, as the status file holds it.
type Status struct {
	Updated time.Time `json:"updated"`
	// API is APIWaiting, APIReady, or why the API server was not reached.
	API        string            `json:"api"`
	Components []ComponentStatus `json:"components"`
}

// ComponentStatus is one component's state.
type ComponentStatus struct {
	Name string `json:"name"`
	// Origin is payload.PlatformComponent's: "site" for a chart of the
	// site's own, empty for the catalog's.
	Origin    string `json:"origin,omitempty"`
	Namespace string `json:"namespace"`
	// State is StateWaiting, StateInstalling, StateReady or StateFailed.
	State string `json:"state"`
	// Reason says what is awaited or what failed.
	Reason string `json:"reason,omitempty"`
	// Detail backs a failure: install job conditions, pod events, the last
	// log lines of the install pod, workload counts.
	Detail []string `json:"detail,omitempty"`
	// Endpoints are URLs, or how to reach a component that has none.
	Endpoints   []string  `json:"endpoints,omitempty"`
	Credentials string    `json:"credentials,omitempty"`
	Since       time.Time `json:"since"`
}

// WriteStatusFile writes s to path as JSON, atomically: a reader sees the
// old file or the new one, never a part. path's directory must exist.
func WriteStatusFile(path string, s Status) error {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("encode platform status: %w", err)
	}
	if err := atomicfile.WriteFile(path, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("write platform status: %w", err)
	}
	return nil
}

// ReadStatusFile reads a file WriteStatusFile wrote.
func ReadStatusFile(path string) (Status, error) {
	var s Status
	data, err := os.ReadFile(path)
	if err != nil {
		return s, fmt.Errorf("read platform status: %w", err)
	}
	if err := json.Unmarshal(data, &s); err != nil {
		return s, fmt.Errorf("read platform status %s: %w", path, err)
	}
	return s, nil
}

// FormatText writes one line per component:
//
//	minio ready  API: http://10.0.0.10:30900  (credentials: secret minio/minio)
//	tiny-model (site chart) ready  inference: http://10.0.0.10:31080/v2/
//	mlflow failed: install job kube-system/helm-install-mlflow failed: BackoffLimitExceeded: ...; events: ...
//
// preceded by a line about the API server while it is not ready: waiting,
// or why it was not reached.
func FormatText(w io.Writer, s Status) {
	switch s.API {
	case APIReady:
	case APIWaiting, "":
		fmt.Fprintln(w, "kubernetes API waiting")
	default:
		fmt.Fprintln(w, s.API)
	}
	for _, c := range s.Components {
		fmt.Fprintln(w, componentLine(c))
	}
}

// componentLine is c in one line: name, state, reason, endpoints and, once
// ready, where the credentials are.
func componentLine(c ComponentStatus) string {
	var b strings.Builder
	b.WriteString(c.Name)
	if c.Origin == payload.OriginSite {
		b.WriteString(" (site chart)")
	}
	b.WriteString(" " + c.State)
	if c.Reason != "" {
		b.WriteString(": " + c.Reason)
	}
	for _, e := range c.Endpoints {
		b.WriteString("  " + e)
	}
	if c.State == StateReady && c.Credentials != "" {
		b.WriteString("  (credentials: " + c.Credentials + ")")
	}
	return b.String()
}
