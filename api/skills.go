package api

import (
	"bufio"
	"context"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/codebox-dev/codebox"
	"github.com/codebox-dev/codebox/errdefs"
	"github.com/codebox-dev/codebox/files"
	"github.com/codebox-dev/codebox/skills"
)

// SkillsConfig holds the dependencies of the skills routes, which exist only when
// Skills is set.
type SkillsConfig struct {
	Skills SkillService
}

// SkillService is what the skills routes need of *skills.Service.
type SkillService interface {
	NewBundle() (*skills.Bundle, error)
	MaxSize() int64
	Create(ctx context.Context, ws codebox.WorkspaceID, displayName string, b *skills.Bundle) (*skills.Skill, *skills.Version, error)
	CreateVersion(ctx context.Context, ws codebox.WorkspaceID, skillID string, b *skills.Bundle) (*skills.Version, error)
	Get(ctx context.Context, ws codebox.WorkspaceID, id string) (*skills.Skill, error)
	List(ctx context.Context, ws codebox.WorkspaceID, source string, after *skills.Cursor, limit int) ([]*skills.Skill, bool, error)
	Delete(ctx context.Context, ws codebox.WorkspaceID, id string) error
	Version(ctx context.Context, ws codebox.WorkspaceID, skillID, version string) (*skills.Version, error)
	Versions(ctx context.Context, ws codebox.WorkspaceID, skillID string, after *skills.Cursor, limit int) ([]*skills.Version, bool, error)
	DeleteVersion(ctx context.Context, ws codebox.WorkspaceID, skillID, version string) error
	OpenArchive(ctx context.Context, ws codebox.WorkspaceID, skillID, version string) (*skills.Version, io.ReadSeekCloser, error)
}

func (s *Server) registerSkillRoutes() {
	if s.Skills == nil {
		return
	}
	s.handle("POST", "/v1/skills", s.createSkill)
	s.handle("GET", "/v1/skills", s.listSkills)
	s.handle("GET", "/v1/skills/{skill_id}", s.getSkill)
	s.handle("DELETE", "/v1/skills/{skill_id}", s.deleteSkill)
	s.handle("POST", "/v1/skills/{skill_id}/versions", s.createSkillVersion)
	s.handle("GET", "/v1/skills/{skill_id}/versions", s.listSkillVersions)
	s.handle("GET", "/v1/skills/{skill_id}/versions/{version}", s.getSkillVersion)
	s.handle("DELETE", "/v1/skills/{skill_id}/versions/{version}", s.deleteSkillVersion)
	s.handle("GET", "/v1/skills/{skill_id}/versions/{version}/content", s.downloadSkillVersion)
}

type wireSkill struct {
	ID              string          `json:"id"`
	Type            string          `json:"type"`
	DisplayName     string          `json:"display_name"`
	LatestVersionID string          `json:"latest_version_id"`
	Source          wireSkillSource `json:"source"`
	CreatedAt       string          `json:"created_at"`
	UpdatedAt       string          `json:"updated_at"`
}

type wireSkillSource struct {
	Type string `json:"type"`
}

type wireSkillVersion struct {
	ID          string `json:"id"`
	Type        string `json:"type"`
	SkillID     string `json:"skill_id"`
	Name        string `json:"name"`
	Description string `json:"description"`
	CreatedAt   string `json:"created_at"`
}

func toWireSkill(sk *skills.Skill) wireSkill {
	return wireSkill{ID: sk.ID, Type: "skill", DisplayName: sk.DisplayName, LatestVersionID: sk.LatestVersion,
		Source: wireSkillSource{Type: sk.Source}, CreatedAt: wireTime(sk.CreatedAt), UpdatedAt: wireTime(sk.UpdatedAt)}
}

func toWireSkillVersion(v *skills.Version) wireSkillVersion {
	return wireSkillVersion{ID: v.ID, Type: "skill_version", SkillID: v.SkillID, Name: v.Name,
		Description: v.Description, CreatedAt: wireTime(v.CreatedAt)}
}

// readSkillUpload streams the multipart parts files[] (or files) into a bundle, each
// under the path its filename gives, and returns display_name.
func (s *Server) readSkillUpload(w http.ResponseWriter, r *http.Request) (_ *skills.Bundle, displayName string, err error) {
	mediaType, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mediaType != "multipart/form-data" || params["boundary"] == "" {
		return nil, "", invalid("Content-Type must be multipart/form-data with a boundary")
	}
	limit := s.Skills.MaxSize() + multipartOverhead
	if r.ContentLength > limit {
		return nil, "", errdefs.New(errdefs.ErrTooLarge, "", "Request body of %d bytes exceeds the maximum skill size of %d bytes",
			r.ContentLength, s.Skills.MaxSize())
	}
	b, err := s.Skills.NewBundle()
	if err != nil {
		return nil, "", err
	}
	defer func() {
		if err != nil {
			b.Close()
		}
	}()
	mr := multipart.NewReader(bufio.NewReaderSize(http.MaxBytesReader(w, r.Body, limit), uploadBufferSize), params["boundary"])
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			return b, displayName, nil
		}
		if err != nil {
			return nil, "", bodyError(err)
		}
		// The filename is the file's path in the skill: read it from the header, since
		// Part.FileName drops its folders.
		_, dp, err := mime.ParseMediaType(part.Header.Get("Content-Disposition"))
		if err != nil {
			return nil, "", invalid("Malformed Content-Disposition of a multipart part")
		}
		switch dp["name"] {
		case "files[]", "files":
			if dp["filename"] == "" {
				return nil, "", invalid("Each files[] part needs a filename: the file's path in the skill, such as my-skill/SKILL.md")
			}
			if err := b.Add(dp["filename"], part); err != nil {
				var be *skills.ErrBody
				if errors.As(err, &be) {
					return nil, "", bodyError(be.Err)
				}
				return nil, "", err
			}
		case "display_name":
			v, err := io.ReadAll(io.LimitReader(part, 4096))
			if err != nil {
				return nil, "", bodyError(err)
			}
			displayName = strings.TrimSpace(string(v))
		default:
			if _, err := io.Copy(io.Discard, part); err != nil {
				return nil, "", bodyError(err)
			}
		}
		part.Close()
	}
}

