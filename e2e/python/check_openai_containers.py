# The native containers API through the official openai SDK, as far as its shapes match
# OpenAI's today: containers create (with Files API files copied in), retrieve, list with
# its cursor pages, delete; a container file uploaded and listed by path; and the error
# classes of the failures. Prints what the Go test checks.
import anthropic
import openai
from openai import OpenAI

client = OpenAI(max_retries=0)  # OPENAI_BASE_URL and OPENAI_API_KEY point it at codebox
files = anthropic.Anthropic(max_retries=0).beta.files
uploaded = files.upload(file=("data.csv", b"x,y\n1,2\n3,4\n", "text/csv"))

first = client.containers.create(name="analysis", file_ids=[uploaded.id])
assert first.id.startswith("container_") and first.object == "container", first
assert first.name == "analysis" and first.status == "running", first
assert isinstance(first.created_at, int) and first.created_at > 0, first
assert isinstance(first.last_active_at, int) and first.last_active_at >= first.created_at, first
assert first.expires_after.anchor == "last_active_at" and first.expires_after.minutes > 0, first
print("created:", first.id, first.name, first.status)

got = client.containers.retrieve(first.id)
assert (got.id, got.name, got.created_at) == (first.id, first.name, first.created_at), got

second = client.containers.create(name="second")
page = client.containers.list(limit=1)
assert [c.id for c in page.data] == [second.id] and page.has_more, page
assert [c.id for c in client.containers.list(limit=1)] == [second.id, first.id]  # pages by after=
print("listed:", ", ".join(c.name for c in client.containers.list()))

# Files: an upload and a copy of a Files API file land where OpenAI puts them, and the
# listing shows them with the copy made at creation.
notes = client.containers.files.create(first.id, file=("notes.txt", b"remember the milk\n"))
assert notes.object == "container.file" and notes.path == "/workspace/notes.txt" and notes.bytes == 18, notes
more = files.upload(file=("more.csv", b"z\n9\n", "text/csv"))
copied = client.containers.files.create(first.id, file_id=more.id)
assert copied.path == "/workspace/more.csv" and copied.bytes == 4 and copied.source == "user", copied
listed = {f.path: f.bytes for f in client.containers.files.list(first.id)}
want = {"/workspace/data.csv": 12, "/workspace/more.csv": 4, "/workspace/notes.txt": 18}
assert {p: listed.get(p) for p in want} == want, listed
print("files:", ", ".join(sorted(listed)))

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
expect("bad key", openai.AuthenticationError, 401, OpenAI(api_key="sk-not-a-codebox-key", max_retries=0).containers.list)
