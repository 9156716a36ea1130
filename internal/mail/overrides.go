package mail

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/dsar-project/dsar/internal/files"
	"github.com/dsar-project/dsar/internal/i18n"
)

// TemplateMax is the largest template file dsar reads from an override
// directory.
const TemplateMax = 64 << 10

// Options change how a Renderer is built.
type Options struct {
	// Overrides is a directory of templates an organisation wrote, each
	// replacing the built-in file of the same name: <kind>.txt,
	// <kind>.html, layout.html, officer_layout.html or common.txt at
	// the top for every language, or in a language's directory (de/,
	// fr/...) for that language alone. Empty: the built-in templates.
	Overrides string
}

// source is one template file: where it came from, for errors, and
// its text.
type source struct {
	name string
	text string
}

// templateSet finds a template file for a language: the organisation's
// file for that language, else its file for every language, else the
// built-in one.
type templateSet struct {
	overrides map[string]source // by "de/verification.txt" or "verification.txt"
}

func (s *templateSet) file(l i18n.Lang, name string) (source, error) {
	if src, ok := s.overrides[string(l)+"/"+name]; ok {
		return src, nil
	}
	if src, ok := s.overrides[name]; ok {
		return src, nil
	}
	b, err := templateFiles.ReadFile("templates/" + name)
	if err != nil {
		return source{}, fmt.Errorf("mail: built-in template %s: %w", name, err)
	}
	return source{name: name, text: string(b)}, nil
}

// templateNames are the files an override directory may hold, and the
// languages each may be written in.
func templateNames() map[string][]i18n.Lang {
	every := i18n.Langs
	names := map[string][]i18n.Lang{
		"common.txt":          every,
		"layout.html":         every,
		"officer_layout.html": {i18n.English},
	}
	for _, k := range slices.Concat(Kinds, NoticeKinds) {
		names[string(k)+".txt"], names[string(k)+".html"] = every, every
	}
	for _, k := range OfficerKinds {
		names[string(k)+".txt"], names[string(k)+".html"] = []i18n.Lang{i18n.English}, []i18n.Lang{i18n.English}
	}
	return names
}

// loadOverrides reads an override directory. A file dsar would never
// use is an error, not ignored: a misspelt name would otherwise leave
// the built-in template in place without anyone noticing.
func loadOverrides(dir string) (map[string]source, error) {
	if dir == "" {
		return nil, nil
	}
	known := templateNames()
	out := map[string]source{}
	var problems []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		if rel == "." || strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() && rel != "." {
				return fs.SkipDir
			}
			return nil
		}
		parts := strings.Split(rel, "/")
		if d.IsDir() {
			if len(parts) == 1 && slices.Contains(i18n.Langs, i18n.Lang(parts[0])) {
				return nil
			}
			problems = append(problems, fmt.Sprintf("%s: not a language dsar writes in (%s)", p, langList()))
			return fs.SkipDir
		}
		name, lang := parts[len(parts)-1], i18n.Lang("")
		if len(parts) == 2 {
			lang = i18n.Lang(parts[0])
		}
		langs, ok := known[name]
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("%s: not a template dsar sends (names are a kind of email and .txt or .html, e.g. verification.txt)", p))
			return nil
		case lang != "" && !slices.Contains(langs, lang):
			problems = append(problems, fmt.Sprintf("%s: officers' alerts are written in English only", p))
			return nil
		}
		b, err := files.Read(p, TemplateMax)
		if err != nil {
			return err
		}
		out[rel] = source{name: p, text: string(b)}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("mail templates: %w", err)
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		return nil, errors.New("mail templates: " + strings.Join(problems, "; "))
	}
	return out, nil
}

func langList() string {
	var s []string
	for _, l := range i18n.Langs {
		s = append(s, string(l))
	}
	return strings.Join(s, ", ")
}

// required are the values an email cannot do without: a verification
// email without its link and code asks the person to do what they
// cannot. An organisation's template that leaves one out is refused at
// start, in both its text and its HTML part.
var required = map[Kind][]string{
	KindAcknowledgement:      {"StatusLink"},
	KindVerification:         {"Link", "Code"},
	KindVerificationReminder: {"Link"},
	KindCompleted:            {"DownloadLink"},
	KindMessage:              {"StatusLink"},
	KindHoldReleased:         {"Erased", "KeptByLaw"},
	KindBreachNotice:         {"Notice"},
	KindOfficerPasswordReset: {"Link"},
}
