package main

import (
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"starid/internal/faces"
	"starid/internal/identify/identifytest"
	"starid/internal/library"
	"starid/internal/recognize"
	"starid/internal/testkit"
)

// useFakeLibrary makes the library commands describe photos with the fake
// of identifytest (no weights needed), named from a run as the real
// describer would be.
func useFakeLibrary(t *testing.T) *identifytest.Fake {
	t.Helper()
	fake := &identifytest.Fake{}
	substitute(t, &newLibraryDescriber, func(run string, _ bool, det faces.DetectorChoice) (library.Describer, string, error) {
		d := &library.PipelineDescriber{Detector: det, Load: func() (recognize.Finder, error) { return fake, nil }}
		if run != "" {
			r, err := recognize.Open(run, recognize.Options{})
			if err != nil {
				return nil, "", err
			}
			d.Namer = r
		}
		return d, d.Version(), nil
	})
	return fake
}

type peopleJSON struct {
	People []struct {
		ID    string `json:"id"`
		Name  string `json:"name"`
		Faces []struct {
			ID    string     `json:"id"`
			Image string     `json:"image"`
			Box   [4]float64 `json:"box"`
		} `json:"faces"`
	} `json:"people"`
}

func cli(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errOut := runCLI(args...)
	if code != exitOK {
		t.Fatalf("starid %s: exit %d: %s", strings.Join(args, " "), code, errOut)
	}
	return out
}

func libraryPeople(t *testing.T, db string) peopleJSON {
	t.Helper()
	var pj peopleJSON
	if err := json.Unmarshal([]byte(cli(t, "people", "--db", db, "--json")), &pj); err != nil {
		t.Fatal(err)
	}
	return pj
}

// folderOf is the person folder a face's photo is in: the truth.
func folderOf(image string) string { return filepath.Base(filepath.Dir(image)) }

func TestLibraryIndexAndPeople(t *testing.T) {
	fake := useFakeLibrary(t)
	dir := t.TempDir()
	photos, db := filepath.Join(dir, "photos"), filepath.Join(dir, "lib.db")
	if err := identifytest.Folder(photos, []string{"Ann", "Bob", "Cid"}, 4, 3); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(photos, "broken.png"), []byte("not a png"), 0o644); err != nil {
		t.Fatal(err)
	}
	var res struct {
		Photos, Described, Unchanged, Faces, People int
		Failed                                      []struct {
			Path  string `json:"image"`
			Error string `json:"error"`
		}
	}
	// A photo that cannot be described fails the run (exit 2, as predict)
	// after the summary; the others are indexed.
	code, out, errOut := runCLI("index", photos, "--db", db, "--json", "--workers", "2")
	if code != exitInput || !strings.Contains(errOut, "1 photo or folder could not be indexed") {
		t.Fatalf("index with a broken photo: exit %d: %s", code, errOut)
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	if res.Photos != 13 || res.Described != 12 || res.Faces != 12 || res.People != 3 || len(res.Failed) != 1 ||
		filepath.Base(res.Failed[0].Path) != "broken.png" || res.Failed[0].Error == "" {
		t.Fatalf("index: %+v", res)
	}
	calls := fake.Calls()
	code, out, errOut = runCLI("index", photos, "--db", db)
	if code != exitInput || fake.Calls() != calls || !strings.Contains(out, "0 described") || !strings.Contains(out, "12 unchanged") ||
		!strings.Contains(errOut, "broken.png") {
		t.Fatalf("second index: exit %d, %d more photos described\n%s%s", code, fake.Calls()-calls, out, errOut)
	}
	// Once the broken photo is gone, the run is clean.
	if err := os.Remove(filepath.Join(photos, "broken.png")); err != nil {
		t.Fatal(err)
	}
	if out := cli(t, "index", photos, "--db", db); !strings.Contains(out, "1 removed, 0 failed") {
		t.Fatalf("third index: %s", out)
	}
	pj := libraryPeople(t, db)
	if len(pj.People) != 3 {
		t.Fatalf("%d people: %+v", len(pj.People), pj)
	}
	for _, p := range pj.People {
		if p.Name != "" || len(p.Faces) != 4 {
			t.Fatalf("person %+v", p)
		}
		for _, f := range p.Faces {
			if folderOf(f.Image) != folderOf(p.Faces[0].Image) || f.Box[2] <= 0 {
				t.Fatalf("person %s mixes %s and %s", p.ID, f.Image, p.Faces[0].Image)
			}
		}
	}
	text := cli(t, "people", "--db", db)
	if !strings.Contains(text, "person "+pj.People[0].ID+" (unnamed): 4 faces") {
		t.Fatalf("people:\n%s", text)
	}
}

