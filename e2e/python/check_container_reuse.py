# Runs seed 003's container reuse example (seed003_container_reuse.py, verbatim) and
# checks its two responses: the second request ran in the first one's container and
# read the number the first one wrote to /tmp. Prints what the Go test checks.
import os
import runpy

seed = runpy.run_path(os.path.join(os.path.dirname(__file__), "seed003_container_reuse.py"))
response1, response2 = seed["response1"], seed["response2"]


def bash_stdout(message):
    results = [b for b in message.content if b.type == "bash_code_execution_tool_result"]
    assert len(results) == 1, message
    assert results[0].content.type == "bash_code_execution_result", results[0]
    assert results[0].content.return_code == 0, results[0].content.stderr
    return results[0].content.stdout


number = int(bash_stdout(response1).strip())
assert response2.container.id == response1.container.id, (response1.container, response2.container)
assert f"{number} squared is {number * number}" in bash_stdout(response2), response2
print("number:", number)
print("squared:", bash_stdout(response2).strip())
print("container:", response2.container.id)
