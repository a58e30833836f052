package identify

import (
	"fmt"
	"io"

	"starid/internal/data"
)

// EnrollSummary is `enroll --json`.
type EnrollSummary struct {
	Run     string         `json:"run"`
	Name    string         `json:"name"`
	New     bool           `json:"new"`     // a person the run did not know
	Added   int            `json:"added"`   // photos whose face was added
	Total   int            `json:"total"`   // this person's photos now
	Classes int            `json:"classes"` // people the run knows now
	Skipped []data.Skipped `json:"skipped"` // photos left out, with why; [] when none
}

// Summary is the JSON form of the enrolment into the run folder run.
func (r *EnrollResult) Summary(run string) EnrollSummary {
	skipped := r.Skipped
	if skipped == nil {
		skipped = []data.Skipped{}
	}
	return EnrollSummary{Run: run, Name: r.Name, New: r.New, Added: r.Added, Total: r.Total, Classes: r.Classes, Skipped: skipped}
}

// WriteSkipped lists the photos left out of a batch of given photos on w,
// one per line with the reason (nothing when none was).
func (r *EnrollResult) WriteSkipped(w io.Writer, given int) {
	if len(r.Skipped) == 0 {
		return
	}
	fmt.Fprintf(w, "warning: %d of %d photo(s) left out (--strict refuses the batch instead):\n", len(r.Skipped), given)
	for _, s := range r.Skipped {
		fmt.Fprintf(w, "  %s: %s\n", data.ShowPath(s.Path), s.Reason)
	}
}

// WriteText is the human form of the enrolment: one line.
func (r *EnrollResult) WriteText(w io.Writer) error {
	what := "added more photos of"
	if r.New {
		what = "enrolled new person"
	}
	_, err := fmt.Fprintf(w, "%s %q: %d photo(s), %d in all; the run now knows %d people\n", what, r.Name, r.Added, r.Total, r.Classes)
	return err
}

// WritePeople is `enroll --list`: a line per person, then the count.
func WritePeople(w io.Writer, people []Person) error {
	for _, p := range people {
		how := "trained"
		if p.Enrolled != "" {
			how = "enrolled " + p.Enrolled
		}
		fmt.Fprintf(w, "%-30s %4d photo(s)  %s\n", p.Name, p.Photos, how)
	}
	_, err := fmt.Fprintf(w, "%d people\n", len(people))
	return err
}
