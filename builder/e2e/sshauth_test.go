package e2e

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// errMethodsSeen ends the SSH handshake once the server has said which
// authentication methods it accepts: no credential is ever sent.
var errMethodsSeen = errors.New("test: authentication methods seen, no credentials sent")

// checkKeysOnly connects to sshd on 127.0.0.1:port as root and checks that
// the authentication methods it accepts, as it lists them after the
// client's "none" attempt (RFC 4252 section 5.2), are publickey only.
func checkKeysOnly(t *testing.T, port int) {
	t.Helper()
	var allowed []string
	config := &ssh.ClientConfig{
		User: "root",
		AuthCallback: func(ctx *ssh.ClientAuthContext) (ssh.AuthMethod, error) {
			allowed = ctx.AllowedMethods
			return nil, errMethodsSeen
		},
		// The node's host key is not what this checks.
		HostKeyCallback: ssh.InsecureIgnoreHostKey(),
		Timeout:         30 * time.Second,
	}
	conn, err := ssh.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port), config)
	if err == nil {
		conn.Close()
		t.Fatal("sshd let root in with no credentials")
	}
	if !errors.Is(err, errMethodsSeen) {
		t.Fatalf("SSH to 127.0.0.1:%d: %v", port, err)
	}
	if !slices.Equal(allowed, []string{"publickey"}) {
		t.Fatalf("sshd accepts %v for root, want publickey only", allowed)
	}
	t.Logf("sshd accepts %v for root", allowed)
}
