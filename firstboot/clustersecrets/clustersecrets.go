// Package clustersecrets is the contract between the builder, which writes
// the cluster's secrets into a secrets volume, and firstboot, which reads
// the volume on a node, installs what the node's role needs and wipes it.
//
// The secrets never travel in the OS image: the OS image is served to
// anyone on the PXE network and copied onto every node. The volume is
//
//   - on the raw disk: the SECRETS partition (bootparam.LabelSecrets),
//     wiped by the node's first boot once it has installed what its role
//     needs;
//   - on the ISO: the file bootparam.ISOSecretsPath, which an installer
//     copies to the installed disk's SECRETS partition and a live boot
//     reads (an ISO cannot be wiped: it is a server medium, kept like the
//     keys it holds);
//   - nowhere in the PXE bundle: netbooted agents get the agent join token
//     in their node config and nothing else.
//
// Layout: a 64-byte header, then the payload. The header is Magic (16
// bytes), the payload's length (8 bytes, big-endian), the payload's
// SHA-256 (32 bytes) and 8 zero bytes. The payload is a JSON object mapping
// file names (relative to nodeconfig.SecretsDir, e.g. "token",
// "tls/client-ca.key") to their bytes. An all-zero header is a wiped (or
// never written) volume.
package clustersecrets

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
)

// Magic starts a secrets volume.
const Magic = "APPLIANCE-SEC/1\n"

// HeaderSize is the header's size; MaxPayload bounds the payload, so a
// volume of any size is read with bounded memory.
const (
	HeaderSize = 64
	MaxPayload = 256 << 10
	// MaxVolume is the most a volume takes: the SECRETS partition is this
	// size.
	MaxVolume = 1 << 20
)

// File names in a volume, relative to nodeconfig.SecretsDir.
const (
	// Token is the server token's secret alone: K3s token-file on the
	// initial server.
	Token = "token"
	// JoinToken is K3s's full server token for joining servers
	// ("K10<CA hash>::server:<secret>", or the secret alone without a
	// cluster CA).
	JoinToken = "join-token"
	// AgentToken is the agent token's secret alone: K3s agent-token-file
	// on every server.
	AgentToken = "agent-token"
	// AgentJoinToken is what agents join with ("K10<CA hash>::node:<agent
	// secret>", or the secret alone): it lets a node join as an agent,
	// never as a server.
	AgentJoinToken = "agent-join-token"
	// EtcdS3SecretKey is the S3 secret key of etcd snapshots.
	EtcdS3SecretKey = "etcd-s3-secret-key"
	// CAKeyDir holds the cluster CA's private keys, laid out as K3s's
	// server/tls (client-ca.key, etcd/peer-ca.key, ...); the certificates
	// are public and stay in the image.
	CAKeyDir = "tls"
)

// Volume is the content of a secrets volume: file name to bytes.
type Volume map[string][]byte

// fileName is the grammar of a name in a volume: a relative path whose
// elements start with a lower-case letter or digit (so never "." or "..").
var fileName = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*(/[a-z0-9][a-z0-9._-]*)*$`)

// CheckName says why name cannot be a file of a volume ("" when it can).
func CheckName(name string) string {
	if len(name) > 128 || !fileName.MatchString(name) {
		return "not a relative path of at most 128 lower-case letters, digits, '.', '_' and '-', each element starting with a letter or digit"
	}
	return ""
}

// ForAgent is what an agent keeps of v: the agent join token alone.
func (v Volume) ForAgent() Volume {
	out := Volume{}
	if t, ok := v[AgentJoinToken]; ok {
		out[AgentJoinToken] = t
	}
	return out
}

// Names returns v's file names, sorted.
func (v Volume) Names() []string {
	names := make([]string, 0, len(v))
	for n := range v {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Encode returns the volume's bytes: header and payload.
func Encode(v Volume) ([]byte, error) {
	for name := range v {
		if why := CheckName(name); why != "" {
			return nil, fmt.Errorf("secrets volume: file %q: %s", name, why)
		}
	}
	payload, err := json.Marshal(map[string][]byte(v))
	if err != nil {
		return nil, fmt.Errorf("secrets volume: %w", err)
	}
	if len(payload) > MaxPayload {
		return nil, fmt.Errorf("secrets volume: %d bytes of secrets, more than the %d a volume holds", len(payload), MaxPayload)
	}
	out := make([]byte, HeaderSize, HeaderSize+len(payload))
	copy(out, Magic)
	binary.BigEndian.PutUint64(out[16:24], uint64(len(payload)))
	sum := sha256.Sum256(payload)
	copy(out[24:56], sum[:])
	return append(out, payload...), nil
}

// ErrNone says a volume holds no secrets: its header is all zeros (wiped,
// or never written).
var ErrNone = errors.New("no secrets: the volume is empty or was wiped")

// Decode reads a volume from r. It returns ErrNone for an all-zero
// header, and an error for anything else that is not a whole, intact
// volume: another magic, a length beyond MaxPayload, a digest mismatch,
// a name outside the grammar.
func Decode(r io.ReaderAt) (Volume, int64, error) {
	var hdr [HeaderSize]byte
	if _, err := r.ReadAt(hdr[:], 0); err != nil {
		return nil, 0, fmt.Errorf("read the header: %w", err)
	}
	if hdr == [HeaderSize]byte{} {
		return nil, 0, ErrNone
	}
	if string(hdr[:16]) != Magic {
		return nil, 0, errors.New("not a secrets volume (no " + fmt.Sprintf("%q", Magic) + " header)")
	}
	n := binary.BigEndian.Uint64(hdr[16:24])
	if n > MaxPayload {
		return nil, 0, fmt.Errorf("the header says %d bytes of secrets, more than the %d a volume holds", n, MaxPayload)
	}
	payload := make([]byte, n)
	if _, err := r.ReadAt(payload, HeaderSize); err != nil {
		return nil, 0, fmt.Errorf("read %d bytes of secrets: %w", n, err)
	}
	if sum := sha256.Sum256(payload); !bytes.Equal(sum[:], hdr[24:56]) {
		return nil, 0, errors.New("the secrets do not match the header's sha256 (a torn or corrupted volume)")
	}
	var files map[string][]byte
	if err := json.Unmarshal(payload, &files); err != nil {
		return nil, 0, fmt.Errorf("decode the secrets: %w", err)
	}
	for name := range files {
		if why := CheckName(name); why != "" {
			return nil, 0, fmt.Errorf("file %q: %s", name, why)
		}
	}
	return Volume(files), HeaderSize + int64(n), nil
}
