package manifests

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"

	yamlutil "k8s.io/apimachinery/pkg/util/yaml"
)

// part is one part of a manifest file as K3s's YAML reader cuts it.
type part struct {
	// line is the file's line number of the part's first line.
	line int
	// text is the part's lines, each ended by "\n" ("\r\n" becomes "\n").
	text []byte
}

// badSeparator is a line starting with "---" followed by more than a
// comment, which K3s's YAML reader refuses, failing the whole file.
type badSeparator struct {
	line int
	text string
}

// split cuts data into the parts K3s's deploy controller decodes one by
// one, as k8s.io/apimachinery/pkg/util/yaml's YAMLReader over its
// LineReader does (pkg/deploy/controller.go yamlToObjects; the same code in
// apimachinery v0.36.3 and v0.37.2, and TestSplitMatchesYAMLReader
// compares them): lines end at "\n", a "\r" before it is dropped, every
// line is ended by "\n", and a line starting with "---" ends the part
// gathered so far and is dropped; when nothing is gathered yet the line
// starts the next part instead. After "---" only spaces and a comment may
// follow: anything else is a badSeparator, which YAMLReader returns as an
// error; split goes on as if it were a separator, to find more problems.
func split(data []byte) ([]part, []badSeparator) {
	var (
		parts []part
		bad   []badSeparator
		buf   bytes.Buffer
		start int
	)
	for n := 1; len(data) > 0; n++ {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
			line = bytes.TrimSuffix(line, []byte("\r"))
		} else {
			data = nil
		}
		if bytes.HasPrefix(line, []byte("---")) {
			trimmed := strings.TrimSpace(string(line[3:]))
			isBad := trimmed != "" && trimmed[0] != '#'
			if isBad {
				bad = append(bad, badSeparator{line: n, text: string(line)})
			}
			if buf.Len() != 0 || isBad {
				if buf.Len() != 0 {
					parts = append(parts, part{line: start, text: bytes.Clone(buf.Bytes())})
					buf.Reset()
				}
				continue
			}
		}
		if buf.Len() == 0 {
			start = n
		}
		buf.Write(line)
		buf.WriteByte('\n')
	}
	if buf.Len() != 0 {
		parts = append(parts, part{line: start, text: bytes.Clone(buf.Bytes())})
	}
	return parts, bad
}

// contentLine is the line of p's first line that isEmptyYaml does not
// ignore: where its document starts, for a message about it as a whole.
func (p part) contentLine() int {
	n := p.line
	for l := range bytes.SplitSeq(p.text, []byte("\n")) {
		s := bytes.TrimSpace(l)
		if len(s) != 0 && string(s) != "---" && !bytes.HasPrefix(s, []byte("#")) {
			return n
		}
		n++
	}
	return p.line
}

// readerAgrees reports whether apimachinery's YAMLReader, as K3s runs it
// (over a 4096-byte bufio.Reader), cuts data into the texts of parts, up
// to its first error (a badSeparator). They differ where LineReader drops
// a last line that has no line end when bufio hits the end of the data
// exactly at a buffer boundary (a line of a multiple of 4096 bytes), which
// split would keep.
func readerAgrees(data []byte, parts []part) bool {
	reader := yamlutil.NewYAMLReader(bufio.NewReaderSize(bytes.NewReader(data), 4096))
	for i := 0; ; i++ {
		raw, err := reader.Read()
		switch {
		case errors.Is(err, io.EOF):
			return i == len(parts)
		case err != nil:
			return true
		case i >= len(parts) || !bytes.Equal(raw, parts[i].text):
			return false
		}
	}
}
