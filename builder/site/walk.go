package site

import (
	"fmt"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"
)

// nodeDecoder is implemented by field types with their own YAML form (Size).
// The returned error's text becomes the message after "FILE:LINE: path: ".
type nodeDecoder interface {
	decodeNode(n *yaml.Node) error
}

// decoder walks a yaml.Node tree and a Go value side by side. Field names
// come from `yaml:"name"` tags; a field without a tag (or with "-") is not
// part of the file. Supported field types: string, bool, struct, pointer to
// struct, slice, map with string keys (a key's path is path.key), and
// nodeDecoder.
//
// A null value (a key with nothing after it) leaves the field unset, except a
// pointer to a struct, which it sets to the zero struct ("raw:" turns the
// raw output on with its defaults). An explicit empty list ([]) gives an empty,
// non-nil slice, so defaults can tell it from an omitted one.
type decoder struct {
	src *source
	rep *report
	// budget is how many more values the walk may visit (aliasBudget).
	budget int
	// overBudget is where the walk ran out of budget: the document is
	// then refused as a whole (decode).
	overBudget *finding
	// via is the outermost alias the walk is following, if any.
	via *yaml.Node
}

// maxAliasValues is how many values aliases may add to a document as the
// decoder walks it. yaml.v3 keeps an alias as one node pointing at its
// anchor, and its own guard against alias bombs ("excessive aliasing")
// only counts what it decodes into Go values, so a walk of yaml.Node that
// follows aliases needs its own: a few hundred kilobytes of aliased nodes,
// each with an aliased list of labels, would otherwise stand for billions
// of values. Repeating a few labels on a thousand nodes with an anchor
// stays far below it.
const maxAliasValues = 10000

// aliasBudget is how many values a walk of the document at root may visit:
// each node once, plus maxAliasValues for what aliases repeat.
func aliasBudget(root *yaml.Node) int {
	n, stack := 0, []*yaml.Node{root}
	for len(stack) > 0 {
		top := stack[len(stack)-1]
		stack = append(stack[:len(stack)-1], top.Content...)
		n++
	}
	return n + maxAliasValues
}

func reflectValue(ptr any) reflect.Value { return reflect.ValueOf(ptr).Elem() }

var nodeDecoderType = reflect.TypeOf((*nodeDecoder)(nil)).Elem()

// fail reports a problem at line and marks path as not decoded.
func (d *decoder) fail(line int, path, format string, args ...any) {
	d.src.markFailed(path)
	d.rep.errorf(line, path, format, args...)
}

func (d *decoder) value(n *yaml.Node, path string, v reflect.Value) {
	// A value's problems are reported at its key (or list item), which is
	// where the operator looks, even when the value starts on a later line.
	line := d.src.lines[path]
	if d.budget--; d.budget < 0 {
		if d.overBudget == nil {
			f := finding{line: line, path: path, msg: fmt.Sprintf("aliases add more than %d values to the document (anchors and aliases are for repeating small parts)", maxAliasValues)}
			if d.via != nil {
				f.line, f.msg = d.via.Line, "alias *"+d.via.Value+": "+f.msg
			}
			d.overBudget = &f
		}
		return
	}
	if n.Kind == yaml.AliasNode {
		if d.via == nil {
			d.via = n
			defer func() { d.via = nil }()
		}
		n = n.Alias
	}
	if v.CanAddr() && v.Addr().Type().Implements(nodeDecoderType) {
		if err := v.Addr().Interface().(nodeDecoder).decodeNode(n); err != nil {
			d.fail(line, path, "%v", err)
		}
		return
	}
	isNull := n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
	switch v.Kind() {
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		if !isNull {
			d.value(n, path, v.Elem())
		}
	case reflect.Struct, reflect.Map:
		if isNull {
			return
		}
		if n.Kind != yaml.MappingNode {
			d.fail(line, path, "expected a mapping, got %s", describe(n))
			return
		}
		if v.Kind() == reflect.Map {
			d.stringMap(n, path, v)
		} else {
			d.mapping(n, path, v)
		}
	case reflect.Slice:
		if isNull {
			return
		}
		if n.Kind != yaml.SequenceNode {
			d.fail(line, path, "expected a list, got %s", describe(n))
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, item := range n.Content {
			if d.budget < 0 {
				break
			}
			p := index(path, i)
			d.src.lines[p] = item.Line
			d.value(item, p, s.Index(i))
		}
		v.Set(s)
	case reflect.String:
		if isNull {
			return
		}
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
			d.fail(line, path, "expected a string, got %s", describe(n))
			return
		}
		v.SetString(n.Value)
	case reflect.Bool:
		if isNull {
			return
		}
		var b bool
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" || n.Decode(&b) != nil {
			d.fail(line, path, "expected a boolean (true or false), got %s", describe(n))
			return
		}
		v.SetBool(b)
	default:
		panic(fmt.Sprintf("site: field %s has unsupported type %s", path, v.Type()))
	}
}

