package cloudconfig

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// DefaultPermissions is cloud-init's default write_files mode.
const DefaultPermissions fs.FileMode = 0o644

// Bounds on write_files content as decoded (base64, gzip, aliases
// followed): a few hundred kilobytes of gzip, or of YAML aliases, would
// otherwise expand to gigabytes in memory. A document is at most 1 MiB
// (datasource.MaxDocumentBytes), so MaxFileBytes leaves gzip a 16-fold
// expansion of the largest document. MaxWriteFilesBytes is also the largest
// existing file an append entry reads (see ApplyWriteFiles).
const (
	// MaxFileBytes bounds the decoded content of one write_files entry.
	MaxFileBytes = 16 << 20
	// MaxWriteFilesBytes bounds the decoded content of all write_files
	// entries of one document together.
	MaxWriteFilesBytes = 64 << 20
)

// encodingSteps maps write_files encodings (lower-cased) to their decoding
// steps, in order, as cloud-init's canonicalize_extraction does.
var encodingSteps = map[string][]string{
	"b64": {"base64"}, "base64": {"base64"},
	"gz": {"gzip"}, "gzip": {"gzip"},
	"gz+base64": {"base64", "gzip"}, "gzip+base64": {"base64", "gzip"},
	"gz+b64": {"base64", "gzip"}, "gzip+b64": {"base64", "gzip"},
	"text/plain": nil,
}

const encodingNames = "b64, base64, gz, gzip, gz+base64, gzip+base64, gz+b64, gzip+b64, text/plain"

// writeFiles decodes write_files.
func (p *parser) writeFiles(n *yaml.Node) ([]WriteFile, error) {
	items, err := p.list(n, "write_files")
	if err != nil {
		return nil, err
	}
	files := make([]WriteFile, 0, len(items))
	for i, item := range items {
		wf, err := p.writeFile(item, fmt.Sprintf("write_files[%d]", i))
		if err != nil {
			return nil, err
		}
		files = append(files, wf)
	}
	return files, nil
}

func (p *parser) writeFile(n *yaml.Node, path string) (WriteFile, error) {
	fields, err := p.mapping(n, path)
	if err != nil {
		return WriteFile{}, err
	}
	wf := WriteFile{Permissions: DefaultPermissions, Owner: "root", Group: "root"}
	var content, encoding *yaml.Node
	hasPath := false
	for _, f := range fields {
		keyPath := path + "." + f.key.Value
		switch f.key.Value {
		case "path":
			hasPath = true
			wf.Path, err = p.filePath(f.value, keyPath)
		case "content":
			content = f.value
		case "encoding":
			encoding = f.value
		case "permissions":
			wf.Permissions, err = p.permissions(f.value, keyPath)
		case "owner":
			wf.Owner, wf.Group, err = p.owner(f.value, keyPath)
		case "append":
			wf.Append, err = p.boolean(f.value, keyPath)
		case "defer":
			wf.Defer, err = p.boolean(f.value, keyPath)
		default:
			p.unsupported(f.key, keyPath)
		}
		if err != nil {
			return WriteFile{}, err
		}
	}
	if !hasPath {
		return WriteFile{}, p.errorf(n, path+".path", "want an absolute path, got none")
	}
	wf.Content, err = p.content(content, encoding, path)
	return wf, err
}

// filePath decodes an absolute path and cleans it as cloud-init's
// os.path.abspath does, so it cannot climb above the root.
func (p *parser) filePath(n *yaml.Node, path string) (string, error) {
	s, err := p.str(n, path)
	if err != nil {
		return "", err
	}
	if !filepath.IsAbs(s) || filepath.Clean(s) == "/" {
		return "", p.errorf(n, path, "want an absolute file path, got %s", got(n))
	}
	if err := p.noControl(n, path, s, "", "a file path"); err != nil {
		return "", err
	}
	return filepath.Clean(s), nil
}

