package office

import (
	"bytes"
	"cmp"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	netmail "net/mail"
	"net/textproto"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gabriel-vasile/mimetype"

	"github.com/dsar-project/dsar/internal/auth"
	"github.com/dsar-project/dsar/internal/domain"
	"github.com/dsar-project/dsar/internal/store"
)

// Kinds of attachment. An officer attaches identity evidence or
// correspondence; KindEmail marks what came with a request by email (the
// message itself and its own attachments), which nobody uploads.
const (
	KindIdentity       = "identity"
	KindCorrespondence = "correspondence"
	KindEmail          = "email"
)

// AttachmentKinds are the kinds an officer may choose.
var AttachmentKinds = []string{KindIdentity, KindCorrespondence}

// DefaultAttachmentMax is the largest attachment when Service.AttachmentMax
// is zero.
const DefaultAttachmentMax = 10 << 20

// AttachmentTypes are the types of file a request may carry, as sniffed
// from their bytes: what evidence and letters come as, and nothing a
// browser would run.
var AttachmentTypes = []string{"application/pdf", "image/png", "image/jpeg", "text/plain", "message/rfc822"}

// attachmentExt is the file name extension each type is served with.
var attachmentExt = map[string]string{
	"application/pdf": ".pdf", "image/png": ".png", "image/jpeg": ".jpg",
	"text/plain": ".txt", "message/rfc822": ".eml",
}

// MaxFileNameLen bounds an attachment's stored file name.
const MaxFileNameLen = 120

// NewAttachment is a file an officer attaches to a request.
type NewAttachment struct {
	RequestID string
	Kind      string
	FileName  string
	Content   []byte
}

// AttachmentInfo is one file of a request as officers see it listed:
// uploaded by an officer (Source "upload") or carried by the email the
// request arrived as (Source "email"). An email's file dsar does not
// serve (a type outside AttachmentTypes, or too large) is listed with the
// reason in Problem, and Downloadable false.
type AttachmentInfo struct {
	store.Attachment
	Source       string `json:"source"`
	Downloadable bool   `json:"downloadable"`
	Problem      string `json:"problem,omitempty"`
}

// AttachmentFile is an attachment's content, opened for download.
type AttachmentFile struct {
	FileName    string
	ContentType string
	Content     []byte
}

func (s *Service) attachmentMax() int64 { return cmp.Or(s.AttachmentMax, DefaultAttachmentMax) }

// SniffAttachment answers the type of a file from its bytes, and whether
// it is one a request may carry.
func SniffAttachment(content []byte) (contentType string, allowed bool) {
	m := mimetype.Detect(content)
	for _, t := range AttachmentTypes {
		if m.Is(t) {
			if t == "text/plain" {
				return m.String(), true // with its charset
			}
			return t, true
		}
	}
	return m.String(), false
}

// SanitizeFileName makes a file name safe to store, show and send back
// in a Content-Disposition header: no directories, no control or quote
// characters, at most MaxFileNameLen characters, and the extension of
// its real type (a PDF called "letter.exe" is served as
// "letter.exe.pdf").
func SanitizeFileName(name, contentType string) string {
	name = strings.ToValidUTF8(name, "")
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	name = strings.Map(func(r rune) rune {
		switch {
		case unicode.IsLetter(r), unicode.IsDigit(r), strings.ContainsRune(" .-_()[]+,", r):
			return r
		case unicode.IsSpace(r):
			return ' '
		}
		return '_'
	}, name)
	name = strings.Trim(strings.Join(strings.Fields(name), " "), " .")
	base, _, _ := mime.ParseMediaType(contentType)
	ext := attachmentExt[base]
	if utf8.RuneCountInString(name) > MaxFileNameLen-len(ext) {
		name = string([]rune(name)[:MaxFileNameLen-len(ext)])
	}
	if name == "" {
		name = "attachment"
	}
	if ext != "" && !strings.EqualFold(path.Ext(name), ext) && !(ext == ".jpg" && strings.EqualFold(path.Ext(name), ".jpeg")) {
		name += ext
	}
	return name
}

