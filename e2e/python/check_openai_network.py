# A container with a network allow-list and a domain secret through the official openai
# SDK: the container object echoes the policy (never the secret), code inside reaches the
# listed domain with the secret put in by codebox's proxy, and every other destination is
# refused. Prints what the Go test checks.
import json
import os
import urllib.request

from openai import OpenAI

client = OpenAI(max_retries=0)  # OPENAI_BASE_URL and OPENAI_API_KEY point it at codebox
secret = os.environ["CODEBOX_TEST_SECRET"]

c = client.containers.create(
    name="net",
    network_policy={
        "type": "allowlist",
        "allowed_domains": ["api.example.test"],
        "domain_secrets": [{"domain": "api.example.test", "name": "API_TOKEN", "value": secret}],
    },
)
assert c.network_policy.type == "allowlist", c
assert c.network_policy.allowed_domains == ["api.example.test"], c
assert secret not in c.model_dump_json(), c
print("policy:", c.network_policy.type, ",".join(c.network_policy.allowed_domains))
got = client.containers.retrieve(c.id)
assert got.network_policy.type == "allowlist" and secret not in got.model_dump_json(), got
assert client.containers.create(name="plain").network_policy.type == "disabled"

# Code runs through codebox's own python route (an extension of the containers API).
code = r'''
import os, subprocess, urllib.request
print("token:", os.environ["API_TOKEN"])
req = urllib.request.Request("https://api.example.test/v1/me", headers={"Authorization": "Bearer " + os.environ["API_TOKEN"]})
print("listed:", urllib.request.urlopen(req, timeout=30).read().decode())
for url in ["http://example.com/", "https://example.com/", "http://169.254.169.254/latest/meta-data/", "http://127.0.0.1:8080/"]:
    try:
        urllib.request.urlopen(url, timeout=30)
        print("REACHED", url)
    except Exception as e:
        print("refused:", url, getattr(e, "code", type(e).__name__))
'''
req = urllib.request.Request(
    os.environ["OPENAI_BASE_URL"] + f"/containers/{c.id}/python",
    data=json.dumps({"code": code}).encode(),
    headers={"x-api-key": os.environ["OPENAI_API_KEY"], "content-type": "application/json"},
)
res = json.load(urllib.request.urlopen(req))
assert secret not in res["stdout"], res
print(res["stdout"] + res["stderr"], end="")