// content decodes content (absent or null: empty) by its encoding; a
// !!binary value is base64-decoded first, as YAML does. The result is
// bounded by the parser's limits: its own size, and with the earlier
// entries' content.
func (p *parser) content(n, encoding *yaml.Node, path string) ([]byte, error) {
	var steps []string
	if encoding != nil {
		enc, err := p.str(encoding, path+".encoding")
		if err != nil {
			return nil, err
		}
		var ok bool
		if steps, ok = encodingSteps[strings.ToLower(strings.TrimSpace(enc))]; !ok {
			return nil, p.errorf(encoding, path+".encoding", "want one of %s, got %s", encodingNames, got(encoding))
		}
	}
	if n == nil || isNull(deref(n)) {
		return []byte{}, nil
	}
	n = deref(n)
	if n.Kind != yaml.ScalarNode {
		return nil, p.errorf(n, path+".content", "want a string, got %s", got(n))
	}
	data := []byte(n.Value)
	if n.Tag == "!!binary" {
		steps = append([]string{"base64"}, steps...)
	}
	tooLarge := func() error {
		return p.errorf(n, path+".content", "want at most %s once decoded (the limit for one file), got more", sizeText(p.limits.file))
	}
	for _, step := range steps {
		var err error
		switch step {
		case "base64":
			data, err = decodeBase64(data)
		case "gzip":
			data, err = gunzip(data, p.limits.file)
		}
		if errors.Is(err, errTooLarge) {
			return nil, tooLarge()
		}
		if err != nil {
			return nil, p.errorf(n, path+".content", "want %s data, got %v", step, err)
		}
	}
	if int64(len(data)) > p.limits.file {
		return nil, tooLarge()
	}
	if p.contentBytes += int64(len(data)); p.contentBytes > p.limits.total {
		return nil, p.errorf(n, path+".content", "want at most %s of write_files content in all, got more by this entry", sizeText(p.limits.total))
	}
	return data, nil
}

// sizeText is n bytes in MiB, KiB or bytes, whichever is exact.
func sizeText(n int64) string {
	switch {
	case n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// errTooLarge is gunzip's error for data that expands beyond its bound.
var errTooLarge = errors.New("too large")

// decodeBase64 decodes standard base64, ignoring whitespace (line breaks of
// a YAML block) as Python's b64decode does.
func decodeBase64(data []byte) ([]byte, error) {
	clean := bytes.Join(bytes.Fields(data), nil)
	out := make([]byte, base64.StdEncoding.DecodedLen(len(clean)))
	n, err := base64.StdEncoding.Decode(out, clean)
	return out[:n], err
}

// gunzip decompresses data, stopping with errTooLarge once the output
// passes max bytes.
func gunzip(data []byte, max int64) ([]byte, error) {
	r, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	out, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(out)) > max {
		return nil, errTooLarge
	}
	return out, r.Close()
}

// octalMode is a mode cloud-init reads with int(str(perm), 8).
var octalMode = regexp.MustCompile(`^(0o)?[0-7]{1,4}$`)

// permissions decodes permissions: an octal string ('0644') or a YAML
// integer written in octal (0644, 0o644).
func (p *parser) permissions(n *yaml.Node, path string) (fs.FileMode, error) {
	n = deref(n)
	if n.Kind != yaml.ScalarNode || isNull(n) {
		return 0, p.errorf(n, path, "want an octal mode such as '0644', got %s", got(n))
	}
	s := strings.TrimSpace(n.Value)
	if n.Tag == "!!int" && !strings.HasPrefix(s, "0") {
		return 0, p.errorf(n, path, "want an octal mode such as '0644' (a YAML integer without a leading 0 is decimal), got %s", got(n))
	}
	if !octalMode.MatchString(s) {
		return 0, p.errorf(n, path, "want an octal mode such as '0644', got %s", got(n))
	}
	bits, _ := strconv.ParseUint(strings.TrimPrefix(s, "0o"), 8, 32)
	return unixMode(uint32(bits)), nil
}

// unixMode converts permission bits as chmod(2) takes them to an fs.FileMode.
func unixMode(bits uint32) fs.FileMode {
	mode := fs.FileMode(bits & 0o777)
	if bits&0o4000 != 0 {
		mode |= fs.ModeSetuid
	}
	if bits&0o2000 != 0 {
		mode |= fs.ModeSetgid
	}
	if bits&0o1000 != 0 {
		mode |= fs.ModeSticky
	}
	return mode
}

// owner decodes owner: "user" or "user:group"; the group defaults to root.
func (p *parser) owner(n *yaml.Node, path string) (user, group string, err error) {
	s, err := p.str(n, path)
	if err != nil {
		return "", "", err
	}
	user, group, hasGroup := strings.Cut(strings.TrimSpace(s), ":")
	if !hasGroup {
		group = "root"
	}
	if !accountName.MatchString(user) || !accountName.MatchString(group) {
		return "", "", p.errorf(n, path, `want "user" or "user:group", got %s`, got(n))
	}
	return user, group, nil
}