// AddAttachment seals a file an officer attaches to a request and
// stores it, audited. Its type is sniffed from the bytes and must be one
// of AttachmentTypes; it may be at most AttachmentMax. A refused file
// stores nothing.
func (s *Service) AddAttachment(ctx context.Context, na NewAttachment, actor string) (*store.Attachment, error) {
	if s.Sealer == nil {
		return nil, errors.New("office: no sealer for attachments")
	}
	errs := map[string]string{}
	if !slices.Contains(AttachmentKinds, na.Kind) {
		errs["kind"] = "choose one of " + strings.Join(AttachmentKinds, ", ")
	}
	contentType, allowed := SniffAttachment(na.Content)
	switch {
	case len(na.Content) == 0:
		errs["file"] = "choose a file; this one is empty"
	case int64(len(na.Content)) > s.attachmentMax():
		errs["file"] = "at most " + strconv.FormatInt(s.attachmentMax()>>20, 10) + " MB"
	case !allowed:
		errs["file"] = "a PDF, PNG, JPEG, plain text or email (.eml) file; this one is " + contentType
	}
	if len(errs) > 0 {
		return nil, &domain.ValidationError{Fields: errs}
	}
	r, err := s.Store.GetRequest(ctx, na.RequestID)
	if err != nil {
		return nil, err
	}
	id, err := auth.NewAttachmentID()
	if err != nil {
		return nil, err
	}
	a := &store.Attachment{
		ID: id, RequestID: r.ID, Kind: na.Kind, FileName: SanitizeFileName(na.FileName, contentType),
		ContentType: contentType, Size: int64(len(na.Content)), AddedBy: actor, CreatedAt: s.Now(),
	}
	a.KeyID, a.Sealed = s.Sealer.SealBlob(store.AttachmentBlobName(r.ID, id), na.Content)
	if err := s.Store.AddAttachment(ctx, a); err != nil {
		return nil, err
	}
	a.Sealed = nil
	return a, nil
}

// emailID names what came by email: the message itself, and its own
// attachments numbered from 1.
const emailID = "email"

// Attachments lists a request's files: the officers' uploads, then the
// email it arrived as and that email's own attachments.
func (s *Service) Attachments(ctx context.Context, requestID string) ([]AttachmentInfo, error) {
	r, err := s.Store.GetRequest(ctx, requestID)
	if err != nil {
		return nil, err
	}
	stored, err := s.Store.Attachments(ctx, r.ID)
	if err != nil {
		return nil, err
	}
	out := make([]AttachmentInfo, 0, len(stored))
	for _, a := range stored {
		out = append(out, AttachmentInfo{Attachment: a, Source: "upload", Downloadable: true})
	}
	files, err := s.emailFiles(ctx, r.ID)
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		out = append(out, f.info)
	}
	return out, nil
}

type emailFile struct {
	info    AttachmentInfo
	content []byte
}

