package data

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"unicode/utf8"

	"starid/internal/atomicfile"
)

// Split is a train/test partition of a Dataset, as stored in RUN/split.json.
// Paths are relative to the data folder, with forward slashes
// ("Brad Pitt/001.jpg"), so a run still matches its data after the folder is
// moved or given as a different (relative or absolute) path.
//
// A name that is not valid UTF-8 (a photo copied from an old Latin-1 disk,
// "caf\xe9.jpg") cannot be a JSON string without losing bytes, so it is
// stored as {"escaped": "caf%E9.jpg"} instead: see NameList.
type Split struct {
	Seed      uint64   `json:"seed"`
	TrainFrac float64  `json:"train_frac"`
	Classes   NameList `json:"classes"`
	Train     NameList `json:"train"` // sample paths, in Dataset order
	Test      NameList `json:"test"`
}

// NameList is a list of file or folder names that survives JSON byte for
// byte. A name that is valid UTF-8 is a plain JSON string, as before; any
// other is an object {"escaped": E} where E is the name with every '%' and
// every byte that is not part of valid UTF-8 written as %XX (two upper-case
// hex digits). Plain strings are never unescaped, so the two forms cannot be
// confused, and files of older starid versions read unchanged.
type NameList []string

type escapedName struct {
	Escaped string `json:"escaped"`
}

// MarshalJSON writes each name in the form described at NameList.
func (l NameList) MarshalJSON() ([]byte, error) {
	out := make([]any, len(l))
	for i, n := range l {
		if utf8.ValidString(n) {
			out[i] = n
		} else {
			out[i] = escapedName{escapeName(n)}
		}
	}
	return json.Marshal(out)
}

// UnmarshalJSON reads both forms.
func (l *NameList) UnmarshalJSON(b []byte) error {
	var raw []json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	names := make(NameList, len(raw))
	for i, r := range raw {
		if err := json.Unmarshal(r, &names[i]); err == nil {
			continue
		}
		var e escapedName
		if err := json.Unmarshal(r, &e); err != nil || e.Escaped == "" {
			return fmt.Errorf("name %d: want a string or {\"escaped\": ...}, got %s", i+1, r)
		}
		n, err := url.PathUnescape(e.Escaped)
		if err != nil {
			return fmt.Errorf("name %d: %q: %w", i+1, e.Escaped, err)
		}
		names[i] = n
	}
	*l = names
	return nil
}

// escapeName is NameList's escaping: '%' and bytes outside valid UTF-8
// sequences become %XX.
func escapeName(n string) string {
	var b strings.Builder
	for i := 0; i < len(n); {
		r, size := utf8.DecodeRuneInString(n[i:])
		if (r == utf8.RuneError && size == 1) || r == '%' {
			fmt.Fprintf(&b, "%%%02X", n[i])
		} else {
			b.WriteString(n[i : i+size])
		}
		i += size
	}
	return b.String()
}

