// Package skillstest holds the conformance suite of skills.Store: every driver runs it,
// so that a new one (PostgreSQL) is held to what the SQLite driver does.
package skillstest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/codebox-dev/codebox"
	"github.com/codebox-dev/codebox/errdefs"
	"github.com/codebox-dev/codebox/skills"
)

func version(ws codebox.WorkspaceID, skill, id string, at time.Time) *skills.Version {
	return &skills.Version{ID: id, SkillID: skill, Workspace: ws, Name: "report", Description: "Writes reports.",
		Directory: "report", Size: 100, ArchiveSize: 60, Checksum: "crc32c:00000000", CreatedAt: at}
}

func skill(ws codebox.WorkspaceID, id, latest string, at time.Time) *skills.Skill {
	return &skills.Skill{ID: id, Workspace: ws, DisplayName: "Report " + id, LatestVersion: latest,
		CreatedAt: at, UpdatedAt: at, Source: skills.SourceCustom}
}

// RunStore runs the suite against stores made by newStore, one fresh store per subtest.
func RunStore(t *testing.T, newStore func(t *testing.T) skills.Store) {
	ctx := context.Background()
	// Microseconds, not nanoseconds: the precision of PostgreSQL's timestamps.
	base := time.Date(2026, 5, 1, 12, 0, 0, 123456000, time.UTC)

	t.Run("InsertGet", func(t *testing.T) {
		s := newStore(t)
		v := version("a", "skill_1", "skver_1", base)
		if err := s.InsertSkill(ctx, skill("a", "skill_1", "skver_1", base), v); err != nil {
			t.Fatal(err)
		}
		got, err := s.GetSkill(ctx, "a", "skill_1")
		if err != nil {
			t.Fatal(err)
		}
		want := skill("a", "skill_1", "skver_1", base)
		if *got != *want {
			t.Errorf("GetSkill = %+v, want %+v", got, want)
		}
		gv, err := s.GetSkillVersion(ctx, "a", "skill_1", "skver_1")
		if err != nil {
			t.Fatal(err)
		}
		if *gv != *v {
			t.Errorf("GetSkillVersion = %+v, want %+v", gv, v)
		}
		if ok, err := s.SkillVersionExists(ctx, "skver_1"); err != nil || !ok {
			t.Errorf("SkillVersionExists = %v, %v", ok, err)
		}
		if ok, err := s.SkillVersionExists(ctx, "skver_2"); err != nil || ok {
			t.Errorf("SkillVersionExists(missing) = %v, %v", ok, err)
		}
	})

	t.Run("WorkspaceScope", func(t *testing.T) {
		s := newStore(t)
		if err := s.InsertSkill(ctx, skill("a", "skill_1", "skver_1", base), version("a", "skill_1", "skver_1", base)); err != nil {
			t.Fatal(err)
		}
		checks := map[string]error{}
		_, checks["GetSkill"] = s.GetSkill(ctx, "b", "skill_1")
		_, checks["GetSkillVersion"] = s.GetSkillVersion(ctx, "b", "skill_1", "skver_1")
		checks["InsertSkillVersion"] = s.InsertSkillVersion(ctx, version("b", "skill_1", "skver_2", base.Add(time.Second)))
		checks["DeleteSkillVersion"] = s.DeleteSkillVersion(ctx, "b", "skill_1", "skver_1")
		_, checks["DeleteSkill"] = s.DeleteSkill(ctx, "b", "skill_1")
		for name, err := range checks {
			if !errors.Is(err, errdefs.ErrNotFound) {
				t.Errorf("%s from another workspace: %v, want ErrNotFound", name, err)
			}
		}
		list, _, err := s.ListSkills(ctx, "b", nil, 10)
		if err != nil || len(list) != 0 {
			t.Errorf("ListSkills(b) = %d skills, %v", len(list), err)
		}
		if _, err := s.GetSkill(ctx, "a", "skill_1"); err != nil {
			t.Errorf("the owner's skill is gone: %v", err)
		}
	})

	t.Run("VersionsAndLatest", func(t *testing.T) {
		s := newStore(t)
		if err := s.InsertSkill(ctx, skill("a", "skill_1", "skver_1", base), version("a", "skill_1", "skver_1", base)); err != nil {
			t.Fatal(err)
		}
		for i := 2; i <= 3; i++ {
			at := base.Add(time.Duration(i) * time.Second)
			if err := s.InsertSkillVersion(ctx, version("a", "skill_1", fmt.Sprintf("skver_%d", i), at)); err != nil {
				t.Fatal(err)
			}
		}
		got, _ := s.GetSkill(ctx, "a", "skill_1")
		if got.LatestVersion != "skver_3" || !got.UpdatedAt.Equal(base.Add(3*time.Second)) {
			t.Errorf("after two new versions: latest %s, updated %v", got.LatestVersion, got.UpdatedAt)
		}
		page, more, err := s.ListSkillVersions(ctx, "a", "skill_1", nil, 2)
		if err != nil || !more || len(page) != 2 || page[0].ID != "skver_3" || page[1].ID != "skver_2" {
			t.Fatalf("first page: %v more=%v err=%v", ids(page), more, err)
		}
		page, more, err = s.ListSkillVersions(ctx, "a", "skill_1", &skills.Cursor{CreatedAt: page[1].CreatedAt, ID: page[1].ID}, 2)
		if err != nil || more || len(page) != 1 || page[0].ID != "skver_1" {
			t.Fatalf("second page: %v more=%v err=%v", ids(page), more, err)
		}
		// Deleting the latest makes the newest remaining one the latest.
		if err := s.DeleteSkillVersion(ctx, "a", "skill_1", "skver_3"); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.GetSkill(ctx, "a", "skill_1"); got.LatestVersion != "skver_2" {
			t.Errorf("latest after deleting skver_3 = %s, want skver_2", got.LatestVersion)
		}
		if err := s.DeleteSkillVersion(ctx, "a", "skill_1", "skver_3"); !errors.Is(err, errdefs.ErrNotFound) {
			t.Errorf("deleting it again: %v, want ErrNotFound", err)
		}
		if err := s.DeleteSkillVersion(ctx, "a", "skill_1", "skver_1"); err != nil {
			t.Fatal(err)
		}
		// The only version left cannot go.
		if err := s.DeleteSkillVersion(ctx, "a", "skill_1", "skver_2"); !errors.Is(err, errdefs.ErrInvalid) {
			t.Errorf("deleting the only version: %v, want ErrInvalid", err)
		}
		if _, err := s.GetSkillVersion(ctx, "a", "skill_1", "skver_2"); err != nil {
			t.Errorf("the only version is gone after a refused delete: %v", err)
		}
	})

	t.Run("ListAndDelete", func(t *testing.T) {
		s := newStore(t)
		for i := 1; i <= 5; i++ {
			at := base.Add(time.Duration(i) * time.Minute)
			id, vid := fmt.Sprintf("skill_%d", i), fmt.Sprintf("skver_%d", i)
			if err := s.InsertSkill(ctx, skill("a", id, vid, at), version("a", id, vid, at)); err != nil {
				t.Fatal(err)
			}
		}
		var all []string
		var after *skills.Cursor
		for {
			page, more, err := s.ListSkills(ctx, "a", after, 2)
			if err != nil {
				t.Fatal(err)
			}
			for _, sk := range page {
				all = append(all, sk.ID)
			}
			if !more {
				break
			}
			last := page[len(page)-1]
			after = &skills.Cursor{CreatedAt: last.CreatedAt, ID: last.ID}
		}
		if fmt.Sprint(all) != "[skill_5 skill_4 skill_3 skill_2 skill_1]" {
			t.Errorf("paged listing = %v", all)
		}
		if err := s.InsertSkillVersion(ctx, version("a", "skill_3", "skver_3b", base.Add(time.Hour))); err != nil {
			t.Fatal(err)
		}
		versions, err := s.DeleteSkill(ctx, "a", "skill_3")
		if err != nil {
			t.Fatal(err)
		}
		if len(versions) != 2 {
			t.Errorf("DeleteSkill returned versions %v, want skver_3 and skver_3b", versions)
		}
		if _, err := s.GetSkill(ctx, "a", "skill_3"); !errors.Is(err, errdefs.ErrNotFound) {
			t.Errorf("deleted skill: %v", err)
		}
		if ok, _ := s.SkillVersionExists(ctx, "skver_3b"); ok {
			t.Error("a deleted skill's version still exists")
		}
		if _, err := s.DeleteSkill(ctx, "a", "skill_3"); !errors.Is(err, errdefs.ErrNotFound) {
			t.Errorf("deleting it again: %v", err)
		}
	})

	t.Run("DuplicateID", func(t *testing.T) {
		s := newStore(t)
		if err := s.InsertSkill(ctx, skill("a", "skill_1", "skver_1", base), version("a", "skill_1", "skver_1", base)); err != nil {
			t.Fatal(err)
		}
		err := s.InsertSkill(ctx, skill("a", "skill_1", "skver_2", base), version("a", "skill_1", "skver_2", base))
		if !errors.Is(err, errdefs.ErrConflict) {
			t.Errorf("duplicate skill id: %v, want ErrConflict", err)
		}
		if ok, _ := s.SkillVersionExists(ctx, "skver_2"); ok {
			t.Error("a refused insert left its version behind")
		}
	})
}

func ids(vs []*skills.Version) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = v.ID
	}
	return out
}