// emailFiles are the email a request arrived as (rebuilt as an .eml
// file) and its attachments, each checked against the same limits as an
// upload. None when the request did not arrive by email.
func (s *Service) emailFiles(ctx context.Context, requestID string) ([]emailFile, error) {
	m, err := s.InboundMessage(ctx, requestID)
	var missing *NotFoundError
	if errors.As(err, &missing) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	stored, err := s.Store.InboundMessageOf(ctx, requestID)
	if err != nil {
		return nil, err
	}
	at := stored.ReceivedAt
	file := func(id, name string, content []byte) emailFile {
		ct, allowed := SniffAttachment(content)
		f := emailFile{content: content, info: AttachmentInfo{Source: "email", Attachment: store.Attachment{
			ID: id, Kind: KindEmail, FileName: SanitizeFileName(name, ct), ContentType: ct,
			Size: int64(len(content)), CreatedAt: at,
		}}}
		switch {
		case !allowed:
			f.info.Problem = "not served: dsar serves PDF, PNG, JPEG, plain text and email files only; this one is " + ct
		case int64(len(content)) > s.attachmentMax():
			f.info.Problem = "not served: larger than " + strconv.FormatInt(s.attachmentMax()>>20, 10) + " MB"
		default:
			f.info.Downloadable = true
		}
		return f
	}
	eml, err := rebuildEmail(m, at)
	if err != nil {
		return nil, err
	}
	out := []emailFile{file(emailID, "email.eml", eml)}
	// The message's own attachments are sniffed as "message/rfc822"
	// only by their bytes; the one dsar rebuilt is that type by
	// construction, whatever its headers look like.
	out[0].info.ContentType = "message/rfc822"
	if int64(len(eml)) <= s.attachmentMax() {
		out[0].info.Downloadable, out[0].info.Problem = true, ""
	}
	for i, a := range m.Attachments {
		out = append(out, file(emailID+"-"+strconv.Itoa(i+1), a.Name, a.Content))
	}
	return out, nil
}

// OpenAttachment opens one of a request's files for an officer to
// download, and audits that they did: identity evidence is read only
// with a trace. A file of another request, or one listed as not served,
// is not found.
func (s *Service) OpenAttachment(ctx context.Context, requestID, id, actor string) (*AttachmentFile, error) {
	r, err := s.Store.GetRequest(ctx, requestID)
	if err != nil {
		return nil, err
	}
	notFound := &NotFoundError{What: "request " + r.ID + " has no attachment " + id}
	var f *AttachmentFile
	if id == emailID || strings.HasPrefix(id, emailID+"-") {
		files, err := s.emailFiles(ctx, r.ID)
		if err != nil {
			return nil, err
		}
		i := slices.IndexFunc(files, func(f emailFile) bool { return f.info.ID == id })
		if i < 0 {
			return nil, notFound
		}
		if !files[i].info.Downloadable {
			return nil, refused("attachment %s is %s", id, files[i].info.Problem)
		}
		f = &AttachmentFile{FileName: files[i].info.FileName, ContentType: files[i].info.ContentType, Content: files[i].content}
	} else {
		a, err := s.Store.AttachmentOf(ctx, r.ID, id)
		if errors.Is(err, store.ErrNotFound) {
			return nil, notFound
		}
		if err != nil {
			return nil, err
		}
		if s.Sealer == nil {
			return nil, errors.New("office: no sealer for attachments")
		}
		plain, err := s.Sealer.OpenBlob(a.KeyID, store.AttachmentBlobName(r.ID, a.ID), a.Sealed)
		if err != nil {
			return nil, fmt.Errorf("office: open attachment: %w", err)
		}
		f = &AttachmentFile{FileName: a.FileName, ContentType: a.ContentType, Content: plain}
	}
	err = s.Store.Audit(ctx, store.AuditEvent{RequestID: r.ID, Actor: actor, Action: "attachment_downloaded",
		Detail: "attachment " + id, At: s.Now().UTC()})
	if err != nil {
		return nil, err
	}
	return f, nil
}

// VerifyWithAttachment verifies the requester's identity by hand, as
// VerifyByOfficer does, naming one of the request's attachments as the
// evidence; evidence may then be empty. The trail names the attachment
// by its reference, not its file name.
func (s *Service) VerifyWithAttachment(ctx context.Context, requestID, evidence, attachmentID, actor string) error {
	attachmentID = strings.TrimSpace(attachmentID)
	if attachmentID == "" {
		return s.VerifyByOfficer(ctx, requestID, evidence, actor)
	}
	list, err := s.Attachments(ctx, requestID)
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(list, func(a AttachmentInfo) bool { return a.ID == attachmentID }) {
		return invalid("attachment", "not one of this request's attachments")
	}
	ref := "evidence: attachment " + attachmentID
	if evidence = strings.TrimSpace(evidence); evidence == "" {
		evidence = ref
	} else {
		evidence += " (" + ref + ")"
	}
	return s.VerifyByOfficer(ctx, requestID, evidence, actor)
}