func (s *Server) createSkill(w http.ResponseWriter, r *http.Request) error {
	b, displayName, err := s.readSkillUpload(w, r)
	if err != nil {
		return err
	}
	defer b.Close()
	sk, _, err := s.Skills.Create(r.Context(), workspace(r), displayName, b)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toWireSkill(sk))
	return nil
}

func (s *Server) createSkillVersion(w http.ResponseWriter, r *http.Request) error {
	b, _, err := s.readSkillUpload(w, r)
	if err != nil {
		return err
	}
	defer b.Close()
	v, err := s.Skills.CreateVersion(r.Context(), workspace(r), r.PathValue("skill_id"), b)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toWireSkillVersion(v))
	return nil
}

func (s *Server) getSkill(w http.ResponseWriter, r *http.Request) error {
	sk, err := s.Skills.Get(r.Context(), workspace(r), r.PathValue("skill_id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toWireSkill(sk))
	return nil
}

func (s *Server) deleteSkill(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("skill_id")
	if err := s.Skills.Delete(r.Context(), workspace(r), id); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, fileDeleted{ID: id, Type: "skill_deleted"})
	return nil
}

func (s *Server) getSkillVersion(w http.ResponseWriter, r *http.Request) error {
	v, err := s.Skills.Version(r.Context(), workspace(r), r.PathValue("skill_id"), r.PathValue("version"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toWireSkillVersion(v))
	return nil
}

func (s *Server) deleteSkillVersion(w http.ResponseWriter, r *http.Request) error {
	version := r.PathValue("version")
	if err := s.Skills.DeleteVersion(r.Context(), workspace(r), r.PathValue("skill_id"), version); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, fileDeleted{ID: version, Type: "skill_version_deleted"})
	return nil
}

// downloadSkillVersion sends a version's files as one zip archive.
func (s *Server) downloadSkillVersion(w http.ResponseWriter, r *http.Request) error {
	v, rc, err := s.Skills.OpenArchive(r.Context(), workspace(r), r.PathValue("skill_id"), r.PathValue("version"))
	if err != nil {
		return err
	}
	defer rc.Close()
	h := w.Header()
	h.Set("Content-Type", "application/zip")
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": v.Name + ".zip"}))
	http.ServeContent(w, r, "", v.CreatedAt, rc)
	return nil
}

// skillPage parses limit and page of a skills listing; idPrefix is that of the IDs the
// cursor positions on.
func skillPage(q url.Values, idPrefix string) (*skills.Cursor, int, error) {
	limit := defaultListLimit
	if _, ok := q["limit"]; ok {
		n, err := strconv.Atoi(q.Get("limit"))
		if err != nil || n < 1 || n > skills.MaxListLimit {
			return nil, 0, invalid("limit must be an integer from 1 to %d", skills.MaxListLimit)
		}
		limit = n
	}
	page := q.Get("page")
	if page == "" {
		return nil, limit, nil
	}
	c, before, err := decodeCursor(page, idPrefix)
	if err != nil || before {
		return nil, 0, invalid("Invalid page cursor")
	}
	return &skills.Cursor{CreatedAt: c.CreatedAt, ID: c.ID}, limit, nil
}

type skillList struct {
	Data     []any   `json:"data"`
	HasMore  bool    `json:"has_more"`
	NextPage *string `json:"next_page"`
}

// writeSkillPage writes a page of a listing; at gives each item's position for the
// next page's cursor.
func writeSkillPage[T any](w http.ResponseWriter, list []*T, more bool, wire func(*T) any, at func(*T) (time.Time, string)) {
	body := skillList{Data: make([]any, 0, len(list)), HasMore: more}
	for _, v := range list {
		body.Data = append(body.Data, wire(v))
	}
	if n := len(list); n > 0 && more {
		created, id := at(list[n-1])
		p := encodePageCursor(files.Cursor{CreatedAt: created, ID: id}, false)
		body.NextPage = &p
	}
	writeJSON(w, http.StatusOK, body)
}

func (s *Server) listSkills(w http.ResponseWriter, r *http.Request) error {
	// A page may end on a built-in skill, whose ID has no prefix.
	after, limit, err := skillPage(r.URL.Query(), "")
	if err != nil {
		return err
	}
	list, more, err := s.Skills.List(r.Context(), workspace(r), r.URL.Query().Get("source"), after, limit)
	if err != nil {
		return err
	}
	writeSkillPage(w, list, more, func(sk *skills.Skill) any { return toWireSkill(sk) },
		func(sk *skills.Skill) (time.Time, string) { return sk.CreatedAt, sk.ID })
	return nil
}

func (s *Server) listSkillVersions(w http.ResponseWriter, r *http.Request) error {
	after, limit, err := skillPage(r.URL.Query(), skills.VersionIDPrefix)
	if err != nil {
		return err
	}
	list, more, err := s.Skills.Versions(r.Context(), workspace(r), r.PathValue("skill_id"), after, limit)
	if err != nil {
		return err
	}
	writeSkillPage(w, list, more, func(v *skills.Version) any { return toWireSkillVersion(v) },
		func(v *skills.Version) (time.Time, string) { return v.CreatedAt, v.ID })
	return nil
}
