# The official Python SDK on a node that does not host the container (CODEBOX_CONTAINER,
# made by the Go test): an upload listed, the container reused with a file of an earlier
# request in it (script/read prints kept.txt and the line count of sales.csv), streamed,
# and the file listing.
import os

import anthropic

client = anthropic.Anthropic(max_retries=0)
container = os.environ["CODEBOX_CONTAINER"]

data = b"a,b\n1,2\n"
up = client.beta.files.upload(file=("py.csv", data, "text/csv"))
meta = client.beta.files.retrieve_metadata(up.id)
assert meta.size_bytes == len(data) and meta.filename == "py.csv" and not meta.downloadable, meta
assert up.id in [f.id for f in client.beta.files.list(limit=1000)], up
print("upload:", up.id)

tools = [{"type": "code_execution_20250825", "name": "code_execution"}]
ask = {"model": "script/read", "max_tokens": 1024, "container": container, "tools": tools,
       "messages": [{"role": "user", "content": "go"}]}
msg = client.messages.create(**ask)
result = [b for b in msg.content if b.type == "bash_code_execution_tool_result"][0]
assert msg.container.id == container and result.content.stdout == "kept\n10\n", msg
print("reuse:", result.content.stdout.split())

with client.messages.stream(**ask) as stream:
    final = stream.get_final_message()
result = [b for b in final.content if b.type == "bash_code_execution_tool_result"][0]
assert final.stop_reason == "end_turn" and result.content.stdout == "kept\n10\n", final
print("stream:", result.content.stdout.split())
client.beta.files.delete(up.id)
