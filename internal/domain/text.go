package domain

import (
	"errors"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Text problems, as a requester or officer reads them.
var (
	ErrNotText      = errors.New("use plain text: this holds bytes that are not UTF-8 or a NUL character")
	ErrNotOneLine   = errors.New("use a single line of plain text, without line breaks or control characters")
	errControlChars = errors.New("use plain text, without control characters")
)

// CheckText refuses what no text field may hold: bytes that are not
// UTF-8 and NUL, which PostgreSQL cannot store in text. Line breaks and
// tabs are fine.
func CheckText(s string) error {
	if !utf8.ValidString(s) || strings.ContainsRune(s, 0) {
		return ErrNotText
	}
	for _, r := range s {
		if unicode.IsControl(r) && r != '\n' && r != '\r' && r != '\t' {
			return errControlChars
		}
	}
	return nil
}

// CheckLine is CheckText for a single line: a name, a title, a subject.
// Such text is printed after "Dear" and in headers, where a line break
// would let a form write its own lines into an email.
func CheckLine(s string) error {
	if err := CheckText(s); err != nil {
		return err
	}
	for _, r := range s {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return ErrNotOneLine
		}
	}
	return nil
}
