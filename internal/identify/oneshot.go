package identify

import (
	"fmt"
	"strings"
)

// untested lists the kept classes without a test photo: those of a
// single photo, which the split puts in training.
func (fd *faceData) untested() []string {
	tested := make([]bool, len(fd.classes))
	for _, i := range fd.testIdx {
		tested[fd.toKept[fd.ds.Samples[i].Class]] = true
	}
	var out []string
	for c, ok := range tested {
		if !ok {
			out = append(out, fd.classes[c])
		}
	}
	return out
}

// shortList joins up to n names and says how many more there are.
func shortList(names []string, n int) string {
	if len(names) <= n {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:n], ", "), len(names)-n)
}
