package cloudconfig

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// accountName is shadow-utils' default NAME_REGEX for users and groups.
var accountName = regexp.MustCompile(`^[a-z_][a-z0-9_-]*\$?$`)

// cryptHash matches a crypt(3) hash: "$id$[params$]salt$hash".
var cryptHash = regexp.MustCompile(`^\$[0-9a-z]+\$[^\s:]*\$[^\s:]+$`)

// userKeyAliases are cloud-init's deprecated hyphenated spellings.
var userKeyAliases = map[string]string{
	"primary-group":       "primary_group",
	"ssh-authorized-keys": "ssh_authorized_keys",
	"lock-passwd":         "lock_passwd",
}

// users decodes users: a list of "default", user names and mappings.
func (p *parser) users(n *yaml.Node) ([]User, bool, error) {
	items, err := p.list(n, "users")
	if err != nil {
		return nil, false, err
	}
	var users []User
	includeDefault := false
	firstSeen := map[string]string{}
	for i, item := range items {
		path := fmt.Sprintf("users[%d]", i)
		var u User
		switch {
		case item.Kind == yaml.ScalarNode && item.Value == "default":
			includeDefault = true
			p.warnf(item, `%s: "default" (the distro's default user) creates nobody: the appliance has no default user besides root`, path)
			continue
		case item.Kind == yaml.ScalarNode && !isNull(item):
			u = User{Name: item.Value, LockPasswd: true}
			if err := p.userName(item, path, u.Name); err != nil {
				return nil, false, err
			}
		case item.Kind == yaml.MappingNode:
			if u, err = p.user(item, path); err != nil {
				return nil, false, err
			}
		default:
			return nil, false, p.errorf(item, path, "want a user name or a mapping, got %s", got(item))
		}
		if first, ok := firstSeen[u.Name]; ok {
			return nil, false, p.errorf(item, path, "user %q is listed twice (first at %s)", u.Name, first)
		}
		firstSeen[u.Name] = path
		users = append(users, u)
	}
	return users, includeDefault, nil
}

// user decodes one users entry written as a mapping.
func (p *parser) user(n *yaml.Node, path string) (User, error) {
	u := User{LockPasswd: true}
	var nameNode *yaml.Node
	for _, f := range p.fields(n, path+".") {
		key := f.key.Value
		if canonical, ok := userKeyAliases[key]; ok {
			p.warnf(f.key, "key %q is deprecated, read as %q", path+"."+key, path+"."+canonical)
			key = canonical
		}
		keyPath := path + "." + key
		var err error
		switch key {
		case "name":
			nameNode = f.value
			u.Name, err = p.str(f.value, keyPath)
		case "gecos":
			u.Gecos, err = p.passwdField(f.value, keyPath)
		case "groups":
			u.Groups, err = p.groupList(f.value, keyPath)
		case "sudo":
			u.Sudo, err = p.sudo(f.value, keyPath)
		case "shell":
			u.Shell, err = p.accountPath(f.value, keyPath)
		case "ssh_authorized_keys":
			u.SSHAuthorizedKeys, err = p.sshKeys(f.value, keyPath)
		case "lock_passwd":
			u.LockPasswd, err = p.boolean(f.value, keyPath)
		case "hashed_passwd":
			u.HashedPasswd, err = p.passwordHash(f.value, keyPath)
		case "passwd":
			u.Passwd, err = p.passwordHash(f.value, keyPath)
		case "plain_text_passwd":
			p.warnf(f.key, "key %q is not supported, ignored: firstboot takes no plain-text passwords (use hashed_passwd)", keyPath)
		case "homedir":
			u.HomeDir, err = p.accountPath(f.value, keyPath)
		case "primary_group":
			u.PrimaryGroup, err = p.str(f.value, keyPath)
			if err == nil {
				err = p.groupName(f.value, keyPath, u.PrimaryGroup)
			}
		case "system":
			u.System, err = p.boolean(f.value, keyPath)
		case "uid":
			u.UID, err = p.uid(f.value, keyPath)
		default:
			p.unsupported(f.key, keyPath)
		}
		if err != nil {
			return User{}, err
		}
	}
	if nameNode == nil {
		return User{}, p.errorf(n, path+".name", "want a user name, got none")
	}
	return u, p.userName(nameNode, path+".name", u.Name)
}

