package main

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"starid/internal/data"
	"starid/internal/faces"
	"starid/internal/identify"
	"starid/internal/identify/identifytest"
)

// useFakeFaces makes the face commands describe photos with the fake (no
// weights needed) and keeps the descriptor cache inside the test.
func useFakeFaces(t *testing.T) *identifytest.Fake {
	t.Helper()
	fake := &identifytest.Fake{}
	substitute(t, &newDescriber, func(faces.DetectorChoice) identify.Describer { return fake })
	t.Setenv(identify.EnvCache, filepath.Join(t.TempDir(), "cache"))
	return fake
}

var facePeople = []string{"Ann", "Bob", "Cid", "Dee", "Eve"}

// faceRun trains a face run through the CLI on generated photos of
// people (10 each, plus two without a face in Ann's folder).
func faceRun(t *testing.T, people []string, extra ...string) (photos, run string) {
	t.Helper()
	dir := t.TempDir()
	photos, run = filepath.Join(dir, "photos"), filepath.Join(dir, "run")
	if err := identifytest.Folder(photos, people, 10, 5); err != nil {
		t.Fatal(err)
	}
	// Different sizes, so the two files are not duplicates.
	for i, n := range []string{"90.png", "91.png"} {
		if err := identifytest.WritePhoto(filepath.Join(photos, "Ann", n), 64, 48+i); err != nil {
			t.Fatal(err)
		}
	}
	args := append([]string{"train", photos, "--model", "face", "--out", run, "--epochs", "20", "--lr", "0.01"}, extra...)
	if code, _, errOut := runCLI(args...); code != exitOK {
		t.Fatalf("train: exit %d: %s", code, errOut)
	}
	return photos, run
}

// photoOf writes a one-face photo of person p (index into the fake's
// people) and returns its path.
func photoOf(t *testing.T, dir string, p int, seed uint64) string {
	t.Helper()
	path := filepath.Join(dir, "p"+string(rune('a'+p))+string(rune('0'+seed%10))+".png")
	if err := identifytest.WritePhoto(path, 64, 48, identifytest.RandomFace(rand.New(rand.NewPCG(seed, 99)), p)); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestEnrollThenPredict(t *testing.T) {
	useFakeFaces(t)
	_, run := faceRun(t, facePeople[:3])
	dir := t.TempDir()
	shots := []string{photoOf(t, dir, 7, 1), photoOf(t, dir, 7, 2), photoOf(t, dir, 7, 3)}
	probe := photoOf(t, dir, 7, 4)
	predict := func() string {
		code, out, errOut := runCLI("predict", run, probe, "--json")
		var p predictJSON
		if err := json.Unmarshal([]byte(out), &p); code != exitOK || err != nil || len(p) != 1 || len(p[0].Faces) != 1 {
			t.Fatalf("predict: exit %d, %v: %s %s", code, err, out, errOut)
		}
		return p[0].Faces[0].Name
	}
	if got := predict(); got != "unknown" {
		t.Fatalf("before enrolling: %q", got)
	}
	code, out, errOut := runCLI(append([]string{"enroll", run, "Zoe"}, shots...)...)
	if code != exitOK || !strings.Contains(out, `enrolled new person "Zoe": 3 photo(s)`) || !strings.Contains(out, "knows 4 people") {
		t.Fatalf("enroll: exit %d: %s %s", code, out, errOut)
	}
	if got := predict(); got != "Zoe" {
		t.Errorf("after enrolling: %q", got)
	}
	var info struct {
		Classes []string `json:"classes"`
		Face    struct {
			Enrolled []struct {
				Name   string   `json:"name"`
				Photos []string `json:"photos"`
				Time   string   `json:"time"`
			} `json:"enrolled"`
		} `json:"face"`
	}
	b, _ := os.ReadFile(filepath.Join(run, "model.json"))
	if err := json.Unmarshal(b, &info); err != nil || !slices.Equal(info.Classes, []string{"Ann", "Bob", "Cid", "Zoe"}) ||
		len(info.Face.Enrolled) != 1 || info.Face.Enrolled[0].Name != "Zoe" || len(info.Face.Enrolled[0].Photos) != 3 ||
		info.Face.Enrolled[0].Time == "" {
		t.Errorf("model.json after enroll (%v): %s", err, b)
	}
	// More photos of a known person.
	code, out, _ = runCLI("enroll", run, "Bob", photoOf(t, dir, 1, 5))
	if code != exitOK || !strings.Contains(out, `added more photos of "Bob"`) {
		t.Errorf("enroll known: exit %d: %s", code, out)
	}
	code, out, _ = runCLI("enroll", run, "Bob", photoOf(t, dir, 1, 6), "--json")
	var res identify.EnrollSummary
	if err := json.Unmarshal([]byte(out), &res); code != exitOK || err != nil || res.Skipped == nil ||
		!reflect.DeepEqual(res, identify.EnrollSummary{Run: run, Name: "Bob", Added: 1, Total: res.Total, Classes: 4, Skipped: []data.Skipped{}}) || res.Total < 2 {
		t.Errorf("enroll --json: exit %d %v: %s", code, err, out)
	}
}

func TestEnrollErrors(t *testing.T) {
	useFakeFaces(t)
	_, run := faceRun(t, facePeople[:2])
	photos, vgg := fixture(t) // a whole-photo run
	dir := t.TempDir()
	good := photoOf(t, dir, 3, 1)
	empty, broken := faultyPhotos(t, dir)
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"too few arguments", []string{run, "Zoe"}, exitUsage, "at least one photo"},
		{"empty name", []string{run, "", good}, exitUsage, "name is empty"},
		{"reserved name", []string{run, "unknown", good}, exitUsage, "reserved"},
		{"missing run", []string{filepath.Join(dir, "norun"), "Zoe", good}, exitInput, "no such run directory"},
		{"vgg run", []string{vgg, "Zoe", filepath.Join(photos, "red", "00.png")}, exitInput, "not a face run"},
		{"unreadable photo", []string{run, "Zoe", broken}, exitInput, "broken.jpg"},
		{"missing photo", []string{run, "Zoe", filepath.Join(dir, "nope.png")}, exitInput, "nope.png"},
		{"no face", []string{run, "Zoe", empty}, exitInput, "empty.png: no face found"},
		{"strict", []string{run, "Zoe", good, empty, "--strict"}, exitInput, "strict mode wants every one"},
		{"modes exclude each other", []string{run, "--list", "--remove", "Ann"}, exitUsage, "exclude each other"},
		{"rename without a new name", []string{run, "--rename", "Ann"}, exitUsage, "want the new name"},
		{"remove an empty name", []string{run, "--remove", ""}, exitUsage, "--rename and --remove want a person's name"},
		{"rename an empty name", []string{run, "--rename", " ", "Ann"}, exitUsage, "--rename and --remove want a person's name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := runCLI(append([]string{"enroll"}, tc.args...)...)
			if code != tc.code || !strings.Contains(errOut, tc.want) {
				t.Errorf("exit %d (want %d), stderr %q (want %q)", code, tc.code, errOut, tc.want)
			}
		})
	}
	// Nothing above changed the run.
	code, out, _ := runCLI("predict", run, good, "--json")
	if code != exitOK || strings.Contains(out, "Zoe") {
		t.Errorf("a refused enroll left a trace: %s", out)
	}
}

