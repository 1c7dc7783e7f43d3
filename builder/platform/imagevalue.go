package platform

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/ml-appliance/appliance/builder/catalog"
)

// errNoImage is a value that names no image: an empty string or a map
// with every part empty.
var errNoImage = errors.New("empty")

// Keys charts use for the parts of an image reference kept as a map.
var (
	// repositoryKeys name the image without tag: Bitnami-style and Argo
	// charts ({registry, repository, tag, digest}), zero-to-jupyterhub
	// ({name, tag}: jupyterhub_config.py joins them "name:tag"), Seldon
	// Core's seldon-config ({image, defaultImageVersion}: the operator
	// joins them "image:defaultImageVersion", operator/apis/
	// machinelearning.seldon.io/v1/prepack.go PrepackImageName, v1.18.2).
	repositoryKeys = []string{"repository", "name", "image"}
	tagKeys        = []string{"tag", "defaultImageVersion"}
)

// imageFromValue reads an image reference from a value found in the
// values or a rendered document: a string, or a map of its parts,
// composed [registry/]repository[:tag][@digest]. The reference must be
// pinned (catalog.CheckImageRef).
func imageFromValue(v any) (string, error) {
	var ref string
	switch t := v.(type) {
	case string:
		ref = strings.TrimSpace(t)
	case map[string]any:
		var err error
		if ref, err = imageFromMap(t); err != nil {
			return "", err
		}
	default:
		return "", fmt.Errorf("%s, not an image reference or a map of its parts", catalog.Describe(v))
	}
	if ref == "" {
		return "", errNoImage
	}
	if err := catalog.CheckImageRef(ref); err != nil {
		return "", err
	}
	return ref, nil
}

func imageFromMap(m map[string]any) (string, error) {
	repo, err := onePart(m, repositoryKeys)
	if err != nil {
		return "", err
	}
	tag, err := onePart(m, tagKeys)
	if err != nil {
		return "", err
	}
	registry, err := onePart(m, []string{"registry"})
	if err != nil {
		return "", err
	}
	digest, err := onePart(m, []string{"digest"})
	if err != nil {
		return "", err
	}
	if repo == "" {
		if tag == "" && registry == "" && digest == "" {
			return "", errNoImage
		}
		return "", fmt.Errorf("a map with no %s (its keys: %s)", strings.Join(repositoryKeys, ", "), strings.Join(mapKeys(m), ", "))
	}
	ref := repo
	if registry != "" {
		ref = registry + "/" + repo
	}
	if tag != "" {
		ref += ":" + tag
	}
	if digest != "" {
		ref += "@" + digest
	}
	return ref, nil
}

// onePart returns the value under whichever of keys m has (at most one may
// be set), as a string: YAML may have decoded a tag like 1.36 as a number.
func onePart(m map[string]any, keys []string) (string, error) {
	var val, key string
	for _, k := range keys {
		v, ok := m[k]
		if !ok || v == nil {
			continue
		}
		var s string
		switch t := v.(type) {
		case string:
			s = strings.TrimSpace(t)
		case float64:
			s = strconv.FormatFloat(t, 'f', -1, 64)
		case int, int64, uint64:
			s = fmt.Sprint(t)
		default:
			return "", fmt.Errorf("%s is %s, not a string", k, catalog.Describe(v))
		}
		if s == "" {
			continue
		}
		if key != "" {
			return "", fmt.Errorf("both %s and %s are set: which is the image?", key, k)
		}
		val, key = s, k
	}
	return val, nil
}

func mapKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
