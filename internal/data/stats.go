package data

import (
	"fmt"
	"io"
	"slices"
	"strings"
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
		Skipped: append([]Skipped{}, ds.Skipped...), Duplicates: [][]string{}}
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
	for _, g := range ds.Duplicates {
		paths := make([]string, len(g))
		for k, i := range g {
			paths[k] = ds.Samples[i].Path
		}
		st.Duplicates = append(st.Duplicates, paths)
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
	fmt.Fprintf(w, "%s: %d images in %d classes\n\n", st.Root, st.Images, len(st.Classes))
	fmt.Fprintf(w, "%7s  %s\n", "images", "class")
	for _, c := range st.Classes {
		fmt.Fprintf(w, "%7d  %s\n", c.Count, c.Name)
	}
	fmt.Fprintf(w, "\n%-7s min %5d  median %5d  max %5d\n", "width", st.Width.Min, st.Width.Median, st.Width.Max)
	fmt.Fprintf(w, "%-7s min %5d  median %5d  max %5d\n", "height", st.Height.Min, st.Height.Median, st.Height.Max)
	fmt.Fprintf(w, "\nskipped: %d\n", len(st.Skipped))
	for _, s := range st.Skipped {
		fmt.Fprintf(w, "  %s: %s\n", s.Path, s.Reason)
	}
	fmt.Fprintf(w, "duplicate groups (identical bytes): %d\n", len(st.Duplicates))
	for _, g := range st.Duplicates {
		fmt.Fprintln(w, "  "+strings.Join(g, "  =  "))
	}
	return nil
}
