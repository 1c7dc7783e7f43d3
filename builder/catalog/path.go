package catalog

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Path is a dotted path into a tree of maps and lists decoded from YAML or
// JSON (chart values, a ConfigMap's document): "singleuser.image",
// "singleuser.profileList[*].kubespawner_override.image",
// "MLFLOW_SERVER.protocols.v2". A key is followed by "[*]" for every item
// of the list under it; a "*" element stands for every key of a map. Keys
// holding a dot, "[" or "]" cannot be named.
type Path struct {
	text  string
	steps []pathStep
}

type pathStep struct {
	key      string // "" with anyKey
	anyKey   bool   // "*": every value of a map
	eachItem int    // how many "[*]" follow: every item of a list, that many levels
}

// ParsePath reads a dotted path.
func ParsePath(s string) (Path, error) {
	if s == "" {
		return Path{}, errors.New("empty path")
	}
	p := Path{text: s}
	for _, part := range strings.Split(s, ".") {
		st := pathStep{}
		for strings.HasSuffix(part, "[*]") {
			st.eachItem++
			part = strings.TrimSuffix(part, "[*]")
		}
		switch {
		case part == "":
			return Path{}, fmt.Errorf("%q: an empty key (want key.key, key[*] or *)", s)
		case part == "*":
			st.anyKey = true
		case strings.ContainsAny(part, "[]*"):
			return Path{}, fmt.Errorf("%q: %q is not a key, key[*] or *", s, part)
		default:
			st.key = part
		}
		p.steps = append(p.steps, st)
	}
	return p, nil
}

func (p Path) String() string { return p.text }

// IsZero reports whether p is unset.
func (p Path) IsZero() bool { return len(p.steps) == 0 }

// Match is one value a Path found, with the concrete path to it
// ("singleuser.profileList[1].kubespawner_override.image").
type Match struct {
	Path  string
	Value any
}

// Find returns every value p reaches in v, in document order (map keys
// sorted). When it reaches none, the error says where the walk stopped
// and what is there instead. Under a wildcard, an item that lacks the
// rest of the path is passed over, not an error.
func (p Path) Find(v any) ([]Match, error) {
	var out []Match
	var miss error
	var walk func(v any, steps []pathStep, at string)
	walk = func(v any, steps []pathStep, at string) {
		if len(steps) == 0 {
			out = append(out, Match{Path: at, Value: v})
			return
		}
		st := steps[0]
		m, ok := v.(map[string]any)
		if !ok {
			if miss == nil {
				miss = fmt.Errorf("%s is %s, not a map", orRoot(at), Describe(v))
			}
			return
		}
		var next []any
		var nextAt []string
		if st.anyKey {
			for _, k := range sortedKeys(m) {
				next, nextAt = append(next, m[k]), append(nextAt, join(at, k))
			}
		} else if e, ok := m[st.key]; ok && e != nil {
			next, nextAt = []any{e}, []string{join(at, st.key)}
		}
		if len(next) == 0 {
			if miss == nil {
				miss = fmt.Errorf("%s has no %s (it has %s)", orRoot(at), st.what(), keyList(m))
			}
			return
		}
		for i := range next {
			items, itemsAt := expand(next[i], nextAt[i], st.eachItem, &miss)
			for j := range items {
				walk(items[j], steps[1:], itemsAt[j])
			}
		}
	}
	walk(v, p.steps, "")
	if len(out) == 0 {
		if miss == nil {
			miss = errors.New("an empty list")
		}
		return nil, fmt.Errorf("%s: %w", p.text, miss)
	}
	return out, nil
}

// expand descends n levels of lists ("[*]" n times) from v.
func expand(v any, at string, n int, miss *error) ([]any, []string) {
	vs, ats := []any{v}, []string{at}
	for range n {
		var nv []any
		var nat []string
		for i, e := range vs {
			l, ok := e.([]any)
			if !ok {
				if *miss == nil {
					*miss = fmt.Errorf("%s is %s, not a list", ats[i], Describe(e))
				}
				continue
			}
			for j, item := range l {
				nv, nat = append(nv, item), append(nat, fmt.Sprintf("%s[%d]", ats[i], j))
			}
		}
		vs, ats = nv, nat
	}
	return vs, ats
}

func (st pathStep) what() string {
	if st.anyKey {
		return "keys"
	}
	return "key " + st.key
}

func join(at, k string) string {
	if at == "" {
		return k
	}
	return at + "." + k
}

func orRoot(at string) string {
	if at == "" {
		return "the document"
	}
	return at
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k, v := range m {
		if v != nil {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

func keyList(m map[string]any) string {
	keys := sortedKeys(m)
	if len(keys) == 0 {
		return "no keys"
	}
	const most = 12
	if len(keys) > most {
		return "keys " + strings.Join(keys[:most], ", ") + fmt.Sprintf(" and %d more", len(keys)-most)
	}
	return "keys " + strings.Join(keys, ", ")
}

// Describe names a value decoded from YAML or JSON, for messages: "null",
// "a map", "a list", "the string \"x\"", "the boolean true".
func Describe(v any) string {
	switch t := v.(type) {
	case nil:
		return "null"
	case string:
		return fmt.Sprintf("the string %q", t)
	case map[string]any:
		return "a map"
	case []any:
		return "a list"
	case bool:
		return fmt.Sprintf("the boolean %v", t)
	}
	return fmt.Sprintf("the value %v", v)
}
