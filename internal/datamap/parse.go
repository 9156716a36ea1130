package datamap

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Problem is one thing wrong with a data map.
type Problem struct {
	Line    int
	Message string
}

// Error lists every problem found in a data map at once, so an operator
// fixes them in one pass.
type Error struct {
	Source   string
	Problems []Problem
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "data map %s: %d problem(s)", e.Source, len(e.Problems))
	for _, p := range e.Problems {
		if p.Line > 0 {
			fmt.Fprintf(&b, "\n  %s:%d: %s", e.Source, p.Line, p.Message)
		} else {
			fmt.Fprintf(&b, "\n  %s: %s", e.Source, p.Message)
		}
	}
	return b.String()
}

type problems struct {
	list []Problem
}

func (p *problems) add(line int, format string, args ...any) {
	p.list = append(p.list, Problem{Line: line, Message: fmt.Sprintf(format, args...)})
}

func (p *problems) err(source string) error {
	if len(p.list) == 0 {
		return nil
	}
	sort.SliceStable(p.list, func(i, j int) bool { return p.list[i].Line < p.list[j].Line })
	return &Error{Source: source, Problems: p.list}
}

// MaxFileSize is the largest data map LoadFile reads. Real maps are a few
// hundred lines; the limit keeps a wrong path (a device, a log) from
// being read into memory without end.
const MaxFileSize = 8 << 20

// LoadFile reads and checks a data map file (without the live schema; see
// Check for that).
func LoadFile(path string) (*Map, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("data map: %w", err)
	}
	defer f.Close()
	tooLarge := fmt.Errorf("data map %s is larger than %d MiB", path, MaxFileSize>>20)
	if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() && fi.Size() > MaxFileSize {
		return nil, tooLarge
	}
	// Devices and pipes have no size to check first: read one byte past
	// the limit and stop there.
	b, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("data map: %w", err)
	}
	if len(b) > MaxFileSize {
		return nil, tooLarge
	}
	return Parse(path, b)
}

// The file's shape. Lines come from the yaml nodes.
type fileMap struct {
	Version    int           `yaml:"version"`
	Categories []string      `yaml:"categories"`
	Systems    []fileSystem  `yaml:"systems"`
	Archives   []fileArchive `yaml:"archives"`
}

type fileSystem struct {
	Name           string      `yaml:"name"`
	Kind           string      `yaml:"kind"`
	DSNEnv         string      `yaml:"dsn_env"`
	URLEnv         string      `yaml:"url_env"`
	SecretEnv      string      `yaml:"secret_env"`
	Instructions   string      `yaml:"instructions"`
	Tables         []fileTable `yaml:"tables"`
	Collections    []fileTable `yaml:"collections"`
	fileHTTPSystem `yaml:",inline"`
	fileNotice     `yaml:",inline"`
	line           int
	lines          map[string]int
}

// fileNotice is the keys of a system or table that the access report
// tells the person (GDPR Art. 15(1)).
type fileNotice struct {
	Purposes   textList       `yaml:"purposes"`
	LegalBasis stringList     `yaml:"legal_basis"`
	Recipients textList       `yaml:"recipients"`
	Source     *fileText      `yaml:"source"`
	Automated  *fileAutomated `yaml:"automated_decisions"`
}

// fileText is words for the requester: a text, or a mapping of language
// code to text.
type fileText map[string]string

func (t *fileText) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*t = fileText{"": n.Value}
		return nil
	}
	var m map[string]string
	if err := n.Decode(&m); err != nil {
		return err
	}
	*t = m
	return nil
}

// textList accepts one text or a list of them.
type textList []fileText

func (l *textList) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.SequenceNode {
		var t fileText
		if err := n.Decode(&t); err != nil {
			return err
		}
		*l = textList{t}
		return nil
	}
	var ts []fileText
	if err := n.Decode(&ts); err != nil {
		return err
	}
	*l = ts
	return nil
}

// fileAutomated is `automated_decisions: false`, or the logic and the
// consequences of the decisions made.
type fileAutomated struct {
	Logic        fileText `yaml:"logic"`
	Consequences fileText `yaml:"consequences"`
	Word         string   `yaml:"-"` // the scalar form as written
}

func (a *fileAutomated) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		a.Word = n.Value
		return nil
	}
	type plain fileAutomated
	return n.Decode((*plain)(a))
}