func TestLibraryDecisionsSearchAndSheet(t *testing.T) {
	useFakeLibrary(t)
	dir := t.TempDir()
	photos, db := filepath.Join(dir, "photos"), filepath.Join(dir, "lib.db")
	if err := identifytest.Folder(photos, []string{"Ann", "Bob", "Cid"}, 4, 4); err != nil {
		t.Fatal(err)
	}
	cli(t, "index", photos, "--db", db)
	pj := libraryPeople(t, db)
	ann := pj.People[0]
	cli(t, "people", "name", ann.ID, "Ann Smith", "--db", db)
	// search --person: the named person's four photos come first.
	var found struct {
		Matches []struct {
			Image, Person string
			Distance      float64
		} `json:"matches"`
	}
	if err := json.Unmarshal([]byte(cli(t, "search", "--person", "Ann Smith", "--top", "6", "--db", db, "--json")), &found); err != nil {
		t.Fatal(err)
	}
	if len(found.Matches) != 6 {
		t.Fatalf("%d matches", len(found.Matches))
	}
	for i, m := range found.Matches[:4] {
		if folderOf(m.Image) != folderOf(ann.Faces[0].Image) || m.Person != "Ann Smith" || (i > 0 && m.Distance < found.Matches[i-1].Distance) {
			t.Fatalf("match %d: %+v", i, m)
		}
	}
	// search --like: the photo itself first, at distance 0.
	like := pj.People[1].Faces[0].Image
	rows, err := csv.NewReader(strings.NewReader(cli(t, "search", "--like", like, "--top", "2", "--db", db, "--csv"))).ReadAll()
	if err != nil || len(rows) != 3 || rows[0][1] != "image" || rows[1][1] != like || rows[1][3] != "0.0000" {
		t.Fatalf("search --like --csv: %v %v", rows, err)
	}
	// Decisions, then a new photo of Ann: her name holds, the split and
	// forgotten faces stay where the user put them.
	cli(t, "people", "split", ann.Faces[0].ID, "--db", db)
	cli(t, "people", "forget", ann.Faces[1].ID, "--db", db)
	cli(t, "people", "merge", pj.People[1].ID, pj.People[2].ID, "--db", db)
	if err := identifytest.WritePhoto(filepath.Join(photos, "Ann", "new.png"), 64, 48, identifytest.Face{P: 0, X: 3, Y: 3, Size: 20, G: 120, B: 130}); err != nil {
		t.Fatal(err)
	}
	cli(t, "index", photos, "--db", db)
	after := libraryPeople(t, db)
	byName := map[string]int{}
	for _, p := range after.People {
		byName[p.Name] = len(p.Faces)
	}
	if len(after.People) != 3 || byName["Ann Smith"] != 3 {
		t.Fatalf("after the decisions and a new photo: %+v", after)
	}
	sheet := filepath.Join(dir, "sheet.png")
	cli(t, "people", "--db", db, "--sheet", sheet)
	img := testkit.ReadPNG(t, sheet)
	// Three rows; the first (Ann, named first) shows her red faces.
	if b := img.Bounds(); b.Dy() != 6+3*(96+6) {
		t.Fatalf("sheet of %v for 3 people", b)
	}
	if r, _, _, _ := img.At(6+200+48, 6+48).RGBA(); uint8(r>>8) != identifytest.RedOf(0) {
		t.Fatalf("first face tile's centre has red %d, want Ann's %d", r>>8, identifytest.RedOf(0))
	}
}

