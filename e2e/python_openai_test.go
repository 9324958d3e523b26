package e2e

import "testing"

// TestPythonOpenAIContainers drives the native containers API with the official openai
// SDK, for what its shapes already share with OpenAI's.
func TestPythonOpenAIContainers(t *testing.T) {
	p := newPyEnv(t, sdkLatest, scriptOf(turn(text("ok"))), envOptions{containers: true})
	out := p.runScript(t, "check_openai_containers.py")
	wantLines(t, out,
		"created: container_",
		"listed: second, analysis\n",
		"files: /workspace/data.csv, /workspace/more.csv, /workspace/notes.txt\n",
		"deleted container: NotFoundError 404",
		"memory_limit: BadRequestError 400",
		"bad key: AuthenticationError 401",
	)
}
