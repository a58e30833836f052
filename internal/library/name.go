package library

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxNameRunes bounds a person's name: a pasted paragraph is a mistake,
// and every listing, CSV and log line carries the name.
const MaxNameRunes = 200

// CheckName refuses a name a person cannot have and returns it trimmed:
// empty, not UTF-8, too long, or holding control characters (a newline
// would split a listing's line, a NUL corrupt a CSV). The store checks
// here so the command line and the HTTP API refuse the same names.
func CheckName(name string) (string, error) {
	name = strings.TrimSpace(name)
	switch {
	case name == "":
		return "", errors.New("empty name (use forget or split to undo a grouping)")
	case !utf8.ValidString(name):
		return "", errors.New("the name is not valid UTF-8")
	case utf8.RuneCountInString(name) > MaxNameRunes:
		return "", fmt.Errorf("the name is longer than %d characters", MaxNameRunes)
	}
	for _, c := range name {
		if unicode.IsControl(c) {
			return "", fmt.Errorf("the name %q holds control characters", name)
		}
	}
	return name, nil
}