func TestLibraryRunNamesFaces(t *testing.T) {
	useFakeLibrary(t)
	useFakeFaces(t)
	photos, run := faceRun(t, facePeople[:3])
	db := filepath.Join(t.TempDir(), "lib.db")
	cli(t, "index", photos, "--db", db, "--run", run)
	pj := libraryPeople(t, db)
	named := 0
	for _, p := range pj.People {
		for _, f := range p.Faces {
			if p.Name != "" && p.Name != folderOf(f.Image) {
				t.Fatalf("face %s of %s named %q", f.ID, f.Image, p.Name)
			}
			if p.Name != "" {
				named++
			}
		}
	}
	if named < 25 {
		t.Fatalf("the run named %d of 30 faces: %+v", named, pj)
	}
}

func TestVerifyCommand(t *testing.T) {
	useFakeLibrary(t)
	dir := t.TempDir()
	a1, a2, b := photoOf(t, dir, 0, 1), photoOf(t, dir, 0, 2), photoOf(t, dir, 1, 3)
	var v struct {
		Same      bool    `json:"same"`
		Distance  float64 `json:"distance"`
		Threshold float64 `json:"threshold"`
	}
	for _, c := range []struct {
		a, b string
		same bool
	}{{a1, a2, true}, {a1, b, false}} {
		if err := json.Unmarshal([]byte(cli(t, "verify", c.a, c.b, "--json")), &v); err != nil {
			t.Fatal(err)
		}
		rule := library.DefaultVerifyRule
		if v.Same != c.same || v.Threshold < rule.Lo || v.Threshold > rule.Hi || (v.Distance <= v.Threshold) != c.same {
			t.Fatalf("verify %s %s: %+v", c.a, c.b, v)
		}
	}
	if out := cli(t, "verify", a1, b); !strings.HasPrefix(out, "different people (distance ") {
		t.Fatalf("verify: %q", out)
	}
	empty := filepath.Join(dir, "empty.png")
	if err := identifytest.WritePhoto(empty, 64, 48); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := runCLI("verify", a1, empty); code != exitInput || !strings.Contains(errOut, "empty.png: no face found") {
		t.Fatalf("verify with a faceless photo: exit %d: %s", code, errOut)
	}
}

func TestLibraryCommandErrors(t *testing.T) {
	useFakeLibrary(t)
	db := filepath.Join(t.TempDir(), "lib.db")
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"index", "--db", db}, exitUsage, "at least one folder"},
		{[]string{"index", "/no/such/folder", "--db", db}, exitInput, "/no/such/folder"},
		{[]string{"people", "merge", "1", "--db", db}, exitUsage, "want 2 arguments"},
		{[]string{"people", "name", "x", "Ann", "--db", db}, exitUsage, `person id "x"`},
		{[]string{"people", "forget", "99", "--db", db}, exitInput, "face 99: not found"},
		{[]string{"people", "rename", "1", "--db", db}, exitUsage, "unknown sub-command \"rename\""},
		{[]string{"search", "--db", db}, exitUsage, "--person NAME or --like PHOTO"},
		{[]string{"search", "--person", "Nobody", "--db", db}, exitInput, `person "Nobody": not found`},
		{[]string{"search", "--person", "A", "--json", "--csv", "--db", db}, exitUsage, "choose one"},
		{[]string{"verify", "one.png"}, exitUsage, "want two photos"},
		// Mistakes caught before the library is read: a contact sheet
		// that is not a PNG (a .jpg name got PNG bytes), both searches at
		// once, a person merged with itself (was exit 2, a library error).
		{[]string{"people", "--sheet", "sheet.jpg", "--db", db}, exitUsage, "--sheet sheet.jpg: the contact sheet is a PNG"},
		{[]string{"search", "--person", "A", "--like", "p.png", "--db", db}, exitUsage, "not both"},
		{[]string{"people", "merge", "3", "3", "--db", db}, exitUsage, "with itself"},
		{[]string{"people", "split", "1", "2", "--db", db}, exitUsage, "want 1 argument, got 2"},
	} {
		code, _, errOut := runCLI(c.args...)
		if code != c.code || !strings.Contains(errOut, c.want) {
			t.Errorf("starid %s: exit %d, %q; want exit %d and %q", strings.Join(c.args, " "), code, errOut, c.code, c.want)
		}
	}
}

