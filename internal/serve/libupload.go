package serve

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"time"

	"starid/internal/data"
	"starid/internal/faces"
	"starid/internal/library"
)

// An upload to the library goes through the same limits as a recognition
// (serveUpload): body caps, the queue, a worker, the timeout. The worker
// decodes the photo, finds its faces once, has the model name them, keeps
// the file under Library.Uploads, stores photo and faces in one
// transaction, gives the model's names to the faces, and places the faces
// still without a person (they join the group, named or not, of the faces
// they are close to, or start one).

// uploadFace is a face of an uploaded photo: its place in the library,
// and what the model said of it (null for a photo already in the library).
type uploadFace struct {
	apiFace
	Recognition *Face `json:"recognition"`
}

type libraryUploadResponse struct {
	ID     string       `json:"id"`
	Image  string       `json:"image"`
	Width  int          `json:"width"`
	Height int          `json:"height"`
	Known  bool         `json:"known"` // the same photo was already in the library
	Faces  []uploadFace `json:"faces"`
	MS     float64      `json:"ms"`
}

func (s *Server) handleLibraryUpload(w http.ResponseWriter, r *http.Request) {
	if !s.hasLibrary(w) {
		return
	}
	s.serveUpload(w, r, s.addToLibrary, func(res recognized, ms float64) any {
		a := res.library
		a.MS = ms
		return a
	})
}

// decodeUpload decodes the upload under the budget; a non-zero status
// means it failed.
func (s *Server) decodeUpload(ctx context.Context, upload []byte) (*faces.Image, recognized) {
	rgba, err := data.DecodeBudget(ctx, upload, "upload", s.budget())
	if ctx.Err() != nil {
		return nil, recognized{status: http.StatusServiceUnavailable, msg: "timed out"}
	}
	if err != nil {
		status, msg := imageErrorStatus(err)
		return nil, recognized{status: status, msg: msg}
	}
	b := rgba.Bounds()
	return faces.FromImage(rgba), recognized{width: b.Dx(), height: b.Dy(), pixels: b.Dx() * b.Dy()}
}

// failed turns a library or model error into the worker's answer.
func (s *Server) failed(ctx context.Context, what string, err error) recognized {
	if ctx.Err() != nil {
		return recognized{status: http.StatusServiceUnavailable, msg: "timed out"}
	}
	err = library.Explain(err)
	s.log.Error(what+" failed", "err", err)
	msg := err.Error()
	if s.lib != nil {
		msg = s.lib.clientMessage(err)
	}
	if errors.Is(err, library.ErrUnreachable) {
		return recognized{status: http.StatusServiceUnavailable, msg: what + " failed: " + msg}
	}
	return recognized{status: http.StatusInternalServerError, msg: what + " failed: " + msg}
}

// unreachableRetry is the Retry-After, in seconds, of a 503 answered after
// the work: a library that cannot be reached (a restarting PostgreSQL is
// back in seconds) or a photo that timed out.
const unreachableRetry = 5

func (s *Server) addToLibrary(ctx context.Context, upload []byte) recognized {
	img, res := s.decodeUpload(ctx, upload)
	if res.status != 0 {
		return res
	}
	sum := sha256.Sum256(upload)
	hash := hex.EncodeToString(sum[:])
	lib := s.lib
	id, known, err := lib.Store.PhotoByHash(ctx, hash, lib.Pipeline)
	if err != nil {
		return s.failed(ctx, "library", err)
	}
	var named []Face
	if !known {
		if id, named, err = s.describeUpload(ctx, img, upload, hash); err != nil {
			return s.failed(ctx, "adding the photo", err)
		}
	}
	p, err := lib.Store.Photo(ctx, id)
	if err != nil {
		return s.failed(ctx, "library", err)
	}
	ans := &libraryUploadResponse{ID: idString(id), Image: photoImageURL(id), Width: res.width, Height: res.height,
		Known: known, Faces: make([]uploadFace, 0, len(p.Faces))}
	for i, f := range p.Faces {
		uf := uploadFace{apiFace: toAPIFace(f)}
		if i < len(named) {
			uf.Recognition = &named[i]
		}
		ans.Faces = append(ans.Faces, uf)
	}
	res.library = ans
	return res
}

// describeUpload finds and names the faces, keeps the file and stores the
// photo; named holds the model's answer per face, in the faces' id order.
func (s *Server) describeUpload(ctx context.Context, img *faces.Image, upload []byte, hash string) (int64, []Face, error) {
	lib := s.lib
	if lib.Finder == nil {
		return 0, nil, fmt.Errorf("no face finder: the face models were not loaded")
	}
	found, err := lib.Finder.Faces(img)
	if err != nil {
		return 0, nil, err
	}
	named, err := s.nameFound(ctx, img, found)
	if err != nil {
		return 0, nil, err
	}
	path, err := s.keepUpload(upload, hash)
	if err != nil {
		return 0, nil, err
	}
	lf := make([]library.Face, len(found))
	for i, f := range found {
		lf[i] = library.Face{Box: [4]float64{f.Box.X, f.Box.Y, f.Box.W, f.Box.H}, Descriptor: f.Descriptor,
			Score: f.Score, Quality: f.Score}
		if len(f.Landmarks) == library.LandmarkCount {
			lf[i].Landmarks = make([][2]float32, len(f.Landmarks))
			for j, pt := range f.Landmarks {
				lf[i].Landmarks[j] = [2]float32{float32(pt.X), float32(pt.Y)}
			}
		}
	}
	id, ids, err := lib.Store.AddPhoto(ctx, path, hash, int64(len(upload)), time.Now().UnixNano(), lib.Pipeline, lf)
	if err != nil {
		return 0, nil, err
	}
	for i, fid := range ids {
		if i < len(named) && !named[i].Unknown {
			if _, err := lib.Store.SuggestName(ctx, fid, named[i].Name); err != nil {
				return 0, nil, err
			}
		}
	}
	descriptors := make([][]float32, len(found))
	for i, f := range found {
		descriptors[i] = f.Descriptor
	}
	return id, named, lib.place(ctx, ids, descriptors)
}

// nameFound asks the model for the found faces' names, when it can name
// faces found elsewhere; the answers keep the faces' order.
func (s *Server) nameFound(ctx context.Context, img *faces.Image, found []faces.Face) ([]Face, error) {
	namer, ok := s.rec.(Namer)
	if !ok || len(found) == 0 {
		return nil, nil
	}
	named, err := namer.Name(ctx, img, found)
	if err != nil {
		return nil, err
	}
	if len(named) != len(found) {
		return nil, fmt.Errorf("the model named %d faces of %d", len(named), len(found))
	}
	for i := range named {
		if named[i].Unknown {
			named[i].Name = UnknownName
		}
		if named[i].Top == nil {
			named[i].Top = []Candidate{}
		}
	}
	return named, nil
}

// keepUpload writes the photo under Uploads, named by its content, so the
// same photo is kept once; the write is atomic, so a crash leaves no torn
// file behind a library row, and never replaces a file (keepFile).
func (s *Server) keepUpload(upload []byte, hash string) (string, error) {
	ext := ".img"
	switch http.DetectContentType(upload) {
	case "image/jpeg":
		ext = ".jpg"
	case "image/png":
		ext = ".png"
	case "image/gif":
		ext = ".gif"
	case "image/webp":
		ext = ".webp"
	case "image/bmp":
		ext = ".bmp"
	}
	dir, err := filepath.Abs(filepath.Join(s.lib.Uploads, hash[:2]))
	if err != nil {
		return "", err
	}
	return keepFile(dir, hash, ext, upload, hash)
}