// A batch with a faceless photo enrolls the rest with a warning (exit 0);
// then the person is listed, renamed and removed.
func TestEnrollBatchAndPeople(t *testing.T) {
	useFakeFaces(t)
	_, run := faceRun(t, facePeople[:2])
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.png")
	if err := identifytest.WritePhoto(empty, 64, 48); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI("enroll", run, "zoe", photoOf(t, dir, 3, 1), empty, photoOf(t, dir, 3, 2))
	if code != exitOK || !strings.Contains(out, `enrolled new person "zoe": 2 photo(s)`) ||
		!strings.Contains(errOut, "warning: 1 of 3 photo(s) left out") || !strings.Contains(errOut, "empty.png: no face found") {
		t.Fatalf("enroll with a faceless photo: exit %d: %s %s", code, out, errOut)
	}
	code, out, _ = runCLI("enroll", run, "--list")
	if code != exitOK || !strings.Contains(out, "zoe") || !strings.Contains(out, "3 people") {
		t.Errorf("--list: exit %d: %s", code, out)
	}
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"Zoe", photoOf(t, dir, 3, 3)}, exitInput, `already knows "zoe"`},
		{[]string{"--rename", "zoe", "Zoe"}, exitOK, `renamed "zoe" to "Zoe"`},
		{[]string{"--rename", "Zoe"}, exitUsage, "new name"},
		{[]string{"--remove", "Ann"}, exitOK, `removed "Ann"`},
		{[]string{"--list"}, exitOK, "2 people"},
	} {
		code, out, errOut := runCLI(append([]string{"enroll", run}, tc.args...)...)
		if code != tc.code || !strings.Contains(out+errOut, tc.want) {
			t.Errorf("enroll %v: exit %d (want %d): %s %s (want %q)", tc.args, code, tc.code, out, errOut, tc.want)
		}
	}
}
