package cli

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// CSV writes the commands' --csv output. Every command writes CSV through
// it so that one rule keeps exported names and file names from running as
// spreadsheet formulas: a text cell starting with =, +, -, @, tab or
// carriage return gets a single quote in front, which spreadsheets show as
// text. Numbers are not text, so a negative distance stays a number.
type CSV struct{ w *csv.Writer }

// Number is a cell already formatted as a number, written as it is.
type Number string

// Float formats v with prec decimals as a number cell.
func Float(v float64, prec int) Number { return Number(strconv.FormatFloat(v, 'f', prec, 64)) }

// NewCSV writes CSV to w.
func NewCSV(w io.Writer) *CSV { return &CSV{csv.NewWriter(w)} }

// Row writes one row. A string cell is text (neutralised); Number, int and
// bool cells are written as they are; anything else is printed as text.
func (c *CSV) Row(cells ...any) {
	row := make([]string, len(cells))
	for i, cell := range cells {
		switch v := cell.(type) {
		case Number:
			row[i] = string(v)
		case int:
			row[i] = strconv.Itoa(v)
		case bool:
			row[i] = strconv.FormatBool(v)
		case string:
			row[i] = SafeText(v)
		default:
			row[i] = SafeText(fmt.Sprint(v))
		}
	}
	// A write error sticks in the csv.Writer and comes back from Flush.
	_ = c.w.Write(row)
}

// Flush writes what is buffered and returns the first write error.
func (c *CSV) Flush() error {
	c.w.Flush()
	return c.w.Error()
}

// SafeText is s as a spreadsheet reads it as text, not as a formula.
func SafeText(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
