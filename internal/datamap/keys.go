package datamap

import (
	"fmt"
	"reflect"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// checkKeys walks the whole document against the file's types and reports
// every key they do not know, with its line, before anything is decoded:
// a misspelt "falg" under retain or "maks" under erase would otherwise be
// dropped without a word and leave rows unflagged or unmasked. The walk
// follows the yaml tags of the file structs (fileMap and everything it
// holds), so a key added to a struct is allowed everywhere at once and
// no custom UnmarshalYAML can let an unknown key through.
func checkKeys(p *problems, doc *yaml.Node) {
	root := resolve(doc)
	if root.Kind == yaml.DocumentNode {
		if len(root.Content) == 0 {
			return
		}
		root = resolve(root.Content[0])
	}
	walkKeys(p, map[walked]bool{}, root, reflect.TypeOf(fileMap{}), "", "", "")
}

// walked is a mapping already checked against a type under a label.
// Aliases and merge keys can reach one mapping many times, or from inside
// itself ("&a {<<: *a}"); it is checked once per place it is named, so
// such a file neither recurses without end nor takes exponential time.
type walked struct {
	n           *yaml.Node
	t           reflect.Type
	label, qual string
	kind        Kind
}

// kindKeys is implemented by a file struct whose allowed keys depend on
// the mapping's own content (a system's keys depend on its kind).
type kindKeys interface {
	keysFor(n *yaml.Node) (keys []string, what string)
}

// walkKeys checks the mapping n against struct type t. label names the
// mapping for messages ("table shop.customers", "" for the top level);
// qual is the dotted name of the enclosing named items ("shop").
// kind is the kind of the system being walked, whose driver says which
// keys its tables take.
func walkKeys(p *problems, seen map[walked]bool, n *yaml.Node, t reflect.Type, label, qual string, kind Kind) {
	n = resolve(n)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || n.Kind != yaml.MappingNode || seen[walked{n, t, label, qual, kind}] {
		return // not a mapping of keys (a scalar shorthand, or a type error decoding reports), or checked already
	}
	seen[walked{n, t, label, qual, kind}] = true
	known, fields := structKeys(t)
	allowed, what := known, ""
	if k, ok := reflect.New(t).Interface().(kindKeys); ok {
		if keys, w := k.keysFor(n); keys != nil {
			allowed, what = keys, w
		}
	}
	if t == reflect.TypeOf(fileSystem{}) {
		if v := mappingValue(n, "kind"); v != nil {
			kind = Kind(v.Value)
		}
	}
	if d := driverOf(kind); d != nil && t == reflect.TypeOf(fileTable{}) {
		allowed, what = tableKeysOf(kind), "a "+string(kind)+" "+strings.TrimSuffix(d.TablesKey, "s")
	}
	where := "at the top level"
	if label != "" {
		where = "in " + label
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, val := n.Content[i], n.Content[i+1]
		if key.Kind == yaml.ScalarNode && key.ShortTag() == "!!merge" {
			// "<<: *defaults" merges another mapping's keys into this one.
			walkMerged(p, seen, val, t, label, qual, kind)
			continue
		}
		name := key.Value
		switch {
		case slices.Contains(known, name) && !slices.Contains(allowed, name):
			p.add(key.Line, "key %q %s does not apply to %s (its keys: %s)", name, where, what, strings.Join(allowed, ", "))
			continue
		case !slices.Contains(known, name):
			msg := fmt.Sprintf("unknown key %q %s", name, where)
			if s := suggest(name, allowed); s != "" {
				msg += fmt.Sprintf("; did you mean %q?", s)
			}
			p.add(key.Line, "%s (allowed keys: %s)", msg, strings.Join(allowed, ", "))
			continue
		}
		ft := fields[name]
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		switch {
		case ft.Kind() == reflect.Struct:
			// A mapping inside this one: "erase of table shop.customers".
			inner := name
			if label != "" {
				inner += " of " + label
			}
			walkKeys(p, seen, val, ft, inner, qual, kind)
		case ft.Kind() == reflect.Slice && elemStruct(ft):
			// A list of named items: "table shop.customers".
			seq := resolve(val)
			if seq.Kind != yaml.SequenceNode {
				continue
			}
			singular := strings.TrimSuffix(name, "s")
			for _, item := range seq.Content {
				itemName := nameOf(resolve(item))
				itemLabel := "a " + singular
				if itemName != "" {
					q := itemName
					if qual != "" {
						q = qual + "." + itemName
					}
					itemLabel = singular + " " + q
					walkKeys(p, seen, item, ft.Elem(), itemLabel, q, kind)
					continue
				}
				if label != "" {
					itemLabel += " of " + label
				}
				walkKeys(p, seen, item, ft.Elem(), itemLabel, qual, kind)
			}
		}
	}
}

// walkMerged checks the mapping (or list of mappings) a merge key names.
func walkMerged(p *problems, seen map[walked]bool, val *yaml.Node, t reflect.Type, label, qual string, kind Kind) {
	val = resolve(val)
	if val.Kind == yaml.SequenceNode {
		for _, m := range val.Content {
			walkKeys(p, seen, m, t, label, qual, kind)
		}
		return
	}
	walkKeys(p, seen, val, t, label, qual, kind)
}

func resolve(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func elemStruct(t reflect.Type) bool {
	e := t.Elem()
	for e.Kind() == reflect.Pointer {
		e = e.Elem()
	}
	return e.Kind() == reflect.Struct
}

// nameOf returns the mapping's name: value, if it has one.
func nameOf(n *yaml.Node) string {
	if n.Kind != yaml.MappingNode {
		return ""
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == "name" && resolve(n.Content[i+1]).Kind == yaml.ScalarNode {
			return resolve(n.Content[i+1]).Value
		}
	}
	return ""
}

// structKeys lists the yaml keys of a struct's fields, in order, and the
// type behind each.
func structKeys(t reflect.Type) ([]string, map[string]reflect.Type) {
	var keys []string
	types := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" && opts == "inline" && f.Type.Kind() == reflect.Struct {
			// An inlined struct's keys are the mapping's own.
			inner, innerTypes := structKeys(f.Type)
			keys = append(keys, inner...)
			for k, v := range innerTypes {
				types[k] = v
			}
			continue
		}
		if name != "" && name != "-" {
			keys = append(keys, name)
			types[name] = f.Type
		}
	}
	return keys, types
}

