package manifests

import (
	"bufio"
	"bytes"
	"errors"
	"io"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	yamlutil "k8s.io/apimachinery/pkg/util/yaml"
)

// k3sObjects is a test double of how K3s's deploy controller turns a
// manifest file's content into objects (k3s-io/k3s pkg/deploy/controller.go
// yamlToObjects and toObjects, read at 0301210fa15f): apimachinery's
// YAMLReader over a 4096-byte bufio.Reader, each part that is not empty
// (isEmptyYaml, the one rule it shares with the code under test) through
// yaml.ToJSON and unstructured.UnstructuredJSONScheme, a List's items in
// its place. The extension plays no part, as in K3s. What it cannot do is
// what K3s does next: apply the objects to an API server.
func k3sObjects(content []byte) ([]unstructured.Unstructured, error) {
	parts, err := yamlReaderParts(content)
	if err != nil {
		return nil, err
	}
	var out []unstructured.Unstructured
	for _, raw := range parts {
		if isEmptyYaml([]byte(raw)) {
			continue
		}
		js, err := yamlutil.ToJSON([]byte(raw))
		if err != nil {
			return nil, err
		}
		obj, _, err := unstructured.UnstructuredJSONScheme.Decode(js, nil, nil)
		if err != nil {
			return nil, err
		}
		switch o := obj.(type) {
		case *unstructured.UnstructuredList:
			out = append(out, o.Items...)
		case *unstructured.Unstructured:
			out = append(out, *o)
		}
	}
	return out, nil
}

// yamlReaderParts is what apimachinery's YAMLReader returns for content,
// as K3s reads it, up to its first error.
func yamlReaderParts(content []byte) ([]string, error) {
	var parts []string
	reader := yamlutil.NewYAMLReader(bufio.NewReaderSize(bytes.NewReader(content), 4096))
	for {
		raw, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return parts, nil
		}
		if err != nil {
			return parts, err
		}
		parts = append(parts, string(raw))
	}
}