// mapping decodes a mapping node into struct v, rejecting unknown keys.
func (d *decoder) mapping(n *yaml.Node, path string, v reflect.Value) {
	fields := map[string]int{}
	var names []string
	for i := 0; i < v.NumField(); i++ {
		name, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("yaml"), ",")
		if name != "" && name != "-" {
			fields[name] = i
			names = append(names, name)
		}
	}
	isName := func(k *yaml.Node) bool { return k.Kind == yaml.ScalarNode && k.ShortTag() == "!!str" }
	d.pairs(n, path, "a field name", isName, func(key, val *yaml.Node, p string) {
		fi, ok := fields[key.Value]
		if !ok {
			msg := "unknown field"
			if s := suggest(key.Value, names); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			}
			d.fail(key.Line, p, "%s", msg)
			return
		}
		d.src.lines[p] = key.Line
		d.value(val, p, v.Field(fi))
	})
}

// stringMap decodes a mapping node into map v (string keys, any supported
// value type), rejecting non-string and repeated keys.
func (d *decoder) stringMap(n *yaml.Node, path string, v reflect.Value) {
	m := reflect.MakeMapWithSize(v.Type(), len(n.Content)/2)
	isName := func(k *yaml.Node) bool { return k.Kind == yaml.ScalarNode && k.Value != "" }
	d.pairs(n, path, "a name as key", isName, func(key, val *yaml.Node, p string) {
		d.src.lines[p] = key.Line
		elem := reflect.New(v.Type().Elem()).Elem()
		d.value(val, p, elem)
		m.SetMapIndex(reflect.ValueOf(key.Value).Convert(v.Type().Key()), elem)
	})
	v.Set(m)
}

// pairs calls fn for each key and value of mapping node n, with the key's
// path. A key keyOK refuses is reported ("expected <want>, got ..."), and
// so is a key given twice: yaml.v3 rejects duplicate keys only when
// decoding into Go values, not into a yaml.Node.
func (d *decoder) pairs(n *yaml.Node, path, want string, keyOK func(*yaml.Node) bool, fn func(key, val *yaml.Node, p string)) {
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content) && d.budget >= 0; i += 2 {
		key, val := n.Content[i], n.Content[i+1]
		if !keyOK(key) {
			d.fail(key.Line, path, "expected %s, got %s", want, describe(key))
			continue
		}
		p := join(path, key.Value)
		if first, ok := seen[key.Value]; ok {
			d.fail(key.Line, p, "given twice (first at line %d)", first)
			continue
		}
		seen[key.Value] = key.Line
		fn(key, val, p)
	}
}

// describe names what a node is, for "expected X, got Y".
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	switch n.ShortTag() {
	case "!!str":
		return fmt.Sprintf("string %q", n.Value)
	case "!!int":
		return "integer " + n.Value
	case "!!float":
		return "number " + n.Value
	case "!!bool":
		return "boolean " + n.Value
	case "!!null":
		return "nothing"
	default:
		return fmt.Sprintf("%s %q", strings.TrimPrefix(n.ShortTag(), "!!"), n.Value)
	}
}

// suggest returns the known name closest to an unknown one, or "" when none
// is close: at most a third of its letters differ, ignoring case.
func suggest(unknown string, known []string) string {
	best, bestDist := "", -1
	for _, k := range known {
		d := distance(strings.ToLower(unknown), strings.ToLower(k))
		if d <= max(1, len(k)/3) && (bestDist < 0 || d < bestDist) {
			best, bestDist = k, d
		}
	}
	return best
}

// distance is the Levenshtein edit distance between a and b.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
