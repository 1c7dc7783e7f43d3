package cloudconfig

import (
	"io/fs"
	"strings"
)

// Config is the part of a cloud-config document firstboot reads. Field
// comments name the cloud-config key.
type Config struct {
	// Hostname and FQDN are hostname and fqdn (RFC 1123 host names).
	// HostnameFQDN combines them as cloud-init does.
	Hostname, FQDN string
	// Users is users, without the "default" entry; IncludeDefaultUser says
	// the list had it.
	Users              []User
	IncludeDefaultUser bool
	// SSHAuthorizedKeys is the top-level ssh_authorized_keys. cloud-init
	// gives these to the distro's default user; firstboot gives them to
	// root, the appliance's admin account.
	SSHAuthorizedKeys []string
	// WriteFiles is write_files, with content already decoded.
	WriteFiles []WriteFile
	// RunCmd and BootCmd are runcmd and bootcmd.
	RunCmd, BootCmd []Command
	// NTP is ntp; nil when the document has no ntp key.
	NTP *NTP
	// Timezone is timezone, a zoneinfo name such as "Europe/Berlin".
	Timezone string
	// Appliance is firstboot's own appliance key.
	Appliance Appliance
	// Set records which top-level keys the document had (for Merge).
	Set map[string]bool
}

// User is one entry of users. A zero bool or empty string means the key was
// absent, except LockPasswd, which Parse sets to cloud-init's default true.
type User struct {
	Name string
	// Gecos is the comment field of /etc/passwd.
	Gecos string
	// Groups are supplementary groups (groups: "a, b" or a list); missing
	// ones are created.
	Groups []string
	// Sudo holds the sudoers rules (sudo: a string or a list); empty means
	// none (sudo absent, false or null).
	Sudo []string
	// Shell is the login shell; empty means /bin/bash when the root has it,
	// else /bin/sh.
	Shell             string
	SSHAuthorizedKeys []string
	// LockPasswd is lock_passwd (default true): the shadow password field
	// starts with "!", so the password cannot be used to log in.
	LockPasswd bool
	// HashedPasswd is hashed_passwd, a crypt(3) hash applied on every run.
	HashedPasswd Secret
	// Passwd is passwd, a crypt(3) hash applied only when the user is
	// created (cloud-init's semantics).
	Passwd Secret
	// HomeDir is homedir; empty means /home/<name>.
	HomeDir string
	// PrimaryGroup is primary_group; empty means a group named like the user.
	PrimaryGroup string
	// System is system: a system account gets a uid below 1000 and no home
	// directory unless it has SSH keys.
	System bool
	// UID is uid; nil means the next free one.
	UID *int
}

// WriteFile is one entry of write_files.
type WriteFile struct {
	// Path is absolute and clean, relative to the host root.
	Path string
	// Content is the decoded content (after encoding and !!binary).
	Content []byte
	// Permissions is permissions (default 0644), setuid/setgid/sticky
	// carried as fs.ModeSetuid, fs.ModeSetgid, fs.ModeSticky.
	Permissions fs.FileMode
	// Owner and Group come from owner "user:group" (default root:root).
	// An owner without ":group" leaves Group "root", as cloud-init does.
	Owner, Group string
	// Append adds Content to the end of the file instead of replacing it.
	Append bool
	// Defer is defer. firstboot writes every file after creating users, so
	// a deferred file is written like any other.
	Defer bool
}

// NTP is ntp.
type NTP struct {
	// Enabled is enabled (default true). false leaves timesyncd as the
	// image configures it.
	Enabled bool
	// Servers and Pools are host names or IP addresses.
	Servers, Pools []string
	// Client is ntp_client: "auto" (also when absent) or "systemd-timesyncd".
	Client string
}

// Appliance is firstboot's appliance key. Unknown sub-keys are errors.
type Appliance struct {
	// Role is role: nodeconfig.RoleServer, nodeconfig.RoleAgent or ""
	// (decided elsewhere).
	Role string
	// ClusterInit is cluster_init: this server initialises the cluster.
	// Only valid with role server.
	ClusterInit bool
	// Server is server: the https URL of a server to join.
	Server string
	// Token is token, the cluster join token; it never prints.
	Token Secret
	// NodeLabels are node_labels entries "key=value".
	NodeLabels []string
	// NodeTaints are node_taints entries "key=value:Effect" or "key:Effect".
	NodeTaints []string
	// NodeIP is node_ip, an IP address in canonical form.
	NodeIP string
	// Set records which sub-keys the document had (for Merge).
	Set map[string]bool
}

// Secret is a string that never prints: String, GoString and every fmt verb
// give "(redacted)", and so does MarshalText, which encoding/json and yaml.v3
// use, so a config written to a log or a state file carries no secret.
// Reveal returns the value.
type Secret string

// Redacted is what a Secret prints as.
const Redacted = "(redacted)"

// String implements fmt.Stringer.
func (Secret) String() string { return Redacted }

// GoString implements fmt.GoStringer (%#v).
func (Secret) GoString() string { return Redacted }

// MarshalText implements encoding.TextMarshaler.
func (Secret) MarshalText() ([]byte, error) { return []byte(Redacted), nil }

// Reveal returns the secret value.
func (s Secret) Reveal() string { return string(s) }

// HostnameFQDN returns the host name and fully qualified name the way
// cloud-init derives them: fqdn wins and its first label is the host name
// unless hostname is set; a hostname with dots is taken as the fqdn. fqdn is
// empty when neither key gives one.
func (c Config) HostnameFQDN() (hostname, fqdn string) {
	switch {
	case c.FQDN != "":
		hostname = c.Hostname
		if hostname == "" {
			hostname, _, _ = strings.Cut(c.FQDN, ".")
		}
		return hostname, c.FQDN
	case strings.Contains(c.Hostname, "."):
		hostname, _, _ = strings.Cut(c.Hostname, ".")
		return hostname, c.Hostname
	}
	return c.Hostname, ""
}
