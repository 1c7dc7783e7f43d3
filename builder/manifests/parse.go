package manifests

import (
	"bytes"
	"encoding/json"
	"errors"
	"regexp"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	yamlutil "k8s.io/apimachinery/pkg/util/yaml"
)

// fileParser checks one manifest file's parts as K3s decodes them.
type fileParser struct {
	// file names the file in problems; where names it in image sources.
	file, where string
	probs       *problems
	// addImage records an image and where it is.
	addImage func(image, from string)
	objects  []Object
	warnings []string
}

// parseFile checks every part of data, the content of file, and returns
// the objects K3s would apply and the warnings; problems go to probs.
func parseFile(file, where string, data []byte, probs *problems, addImage func(image, from string)) ([]Object, []string) {
	d := &fileParser{file: file, where: where, probs: probs, addImage: addImage}
	parts, bad := split(data)
	if !readerAgrees(data, parts) {
		d.probs.add(file, 1+bytes.Count(data, []byte("\n")), "the last line has no line end, and at its length K3s's YAML reader (apimachinery's LineReader) drops it: end the file with a newline")
	}
	for _, b := range bad {
		d.probs.add(file, b.line, "%q is not a document separator: K3s's YAML reader takes a line starting with --- for one and allows only a comment after it, failing the whole file", b.text)
	}
	for _, p := range parts {
		d.part(p)
	}
	return d.objects, d.warnings
}

// part checks one part: the Kubernetes object (or List of objects) K3s
// decodes from it with apimachinery's yaml.ToJSON and
// unstructured.UnstructuredJSONScheme (pkg/deploy/controller.go
// toObjects).
func (d *fileParser) part(p part) {
	if isEmptyYaml(p.text) {
		return
	}
	if len(p.text) > MaxDocumentBytes {
		d.probs.add(d.file, p.contentLine(), "a document of more than %d bytes (MaxDocumentBytes): the API server takes no request over 3 MiB; split it (a List into documents of its items)", MaxDocumentBytes)
		return
	}
	loc := &locator{part: p}
	if line, ok := secondDocument(p); ok {
		d.probs.add(d.file, line, "a second YAML document after the end marker \"...\": K3s reads only the first document of each part; separate documents with ---")
	}
	js, err := yamlutil.ToJSON(p.text)
	if err != nil {
		line, msg := loc.yamlError(err)
		d.probs.add(d.file, line, "not YAML that K3s can read: %s", msg)
		return
	}
	var v any
	if err := utiljson.Unmarshal(js, &v); err != nil {
		// Only a part taken for JSON as it is (yaml.ToJSON: it starts
		// with "{") can fail here.
		d.probs.add(d.file, loc.jsonErrorLine(js), "K3s reads a part starting with { as JSON, and this is not JSON: %s (write a YAML mapping in block style)", jsonMessage(js, err))
		return
	}
	top, ok := v.(map[string]any)
	if !ok {
		d.probs.add(d.file, p.contentLine(), "not a Kubernetes object but %s: each document must be a mapping with apiVersion, kind and metadata.name", describe(v))
		return
	}
	if _, isList := top["items"]; !isList {
		d.object(top, loc, nil)
		return
	}
	// As UnstructuredJSONScheme does: any object with an items field (even
	// null) is a list, and its items are what K3s applies.
	o, _, err := unstructured.UnstructuredJSONScheme.Decode(js, nil, nil)
	switch {
	case runtime.IsMissingKind(err):
		d.probs.add(d.file, p.contentLine(), "kind: required (a List's kind, such as List or ConfigMapList)")
		return
	case err != nil:
		d.probs.add(d.file, loc.line("items"), "K3s cannot decode this list: %v", err)
		return
	}
	list := o.(*unstructured.UnstructuredList)
	if kind := list.GetKind(); !strings.HasSuffix(kind, "List") {
		d.probs.add(d.file, loc.line("items"), "a %s with a top-level items field: K3s takes any document with items for a list and applies its items instead of the %s itself", kind, kind)
		return
	}
	for i := range list.Items {
		d.object(list.Items[i].Object, loc, []any{"items", i})
	}
}

// secondDocument finds a document end marker ("..." at the start of a
// line) followed by more than blank lines and comments: sigs.k8s.io/yaml
// decodes only the first document of what it is given, so K3s would
// silently drop the rest.
func secondDocument(p part) (int, bool) {
	rest := p.text
	for n := p.line; len(rest) > 0; n++ {
		line := rest
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			line, rest = rest[:i], rest[i+1:]
		} else {
			rest = nil
		}
		after, ok := bytes.CutPrefix(line, []byte("..."))
		if ok && (len(after) == 0 || after[0] == ' ' || after[0] == '\t' || after[0] == '#') && !isEmptyYaml(rest) {
			return n, true
		}
	}
	return 0, false
}

// yamlLine is the position sigs.k8s.io/yaml (go.yaml.in/yaml/v2) and
// yaml.v3 put in their errors.
var yamlLine = regexp.MustCompile(`yaml: line (\d+): `)

// yamlError says where in the file a YAML error of this part is, and what
// it is without its part-relative line.
func (l *locator) yamlError(err error) (int, string) {
	msg := err.Error()
	m := yamlLine.FindStringSubmatchIndex(msg)
	if m == nil {
		// go.yaml.in/yaml/v2 gives some errors no line; yaml.v3 often does.
		if v3 := l.parseError(); v3 != nil {
			if m3 := yamlLine.FindStringSubmatchIndex(v3.Error()); m3 != nil {
				n, _ := strconv.Atoi(v3.Error()[m3[2]:m3[3]])
				return l.fileLine(n), strings.TrimPrefix(msg, "yaml: ")
			}
		}
		return l.part.contentLine(), strings.TrimPrefix(msg, "yaml: ")
	}
	n, _ := strconv.Atoi(msg[m[2]:m[3]])
	return l.fileLine(n), msg[:m[0]] + msg[m[1]:]
}

// jsonErrorLine is the file line of a JSON syntax error in js, the part's
// text, as encoding/json places it; the part's first line otherwise.
func (l *locator) jsonErrorLine(js []byte) int {
	var syn *json.SyntaxError
	if err := json.Unmarshal(js, new(any)); errors.As(err, &syn) && syn.Offset <= int64(len(js)) {
		return l.fileLine(1 + bytes.Count(js[:syn.Offset], []byte("\n")))
	}
	return l.part.contentLine()
}

// jsonMessage is encoding/json's own word on js when it has one.
func jsonMessage(js []byte, err error) string {
	if jerr := json.Unmarshal(js, new(any)); jerr != nil {
		return jerr.Error()
	}
	return err.Error()
}

// describe says what a decoded JSON value is, for a message.
func describe(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "a mapping"
	case []any:
		return "a list"
	case string:
		return "a string"
	case bool:
		return "a boolean (YAML 1.1, which K3s reads, takes yes, no, on and off for booleans)"
	default:
		return "a number"
	}
}
