package site

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

var (
	yamlLine          = regexp.MustCompile(`^line (\d+): (.*)$`)
	yamlUnknownAnchor = regexp.MustCompile(`^unknown anchor '([0-9A-Za-z_-]+)' referenced$`)
)

// yamlError turns yaml.v3's "yaml: line N: problem" into an *Error at line
// N. yaml.v3 gives no line for two problems, which are found in the text
// instead: a byte that is not UTF-8 or a character YAML does not allow
// (a binary or Latin-1 file: its reader's errors carry only an offset), and
// an alias of an anchor not defined before it (decode.go parser.alias).
func yamlError(rep *report, data []byte, err error) {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		for _, m := range te.Errors {
			yamlMessage(rep, data, m)
		}
		return
	}
	yamlMessage(rep, data, err.Error())
}

func yamlMessage(rep *report, data []byte, msg string) {
	msg = strings.TrimPrefix(msg, "yaml: ")
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		rep.errorf(line, "", "invalid YAML: %s", m[2])
		return
	}
	if isReaderError(msg) {
		if line, problem := badCharacter(data); line > 0 {
			rep.errorf(line, "", "invalid YAML: %s", problem)
			return
		}
	}
	if m := yamlUnknownAnchor.FindStringSubmatch(msg); m != nil {
		rep.errorf(aliasLine(data, m[1]), "", "invalid YAML: alias *%s: no anchor &%s before it", m[1], m[1])
		return
	}
	rep.errorf(0, "", "invalid YAML: %s", msg)
}

// isReaderError tells yaml.v3's errors about the bytes of the input
// (readerc.go yaml_parser_update_buffer) from the others.
func isReaderError(msg string) bool {
	return strings.Contains(msg, "UTF-8") || strings.Contains(msg, "control characters") ||
		strings.Contains(msg, "Unicode character")
}

// badCharacter finds the first byte sequence yaml.v3's reader refuses: one
// that is not UTF-8, or a character outside YAML's printable set (YAML 1.2
// §5.1; readerc.go). It returns 0 when there is none, or when the text is
// UTF-16 (a byte order mark), which yaml.v3 reads but this does not.
func badCharacter(data []byte) (line int, problem string) {
	if bytes.HasPrefix(data, []byte{0xFF, 0xFE}) || bytes.HasPrefix(data, []byte{0xFE, 0xFF}) {
		return 0, ""
	}
	line, col := 1, 1
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			return line, fmt.Sprintf("column %d: byte 0x%02X is not UTF-8 (save the file as UTF-8)", col, data[i])
		case !yamlPrintable(r):
			return line, fmt.Sprintf("column %d: control character U+%04X is not allowed (is this a text file?)", col, r)
		case r == '\n' || r == '\r' && (i+1 == len(data) || data[i+1] != '\n'):
			line, col = line+1, 1
		default:
			col++
		}
		i += size
	}
	return 0, ""
}

// yamlPrintable is YAML's c-printable plus the line breaks and tab.
func yamlPrintable(r rune) bool {
	switch {
	case r == '\t' || r == '\n' || r == '\r' || r == 0x85:
		return true
	case r >= 0x20 && r <= 0x7E, r >= 0xA0 && r <= 0xD7FF, r >= 0xE000 && r <= 0xFFFD, r >= 0x10000 && r <= 0x10FFFF:
		return true
	}
	return false
}

// aliasLine finds the line of the alias *name that yaml.v3 refused as an
// unknown anchor. The text "*name" may also stand in a comment or a quoted
// string, so each occurrence in turn is renamed to an alias no anchor
// matches, and the file parsed again: the first renaming that changes the
// error to name the new alias is the alias the parser stopped at. It
// returns 0 when the first few occurrences are not it.
func aliasLine(data []byte, name string) int {
	token := []byte("*" + name)
	probe := name + "-probe"
	for bytes.Contains(data, []byte(probe)) {
		probe += "x"
	}
	want := fmt.Sprintf("unknown anchor '%s' referenced", probe)
	parsed := 0
	for from := 0; parsed < 4*MaxConfigBytes; {
		i := bytes.Index(data[from:], token)
		if i < 0 {
			return 0
		}
		at, end := from+i, from+i+len(token)
		from = end
		if end < len(data) && isAnchorChar(data[end]) {
			continue // an alias with a longer name
		}
		text := slices.Concat(data[:at], []byte("*"+probe), data[end:])
		parsed += len(text)
		if err := parseDocuments(text); err != nil && strings.Contains(err.Error(), want) {
			return 1 + bytes.Count(data[:at], []byte("\n"))
		}
	}
	return 0
}

// isAnchorChar is yaml.v3's anchor name character (scannerc.go is_alpha).
func isAnchorChar(b byte) bool {
	return b >= '0' && b <= '9' || b >= 'A' && b <= 'Z' || b >= 'a' && b <= 'z' || b == '_' || b == '-'
}

// parseDocuments parses the first two documents of data as parse does.
func parseDocuments(data []byte) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for range 2 {
		var n yaml.Node
		if err := dec.Decode(&n); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
	return nil
}
