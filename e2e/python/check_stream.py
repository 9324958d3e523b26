# Streams code execution with client.messages.stream(...) and the SDK's accumulator:
# text deltas as they come, the tool input from its input_json_delta, the result block,
# and get_final_message(). Then the same with the beta client and the persistent Python
# REPL of code_execution_20260120, whose state survives from one cell to the next.
import anthropic

client = anthropic.Anthropic(max_retries=0)

texts, kinds = [], set()
with client.messages.stream(
    model="claude-opus-4-7",
    max_tokens=1024,
    messages=[{"role": "user", "content": "How many regions are there? Use the shell."}],
    tools=[{"type": "code_execution_20250825", "name": "code_execution"}],
) as stream:
    for event in stream:
        kinds.add(event.type)
        if event.type == "text":
            texts.append(event.text)
    final = stream.get_final_message()

assert {"message_start", "content_block_start", "content_block_delta", "content_block_stop", "message_stop"} <= kinds, kinds
assert [b.type for b in final.content] == ["text", "server_tool_use", "bash_code_execution_tool_result", "text"], final
use, result = final.content[1], final.content[2]
assert use.name == "bash_code_execution" and use.input == {"command": "printf 'north\\nsouth\\neast\\nwest\\n' | wc -l"}, use
assert result.tool_use_id == use.id and result.content.stdout.strip() == "4", result
assert "".join(texts) == final.content[0].text + final.content[3].text, texts
assert final.stop_reason == "end_turn" and final.container.id.startswith("container_"), final
assert final.usage.input_tokens > 0 and final.usage.output_tokens > 0, final.usage
print("streamed:", "".join(texts))
print("stdout:", result.content.stdout.strip())

with client.beta.messages.stream(
    model="claude-opus-4-7",
    max_tokens=1024,
    betas=["code-execution-2026-01-20"],
    messages=[{"role": "user", "content": "Keep a total in the REPL."}],
    tools=[{"type": "code_execution_20260120", "name": "code_execution"}],
) as stream:
    final = stream.get_final_message()
cells = [b for b in final.content if b.type == "code_execution_tool_result"]
assert len(cells) == 2, final
assert cells[1].content.stdout == "42\n", cells[1]
print("repl:", cells[1].content.stdout.strip())
