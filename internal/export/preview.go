package export

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	_ "embed"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"

	"github.com/dsar-project/dsar/internal/store"
)

//go:embed preview.html
var previewTemplates string

// The parts of an export's preview page, from preview.html.
var (
	previewPage  = template.Must(template.New("preview.html").Funcs(template.FuncMap{"indent": indentJSON}).Parse(previewTemplates))
	reportHead   = previewPage.Lookup("head")
	previewTable = previewPage.Lookup("table")
	reportRow    = previewPage.Lookup("row")
	reportHeld   = previewPage.Lookup("withheld")
)

// reportColumn is a column heading of the preview: its name and category.
type reportColumn struct{ Name, Category string }

// PreviewMax is the largest package an officer previews in the browser;
// a larger one is downloaded instead.
const PreviewMax = 64 << 20

// ErrTooLargeToPreview means a package is larger than PreviewMax.
var ErrTooLargeToPreview = errors.New("the package is too large to preview; download it instead")

// Preview writes a package as the requester will read it: an access
// package's report.html as it is in the ZIP; for an export (JSON and CSV
// files), a page built from its manifest and CSV files, with what was
// withheld and why.
func Preview(ctx context.Context, st *store.Store, sealer *Sealer, p *store.Package, w io.Writer) error {
	if p.Size > PreviewMax {
		return ErrTooLargeToPreview
	}
	var buf bytes.Buffer
	if err := Stream(ctx, st, sealer, p, &buf); err != nil {
		return err
	}
	z, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		return fmt.Errorf("preview %s: %w", p.ID, err)
	}
	if f, err := z.Open("report.html"); err == nil {
		defer f.Close()
		_, err = io.Copy(w, f)
		return err
	}
	mf, err := z.Open("manifest.json")
	if err != nil {
		return fmt.Errorf("preview %s: the package has neither report.html nor manifest.json", p.ID)
	}
	var man Manifest
	err = json.NewDecoder(mf).Decode(&man)
	mf.Close()
	if err != nil {
		return fmt.Errorf("preview %s: manifest: %w", p.ID, err)
	}
	bw := bufio.NewWriter(w)
	if err := reportHead.Execute(bw, map[string]string{"Organisation": man.Organisation, "RequestID": man.RequestID, "Generated": man.GeneratedAt}); err != nil {
		return err
	}
	for _, t := range man.Tables {
		if err := previewCSV(z, t, bw); err != nil {
			return err
		}
	}
	for _, o := range man.Others {
		fmt.Fprintf(bw, "<h2>%s</h2>\n", template.HTMLEscapeString(o.System))
		if o.Note != "" {
			fmt.Fprintf(bw, "<p>%s</p>\n", template.HTMLEscapeString(o.Note))
		}
	}
	type held struct{ System, Table, What, Reason string }
	var helds []held
	for _, wh := range man.Withheld {
		helds = append(helds, held{System: wh.System, Table: wh.Table, What: withheldText(wh), Reason: wh.Reason})
	}
	if err := reportHeld.Execute(bw, helds); err != nil {
		return err
	}
	bw.WriteString("</body></html>\n")
	return bw.Flush()
}

// previewCSV writes one table of an export from its CSV file.
func previewCSV(z *zip.Reader, t ManifestTable, w io.Writer) error {
	for _, name := range t.Files {
		if len(name) < 4 || name[len(name)-4:] != ".csv" {
			continue
		}
		f, err := z.Open(name)
		if err != nil {
			return err
		}
		defer f.Close()
		r := csv.NewReader(f)
		head, err := r.Read()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		cols := make([]reportColumn, len(head))
		for i, c := range head {
			cols[i] = reportColumn{Name: c, Category: t.Categories[c]}
		}
		if err := previewTable.Execute(w, map[string]any{"System": t.System, "Table": t.Table, "Columns": cols}); err != nil {
			return err
		}
		for {
			rec, err := r.Read()
			if err == io.EOF {
				break
			}
			if err != nil {
				return err
			}
			if err := reportRow.Execute(w, rec); err != nil {
				return err
			}
		}
		_, err = io.WriteString(w, "</tbody></table>\n")
		return err
	}
	return nil
}
