package manifests

import (
	"bytes"

	"gopkg.in/yaml.v3"
)

// locator finds the lines of fields of one part for messages. It parses
// the part with yaml.v3 only when a message needs a line: K3s's own parse
// (sigs.k8s.io/yaml) gives none, and most parts need no message. yaml.v3
// keeps an alias as one node, so following a path never expands one.
type locator struct {
	part   part
	parsed bool
	err    error
	root   *yaml.Node
}

// parse parses the part once; root stays nil when yaml.v3 cannot (it is
// stricter than K3s's parser in places: duplicate keys), and then lines
// fall back to the document's first line.
func (l *locator) parse() {
	if l.parsed {
		return
	}
	l.parsed = true
	var doc yaml.Node
	if l.err = yaml.Unmarshal(l.part.text, &doc); l.err == nil && len(doc.Content) > 0 {
		l.root = doc.Content[0]
	}
}

// parseError is yaml.v3's error for the part, if it has one.
func (l *locator) parseError() error {
	l.parse()
	return l.err
}

// line is the file line of the field at path (string: a mapping key,
// int: a list index), or of the deepest part of path found, or of the
// document's first line.
func (l *locator) line(path ...any) int {
	l.parse()
	best := l.part.contentLine()
	n := l.root
	for _, step := range path {
		for hops := 0; n != nil && n.Kind == yaml.AliasNode && hops < 8; hops++ {
			n = n.Alias
		}
		if n == nil {
			break
		}
		var next *yaml.Node
		switch s := step.(type) {
		case string:
			if n.Kind == yaml.MappingNode {
				for i := 0; i+1 < len(n.Content); i += 2 {
					if n.Content[i].Value == s {
						best, next = l.fileLine(n.Content[i].Line), n.Content[i+1]
					}
				}
			}
		case int:
			if n.Kind == yaml.SequenceNode && s < len(n.Content) {
				next = n.Content[s]
				best = l.fileLine(next.Line)
			}
		}
		if next == nil {
			break
		}
		n = next
	}
	return best
}

// fileLine turns a 1-based line of the part into a line of the file,
// clamped to the part (parsers report an error at end of input on the line
// after the last).
func (l *locator) fileLine(n int) int {
	last := bytes.Count(l.part.text, []byte("\n"))
	if n < 1 {
		n = 1
	}
	if n > last {
		n = last
	}
	return l.part.line + n - 1
}
