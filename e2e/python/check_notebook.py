# Runs seed 000's notebook against codebox: its helpers (seed000_notebook.py, verbatim)
# and the cells that use them, In [12] to In [14], with the id of the file the analysis
# really produced in In [14]. The scripted model (e2e/python_test.go) answers with a
# pandas analysis run by the legacy code_execution_20250522 tool. Prints what the Go
# test checks; any failed check raises.
import anthropic
from anthropic.types import Message

from seed000_notebook import *  # noqa: F403 (the notebook's globals: client, helpers)

# The MIME map is the seed's: each upload is stored with the type it sends.
for name, data, want in [
    ("notes.md", b"# churn notes\n", "text/plain"),
    ("plans.json", b'{"plans": ["basic", "premium"]}', "application/json"),
    ("pixel.png", bytes.fromhex("89504e470d0a1a0a"), "image/png"),
]:
    with open(name, "wb") as f:
        f.write(data)
    meta = upload(name)
    assert meta.filename == name and meta.mime_type == want and meta.size_bytes == len(data), meta
    assert delete_file(meta.id).id == meta.id
try:
    upload("slides.pptx")
except ValueError as e:
    assert "Unknown mimetype" in str(e)
else:
    raise AssertionError("upload of an unmapped extension did not raise")

# In [12]:
file_metadata = upload("streaming.csv")
file_metadata
assert file_metadata.filename == "streaming.csv" and file_metadata.mime_type == "text/csv", file_metadata
assert file_metadata.type == "file" and file_metadata.downloadable is False, file_metadata
print("uploaded:", file_metadata.id)

# In [13]:
messages = []

add_user_message(
    messages,
    [
        {
            "type": "text",
            "text": """
Run a detailed analysis to determine major drivers of churn.
Your final output should include at least one detailed plot summarizing your findings.

Critical note: Every time you execute code, you're starting with a completely clean slate.
No variables or library imports from previous executions exist. You need to redeclare/reimport all variables/libraries.
            """,
        },
        {"type": "container_upload", "file_id": file_metadata.id},
    ],
)

message = chat(
    messages,
    tools=[{"type": "code_execution_20250522", "name": "code_execution"}]
)
assert isinstance(message, Message)
types = [b.type for b in message.content]
assert types == ["text", "server_tool_use", "code_execution_tool_result", "text"], message
use, result = message.content[1], message.content[2]
assert use.name == "code_execution" and "read_csv" in use.input["code"], use
assert result.tool_use_id == use.id and result.content.type == "code_execution_result", result
assert result.content.return_code == 0, result.content.stderr
print("stdout:", result.content.stdout.strip().replace("\n", " | "))
outputs = [item.file_id for item in result.content.content]
assert len(outputs) == 1, result.content
assert message.container.id.startswith("container_"), message.container
print("answer:", text_from_message(message).replace("\n", " | "))

# In [14]: the notebook downloads the chart by its id, under its own name.
download_file(outputs[0])
meta = get_metadata(outputs[0])
assert meta.downloadable is True and meta.mime_type == "image/png", meta
with open(meta.filename, "rb") as f:
    assert f.read(8) == bytes.fromhex("89504e470d0a1a0a"), "not a PNG"
download_file(outputs[0], "copy.png")
with open("copy.png", "rb") as f, open(meta.filename, "rb") as g:
    assert f.read() == g.read()
print("downloaded:", meta.filename)

listed = [f.id for f in list_files()]
assert file_metadata.id in listed and outputs[0] in listed, listed

# The conversation goes on with the SDK's own Message as the assistant turn: its
# server_tool_use and code_execution_tool_result blocks go back as they came.
add_assistant_message(messages, message)
add_user_message(messages, "How many customers are in the file?")
followup = chat(messages, tools=[{"type": "code_execution_20250522", "name": "code_execution"}])
counted = [b for b in followup.content if b.type == "code_execution_tool_result"]
assert len(counted) == 1 and counted[0].content.return_code == 0, followup
print("followup:", counted[0].content.stdout.strip())

delete_file(file_metadata.id)
try:
    get_metadata(file_metadata.id)
except anthropic.NotFoundError as e:
    assert e.status_code == 404 and e.message, e
else:
    raise AssertionError("metadata of a deleted file")
assert file_metadata.id not in [f.id for f in list_files()]
print("deleted:", file_metadata.id)
