package site

import (
	"crypto/x509"
	"encoding/pem"
	"regexp"
	"strings"
)

// Defaults of cluster.etcdSnapshots. K3s's own are every 12 hours and 5
// snapshots (pkg/cli/cmds/server.go); a site snapshots twice as often.
const (
	DefaultSnapshotSchedule  = "0 */6 * * *"
	DefaultSnapshotRetention = 5
)

// EtcdSnapshots configures the K3s servers' scheduled snapshots of the
// embedded etcd, kept on each server and optionally uploaded to S3.
type EtcdSnapshots struct {
	// Schedule is a cron spec: five fields (minute hour day-of-month month
	// day-of-week) or a descriptor such as @daily or @every 4h.
	Schedule string `yaml:"schedule"`
	// Retention is how many snapshots are kept.
	Retention Count `yaml:"retention"`
	// S3 also uploads each snapshot to a bucket; nil keeps them local.
	S3 *EtcdS3 `yaml:"s3"`
}

// EtcdS3 is the S3 bucket etcd snapshots are uploaded to.
type EtcdS3 struct {
	// Endpoint is HOST[:PORT] of the S3 service, without scheme.
	Endpoint string `yaml:"endpoint"`
	Bucket   string `yaml:"bucket"`
	// Folder is a prefix inside the bucket.
	Folder string `yaml:"folder"`
	Region string `yaml:"region"`
	// Insecure talks plain http to Endpoint.
	Insecure bool `yaml:"insecure"`
	// AccessKey identifies the S3 user (not a secret).
	AccessKey string `yaml:"accessKey"`
	// SecretKeyFile is a file holding the secret key (relative to the
	// config file). It is baked root-only into the image, never printed.
	SecretKeyFile string `yaml:"secretKeyFile"`
	// EndpointCA is a PEM file of the CA certificates that sign the
	// endpoint's certificate, baked into the image.
	EndpointCA string `yaml:"endpointCA"`
}

func (s *EtcdSnapshots) setDefaults() {
	if s.Schedule == "" {
		s.Schedule = DefaultSnapshotSchedule
	}
	if s.Retention == 0 {
		s.Retention = DefaultSnapshotRetention
	}
}

func (s *EtcdSnapshots) resolvePaths(dir string) {
	if s.S3 != nil {
		s.S3.SecretKeyFile = resolve(dir, s.S3.SecretKeyFile)
		s.S3.EndpointCA = resolve(dir, s.S3.EndpointCA)
	}
}

// s3Bucket is S3's bucket naming rule.
var s3Bucket = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)

var s3Region = regexp.MustCompile(`^[a-z0-9-]+$`)

func (s *EtcdSnapshots) validate(v *validator) {
	const p = "cluster.etcdSnapshots"
	if problem := checkCron(s.Schedule); problem != "" {
		v.errorf(p+".schedule", "invalid cron spec %q: %s", s.Schedule, problem)
	}
	if s.S3 == nil {
		return
	}
	s3 := s.S3
	switch {
	case s3.Endpoint == "":
		v.errorf(p+".s3.endpoint", "required: HOST[:PORT] of the S3 service")
	case strings.Contains(s3.Endpoint, "://"):
		v.errorf(p+".s3.endpoint", "want HOST[:PORT] without scheme, got %q (insecure: true selects http)", s3.Endpoint)
	case !validHostPort(s3.Endpoint):
		v.errorf(p+".s3.endpoint", "invalid endpoint %q: want HOST[:PORT]", s3.Endpoint)
	}
	switch {
	case s3.Bucket == "":
		v.errorf(p+".s3.bucket", "required")
	case !s3Bucket.MatchString(s3.Bucket) || strings.Contains(s3.Bucket, ".."):
		v.errorf(p+".s3.bucket", "invalid bucket name %q: want 3 to 63 lowercase letters, digits, '.' and '-', starting and ending with a letter or digit", s3.Bucket)
	}
	if strings.HasPrefix(s3.Folder, "/") || strings.HasSuffix(s3.Folder, "/") {
		v.errorf(p+".s3.folder", "%q: want a prefix without leading or trailing '/'", s3.Folder)
	}
	if s3.Region != "" && !s3Region.MatchString(s3.Region) {
		v.errorf(p+".s3.region", "invalid region %q: want lowercase letters, digits and '-'", s3.Region)
	}
	switch {
	case s3.AccessKey != "" && s3.SecretKeyFile == "":
		v.errorf(p+".s3.secretKeyFile", "required with accessKey: a file holding the S3 secret key")
	case s3.AccessKey == "" && s3.SecretKeyFile != "":
		v.errorf(p+".s3.accessKey", "required with secretKeyFile")
	case s3.SecretKeyFile != "":
		checkSecretFile(v, p+".s3.secretKeyFile", s3.SecretKeyFile)
	}
	if s3.EndpointCA != "" {
		checkCAFile(v, p+".s3.endpointCA", s3.EndpointCA)
	}
}

func validHostPort(s string) bool {
	host, port, found := strings.Cut(s, ":")
	if strings.HasPrefix(s, "[") { // [v6]:port
		i := strings.Index(s, "]")
		if i < 0 {
			return false
		}
		host, port, found = s[1:i], strings.TrimPrefix(s[i+1:], ":"), len(s) > i+1
	}
	if found && !validPort(port) {
		return false
	}
	return validHostOrIP(host) && !strings.HasPrefix(host, "*")
}

var portNumber = regexp.MustCompile(`^[1-9][0-9]{0,4}$`)

func validPort(s string) bool {
	return portNumber.MatchString(s) && len(s) <= 5 && (len(s) < 5 || s <= "65535")
}

// checkSecretFile wants a readable file holding one non-empty line; the
// content is never quoted.
func checkSecretFile(v *validator, path, file string) {
	data, err := readFile(file, MaxSecretFileBytes)
	switch {
	case err != nil:
		v.errorf(path, "%s: %v", file, err)
	case strings.TrimSpace(string(data)) == "":
		v.errorf(path, "%s is empty", file)
	case strings.ContainsAny(strings.TrimSpace(string(data)), "\r\n"):
		v.errorf(path, "%s holds more than one line; want the secret key alone", file)
	}
}

// checkCAFile wants a PEM file of one or more certificates.
func checkCAFile(v *validator, path, file string) {
	data, err := readFile(file, MaxCAFileBytes)
	if err != nil {
		v.errorf(path, "%s: %v", file, err)
		return
	}
	n := 0
	for block, rest := pem.Decode(data); block != nil; block, rest = pem.Decode(rest) {
		if block.Type != "CERTIFICATE" {
			continue
		}
		if _, err := x509.ParseCertificate(block.Bytes); err != nil {
			v.errorf(path, "%s: certificate %d: %v", file, n+1, err)
			return
		}
		n++
	}
	if n == 0 {
		v.errorf(path, "%s holds no PEM certificate", file)
	}
}
