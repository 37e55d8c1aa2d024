"""A candidate's git tree: its record and its genotype as files a person can read and diff.

candidate.json      the record (kind, parents, genotype, proposer, ... as written)
recipe.yaml         merge candidates: the recipe, mergekit-style YAML
workspace/...       code candidates (and code roots): the workspace files
"""

from __future__ import annotations

from archive import yamlout
from archive.gitobjects import BLOB_MODE, TREE_MODE, ObjectStore, TreeEntry
from tools.errors import BadInput
from tools.tree_paths import check_path

RECORD_FILE = "candidate.json"
RECIPE_FILE = "recipe.yaml"
WORKSPACE_DIR = "workspace"


def genotype_files(record: dict, record_json: str) -> dict[str, bytes]:
    """The files of a candidate's tree, from its (already redacted) record, as a mapping and as JSON text."""
    files = {RECORD_FILE: record_json.encode()}
    genotype = record["genotype"]
    if record["kind"] == "merge":
        files[RECIPE_FILE] = yamlout.dump(genotype["recipe"]).encode()
    for path, text in genotype.get("files", {}).items():
        files["/".join((WORKSPACE_DIR, *check_path(path)))] = text.encode()
    return files


def write_tree(objects: ObjectStore, files: dict[str, bytes]) -> str:
    """Write blobs and nested trees for `path -> content`; returns the root tree."""
    nested: dict = {}
    for path, content in files.items():
        *dirs, name = path.split("/")
        node = nested
        for d in dirs:
            node = node.setdefault(d, {})
            if not isinstance(node, dict):
                raise BadInput(f"genotype file {path!r}: {d!r} is both a file and a directory")
        if isinstance(node.get(name), dict):
            raise BadInput(f"genotype file {path!r}: it is both a file and a directory")
        node[name] = content
    return _write_node(objects, nested)


def _write_node(objects: ObjectStore, node: dict) -> str:
    entries = []
    for name, value in node.items():
        if isinstance(value, dict):
            entries.append(TreeEntry(name, TREE_MODE, _write_node(objects, value)))
        else:
            entries.append(TreeEntry(name, BLOB_MODE, objects.write_blob(value)))
    return objects.write_tree(entries)


def read_files(objects: ObjectStore, tree: str, prefix: str = "") -> dict[str, bytes]:
    """Every file under a tree, as `path -> content`."""
    files = {}
    for name, entry in objects.tree(tree).items():
        if entry.is_tree:
            files.update(read_files(objects, entry.sha, f"{prefix}{name}/"))
        else:
            files[prefix + name] = objects.read_kind(entry.sha, "blob")
    return files


def read_record(objects: ObjectStore, tree: str) -> bytes:
    entry = objects.tree(tree).get(RECORD_FILE)
    if entry is None or entry.is_tree:
        raise BadInput(f"tree {tree}: no {RECORD_FILE}; this commit is not a Clade candidate (run `clade archive fsck`)")
    return objects.read_kind(entry.sha, "blob")