type fileTable struct {
	Name             string              `yaml:"name"`
	PrimaryKey       stringList          `yaml:"primary_key"`
	Identities       map[string]string   `yaml:"identities"`
	Columns          map[string]string   `yaml:"columns"`
	Fields           map[string]string   `yaml:"fields"`
	References       map[string]string   `yaml:"references"`
	Correctable      []string            `yaml:"correctable"`
	Erase            fileErase           `yaml:"erase"`
	Retain           *fileRetain         `yaml:"retain"`
	OptOut           *fileOptOut         `yaml:"opt_out"`
	Label            *fileText           `yaml:"label"`
	Labels           map[string]fileText `yaml:"labels"`
	fileHTTPResource `yaml:",inline"`
	fileNotice       `yaml:",inline"`
	line             int
	lines            map[string]int
}

type fileErase struct {
	Strategy string             `yaml:"strategy"`
	Mask     map[string]*string `yaml:"mask"`
}

// fileOptOut is `opt_out: delete` or `opt_out: {set: {column: value}}`.
type fileOptOut struct {
	Set    map[string]any `yaml:"set"`
	Delete bool           `yaml:"-"`
	Word   string         `yaml:"-"` // the scalar form as written
}

func (o *fileOptOut) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		o.Word = n.Value
		o.Delete = n.Value == "delete"
		return nil
	}
	type plain fileOptOut
	return n.Decode((*plain)(o))
}

// stringList accepts one string or a list of them.
type stringList []string

func (l *stringList) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*l = []string{n.Value}
		return nil
	}
	var s []string
	if err := n.Decode(&s); err != nil {
		return err
	}
	*l = s
	return nil
}

// erase: delete | mask, or a mapping with strategy and mask.
func (e *fileErase) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		e.Strategy = n.Value
		return nil
	}
	type plain fileErase
	return n.Decode((*plain)(e))
}

func (s *fileSystem) UnmarshalYAML(n *yaml.Node) error {
	type plain fileSystem
	if err := n.Decode((*plain)(s)); err != nil {
		return err
	}
	s.line = n.Line
	s.lines = map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		s.lines[n.Content[i].Value] = n.Content[i].Line
	}
	return nil
}

func (t *fileTable) UnmarshalYAML(n *yaml.Node) error {
	type plain fileTable
	if err := n.Decode((*plain)(t)); err != nil {
		return err
	}
	t.line = n.Line
	t.lines = map[string]int{}
	// Remember where each column, identity, reference and mask entry
	// was written.
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, val := n.Content[i], n.Content[i+1]
		t.lines[key.Value] = key.Line
		if val.Kind != yaml.MappingNode {
			continue
		}
		for j := 0; j+1 < len(val.Content); j += 2 {
			t.lines[key.Value+"."+val.Content[j].Value] = val.Content[j].Line
			if key.Value == "erase" && val.Content[j].Value == "mask" {
				m := val.Content[j+1]
				for k := 0; k+1 < len(m.Content); k += 2 {
					t.lines["mask."+m.Content[k].Value] = m.Content[k].Line
				}
			}
		}
	}
	return nil
}

// Parse reads a data map from bytes; source names it in errors. Every key
// the format does not know is refused with its line (see checkKeys).
func Parse(source string, data []byte) (*Map, error) {
	p := &problems{}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			p.add(0, "the file is empty (see docs/datamap.md)")
		} else {
			yamlProblems(p, err)
		}
		return nil, p.err(source)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		p.add(extra.Line, "a second YAML document (after ---): the map must be one document")
	} else if !errors.Is(err, io.EOF) {
		yamlProblems(p, err)
	}
	checkKeys(p, &doc)
	if err := p.err(source); err != nil {
		return nil, err
	}
	var f fileMap
	if err := doc.Decode(&f); err != nil {
		yamlProblems(p, err)
		return nil, p.err(source)
	}
	return build(source, &f)
}

// yamlProblems turns a yaml error into problems with their lines.
func yamlProblems(p *problems, err error) {
	msgs := []string{err.Error()}
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs = te.Errors
	}
	for _, msg := range msgs {
		msg = strings.TrimPrefix(msg, "yaml: ")
		line := 0
		if m := lineInErr.FindStringSubmatch(msg); m != nil {
			fmt.Sscan(m[1], &line)
			msg = lineInErr.ReplaceAllString(msg, "")
		}
		p.add(line, "%s", strings.ReplaceAll(msg, "unmarshal errors:\n  ", ""))
	}
}

// lineInErr finds the line in a YAML decoder's message.
var lineInErr = regexp.MustCompile(`line (\d+): `)
