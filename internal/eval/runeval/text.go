package runeval

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"slices"
	"strings"
)

// WriteText is the human form of a Result: the totals, a per-class table,
// the face notes and where the confusion matrix went.
func (r *Result) WriteText(w io.Writer) error {
	where := r.Data
	if r.Split != "" {
		where = "the " + r.Split + " split of " + r.Data
	}
	fmt.Fprintf(w, "%d images from %s\n", r.N, where)
	fmt.Fprintf(w, "accuracy %.1f%%", 100*r.Accuracy)
	if r.Top5 != nil { // nil with five classes or fewer, where top-5 says nothing
		fmt.Fprintf(w, "   top-5 %.1f%%", 100**r.Top5)
	}
	fmt.Fprintf(w, "   loss %.4f", r.Loss)
	if r.Unknown > 0 {
		fmt.Fprintf(w, "   unknown %d", r.Unknown)
	}
	fmt.Fprintln(w)
	if len(r.Skipped) > 0 {
		fmt.Fprintf(w, "%d images skipped (listed on stderr)\n", len(r.Skipped))
	}
	width := len("macro average")
	for _, c := range r.Classes {
		width = max(width, len(c))
	}
	fmt.Fprintf(w, "\n%-*s  %9s  %6s  %6s  %7s  %9s\n", width, "class", "precision", "recall", "f1", "support", "predicted")
	for _, c := range r.Classes {
		m := r.PerClass[c]
		fmt.Fprintf(w, "%-*s  %8.1f%%  %5.1f%%  %5.1f%%  %7d  %9d\n", width, c, 100*m.Precision, 100*m.Recall, 100*m.F1, m.Support, m.Predicted)
	}
	fmt.Fprintf(w, "%-*s  %8.1f%%  %5.1f%%  %5.1f%%  %7d\n", width, "macro average", 100*r.Macro.Precision, 100*r.Macro.Recall, 100*r.Macro.F1, r.N)
	if c := r.FaceCrop; c != nil {
		what := fmt.Sprintf("face crops (margin %g)", c.Margin)
		if c.Aligned {
			what = fmt.Sprintf("aligned faces (padding %g, %dx%d chips)", c.Margin, c.ChipSize, c.ChipSize)
		}
		fmt.Fprintf(w, "\n%s: %d photo(s) without a face found were shown whole, as in training\n", what, c.NoFace)
	}
	if f := r.FaceResult; f != nil {
		fmt.Fprintf(w, "\nface run: %d photo(s) without a face found (counted as errors); known faces answered unknown: %.1f%% (threshold %.3f)\n",
			f.NoFace, 100*f.UnknownRate, f.Threshold)
		if s := f.Strangers; s != nil {
			fmt.Fprintf(w, "strangers (%s): %d of %d answered unknown (%.1f%%, %d without a face)", s.Source, s.Rejected, s.N,
				100*s.RejectedRate, s.NoFace)
			if len(s.NamedAs) > 0 {
				fmt.Fprintf(w, "; wrongly named: %s", countList(s.NamedAs))
			}
			fmt.Fprintf(w, "\nFAR/FRR curve: %s\n", s.DETPNG)
		}
	}
	_, err := fmt.Fprintf(w, "\nconfusion matrix: %s, %s\n", filepath.Join(r.Out, ConfusionPNG), filepath.Join(r.Out, ConfusionJSON))
	return err
}

// countList prints name counts as "A 4, B 1" (most first, then by name)
// rather than Go's map syntax.
func countList(m map[string]int) string {
	names := slices.Collect(maps.Keys(m))
	slices.SortFunc(names, func(a, b string) int { return cmp.Or(cmp.Compare(m[b], m[a]), cmp.Compare(a, b)) })
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%s %d", n, m[n])
	}
	return strings.Join(parts, ", ")
}