func TestLibraryDefaultLocation(t *testing.T) {
	useFakeLibrary(t)
	dir := t.TempDir()
	db := filepath.Join(dir, "env", "lib.db")
	t.Setenv(library.EnvDB, db)
	if err := identifytest.Folder(filepath.Join(dir, "photos"), []string{"Ann"}, 2, 1); err != nil {
		t.Fatal(err)
	}
	cli(t, "index", filepath.Join(dir, "photos"))
	if _, err := os.Stat(db); err != nil {
		t.Fatalf("%s=%s: %v", library.EnvDB, db, err)
	}
	if pj := libraryPeople(t, ""); len(pj.People) != 1 || len(pj.People[0].Faces) != 2 {
		t.Fatalf("people from $%s: %+v", library.EnvDB, pj)
	}
}

// TestLibraryReadersNeedALibrary: people and search on a library that does
// not exist say so and create nothing, so a mistyped --db cannot quietly
// start a new, empty library; index creates it.
func TestLibraryReadersNeedALibrary(t *testing.T) {
	useFakeLibrary(t)
	dir := filepath.Join(t.TempDir(), "typo")
	db := filepath.Join(dir, "lib.db")
	for _, args := range [][]string{
		{"people", "--db", db},
		{"people", "name", "1", "Ann", "--db", db},
		{"search", "--person", "Ann", "--db", db},
	} {
		code, _, errOut := runCLI(args...)
		if code != exitInput || !strings.Contains(errOut, "no photo library at "+db) {
			t.Errorf("starid %s: exit %d, %q; want exit %d and no library named", strings.Join(args, " "), code, errOut, exitInput)
		}
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("the readers made %s (%v)", dir, err)
	}
}

// A person named like a spreadsheet formula comes out of search --csv as
// text (a quote in front), so opening the export runs nothing.
func TestSearchCSVNeutralisesFormulas(t *testing.T) {
	useFakeLibrary(t)
	dir := t.TempDir()
	photos, db := filepath.Join(dir, "photos"), filepath.Join(dir, "lib.db")
	if err := identifytest.Folder(photos, []string{"Ann", "Bob"}, 2, 4); err != nil {
		t.Fatal(err)
	}
	cli(t, "index", photos, "--db", db)
	evil := `=HYPERLINK("http://example.invalid","x")`
	cli(t, "people", "name", libraryPeople(t, db).People[0].ID, evil, "--db", db)
	rows, err := csv.NewReader(strings.NewReader(cli(t, "search", "--person", evil, "--top", "1", "--db", db, "--csv"))).ReadAll()
	if err != nil || len(rows) != 2 || rows[1][5] != "'"+evil {
		t.Fatalf("search --csv: %q %v", rows, err)
	}
	if _, err := strconv.ParseFloat(rows[1][3], 64); err != nil {
		t.Errorf("the distance is no longer a number: %v", err)
	}
}

// A PostgreSQL library that cannot be reached fails on one line that
// names it with its password masked (the driver lists each address it
// tried on a line of its own).
func TestLibraryPostgresErrorIsOneLine(t *testing.T) {
	useFakeLibrary(t)
	photos := filepath.Join(t.TempDir(), "photos")
	if err := identifytest.Folder(photos, []string{"Ann"}, 1, 1); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := runCLI("index", photos, "--db", "postgres://nobody:s3cret@localhost:1/x?connect_timeout=5")
	if code != exitInput || strings.Count(errOut, "\n") != 1 || strings.Contains(errOut, "s3cret") ||
		!strings.HasPrefix(errOut, "starid index: library postgres://nobody:xxxxx@localhost:1/x") {
		t.Errorf("unreachable PostgreSQL: exit %d: %q", code, errOut)
	}
}
