package library

import (
	"cmp"
	"slices"
)

// sortPeople puts named people first (by name), then the largest groups.
func sortPeople(ps []Person) {
	slices.SortStableFunc(ps, func(a, b Person) int {
		if (a.Name == "") != (b.Name == "") {
			if a.Name != "" {
				return -1
			}
			return 1
		}
		if a.Name != b.Name {
			return cmp.Compare(a.Name, b.Name)
		}
		if len(a.Faces) != len(b.Faces) {
			return len(b.Faces) - len(a.Faces)
		}
		return cmp.Compare(a.ID, b.ID)
	})
}
