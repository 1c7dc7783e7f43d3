package site

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"strings"
)

// sshKeyTypes are the public key types OpenSSH accepts in authorized_keys
// (ssh-dss is gone since OpenSSH 9.8).
var sshKeyTypes = []string{
	"ssh-ed25519",
	"ssh-rsa",
	"ecdsa-sha2-nistp256",
	"ecdsa-sha2-nistp384",
	"ecdsa-sha2-nistp521",
	"sk-ssh-ed25519@openssh.com",
	"sk-ecdsa-sha2-nistp256@openssh.com",
}

// checkAuthorizedKey wants "TYPE BASE64 [COMMENT]" whose key data is a
// key of TYPE, and not one of the keys before it. Options (from="...")
// are not supported.
func checkAuthorizedKey(v *validator, path, line string, before []string) {
	f := strings.Fields(line)
	if len(f) < 2 {
		v.errorf(path, `want an authorized_keys line "TYPE KEY [COMMENT]", like "ssh-ed25519 AAAAC3Nz... ops@example"`)
		return
	}
	typ, data := f[0], f[1]
	known := false
	for _, t := range sshKeyTypes {
		known = known || t == typ
	}
	if !known {
		v.errorf(path, "unsupported key type %q (want one of %s; options before the type are not supported)", typ, strings.Join(sshKeyTypes, ", "))
		return
	}
	blob, err := base64.StdEncoding.DecodeString(data)
	if err != nil {
		v.errorf(path, "key data is not valid base64")
		return
	}
	if inner := blobType(blob); inner != typ {
		v.errorf(path, "key data is not a %s key", typ)
		return
	}
	for i, b := range before {
		if g := strings.Fields(b); len(g) >= 2 && g[0] == typ && g[1] == data {
			v.errorf(path, "duplicate key (also %s)", index("cluster.ssh.authorizedKeys", i))
			return
		}
	}
}

// blobType reads the key type an SSH public key blob starts with (an
// RFC 4251 string: a big-endian uint32 length, then the bytes).
func blobType(blob []byte) string {
	if len(blob) < 4 {
		return ""
	}
	n := binary.BigEndian.Uint32(blob)
	if uint64(n) > uint64(len(blob)-4) {
		return ""
	}
	t := blob[4 : 4+n]
	if bytes.IndexByte(t, 0) >= 0 {
		return ""
	}
	return string(t)
}
