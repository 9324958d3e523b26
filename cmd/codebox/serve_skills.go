package main

import (
	"context"
	"fmt"

	"github.com/spf13/pflag"

	"github.com/codebox-dev/codebox/skills"
)

// skillsConfig is the Agent Skills section of the server's configuration.
type skillsConfig struct {
	MaxSkillSize byteSize
}

func bindSkillsFlags(fs *pflag.FlagSet, c *skillsConfig) {
	c.MaxSkillSize = skills.DefaultMaxSize
	fs.Var(&c.MaxSkillSize, "max-skill-size", "largest total size, uncompressed, of the files of one skill version (413 beyond)")
}

// setupSkills serves the Skills API, its archives in their own blobs namespace (the
// files' recovery would take them for leftovers), and the built-in skills.
func setupSkills(ctx context.Context, a *app) error {
	blobs, err := a.openBlobs(ctx, blobsSkills)
	if err != nil {
		return err
	}
	logger := a.logger.With("component", "skills")
	svc := skills.New(skills.Config{MaxSize: int64(a.cfg.MaxSkillSize), Logger: logger}, a.db, blobs, skills.Builtin)
	if n, err := svc.Recover(ctx); err != nil {
		return fmt.Errorf("recover skill archives: %w", err)
	} else if n > 0 {
		logger.Info("removed archives of unfinished skill uploads", "count", n)
	}
	a.skills = svc
	a.api.Skills = svc
	return nil
}
