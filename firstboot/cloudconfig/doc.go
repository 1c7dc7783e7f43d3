// Package cloudconfig is the subset of cloud-init's cloud-config (user-data)
// that the firstboot node agent understands, with cloud-init's key names and
// semantics, and the functions that apply it to a host root.
//
// Parse reads one #cloud-config document. Top-level keys outside the subset
// produce warnings, never errors, so a user-data file written for cloud-init
// still boots the appliance; a known key with a bad value is an error that
// names the source, the line and the key path. The appliance key is
// firstboot's own: an unknown key under it is an error, because a typo there
// would change the cluster. Merge combines documents from several sources
// the way cloud-init merges user-data by default: a top-level key replaces
// the earlier value whole (lists are replaced, not appended), except that
// appliance merges per sub-key.
//
// The Apply functions take the host root ("/" on a node, a temp dir in
// tests) and resolve every path under it. Each is idempotent: applying the
// same config twice leaves the same bytes. The image's own files are
// trusted: symbolic links among them (/etc/localtime, the account files)
// are followed as the kernel resolves them; write_files, whose paths may
// reach directories other accounts own, follows none (see ApplyWriteFiles).
// Files are written atomically (a ".firstboot-" temporary file in the same
// directory, fsync, rename). Owners are set only when the process runs as
// root.
//
// Parse treats its input as hostile: one YAML document only, aliases
// bounded (package yamlnode), write_files content bounded once decoded
// (MaxFileBytes, MaxWriteFilesBytes), no NUL in any value but content and
// no control characters in paths, account fields, sudo rules, SSH keys,
// tokens and password hashes.
//
// Differences from cloud-init, by design:
//
//   - users: the "default" entry is recorded (Config.IncludeDefaultUser) but
//     creates nobody: the appliance's only built-in account is root. An entry
//     named root is rejected; root's keys come from the top-level
//     ssh_authorized_keys, which cloud-init gives to the default user and
//     firstboot gives to root. Plain-text passwords (plain_text_passwd) are
//     ignored with a warning; passwd and hashed_passwd must be crypt(3)
//     hashes. ApplyUsers edits /etc/passwd, /etc/group, /etc/shadow (and
//     /etc/gshadow when present) directly instead of running useradd.
//   - write_files: defer is accepted and ignored; the caller applies every
//     file after the users exist, so an owner may name a user created by the
//     same document. A YAML integer permission must be written in octal
//     (0644); a bare decimal such as 644, which cloud-init would take as
//     decimal, is an error. An unknown encoding is an error, not a warning.
//     Appending is made idempotent: content the file already ends with is
//     not appended again (see ApplyWriteFiles). A symbolic link anywhere in
//     the path, the file itself included, is an error: cloud-init follows
//     it.
//   - runcmd, bootcmd: the commands are returned as data; the agent decides
//     when to run them. Script renders them as one shell script, which is how
//     cloud-init runs them (a cd in one item affects the next); Command.Exec
//     gives one command's argv for running them one by one.
//   - ntp: only systemd-timesyncd is configured. Like cloud-init's timesyncd
//     template, servers and then pools go to NTP= (timesyncd has no pool
//     concept; a pool name is a host name with several addresses).
//     FallbackNTP= is left alone: timesyncd uses it only when no other server
//     is known, so pools put there would be ignored whenever servers are set.
package cloudconfig
