package mail

import (
	"fmt"
	"reflect"
	"text/template/parse"

	"github.com/dsar-project/dsar/internal/i18n"
)

// checker walks parsed templates before anything is sent, following
// the type of dot, so that a template naming a value Data does not
// have ({{.Nmae}}) or a message the catalogue lacks is refused at start
// with its file and line, whichever branch it sits in: executing the
// template would find it only on the send that takes that branch.
type checker struct {
	lookup    func(name string) *parse.Tree
	catalogue *i18n.Catalogue
	problems  []string
	fields    map[string]bool            // fields of Data the templates show
	seen      map[string]map[string]bool // template name -> dot types checked
}

func newChecker(c *i18n.Catalogue, lookup func(string) *parse.Tree) *checker {
	return &checker{lookup: lookup, catalogue: c, fields: map[string]bool{}, seen: map[string]map[string]bool{}}
}

var (
	dataType = reflect.TypeFor[Data]()
	// htmlDot is what the HTML layout is executed with (see Render).
	htmlDot = reflect.TypeFor[struct {
		Subject string
		Data
	}]()
)

// template checks the named template with dot of type dot.
func (c *checker) template(name string, dot reflect.Type) {
	tree := c.lookup(name)
	if tree == nil || tree.Root == nil {
		return // a missing template is reported by the parse
	}
	key := typeKey(dot)
	if c.seen[name] == nil {
		c.seen[name] = map[string]bool{}
	}
	if c.seen[name][key] {
		return
	}
	c.seen[name][key] = true
	c.list(tree, tree.Root, scope{dot: dot, vars: map[string]reflect.Type{"$": dot}})
}

func typeKey(t reflect.Type) string {
	if t == nil {
		return "?"
	}
	return t.String()
}

// scope is what dot and each variable are, where the walk is; a nil
// type is one the checker cannot know (a function's result).
type scope struct {
	dot  reflect.Type
	vars map[string]reflect.Type
}

func (s scope) with(dot reflect.Type) scope {
	vars := make(map[string]reflect.Type, len(s.vars))
	for k, v := range s.vars {
		vars[k] = v
	}
	return scope{dot: dot, vars: vars}
}

func (c *checker) problem(tree *parse.Tree, n parse.Node, format string, args ...any) {
	loc, _ := tree.ErrorContext(n)
	c.problems = append(c.problems, loc+": "+fmt.Sprintf(format, args...))
}

func (c *checker) list(tree *parse.Tree, l *parse.ListNode, s scope) {
	if l == nil {
		return
	}
	for _, n := range l.Nodes {
		c.node(tree, n, s)
	}
}

func (c *checker) node(tree *parse.Tree, n parse.Node, s scope) {
	switch n := n.(type) {
	case *parse.ActionNode:
		c.pipe(tree, n.Pipe, s)
	case *parse.IfNode:
		c.pipe(tree, n.Pipe, s)
		c.list(tree, n.List, s)
		c.list(tree, n.ElseList, s)
	case *parse.WithNode:
		t := c.pipe(tree, n.Pipe, s)
		c.list(tree, n.List, s.with(t))
		c.list(tree, n.ElseList, s)
	case *parse.RangeNode:
		t := c.pipe(tree, n.Pipe, s)
		inner := s.with(elem(t))
		if len(n.Pipe.Decl) == 2 {
			inner.vars[n.Pipe.Decl[1].Ident[0]] = elem(t)
		} else if len(n.Pipe.Decl) == 1 {
			inner.vars[n.Pipe.Decl[0].Ident[0]] = elem(t)
		}
		c.list(tree, n.List, inner)
		c.list(tree, n.ElseList, s)
	case *parse.TemplateNode:
		var t reflect.Type
		if n.Pipe != nil {
			t = c.pipe(tree, n.Pipe, s)
		}
		c.template(n.Name, t)
	case *parse.ListNode:
		c.list(tree, n, s)
	}
}

// pipe checks a pipeline and returns the type of its value.
func (c *checker) pipe(tree *parse.Tree, p *parse.PipeNode, s scope) reflect.Type {
	if p == nil {
		return nil
	}
	var t reflect.Type
	for _, cmd := range p.Cmds {
		t = c.command(tree, cmd, s)
	}
	for _, v := range p.Decl {
		s.vars[v.Ident[0]] = t
	}
	return t
}

func (c *checker) command(tree *parse.Tree, cmd *parse.CommandNode, s scope) reflect.Type {
	if len(cmd.Args) == 0 {
		return nil
	}
	if id, ok := cmd.Args[0].(*parse.IdentifierNode); ok && (id.Ident == "t" || id.Ident == "tn") && len(cmd.Args) > 1 {
		if msg, ok := cmd.Args[1].(*parse.StringNode); ok && !c.catalogue.Has(msg.Text) {
			c.problem(tree, msg, "no message %q in the catalogue", msg.Text)
		}
	}
	var t reflect.Type
	for i, a := range cmd.Args {
		at := c.arg(tree, a, s)
		if i == 0 {
			t = at
		}
	}
	if _, fn := cmd.Args[0].(*parse.IdentifierNode); fn {
		return nil // a function's result
	}
	return t
}

func (c *checker) arg(tree *parse.Tree, a parse.Node, s scope) reflect.Type {
	switch a := a.(type) {
	case *parse.DotNode:
		return s.dot
	case *parse.FieldNode:
		return c.fieldChain(tree, a, s.dot, a.Ident)
	case *parse.VariableNode:
		t, ok := s.vars[a.Ident[0]]
		if !ok {
			return nil // the parser refuses undefined variables
		}
		return c.fieldChain(tree, a, t, a.Ident[1:])
	case *parse.ChainNode:
		var t reflect.Type
		if p, ok := a.Node.(*parse.PipeNode); ok {
			t = c.pipe(tree, p, s)
		} else {
			t = c.arg(tree, a.Node, s)
		}
		return c.fieldChain(tree, a, t, a.Field)
	case *parse.PipeNode:
		return c.pipe(tree, a, s)
	}
	return nil
}

// fieldChain follows .A.B from a value of type t.
func (c *checker) fieldChain(tree *parse.Tree, n parse.Node, t reflect.Type, names []string) reflect.Type {
	for _, name := range names {
		if t == nil {
			return nil
		}
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if isData(t) {
			c.fields[name] = true
		}
		if m, ok := t.MethodByName(name); ok {
			if m.Type.NumOut() == 0 {
				return nil
			}
			t = m.Type.Out(0)
			continue
		}
		switch t.Kind() {
		case reflect.Struct:
			f, ok := t.FieldByName(name)
			if !ok || !f.IsExported() {
				c.problem(tree, n, "no value %q in an email's data (%s)", name, t.Name())
				return nil
			}
			t = f.Type
		case reflect.Map:
			t = t.Elem()
		case reflect.Interface:
			return nil
		default:
			c.problem(tree, n, "%q is not a value of %s", name, t)
			return nil
		}
	}
	return t
}

func isData(t reflect.Type) bool { return t == dataType || t == htmlDot }

// elem is the type range gives dot for a value of type t.
func elem(t reflect.Type) reflect.Type {
	if t == nil {
		return nil
	}
	switch t.Kind() {
	case reflect.Slice, reflect.Array, reflect.Map, reflect.Chan:
		return t.Elem()
	}
	return nil
}
