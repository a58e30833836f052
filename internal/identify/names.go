package identify

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"

	"starid/internal/eval"
)

// CheckName refuses names that cannot be a person's label: empty, padded
// with spaces or holding two in a row, holding control characters,
// invisible ones (a zero-width space would make "Tom Hanks" and a look-alike
// two people), other white space than the plain space, or path separators
// (a class is also a folder name for eval --data), too long, or the
// reserved "unknown". Callers store NormalizeName's form.
func CheckName(name string) error {
	switch {
	case strings.TrimSpace(name) == "":
		return errors.New("the name is empty")
	case !utf8.ValidString(name):
		return fmt.Errorf("name %q is not valid UTF-8 text", name)
	case strings.TrimSpace(name) != name:
		return fmt.Errorf("name %q starts or ends with spaces", name)
	case strings.Contains(name, "  "):
		return fmt.Errorf("name %q has two spaces in a row", name)
	case len(name) > 100:
		return fmt.Errorf("name %q is longer than 100 bytes", name)
	case strings.EqualFold(name, eval.UnknownName):
		return fmt.Errorf("name %q is reserved for faces the model does not know", name)
	case strings.ContainsAny(name, `/\`) || name == "." || name == "..":
		return fmt.Errorf("name %q: no slashes (names are also folder names)", name)
	}
	for _, r := range name {
		switch {
		case unicode.IsControl(r) || r == unicode.ReplacementChar:
			return fmt.Errorf("name %q holds a control or invalid character", name)
		case unicode.In(r, unicode.Cf, unicode.Co, unicode.Cs) || !unicode.IsPrint(r) && r != ' ':
			return fmt.Errorf("name %q holds an invisible or unprintable character (U+%04X); type the name without it", name, r)
		}
	}
	return nil
}

// NormalizeName is the form a checked name is stored in: Unicode NFC, so
// that an accent typed as one character or as a letter plus a combining
// mark gives the same class.
func NormalizeName(name string) string { return norm.NFC.String(name) }

// sameName reports whether two names would be taken for the same person:
// equal once compatibility-normalized, case-folded and stripped of the
// separators people type differently ("jim carrey", "Jim Carrey",
// "JimCarrey", "jim_carrey", a full-width "Ｊim").
func sameName(a, b string) bool { return nameKey(a) == nameKey(b) }

// SameName is sameName for the photo library, whose people's names follow
// the same rule as a run's classes.
func SameName(a, b string) bool { return sameName(a, b) }

// nameKey is the form sameName compares.
func nameKey(name string) string {
	folded := cases.Fold().String(norm.NFKC.String(name))
	return strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) || r == '_' || r == '-' || r == '.' || r == '\'' {
			return -1
		}
		return r
	}, folded)
}

// lookAlike is the class of names that sameName matches name without being
// equal to it, or "".
func lookAlike(classes []string, name string) string {
	for _, c := range classes {
		if c != name && sameName(c, name) {
			return c
		}
	}
	return ""
}
