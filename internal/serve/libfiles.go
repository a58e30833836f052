package serve

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"image"
	"image/jpeg"
	"math"
	"net/http"
	"os"
	"strings"
	"time"

	"golang.org/x/image/draw"

	"starid/internal/data"
)

// Face thumbnails and photos are cut from or read out of the library's
// files. Only paths the library holds are ever read, and only as images.

// Thumbnail geometry: side in pixels, room around the face on each side
// (share of the box's longer side), JPEG quality.
const (
	thumbSide    = 112
	thumbMargin  = 0.25
	thumbQuality = 85
)

func (s *Server) faceThumb(ctx context.Context, w http.ResponseWriter, r *http.Request, id int64) {
	path, box, err := s.lib.Store.FacePlace(ctx, id)
	if err != nil {
		s.libError(w, r, err)
		return
	}
	// SQLite may give a deleted face's id to the next face stored, so a
	// thumbnail is known by its photo and box too, not by its id alone.
	key := fmt.Sprintf("%d|%s|%v", id, path, box)
	sum := sha256.Sum256([]byte(key))
	b, ok := s.lib.thumbs.Get(key)
	if !ok {
		var status int
		var msg string
		if b, status, msg = s.cutThumb(ctx, id, path, box); status != 0 {
			writeError(w, status, msg)
			return
		}
		s.lib.thumbs.Add(key, b)
	}
	w.Header().Set("Content-Type", "image/jpeg")
	w.Header().Set("ETag", `"`+hex.EncodeToString(sum[:12])+`"`)
	w.Header().Set("Cache-Control", "no-cache") // revalidated by ETag: a 304 costs one query
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(b))
}

// cutThumb decodes the face's photo under the upload budget, holding a
// worker slot as a recognition does (so decoding stays within the
// server's memory budget), and cuts the face out.
func (s *Server) cutThumb(ctx context.Context, id int64, path string, box [4]float64) ([]byte, int, string) {
	select {
	case s.workers <- struct{}{}:
		defer func() { <-s.workers }()
	case <-ctx.Done():
		return nil, http.StatusServiceUnavailable, "the server is busy; try the thumbnail again shortly"
	}
	// Library photos may be larger than an upload: read up to 4 uploads'
	// worth; the pixel budget below bounds the decoding anyway.
	raw, err := data.ReadFile(path, s.opts.MaxBodyBytes*4)
	if err != nil {
		s.log.Warn("face thumbnail: photo unreadable", "face", id, "err", err)
		return nil, http.StatusNotFound, fmt.Sprintf("face %d: its photo is not readable on this server", id)
	}
	img, err := data.DecodeBudget(ctx, raw, "photo", s.budget())
	raw = nil
	if ctx.Err() != nil {
		return nil, http.StatusServiceUnavailable, "timed out making the thumbnail"
	}
	if err != nil {
		status, msg := imageErrorStatus(err)
		return nil, status, fmt.Sprintf("face %d: %s", id, msg)
	}
	b, err := encodeFace(img, box)
	if err != nil {
		return nil, http.StatusInternalServerError, err.Error()
	}
	return b, 0, ""
}

// encodeFace cuts the square around box (with a margin, kept inside the
// photo) and encodes it at thumbSide.
func encodeFace(img *image.RGBA, box [4]float64) ([]byte, error) {
	b := img.Bounds()
	side := int(math.Round(max(box[2], box[3]) * (1 + 2*thumbMargin)))
	side = max(1, min(side, b.Dx(), b.Dy()))
	x := int(math.Round(box[0] + box[2]/2 - float64(side)/2))
	y := int(math.Round(box[1] + box[3]/2 - float64(side)/2))
	x = min(max(x, b.Min.X), b.Max.X-side)
	y = min(max(y, b.Min.Y), b.Max.Y-side)
	dst := image.NewRGBA(image.Rect(0, 0, thumbSide, thumbSide))
	draw.CatmullRom.Scale(dst, dst.Bounds(), img, image.Rect(x, y, x+side, y+side), draw.Src, nil)
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, dst, &jpeg.Options{Quality: thumbQuality}); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// handlePhotoImage sends a library photo's file as it is, when it is an
// image a browser shows.
func (s *Server) photoImage(ctx context.Context, w http.ResponseWriter, r *http.Request, id int64) {
	p, err := s.lib.Store.Photo(ctx, id)
	if err != nil {
		s.libError(w, r, err)
		return
	}
	f, err := os.Open(p.Path)
	if err != nil {
		writeError(w, http.StatusNotFound, fmt.Sprintf("photo %d is not readable on this server", id))
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		writeError(w, http.StatusNotFound, fmt.Sprintf("photo %d is not a regular file on this server", id))
		return
	}
	head := make([]byte, 512)
	n, _ := f.ReadAt(head, 0)
	ctype := http.DetectContentType(head[:n])
	if !strings.HasPrefix(ctype, "image/") {
		writeError(w, http.StatusNotFound, fmt.Sprintf("photo %d is not an image a browser shows", id))
		return
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Cache-Control", "no-cache")
	http.ServeContent(w, r, "", st.ModTime(), f)
}
