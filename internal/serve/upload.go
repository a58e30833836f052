package serve

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"os"
	"strings"
	"time"
)

// An upload is read whole into memory before the request asks for a queue
// slot or a worker, so a client that sends slowly holds only its connection
// and the bytes it has sent, never capacity that real uploads need. Two
// limits keep that cheap:
//
//   - time: the body must keep arriving at MinBodyRate after a grace of
//     BodyTimeout (the read deadline moves forward as bytes come in), or the
//     request is answered 408 and its connection closed;
//   - memory: the bytes of every upload in memory (being received, queued
//     or recognized) are counted against UploadMemory; an upload that would
//     go over is answered 503, as a full queue is.

// errUploadMemory is returned by uploadBody once the upload memory budget
// is spent.
var errUploadMemory = errors.New("upload memory budget spent")

// uploadBody reads a request body under the body deadline and the upload
// memory budget. It keeps the bytes it charged so the request can give them
// back when it ends.
type uploadBody struct {
	s        *Server
	r        io.ReadCloser
	rc       *http.ResponseController
	start    time.Time
	read     int64
	charged  int64
	tooBig   bool // MaxBodyBytes was hit
	tooSlow  bool // the read deadline passed
	overMem  bool // UploadMemory was spent
	deadline bool // a read deadline could be set (not under httptest.ResponseRecorder)
}

func (s *Server) newUploadBody(w http.ResponseWriter, r *http.Request) *uploadBody {
	return &uploadBody{
		s:     s,
		r:     http.MaxBytesReader(w, r.Body, s.opts.MaxBodyBytes),
		rc:    http.NewResponseController(w),
		start: time.Now(),
	}
}

func (b *uploadBody) Read(p []byte) (int, error) {
	// The deadline grants BodyTimeout plus the time the bytes so far
	// would take at MinBodyRate: a steady upload of any size finishes, a
	// trickle is cut after about BodyTimeout.
	allowed := b.s.opts.BodyTimeout + time.Duration(float64(b.read)/float64(b.s.opts.MinBodyRate)*float64(time.Second))
	b.deadline = b.rc.SetReadDeadline(b.start.Add(allowed)) == nil
	n, err := b.r.Read(p)
	b.read += int64(n)
	if n > 0 {
		if b.s.uploadBytes.Add(int64(n)) > b.s.opts.UploadMemory {
			b.s.uploadBytes.Add(-int64(n))
			b.overMem = true
			return 0, errUploadMemory
		}
		b.charged += int64(n)
	}
	if err != nil {
		switch {
		case errors.As(err, new(*http.MaxBytesError)):
			b.tooBig = true
		case errors.Is(err, os.ErrDeadlineExceeded):
			b.tooSlow = true
		}
	}
	return n, err
}

func (b *uploadBody) Close() error { return b.r.Close() }

// done lifts the read deadline once the body is in memory: the server
// keeps reading the connection in the background to notice a client that
// goes away, and that read must not time out while the photo is
// recognized.
func (b *uploadBody) done() {
	if b.deadline {
		b.rc.SetReadDeadline(time.Time{})
	}
}

// release gives back the upload's bytes to the memory budget.
func (b *uploadBody) release() {
	b.s.uploadBytes.Add(-b.charged)
	b.charged = 0
}

// refusal turns a failed read into a status and message.
func (b *uploadBody) refusal(err error) (int, string) {
	switch {
	case b.tooBig:
		return http.StatusRequestEntityTooLarge, b.s.tooBigMsg()
	case b.overMem:
		return http.StatusServiceUnavailable, "the server is busy receiving other uploads; try again shortly"
	case b.tooSlow:
		return http.StatusRequestTimeout, fmt.Sprintf("the upload arrived too slowly: %d bytes in %v (the server waits %v plus 1 s per %s)",
			b.read, time.Since(b.start).Round(time.Millisecond), b.s.opts.BodyTimeout, humanBytes(b.s.opts.MinBodyRate))
	}
	return http.StatusBadRequest, "could not read the upload: " + err.Error()
}

// readUpload reads the photo from a multipart field "image" or from the raw
// body, into memory only: ParseMultipartForm would spill large parts to
// temporary files, so the parts are streamed by hand. A non-zero status
// means the request is refused with msg.
func readUpload(r *http.Request, body *uploadBody) (upload []byte, status int, msg string) {
	r.Body = body
	ctype := r.Header.Get("Content-Type")
	mediaType, _, perr := mime.ParseMediaType(ctype)
	if perr != nil && strings.HasPrefix(strings.ToLower(strings.TrimSpace(ctype)), "multipart/") {
		// A multipart type whose parameters cannot be read (say, two
		// boundaries) is a broken form, not a photo sent raw.
		return nil, http.StatusBadRequest, fmt.Sprintf("malformed Content-Type %q: %v", ctype, perr)
	}
	if mediaType != "multipart/form-data" {
		upload, err := io.ReadAll(body)
		if err != nil {
			status, msg := body.refusal(err)
			return nil, status, msg
		}
		return checkEmpty(upload)
	}
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, http.StatusBadRequest, "malformed multipart upload: " + err.Error()
	}
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			return nil, http.StatusBadRequest, `the multipart upload has no field "image"`
		}
		if err != nil {
			status, msg := partError(body, err)
			return nil, status, msg
		}
		if part.FormName() != "image" {
			continue
		}
		upload, err := io.ReadAll(part)
		if err != nil {
			status, msg := body.refusal(err)
			return nil, status, msg
		}
		if status, msg := onlyImage(mr, body); status != 0 {
			return nil, status, msg
		}
		return checkEmpty(upload)
	}
}

// onlyImage reads the parts after the "image" one and refuses a second
// photo: answering for the first alone would lose the others unseen (the
// page sends one request per photo).
func onlyImage(mr *multipart.Reader, body *uploadBody) (status int, msg string) {
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			return 0, ""
		}
		if err != nil {
			return partError(body, err)
		}
		if part.FormName() == "image" {
			return http.StatusBadRequest, `the multipart upload has several "image" fields: send one photo per request`
		}
	}
}

// partError is the answer to a failure to find the next part of a form.
func partError(body *uploadBody, err error) (int, string) {
	status, msg := body.refusal(err)
	if status == http.StatusBadRequest {
		msg = "malformed multipart upload: " + err.Error()
	}
	return status, msg
}

func checkEmpty(upload []byte) ([]byte, int, string) {
	if len(upload) == 0 {
		return nil, http.StatusBadRequest, `empty upload: send the photo as the request body or as the multipart field "image"`
	}
	return upload, 0, ""
}
