package identify

import (
	"context"
	"fmt"
	"slices"
	"strconv"
)

// Person is one class of a face run, as `enroll --list` shows it.
type Person struct {
	Name   string `json:"name"`
	Photos int    `json:"photos"` // training descriptors, kept or summarized
	// Enrolled is the time of the person's last enrollment (RFC 3339), ""
	// for someone the run was trained on and never enrolled since.
	Enrolled string `json:"enrolled,omitempty"`
}

// People lists the people the face run in dir knows, in class order. It
// only reads, so it takes no lock: every file is replaced atomically.
func People(dir string) ([]Person, error) {
	run, err := OpenFaceRun(dir)
	if err != nil {
		return nil, err
	}
	return run.People(), nil
}

// People lists the people the face run knows, in class order.
func (r *FaceRun) People() []Person {
	out := make([]Person, len(r.Model.Classes))
	for i, c := range r.Model.Classes {
		out[i].Name = c
	}
	for i := range out {
		out[i].Photos = r.Model.count(i)
	}
	for _, e := range r.Face.Enrolled {
		if i := slices.Index(r.Model.Classes, e.Name); i >= 0 {
			out[i].Enrolled = e.Time
		}
	}
	return out
}

// findPerson is the class index of name in run, or an error that names a
// look-alike when there is one.
func findPerson(run *FaceRun, name string) (int, error) {
	name = NormalizeName(name)
	if i := slices.Index(run.Model.Classes, name); i >= 0 {
		return i, nil
	}
	if known := lookAlike(run.Model.Classes, name); known != "" {
		return -1, fmt.Errorf("%s knows no %q; did you mean %q?", run.Dir, name, known)
	}
	return -1, fmt.Errorf("%s knows no %q (enroll --list shows who it knows)", run.Dir, name)
}

// lockPerson takes the lock of the face run in dir for `enroll mode
// name`, opens the run under it and finds the person name; unlock
// releases the lock (nil on error: then nothing is held).
func lockPerson(dir, mode, name string, opt EnrollOptions) (run *FaceRun, class int, unlock func(), err error) {
	lock, err := lockRun(dir, "starid enroll "+mode+" "+strconv.Quote(name), opt)
	if err != nil {
		return nil, 0, nil, err
	}
	if run, err = openForChange(dir, opt); err == nil {
		class, err = findPerson(run, name)
	}
	if err != nil {
		lock.Unlock()
		return nil, 0, nil, err
	}
	return run, class, func() { lock.Unlock() }, nil
}

// Rename gives the person old the name new in the face run in dir, under
// the run's lock. The head and the descriptors stay as they are; only the
// class's name and its enrollment records change. new must be a valid
// name and may not be anyone else's, nor differ from anyone else's only in
// case or spacing; it may differ from old only so (to fix "jim carrey").
func Rename(dir, old, new string, opt EnrollOptions) error {
	if err := CheckName(new); err != nil {
		return err
	}
	new = NormalizeName(new)
	run, i, unlock, err := lockPerson(dir, "--rename", old, opt)
	if err != nil {
		return err
	}
	defer unlock()
	old = run.Model.Classes[i]
	if old == new {
		return fmt.Errorf("%q is already called so", old)
	}
	others := slices.Delete(slices.Clone(run.Model.Classes), i, i+1)
	if slices.Contains(others, new) {
		return fmt.Errorf("the run already knows %q; remove one of the two first", new)
	}
	if known := lookAlike(others, new); known != "" {
		return fmt.Errorf("name %q: the run already knows %q, which differs only in case, spacing or character forms", new, known)
	}
	nm := *run.Model
	nm.Classes = slices.Clone(run.Model.Classes)
	nm.Classes[i] = new
	return writeChange(run, &nm, run.headConfig().Epochs, change{line: fmt.Sprintf("renamed %q to %q", old, new), now: opt.Now,
		record: func(_ string, f *FaceInfo) {
			for j := range f.Enrolled {
				if f.Enrolled[j].Name == old {
					f.Enrolled[j].Name = new
				}
			}
		}})
}

// Remove forgets the person name in the face run in dir, under the run's
// lock: their descriptors and centroid go, and the head is refitted on the
// others with the run's settings (a second), so their photos no longer
// pull it. The last person of a run cannot be removed.
func Remove(ctx context.Context, dir, name string, opt EnrollOptions) error {
	run, i, unlock, err := lockPerson(dir, "--remove", name, opt)
	if err != nil {
		return err
	}
	defer unlock()
	name = run.Model.Classes[i]
	if len(run.Model.Classes) == 1 {
		return fmt.Errorf("%q is the only person %s knows; a run needs at least one", name, dir)
	}
	classes := slices.Delete(slices.Clone(run.Model.Classes), i, i+1)
	_, err = refitAndWrite(ctx, run, run.Model.without(i), classes, 0, nil, change{line: fmt.Sprintf("removed %q", name), now: opt.Now})
	return err
}

// without is what m knows of everyone but class i, classes after it moved
// down by one: the kept descriptors and the summaries of the others, which
// a refit trains on (the head, centroids and standardization are left
// out: the refit makes new ones).
func (m *Model) without(i int) *Model {
	out := &Model{Classes: slices.Delete(slices.Clone(m.Classes), i, i+1)}
	for r, l := range m.Labels {
		switch {
		case l == i:
			continue
		case l > i:
			l--
		}
		out.Train, out.Labels = append(out.Train, m.Train[r]), append(out.Labels, l)
	}
	if s := m.Summary; s != nil {
		out.Summary = &Summary{Count: slices.Delete(slices.Clone(s.Count), i, i+1), Mean: slices.Delete(slices.Clone(s.Mean), i, i+1),
			Std: slices.Delete(slices.Clone(s.Std), i, i+1)}
	}
	return out
}
