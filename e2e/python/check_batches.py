# Message Batches through the official anthropic SDK: create a batch of code execution
# requests, follow it until it ends, read its results (the SDK fetches results_url),
# page through the list, cancel, delete, and the beta client. Prints one line per
# check for the Go test.
import os
import time

import anthropic

client = anthropic.Anthropic(max_retries=0)
other = anthropic.Anthropic(api_key=os.environ["CODEBOX_OTHER_KEY"], max_retries=0)
tools = [{"type": "code_execution_20250825", "name": "code_execution"}]


def params(prompt, **kw):
    kw.setdefault("tools", tools)
    return {"model": "claude-opus-4-7", "max_tokens": 1024,
            "messages": [{"role": "user", "content": prompt}], **kw}


def wait(batches, batch_id):
    for _ in range(3000):
        b = batches.retrieve(batch_id)
        if b.processing_status == "ended":
            return b
        time.sleep(0.05)
    raise AssertionError(f"{batch_id} did not end")


batch = client.messages.batches.create(requests=[
    {"custom_id": "exec-1", "params": params("run it")},
    {"custom_id": "exec-2", "params": params("run it again")},
    {"custom_id": "bad", "params": {"model": "claude-opus-4-7", "max_tokens": 1024, "messages": []}},
])
assert batch.id.startswith("msgbatch_") and batch.type == "message_batch", batch
assert batch.processing_status == "in_progress" and batch.results_url is None, batch
assert (batch.expires_at - batch.created_at).total_seconds() == 24 * 3600, batch
print("created", batch.request_counts.processing, "processing")

ended = wait(client.messages.batches, batch.id)
rc = ended.request_counts
print(f"ended: succeeded={rc.succeeded} errored={rc.errored} canceled={rc.canceled} expired={rc.expired}")
assert ended.ended_at is not None and ended.cancel_initiated_at is None, ended
assert ended.results_url == f"{os.environ['ANTHROPIC_BASE_URL']}/v1/messages/batches/{batch.id}/results", ended.results_url

for r in sorted(client.messages.batches.results(batch.id), key=lambda r: r.custom_id):
    if r.result.type == "succeeded":
        m = r.result.message
        out = [b for b in m.content if b.type == "bash_code_execution_tool_result"][0].content
        print(f"result {r.custom_id}: succeeded {out.stdout.strip()} container={m.container.id.startswith('container_')}")
    else:
        e = r.result.error
        print(f"result {r.custom_id}: {r.result.type} {e.error.type}: {e.error.message}")

second = client.messages.batches.create(requests=[{"custom_id": f"slow-{i}", "params": params("slow")} for i in range(3)])
canceled = client.messages.batches.cancel(second.id)
print("cancel:", canceled.processing_status in ("canceling", "ended"), canceled.cancel_initiated_at is not None)
ended2 = wait(client.messages.batches, second.id)
print("after cancel:", ended2.request_counts.succeeded + ended2.request_counts.canceled, "of 3 answered or canceled")

page = client.messages.batches.list(limit=1)
print("first page:", [b.id for b in page.data] == [second.id], page.has_more)
print("all:", [b.id for b in client.messages.batches.list(limit=1)] == [second.id, batch.id])

try:
    other.messages.batches.retrieve(batch.id)
    raise AssertionError("another workspace read the batch")
except anthropic.NotFoundError as e:
    print("other workspace: NotFoundError", e.status_code)

deleted = client.messages.batches.delete(batch.id)
print("deleted:", deleted.id == batch.id, deleted.type)
try:
    client.messages.batches.retrieve(batch.id)
    raise AssertionError("deleted batch still there")
except anthropic.NotFoundError:
    print("deleted batch: NotFoundError")

try:
    client.messages.batches.create(requests=[{"custom_id": "x", "params": params("a")},
                                             {"custom_id": "x", "params": params("b")}])
    raise AssertionError("duplicate custom_id accepted")
except anthropic.BadRequestError as e:
    print("duplicate custom_id: BadRequestError", e.body["error"]["message"])

beta = client.beta.messages.batches.create(requests=[{"custom_id": "beta-1", "params": params("run it")}])
ended3 = wait(client.beta.messages.batches, beta.id)
for r in client.beta.messages.batches.results(beta.id):
    print(f"beta result {r.custom_id}: {r.result.type} succeeded={ended3.request_counts.succeeded}")
