# The documented failures through the official anthropic SDK: each raises its own
# exception class (the status's, or the SDK's subclass of it for the envelope's
# details.error_code, such as FileNotDownloadableError), with the status, the error
# envelope's type and a message that is not empty. Prints one line per failure for the
# Go test.
import os

import anthropic

client = anthropic.Anthropic(max_retries=0)
other = anthropic.Anthropic(api_key=os.environ["CODEBOX_OTHER_KEY"], max_retries=0)
tools = [{"type": "code_execution_20250825", "name": "code_execution"}]


def ask(content, c=client, **kw):
    kw.setdefault("tools", tools)
    kw.setdefault("max_tokens", 1024)
    return c.messages.create(model="claude-opus-4-7", messages=[{"role": "user", "content": content}], **kw)


def expect(what, cls, status, kind, fn, *args, **kw):
    try:
        fn(*args, **kw)
    except anthropic.APIStatusError as e:
        assert isinstance(e, cls), f"{what}: {type(e).__name__} {e}, want {cls.__name__}"
        assert e.status_code == status, f"{what}: status {e.status_code}, want {status}"
        assert e.body["type"] == "error" and e.body["error"]["type"] == kind, f"{what}: {e.body}"
        message = e.body["error"]["message"]
        assert message and e.message, f"{what}: empty message: {e.body}"
        assert "/var/" not in message and "/tmp/" not in message, f"{what}: host path in {message!r}"
        print(f"{what}: {type(e).__name__} {status} {kind}: {message}")
        return
    raise AssertionError(f"{what}: no error, want {cls.__name__}")


expect("bad key", anthropic.AuthenticationError, 401, "authentication_error",
       anthropic.Anthropic(api_key="sk-not-a-codebox-key", max_retries=0).beta.files.list)
expect("unknown file metadata", anthropic.NotFoundError, 404, "not_found_error",
       client.beta.files.retrieve_metadata, "file_doesnotexist")
expect("unknown file download", anthropic.NotFoundError, 404, "not_found_error",
       client.beta.files.download, "file_doesnotexist")
expect("unknown file delete", anthropic.NotFoundError, 404, "not_found_error",
       client.beta.files.delete, "file_doesnotexist")

uploaded = client.beta.files.upload(file=("data.csv", b"a,b\n1,2\n", "text/csv"))
expect("another workspace's file", anthropic.NotFoundError, 404, "not_found_error",
       other.beta.files.retrieve_metadata, uploaded.id)
expect("uploaded file download", anthropic.BadRequestError, 400, "invalid_request_error",
       client.beta.files.download, uploaded.id)
expect("unknown container", anthropic.NotFoundError, 404, "not_found_error",
       ask, "Use the container.", container="container_doesnotexist")
expect("expired container", anthropic.BadRequestError, 400, "invalid_request_error",
       ask, "Use the container.", container=os.environ["CODEBOX_EXPIRED_CONTAINER"])
expect("unknown container_upload", anthropic.NotFoundError, 404, "not_found_error",
       ask, [{"type": "text", "text": "Analyse it."}, {"type": "container_upload", "file_id": "file_doesnotexist"}])
expect("another workspace's container_upload", anthropic.NotFoundError, 404, "not_found_error",
       ask, [{"type": "text", "text": "Analyse it."}, {"type": "container_upload", "file_id": uploaded.id}], c=other)
expect("container_upload without the tool", anthropic.BadRequestError, 400, "invalid_request_error",
       ask, [{"type": "text", "text": "Analyse it."}, {"type": "container_upload", "file_id": uploaded.id}], tools=[])
expect("max_tokens 0", anthropic.BadRequestError, 400, "invalid_request_error",
       ask, "Hello.", max_tokens=0)
expect("no messages", anthropic.BadRequestError, 400, "invalid_request_error",
       client.messages.create, model="claude-opus-4-7", max_tokens=1024, messages=[], tools=tools)
expect("upstream rate limit", anthropic.RateLimitError, 429, "rate_limit_error",
       ask, "The upstream is rate limited.")
expect("upstream overloaded", anthropic.OverloadedError, 529, "overloaded_error",
       ask, "The upstream is overloaded.")
expect("upstream failure", anthropic.InternalServerError, 500, "api_error",
       ask, "The upstream is broken.")


def stream_rate_limited():
    with client.messages.stream(model="claude-opus-4-7", max_tokens=1024, tools=tools,
                                messages=[{"role": "user", "content": "The upstream is rate limited."}]) as s:
        s.get_final_message()


expect("streamed upstream rate limit", anthropic.RateLimitError, 429, "rate_limit_error", stream_rate_limited)
