package data

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Stats summarizes a Dataset for `starid data stats`. The JSON field names are
// part of the command's contract.
type Stats struct {
	Root       string       `json:"root"`
	Images     int          `json:"images"`
	Classes    []ClassCount `json:"classes"`
	Width      Spread       `json:"width"`
	Height     Spread       `json:"height"`
	Skipped    []Skipped    `json:"skipped"`
	Duplicates [][]string   `json:"duplicates"` // groups of paths with identical bytes
	// CrossClass are the duplicate groups that span classes (a photo
	// labelled as two people).
	CrossClass [][]string `json:"cross_class_duplicates"`
}

// ClassCount is one class and its number of usable images.
type ClassCount struct {
	Name  string `json:"name"`
	Count int    `json:"count"`
}

// Spread is the minimum, median and maximum of a size in pixels.
type Spread struct {
	Min    int `json:"min"`
	Median int `json:"median"`
	Max    int `json:"max"`
}

// Summarize computes ds's statistics.
func Summarize(ds *Dataset) *Stats {
	st := &Stats{Root: ds.Root, Images: len(ds.Samples), Classes: make([]ClassCount, len(ds.Classes)),
		Skipped: append([]Skipped{}, ds.Skipped...), Duplicates: [][]string{}, CrossClass: [][]string{}}
	for i, c := range ds.Classes {
		st.Classes[i].Name = c
	}
	var ws, hs []int
	for _, s := range ds.Samples {
		st.Classes[s.Class].Count++
		ws = append(ws, s.Width)
		hs = append(hs, s.Height)
	}
	st.Width, st.Height = spread(ws), spread(hs)
	paths := func(g []int) []string {
		p := make([]string, len(g))
		for k, i := range g {
			p[k] = ds.Samples[i].Path
		}
		return p
	}
	for _, g := range ds.Duplicates {
		st.Duplicates = append(st.Duplicates, paths(g))
	}
	for _, g := range ds.CrossClassDuplicates() {
		st.CrossClass = append(st.CrossClass, paths(g))
	}
	return st
}

// spread of an unsorted list; the median of an even count is the lower
// middle value, so it is always a size that occurs.
func spread(v []int) Spread {
	if len(v) == 0 {
		return Spread{}
	}
	v = slices.Clone(v)
	slices.Sort(v)
	return Spread{Min: v[0], Median: v[(len(v)-1)/2], Max: v[len(v)-1]}
}

// WriteText prints the statistics for people.
func (st *Stats) WriteText(w io.Writer) error {
	fmt.Fprintf(w, "%s: %d images in %d classes\n\n", ShowPath(st.Root), st.Images, len(st.Classes))
	fmt.Fprintf(w, "%7s  %s\n", "images", "class")
	for _, c := range st.Classes {
		fmt.Fprintf(w, "%7d  %s\n", c.Count, ShowPath(c.Name))
	}
	fmt.Fprintf(w, "\n%-7s min %5d  median %5d  max %5d\n", "width", st.Width.Min, st.Width.Median, st.Width.Max)
	fmt.Fprintf(w, "%-7s min %5d  median %5d  max %5d\n", "height", st.Height.Min, st.Height.Median, st.Height.Max)
	fmt.Fprintf(w, "\nskipped: %d\n", len(st.Skipped))
	for _, s := range st.Skipped {
		fmt.Fprintf(w, "  %s: %s\n", ShowPath(s.Path), s.Reason)
	}
	fmt.Fprintf(w, "duplicate groups (identical bytes): %d\n", len(st.Duplicates))
	for _, g := range st.Duplicates {
		fmt.Fprintln(w, "  "+showGroup(g))
	}
	if len(st.CrossClass) > 0 {
		fmt.Fprintf(w, "warning: %d of them put the same photo in different classes:\n", len(st.CrossClass))
		for _, g := range st.CrossClass {
			fmt.Fprintln(w, "  "+showGroup(g))
		}
	}
	return nil
}

func showGroup(g []string) string {
	shown := make([]string, len(g))
	for i, p := range g {
		shown[i] = ShowPath(p)
	}
	return strings.Join(shown, "  =  ")
}

// CrossClassDuplicates returns the duplicate groups whose identical photos
// sit in more than one class: the same picture labelled as two people,
// which no training can fit and which usually means a misplaced file or a
// linked folder.
func (ds *Dataset) CrossClassDuplicates() [][]int {
	var out [][]int
	for _, g := range ds.Duplicates {
		for _, i := range g[1:] {
			if ds.Samples[i].Class != ds.Samples[g[0]].Class {
				out = append(out, g)
				break
			}
		}
	}
	return out
}

// ShowPath is a file or class name as messages print it: as it is when
// that is unambiguous, else Go-quoted, so that a newline, a control or
// invisible character or bytes that are not UTF-8 in a name cannot break a
// listing into false lines or hide what the name really is.
func ShowPath(s string) string {
	if !utf8.ValidString(s) || strings.HasPrefix(s, `"`) || strings.TrimSpace(s) != s {
		return strconv.Quote(s)
	}
	for _, r := range s {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || (unicode.IsSpace(r) && r != ' ') {
			return strconv.Quote(s)
		}
	}
	return s
}

// CrossClassNote is the warning training prints about CrossClassDuplicates:
// a header line, then one line per group (nil when there are none).
func (ds *Dataset) CrossClassNote() []string {
	groups := ds.CrossClassDuplicates()
	if len(groups) == 0 {
		return nil
	}
	lines := []string{fmt.Sprintf("warning: %d photo(s) appear, byte for byte, in more than one class of %s (the same picture labelled as different people; remove the wrong copies):",
		len(groups), ShowPath(ds.Root))}
	for _, g := range groups {
		paths := make([]string, len(g))
		for k, i := range g {
			paths[k] = ds.Samples[i].Path
		}
		lines = append(lines, "  "+showGroup(paths))
	}
	return lines
}