// StratifiedSplit partitions ds per class: each class's samples are shuffled
// with a generator seeded by seed, and round(trainFrac*n) of them go to
// train, keeping at least one on each side when the class has two or more;
// the photo of a one-photo class goes to train.
// Then every duplicate group (identical bytes, possibly in different classes)
// is moved to the side of its first member, so no photo is tested on after
// being trained on; that can shift a class's proportion by the group size.
func StratifiedSplit(ds *Dataset, trainFrac float64, seed uint64) (*Split, error) {
	if !(trainFrac > 0 && trainFrac < 1) {
		return nil, fmt.Errorf("train fraction %v: must be strictly between 0 and 1", trainFrac)
	}
	if len(ds.Samples) == 0 {
		return nil, fmt.Errorf("split: the dataset has no samples")
	}
	// One generator for all classes, visited in class order: the split
	// depends on the seed and the file list only.
	rng := rand.New(rand.NewPCG(seed, 0x73706c6974)) // "split"
	byClass := make([][]int, len(ds.Classes))
	for i, s := range ds.Samples {
		byClass[s.Class] = append(byClass[s.Class], i)
	}
	train := make([]bool, len(ds.Samples))
	for _, idx := range byClass {
		n := len(idx)
		if n == 0 {
			continue
		}
		rng.Shuffle(n, func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
		// A class of one photo trains on it and is not tested: a person
		// enrolled from one photo is still a person (a face run made from
		// one photo each must work), while a test photo alone teaches
		// nothing.
		k := 1
		if n >= 2 {
			k = min(max(int(math.Round(trainFrac*float64(n))), 1), n-1)
		}
		for _, i := range idx[:k] {
			train[i] = true
		}
	}
	for _, g := range ds.Duplicates {
		for _, i := range g[1:] {
			train[i] = train[g[0]]
		}
	}
	sp := &Split{Seed: seed, TrainFrac: trainFrac, Classes: slices.Clone(ds.Classes), Train: NameList{}, Test: NameList{}}
	for i, s := range ds.Samples {
		rel, err := relPath(ds.Root, s.Path)
		if err != nil {
			return nil, err
		}
		if train[i] {
			sp.Train = append(sp.Train, rel)
		} else {
			sp.Test = append(sp.Test, rel)
		}
	}
	return sp, nil
}

func relPath(root, p string) (string, error) {
	rel, err := filepath.Rel(root, p)
	if err != nil || strings.HasPrefix(rel, "..") {
		return "", fmt.Errorf("split: sample %s is not under the data folder %s", p, root)
	}
	return filepath.ToSlash(rel), nil
}

// WriteFile writes the split as indented JSON, atomically: a crash leaves
// either the old file or the new one, never half of one.
func (s *Split) WriteFile(path string) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return WriteFileAtomic(path, append(b, '\n'))
}

// WriteFileAtomic writes data so that path holds the old or the new
// content, never a torn file (see package atomicfile).
func WriteFileAtomic(path string, data []byte) error { return atomicfile.WriteBytes(path, data) }

// maxSplitBytes bounds split.json: about 50 bytes per photo.
const maxSplitBytes = 256 << 20

// ReadSplit reads a split.json written by WriteFile.
func ReadSplit(path string) (*Split, error) {
	b, err := ReadFile(path, maxSplitBytes)
	if err != nil {
		return nil, err
	}
	var s Split
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(s.Train) == 0 {
		return nil, fmt.Errorf("%s: no training samples", path)
	}
	// A photo on both sides would be tested on after being trained on.
	side := make(map[string]string, len(s.Train)+len(s.Test))
	for _, l := range []struct {
		name  string
		paths []string
	}{{"train", s.Train}, {"test", s.Test}} {
		for _, p := range l.paths {
			if was, ok := side[p]; ok {
				return nil, fmt.Errorf("%s: %s is listed twice (in %s and in %s)", path, p, was, l.name)
			}
			side[p] = l.name
		}
	}
	return &s, nil
}

// Indices maps the split's paths back to indices into ds.Samples. It fails,
// naming the files, when a path of the split is not among ds's samples (the
// file was removed, renamed or has become unreadable) or when the class list
// differs. Samples of ds that the split does not mention are left out of both
// sides.
func (s *Split) Indices(ds *Dataset) (train, test []int, err error) {
	if !slices.Equal(s.Classes, ds.Classes) {
		return nil, nil, fmt.Errorf("split classes %v differ from the data folder's %v", s.Classes, ds.Classes)
	}
	pos := make(map[string]int, len(ds.Samples))
	for i, smp := range ds.Samples {
		rel, err := relPath(ds.Root, smp.Path)
		if err != nil {
			return nil, nil, err
		}
		pos[rel] = i
	}
	var missing []string
	look := func(paths []string) []int {
		out := make([]int, 0, len(paths))
		for _, p := range paths {
			if i, ok := pos[p]; ok {
				out = append(out, i)
			} else {
				missing = append(missing, p)
			}
		}
		return out
	}
	train, test = look(s.Train), look(s.Test)
	if len(missing) > 0 {
		shown := missing[:min(len(missing), 5)]
		more := ""
		if len(missing) > len(shown) {
			more = fmt.Sprintf(" and %d more", len(missing)-len(shown))
		}
		return nil, nil, fmt.Errorf("split names %d files that are not usable images in %s: %s%s",
			len(missing), ds.Root, strings.Join(shown, ", "), more)
	}
	return train, test, nil
}