// keysFor gives the keys a system of the mapping's kind may have; an
// unknown or missing kind allows them all (build reports the kind).
func (fileSystem) keysFor(n *yaml.Node) ([]string, string) {
	kind := ""
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == "kind" {
			kind = resolve(n.Content[i+1]).Value
		}
	}
	notice, _ := structKeys(reflect.TypeOf(fileNotice{}))
	if d := driverOf(Kind(kind)); d != nil {
		return append(slices.Clone(d.SystemKeys), notice...), "a " + kind + " system"
	}
	switch Kind(kind) {
	case KindWebhook:
		return append([]string{"name", "kind", "url_env", "secret_env"}, notice...), "a webhook system"
	case KindManual:
		return append([]string{"name", "kind", "instructions"}, notice...), "a manual system"
	}
	return nil, ""
}

// suggest returns the allowed key closest to a misspelt one, or "" when
// none is close enough to be what was meant.
func suggest(key string, allowed []string) string {
	k := strings.ToLower(key)
	best, bestD := "", 0
	for _, a := range allowed {
		d := editDistance(k, a)
		limit := max(1, min(3, len(a)/3))
		if d > limit {
			// "strat" for "strategy", "dsn" for "dsn_env".
			if len(k) < 3 || !(strings.HasPrefix(a, k) || strings.HasPrefix(k, a)) {
				continue
			}
			d = limit + 1
		}
		if best == "" || d < bestD {
			best, bestD = a, d
		}
	}
	return best
}

// editDistance counts the insertions, deletions, substitutions and swaps
// of neighbouring letters that turn a into b ("falg" is one from "flag").
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range rb {
		d[0][j+1] = j + 1
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}

// mappingValue returns the value of a key in a mapping node, or nil.
func mappingValue(n *yaml.Node, key string) *yaml.Node {
	n = resolve(n)
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return resolve(n.Content[i+1])
		}
	}
	return nil
}
