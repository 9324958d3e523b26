# Runs seed 003's Python examples (seed003_*.py, verbatim) in the order the seed gives
# them, and checks what each left behind: the basic request, the upload and analysis of a
# CSV, the download of a generated file, and the container reuse, whose second request
# reads the random number the first one wrote to /tmp. Prints what the Go test checks.
import os
import runpy

here = os.path.dirname(__file__)


def run(name):
    print(f"== {name}")
    return runpy.run_path(os.path.join(here, name))


def bash_stdout(message):
    results = [b for b in message.content if b.type == "bash_code_execution_tool_result"]
    assert len(results) == 1, message
    assert results[0].content.type == "bash_code_execution_result", results[0]
    assert results[0].content.return_code == 0, results[0].content.stderr
    return results[0].content.stdout


basic = run("seed003_basic.py")
print("basic:", bash_stdout(basic["response"]).strip())

upload = run("seed003_upload.py")
file_object = upload["file_object"]
assert file_object.filename == "data.csv" and file_object.mime_type == "text/csv", file_object
print("upload:", bash_stdout(upload["response"]).strip())

outputs = run("seed003_output_files.py")
assert len(outputs["extract_file_ids"](outputs["response"])) == 1, outputs["response"]
with open("output.png", "rb") as f:
    assert f.read(8) == bytes.fromhex("89504e470d0a1a0a"), "output.png is not a PNG"

seed = run("seed003_container_reuse.py")
response1, response2 = seed["response1"], seed["response2"]
number = int(bash_stdout(response1).strip())
assert response2.container.id == response1.container.id, (response1.container, response2.container)
assert f"{number} squared is {number * number}" in bash_stdout(response2), response2
print("number:", number)
print("squared:", bash_stdout(response2).strip())
print("container:", response2.container.id)
