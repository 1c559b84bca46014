package api

import (
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strings"

	"github.com/dooros/dooros/csvio"
	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/imports"
)

func serveImportTemplate(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="dooros-import-template.csv"`)
	return csvio.WriteTemplate(w)
}

func (s *Server) createImport(w http.ResponseWriter, r *http.Request, a domain.Actor) error {
	dryRun, err := boolParam(r, "dry_run")
	if err != nil {
		return err
	}
	name, content, err := readUpload(w, r)
	if err != nil {
		return err
	}
	job, err := imports.Submit(r.Context(), s.Store, a, r.PathValue("p"), name, content, dryRun)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/properties/"+job.PropertyID+"/imports/"+job.ID)
	writeJSON(w, http.StatusAccepted, job)
	return nil
}

// readUpload reads the CSV file of an import: the "file" field of a
// multipart form, or the whole body sent as text/csv.
func readUpload(w http.ResponseWriter, r *http.Request) (string, []byte, error) {
	tooLarge := domain.FieldError("file", "the file is larger than %d MB; split it into several files", imports.MaxFileSize>>20)
	r.Body = http.MaxBytesReader(w, r.Body, imports.MaxFileSize+1<<20)
	read := func(rd io.Reader) ([]byte, error) {
		b, err := io.ReadAll(io.LimitReader(rd, imports.MaxFileSize+1))
		var mbe *http.MaxBytesError
		switch {
		case errors.As(err, &mbe), len(b) > imports.MaxFileSize:
			return nil, tooLarge
		case err != nil:
			return nil, domain.FieldError("file", "could not read the upload: %v", err)
		}
		return b, nil
	}
	mt, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch mt {
	case "multipart/form-data":
		mr := multipart.NewReader(r.Body, params["boundary"])
		for {
			part, err := mr.NextPart()
			if errors.Is(err, io.EOF) {
				return "", nil, domain.FieldError("file", "the form has no \"file\" field")
			}
			if err != nil {
				var mbe *http.MaxBytesError
				if errors.As(err, &mbe) {
					return "", nil, tooLarge
				}
				return "", nil, domain.FieldError("file", "malformed multipart form: %v", err)
			}
			if part.FormName() != "file" {
				continue
			}
			b, err := read(part)
			return part.FileName(), b, err
		}
	case "text/csv", "text/plain", "application/octet-stream", "application/vnd.ms-excel":
		b, err := read(r.Body)
		name := r.URL.Query().Get("file_name")
		if name == "" {
			name = "upload.csv"
		}
		return name, b, err
	}
	return "", nil, domain.FieldError("file", "send the CSV file as the \"file\" field of a multipart/form-data form, or as a text/csv body")
}

func (s *Server) listImports(w http.ResponseWriter, r *http.Request, a domain.Actor) error {
	limit, err := intParam(r, "limit")
	if err != nil {
		return err
	}
	jobs, next, err := s.Store.ListImports(r.Context(), a, r.PathValue("p"), r.URL.Query().Get("cursor"), limit)
	if err != nil {
		return err
	}
	return writeList(w, jobs, next)
}

func (s *Server) getImport(w http.ResponseWriter, r *http.Request, a domain.Actor) error {
	job, err := s.Store.Import(r.Context(), a, r.PathValue("p"), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, job)
	return nil
}

func (s *Server) listImportRows(w http.ResponseWriter, r *http.Request, a domain.Actor) error {
	limit, err := intParam(r, "limit")
	if err != nil {
		return err
	}
	q := r.URL.Query()
	rows, next, err := s.Store.ImportRows(r.Context(), a, r.PathValue("p"), r.PathValue("id"), strings.TrimSpace(q.Get("outcome")), q.Get("cursor"), limit)
	if err != nil {
		return err
	}
	return writeList(w, rows, next)
}
