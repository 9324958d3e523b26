package postgres_test

import (
	"testing"

	"github.com/codebox-dev/codebox/skills"
	"github.com/codebox-dev/codebox/skills/skillstest"
)

func TestSkillStore(t *testing.T) {
	skillstest.RunStore(t, func(t *testing.T) skills.Store { return MustOpen(t) })
}
