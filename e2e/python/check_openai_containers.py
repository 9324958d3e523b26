# The containers API through the official openai SDK, only the base URL changed:
# containers create (with Files API files copied in, expires_after and memory_limit),
# retrieve, list with its cursor pages, delete; container files uploaded (multipart and
# by file_id), written by code, listed, retrieved, downloaded and deleted by id; and the
# error classes of the failures. Prints what the Go test checks.
import json
import os
import urllib.request

import anthropic
import openai
from openai import OpenAI
from openai.types.containers import FileCreateResponse, FileListResponse, FileRetrieveResponse

client = OpenAI(max_retries=0)  # OPENAI_BASE_URL and OPENAI_API_KEY point it at codebox
files = anthropic.Anthropic(max_retries=0).beta.files
uploaded = files.upload(file=("data.csv", b"x,y\n1,2\n3,4\n", "text/csv"))

first = client.containers.create(name="analysis", file_ids=[uploaded.id], memory_limit="1g",
                                 expires_after={"anchor": "last_active_at", "minutes": 30})
assert first.id.startswith("container_") and first.object == "container", first
assert first.name == "analysis" and first.status == "running", first
assert isinstance(first.created_at, int) and first.created_at > 0, first
assert isinstance(first.last_active_at, int) and first.last_active_at >= first.created_at, first
assert first.expires_after.anchor == "last_active_at" and first.expires_after.minutes == 30, first
assert first.memory_limit == "1g", first
print("created:", first.id, first.name, first.status, first.memory_limit, first.expires_after.minutes)

got = client.containers.retrieve(first.id)
assert (got.id, got.name, got.created_at) == (first.id, first.name, first.created_at), got

second = client.containers.create(name="second")
page = client.containers.list(limit=1)
assert [c.id for c in page.data] == [second.id] and page.has_more, page
assert [c.id for c in client.containers.list(limit=1)] == [second.id, first.id]  # pages by after=
print("listed:", ", ".join(c.name for c in client.containers.list()))

# Files: an upload and a copy of a Files API file land in the working directory with
# cfile_ ids; the listing shows them with the copy made at creation, and a file the code
# wrote as the assistant's. Each item validates strictly as the SDK's own model.
notes = client.containers.files.create(first.id, file=("notes.txt", b"remember the milk\n"))
FileCreateResponse.model_validate(notes.model_dump())
assert notes.id.startswith("cfile_") and notes.container_id == first.id, notes
assert notes.object == "container.file" and notes.path == "/workspace/notes.txt" and notes.bytes == 18, notes
assert notes.source == "user" and notes.created_at > 0, notes
more = files.upload(file=("more.csv", b"z\n9\n", "text/csv"))
copied = client.containers.files.create(first.id, file_id=more.id)
assert copied.path == "/workspace/more.csv" and copied.bytes == 4 and copied.source == "user", copied


def run(container_id, command):
    """Runs a command through codebox's own exec route (an extension of the API)."""
    req = urllib.request.Request(
        f"{os.environ['OPENAI_BASE_URL']}/containers/{container_id}/exec",
        data=json.dumps({"command": command}).encode(),
        headers={"Authorization": f"Bearer {os.environ['OPENAI_API_KEY']}", "Content-Type": "application/json"})
    with urllib.request.urlopen(req) as resp:
        return json.load(resp)


run(first.id, "mkdir -p out && printf 'made by code' > out/report.txt")
listed = {}
for f in client.containers.files.list(first.id, limit=2, order="asc"):  # pages by after=
    FileListResponse.model_validate(f.model_dump())
    listed[f.path] = f
want = {"/workspace/data.csv": (12, "user"), "/workspace/more.csv": (4, "user"),
        "/workspace/notes.txt": (18, "user"), "/workspace/out/report.txt": (12, "assistant")}
assert {p: (f.bytes, f.source) for p, f in listed.items()} == want, listed
report = listed["/workspace/out/report.txt"]
assert [f.id for f in client.containers.files.list(first.id) if f.path == report.path] == [report.id]
print("files:", ", ".join(f"{p} {f.source}" for p, f in sorted(listed.items())))

got = client.containers.files.retrieve(report.id, container_id=first.id)
FileRetrieveResponse.model_validate(got.model_dump())
assert (got.id, got.path, got.bytes, got.source) == (report.id, report.path, 12, "assistant"), got
content = client.containers.files.content.retrieve(notes.id, container_id=first.id).read()
assert content == b"remember the milk\n", content
assert client.containers.files.delete(notes.id, container_id=first.id) is None
assert run(first.id, "ls")["stdout"].split() == ["data.csv", "more.csv", "out"]
print("deleted file:", notes.id)

assert client.containers.delete(second.id) is None


def expect(what, cls, status, fn, *args, **kw):
    try:
        fn(*args, **kw)
    except openai.APIStatusError as e:
        assert type(e) is cls, f"{what}: {type(e).__name__} {e}, want {cls.__name__}"
        assert e.status_code == status, f"{what}: status {e.status_code}, want {status}"
        assert e.body["message"] and e.message, f"{what}: empty message: {e.body}"
        print(f"{what}: {cls.__name__} {status}: {e.body['message']}")
        return
    raise AssertionError(f"{what}: no error, want {cls.__name__}")


expect("deleted container", openai.NotFoundError, 404, client.containers.retrieve, second.id)
expect("unknown container", openai.NotFoundError, 404, client.containers.retrieve, "container_doesnotexist")
expect("memory_limit", openai.BadRequestError, 400, client.containers.create, name="big", memory_limit="4g")
expect("bad expires_after", openai.BadRequestError, 400, client.containers.create, name="x",
       expires_after={"anchor": "created_at", "minutes": 5})
expect("deleted file", openai.NotFoundError, 404, client.containers.files.retrieve, notes.id, container_id=first.id)
expect("another workspace's file", openai.NotFoundError, 404,
       OpenAI(api_key=os.environ["CODEBOX_OTHER_KEY"], max_retries=0).containers.files.retrieve, report.id, container_id=first.id)
expect("bad key", openai.AuthenticationError, 401, OpenAI(api_key="sk-not-a-codebox-key", max_retries=0).containers.list)
