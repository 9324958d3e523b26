package e2e

import "testing"

// TestPythonOpenAIContainers drives the containers API with the official openai SDK,
// only its base URL changed: containers and container files with their ids.
func TestPythonOpenAIContainers(t *testing.T) {
	p := newPyEnv(t, sdkLatest, scriptOf(turn(text("ok"))), envOptions{containers: true})
	out := p.runScript(t, "check_openai_containers.py")
	wantLines(t, out,
		"created: container_",
		"running 1g 30\n",
		"listed: second, analysis\n",
		"files: /workspace/data.csv user, /workspace/more.csv user, /workspace/notes.txt user, /workspace/out/report.txt assistant\n",
		"deleted file: cfile_",
		"deleted container: NotFoundError 404",
		"memory_limit: BadRequestError 400: a memory limit of 4.0 GiB is more than this server's maximum of 1.0 GiB per container",
		"bad expires_after: BadRequestError 400: expires_after.anchor",
		"deleted file: NotFoundError 404",
		"another workspace's file: NotFoundError 404",
		"bad key: AuthenticationError 401",
	)
}
