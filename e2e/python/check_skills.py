# Agent Skills through the official anthropic SDK: a skill uploaded from a folder with
# files_from_dir, a second version, listings that page, the latest version, the archive
# download, container.skills in a Messages request (a custom and a built-in skill, the
# model's command reading them at /skills/<name>/), and the failures. Prints what the
# Go test checks.
import io
import os
import pathlib
import zipfile

import anthropic
from anthropic.lib import files_from_dir

client = anthropic.Anthropic(max_retries=0)
other = anthropic.Anthropic(api_key=os.environ["CODEBOX_OTHER_KEY"], max_retries=0)
tools = [{"type": "code_execution_20250825", "name": "code_execution"}]

folder = pathlib.Path("csv-report")
(folder / "scripts").mkdir(parents=True)
(folder / "SKILL.md").write_text(
    "---\nname: csv-report\ndescription: Summarises CSV files into a report.\n---\nRun scripts/report.py.\n")
(folder / "scripts" / "report.py").write_text("print('report from the skill')\n")

skill = client.skills.create(files=files_from_dir(folder), display_name="CSV report")
print("created:", skill.display_name, skill.source.type, skill.latest_version_id.startswith("skver_"))
first = skill.latest_version_id

(folder / "scripts" / "report.py").write_text("print('report from version 2')\n")
v2 = client.skills.versions.create(skill.id, files=files_from_dir(folder))
latest = client.skills.versions.retrieve("latest", skill_id=skill.id)
assert latest.id == v2.id, (latest, v2)
print("latest:", latest.name, latest.description)

versions = [v.id for v in client.skills.versions.list(skill.id, limit=1)]
assert versions == [v2.id, first], versions
second = client.skills.create(files=[("other-skill/SKILL.md", b"---\nname: other-skill\ndescription: Another.\n---\n")])
listed = [s.id for s in client.skills.list(limit=1)]
assert listed[:2] == [second.id, skill.id] and sorted(listed[2:]) == ["docx", "pdf", "pptx", "xlsx"], listed
assert [s.id for s in client.skills.list(source="custom")] == [second.id, skill.id]
print("paged:", len(versions), "versions,", len(listed), "skills")

archive = client.beta.skills.versions.download(first, skill_id=skill.id).read()
with zipfile.ZipFile(io.BytesIO(archive)) as z:
    print("archive:", sorted(z.namelist()), z.read("csv-report/scripts/report.py").decode().strip())

resp = client.messages.create(
    model="claude-opus-4-7", max_tokens=1024, tools=tools,
    container={"skills": [{"type": "custom", "skill_id": skill.id, "version": first},
                          {"type": "anthropic", "skill_id": "xlsx", "version": "latest"}]},
    messages=[{"role": "user", "content": "Make the report with the skill."}])
for block in resp.content:
    if block.type == "bash_code_execution_tool_result":
        print("stdout:", block.content.stdout.replace("\n", "|"))
print("container.skills:", [(s.type, s.skill_id, s.version == first if s.type == "custom" else s.version)
                            for s in resp.container.skills])

def expect(what, cls, fn, *args, **kw):
    try:
        fn(*args, **kw)
    except cls as e:
        assert e.body["error"]["message"], e.body
        print(f"{what}: {e.status_code} {e.body['error']['type']}: {e.body['error']['message']}")
        return
    raise AssertionError(f"{what}: no error, want {cls.__name__}")

expect("another workspace's skill", anthropic.NotFoundError, other.skills.retrieve, skill.id)
expect("another workspace's skill in a request", anthropic.NotFoundError, other.messages.create,
       model="claude-opus-4-7", max_tokens=10, tools=tools, container={"skills": [{"type": "custom", "skill_id": skill.id}]},
       messages=[{"role": "user", "content": "hi"}])
expect("too many skills", anthropic.BadRequestError, client.messages.create,
       model="claude-opus-4-7", max_tokens=10, tools=tools,
       container={"skills": [{"type": "anthropic", "skill_id": "xlsx"}] * 21},
       messages=[{"role": "user", "content": "hi"}])
expect("no SKILL.md", anthropic.BadRequestError, client.skills.create, files=[("x/README.md", b"hi")])
expect("reserved name", anthropic.BadRequestError, client.skills.create,
       files=[("SKILL.md", b"---\nname: claude-tools\ndescription: x\n---\n")])

client.skills.versions.delete(v2.id, skill_id=skill.id)
expect("deleting the only version", anthropic.BadRequestError, client.skills.versions.delete, first, skill_id=skill.id)
deleted = client.skills.delete(skill.id)
print("deleted:", deleted.type)
expect("deleted skill", anthropic.NotFoundError, client.skills.retrieve, skill.id)