// rebuildEmail writes an email posted by Inbound Parse back as a MIME
// message: its original header lines (but those describing the body,
// which is new), then its text, HTML and attachments. An
// X-DSAR-Rebuilt header says so: the bytes are not those that arrived.
func rebuildEmail(m *InboundMail, received time.Time) ([]byte, error) {
	var b bytes.Buffer
	skip := map[string]bool{"Content-Type": true, "Content-Transfer-Encoding": true, "Mime-Version": true}
	wrote := map[string]bool{}
	if hm, err := netmail.ReadMessage(strings.NewReader(strings.TrimRight(m.Headers, "\r\n") + "\r\n\r\n")); err == nil && strings.TrimSpace(m.Headers) != "" {
		for _, k := range slices.Sorted(maps.Keys(hm.Header)) {
			if skip[k] {
				continue
			}
			for _, v := range hm.Header[k] {
				fmt.Fprintf(&b, "%s: %s\r\n", k, oneLine(v))
			}
			wrote[k] = true
		}
	}
	for _, h := range []struct{ k, v string }{{"From", m.From}, {"To", m.To}, {"Cc", m.Cc}, {"Subject", m.Subject}} {
		if !wrote[h.k] && h.v != "" {
			fmt.Fprintf(&b, "%s: %s\r\n", h.k, mime.QEncoding.Encode("utf-8", oneLine(h.v)))
		}
	}
	if !wrote["Date"] {
		fmt.Fprintf(&b, "Date: %s\r\n", received.UTC().Format(time.RFC1123Z))
	}
	b.WriteString("X-DSAR-Rebuilt: from the fields SendGrid Inbound Parse posted\r\nMIME-Version: 1.0\r\n")
	mw := multipart.NewWriter(&b)
	fmt.Fprintf(&b, "Content-Type: multipart/mixed; boundary=%q\r\n\r\n", mw.Boundary())
	part := func(h textproto.MIMEHeader, write func(w *bytes.Buffer) error) error {
		w, err := mw.CreatePart(h)
		if err != nil {
			return err
		}
		var body bytes.Buffer
		if err := write(&body); err != nil {
			return err
		}
		_, err = w.Write(body.Bytes())
		return err
	}
	qp := func(text string) func(*bytes.Buffer) error {
		return func(w *bytes.Buffer) error {
			q := quotedprintable.NewWriter(w)
			if _, err := q.Write([]byte(text)); err != nil {
				return err
			}
			return q.Close()
		}
	}
	for _, p := range []struct{ ct, text string }{{"text/plain", m.Text}, {"text/html", m.HTML}} {
		if p.text == "" {
			continue
		}
		h := textproto.MIMEHeader{"Content-Type": {p.ct + "; charset=utf-8"}, "Content-Transfer-Encoding": {"quoted-printable"}}
		if err := part(h, qp(p.text)); err != nil {
			return nil, err
		}
	}
	for _, a := range m.Attachments {
		ct := a.Type
		if _, _, err := mime.ParseMediaType(ct); err != nil || ct == "" {
			ct = "application/octet-stream"
		}
		h := textproto.MIMEHeader{
			"Content-Type":              {ct},
			"Content-Transfer-Encoding": {"base64"},
			"Content-Disposition":       {mime.FormatMediaType("attachment", map[string]string{"filename": SanitizeFileName(a.Name, "")})},
		}
		err := part(h, func(w *bytes.Buffer) error {
			enc := base64.StdEncoding.EncodeToString(a.Content)
			for len(enc) > 76 {
				w.WriteString(enc[:76] + "\r\n")
				enc = enc[76:]
			}
			w.WriteString(enc)
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	if err := mw.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
