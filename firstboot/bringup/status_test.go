package bringup

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func sampleStatus() Status {
	at := time.Date(2026, 3, 1, 12, 30, 0, 0, time.UTC)
	return Status{
		Updated: at.Add(5 * time.Minute),
		API:     APIReady,
		Components: []ComponentStatus{
			{
				Name: "minio", Namespace: "minio", State: StateReady,
				Endpoints:   []string{"API: http://10.0.0.10:30900", "console: kubectl -n minio port-forward svc/minio-console 9001"},
				Credentials: "secret minio/minio-root", Since: at.Add(3 * time.Minute),
			},
			{
				Name: "mlflow", Namespace: "mlflow", State: StateFailed,
				Reason:      "install job kube-system/helm-install-mlflow failed: BackoffLimitExceeded; events: Pod helm-install-mlflow-x: BackOff: Back-off restarting failed container helm",
				Detail:      []string{"job kube-system/helm-install-mlflow: 0 active, 0 succeeded, 2 failed", "logs of pod helm-install-mlflow-x unavailable: no host"},
				Credentials: "secret mlflow/admin", Since: at.Add(4 * time.Minute),
			},
			{Name: "ray", Namespace: "ray", State: StateInstalling, Reason: "install job kube-system/helm-install-ray running", Since: at},
			{Name: "kserve", Namespace: "kserve", State: StateWaiting, Reason: "waiting for HelmChart kube-system/kserve", Since: at},
		},
	}
}

func TestStatusFileRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "platform-status.json")
	if err := os.WriteFile(path, []byte("old content that is longer than nothing"), 0o600); err != nil {
		t.Fatal(err)
	}
	want := sampleStatus()
	if err := WriteStatusFile(path, want); err != nil {
		t.Fatal(err)
	}
	got, err := ReadStatusFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("read back\n%+v\nwant\n%+v", got, want)
	}
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only the status file (no temp file left)", len(entries))
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("status file mode: %v %v, want 0644", fi.Mode(), err)
	}
}

func TestStatusFileErrors(t *testing.T) {
	dir := t.TempDir()
	if err := WriteStatusFile(filepath.Join(dir, "missing", "status.json"), sampleStatus()); err == nil || !strings.Contains(err.Error(), "missing/status.json") {
		t.Errorf("write into a missing directory: %v, want an error naming the file", err)
	}
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadStatusFile(bad); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("read of a truncated file: %v, want an error naming it", err)
	}
}

func TestFormatText(t *testing.T) {
	var b strings.Builder
	FormatText(&b, sampleStatus())
	want := "minio ready  API: http://10.0.0.10:30900  console: kubectl -n minio port-forward svc/minio-console 9001  (credentials: secret minio/minio-root)\n" +
		"mlflow failed: install job kube-system/helm-install-mlflow failed: BackoffLimitExceeded; events: Pod helm-install-mlflow-x: BackOff: Back-off restarting failed container helm\n" +
		"ray installing: install job kube-system/helm-install-ray running\n" +
		"kserve waiting: waiting for HelmChart kube-system/kserve\n"
	if b.String() != want {
		t.Errorf("FormatText:\n%s\nwant:\n%s", b.String(), want)
	}

	b.Reset()
	s := sampleStatus()
	s.API = "kubernetes API not reachable after 10m0s: connection refused"
	s.Components = s.Components[3:]
	FormatText(&b, s)
	want = "kubernetes API not reachable after 10m0s: connection refused\n" +
		"kserve waiting: waiting for HelmChart kube-system/kserve\n"
	if b.String() != want {
		t.Errorf("FormatText with the API down:\n%s\nwant:\n%s", b.String(), want)
	}
}