// userName vets a user name: shadow-utils' rules, at most 32 bytes, not root.
func (p *parser) userName(n *yaml.Node, path, name string) error {
	if name == "root" {
		return p.errorf(n, path, "root is managed by the appliance (use ssh_authorized_keys)")
	}
	if len(name) > 32 || !accountName.MatchString(name) {
		return p.errorf(n, path, "want a user name (lower-case letters, digits, _ and -, at most 32), got %s", got(n))
	}
	return nil
}

func (p *parser) groupName(n *yaml.Node, path, name string) error {
	if len(name) > 32 || !accountName.MatchString(name) {
		return p.errorf(n, path, "want a group name (lower-case letters, digits, _ and -, at most 32), got %q", name)
	}
	return nil
}

// groupList decodes groups: "a, b" or a list of names.
func (p *parser) groupList(n *yaml.Node, path string) ([]string, error) {
	n = deref(n)
	if n.Kind != yaml.ScalarNode || isNull(n) {
		return p.strList(n, path, p.groupName)
	}
	var groups []string
	for _, g := range strings.Split(n.Value, ",") {
		g = strings.TrimSpace(g)
		if err := p.groupName(n, path, g); err != nil {
			return nil, err
		}
		groups = append(groups, g)
	}
	return groups, nil
}

// sudo decodes sudo: a rule, a list of rules, or false/null for none.
func (p *parser) sudo(n *yaml.Node, path string) ([]string, error) {
	n = deref(n)
	if isNull(n) {
		return nil, nil
	}
	if n.Kind == yaml.ScalarNode && (n.Tag == "!!bool" || n.Style == 0) {
		if b, ok := yaml11Bools[n.Value]; ok {
			if b {
				return nil, p.errorf(n, path, "want a sudoers rule, a list of rules, or false, got %s", got(n))
			}
			return nil, nil
		}
	}
	if n.Kind == yaml.ScalarNode {
		return []string{n.Value}, p.sudoRule(n, path, n.Value)
	}
	return p.strList(n, path, p.sudoRule)
}

// sudoRule vets a rule: one line with "hosts = [(runas)] commands". A bad
// line in sudoers.d makes sudo refuse to run at all.
func (p *parser) sudoRule(n *yaml.Node, path, rule string) error {
	if err := p.oneLine(n, path, rule); err != nil {
		return err
	}
	if !strings.Contains(rule, "=") {
		return p.errorf(n, path, "want a sudoers rule such as \"ALL=(ALL) NOPASSWD:ALL\", got %s", got(n))
	}
	return nil
}

// passwdField decodes a string that goes into an /etc/passwd field.
func (p *parser) passwdField(n *yaml.Node, path string) (string, error) {
	s, err := p.str(n, path)
	if err == nil && strings.ContainsAny(s, ":\r\n") {
		err = p.errorf(n, path, "want no ':' or line break, got %s", got(n))
	}
	if err == nil {
		err = p.noControl(n, path, s, "", "an /etc/passwd field")
	}
	return s, err
}

// accountPath decodes an absolute path for /etc/passwd (home or shell).
func (p *parser) accountPath(n *yaml.Node, path string) (string, error) {
	s, err := p.passwdField(n, path)
	if err != nil {
		return "", err
	}
	if !filepath.IsAbs(s) || filepath.Clean(s) == "/" {
		return "", p.errorf(n, path, "want an absolute path, got %s", got(n))
	}
	return filepath.Clean(s), nil
}

// passwordHash decodes a crypt(3) hash. The value never appears in a message:
// it may be a password pasted in the wrong place.
func (p *parser) passwordHash(n *yaml.Node, path string) (Secret, error) {
	n = deref(n)
	if n.Kind != yaml.ScalarNode || isNull(n) {
		return "", p.errorf(n, path, "want a crypt(3) hash such as \"$6$<salt>$<hash>\", got %s", kindName(n))
	}
	if _, at := control(n.Value, ""); !cryptHash.MatchString(n.Value) || at >= 0 {
		return "", p.errorf(n, path, "want a crypt(3) hash such as \"$6$<salt>$<hash>\", got a value that is not one (not shown)")
	}
	return Secret(n.Value), nil
}

// maxID is the largest uid or gid; 4294967295 is (uid_t)-1.
const maxID = 4294967294

func (p *parser) uid(n *yaml.Node, path string) (*int, error) {
	uid, err := p.integer(n, path)
	if err != nil {
		return nil, err
	}
	if uid < 1 || uid > maxID {
		return nil, p.errorf(n, path, "want 1 to %d (0 is root), got %d", maxID, uid)
	}
	return &uid, nil
}
