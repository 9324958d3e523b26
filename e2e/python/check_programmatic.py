# Programmatic tool calling through the official anthropic SDK: the model's code awaits
# the client tool lookup twice at once (asyncio.gather), then once more; the client
# answers each pause with tool_result blocks and the same container until the turn
# ends. Prints one line per step for the Go test.
import anthropic

client = anthropic.Anthropic(max_retries=0)
tools = [
    {"type": "code_execution_20260120", "name": "code_execution"},
    {"name": "lookup", "description": "Look a key up.",
     "input_schema": {"type": "object", "properties": {"k": {"type": "integer"}}},
     "allowed_callers": ["code_execution_20260120"]},
]
messages = [{"role": "user", "content": "look things up"}]
container = None
for round in range(5):
    kw = {"container": container} if container else {}
    m = client.messages.create(model="claude-opus-4-7", max_tokens=1024, messages=messages, tools=tools, **kw)
    container = m.container.id
    calls = [b for b in m.content if b.type == "tool_use"]
    if m.stop_reason != "tool_use":
        break
    for c in calls:
        assert c.caller.type == "code_execution_20260120", c.caller
        print(f"round {round}: {c.name}({c.input}) from {c.caller.type} {c.caller.tool_id[:9]}")
    messages.append({"role": "assistant", "content": m.content})
    messages.append({"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": c.id, "content": f"value {c.input['k']}"} for c in calls]})
for b in m.content:
    if b.type == "code_execution_tool_result":
        print("stdout:", b.content.stdout.replace("\n", " | "))
print("stop:", m.stop_reason)

# A continuation without the container is refused with Anthropic's message.
m = client.messages.create(model="claude-opus-4-7", max_tokens=1024, messages=messages[:1], tools=tools)
calls = [b for b in m.content if b.type == "tool_use"]
try:
    client.messages.create(model="claude-opus-4-7", max_tokens=1024, tools=tools, messages=messages[:1] + [
        {"role": "assistant", "content": m.content},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": c.id, "content": "x"} for c in calls]}])
    print("no container: accepted")
except anthropic.BadRequestError as e:
    print("no container:", e.status_code, e.body["error"]["message"])
