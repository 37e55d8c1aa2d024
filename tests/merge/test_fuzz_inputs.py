"""Fuzz corpus (issue 12): generated malformed recipes and damaged weight, config and tokenizer
files, each run through the real `clade merge` entry point. Every case must end with exit 2, exactly
one line on stderr naming what is wrong, no traceback, and nothing written (no output directory, no
temporary sibling). The case counts per surface are printed (`pytest -s`) and checked below."""

from __future__ import annotations

import copy
import json
import math
import shutil
import struct

import pytest
import yaml

from agents.cli import main

VALID = {  # each a recipe that merges (checked by test_the_seeds_are_valid); the mutations break them
    "linear": {
        "merge_method": "linear",
        "models": [{"model": "A", "parameters": {"weight": 0.5}}, {"model": "B", "parameters": {"weight": 0.5}}],
    },
    "ties": {
        "merge_method": "ties",
        "base_model": "BASE",
        "parameters": {"normalize": True},
        "models": [
            {"model": "A", "parameters": {"weight": 1.0, "density": 0.5}},
            {"model": "B", "parameters": {"weight": 1.0, "density": 0.5}},
        ],
    },
    "slices": {
        "merge_method": "slerp",
        "base_model": "A",
        "parameters": {"t": 0.3},
        "slices": [{"sources": [{"model": "A", "layer_range": [0, 3]}, {"model": "B", "layer_range": [0, 3]}]}],
    },
    "layer_path": {"layer_path": [{"model": "A", "layer": 0}, {"model": "B", "layer": 1}, {"model": "A", "layer": 2}]},
}
NOT_A_NUMBER = [None, "x", [], {}, True, [1, "x"]]
BAD_NUMBERS = [math.nan, math.inf, -math.inf, 1e308, -1e308]
BAD_STRINGS = [None, "", "   ", 1, 2.5, [], {}, True]


def _set(recipe: dict, path: tuple, value):
    node = recipe
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value


def _del(recipe: dict, path: tuple):
    node = recipe
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]


def recipe_cases() -> list[tuple[str, dict]]:
    cases: list[tuple[str, dict]] = []

    def add(name, seed, change):
        recipe = copy.deepcopy(VALID[seed])
        change(recipe)
        cases.append((f"{seed}:{name}", recipe))

    for seed in VALID:
        add("extra top-level field", seed, lambda r: r.update(bogus_field=1))
        add("empty mapping", seed, lambda r: r.clear())
        for value in BAD_STRINGS + ["no_such_method", "LINEAR ", "../linear"]:
            if seed == "layer_path" and value in (None, "passthrough"):
                continue
            add(f"merge_method={value!r}", seed, lambda r, v=value: r.update(merge_method=v))
        for field in ("dtype", "out_dtype"):
            for value in ["float13", "int8", "", 3, [], {}, "bool"]:
                add(f"{field}={value!r}", seed, lambda r, f=field, v=value: r.update({f: v}))
        for value in ["", 1, [], "nowhere/model", "/dev/null", "/etc/hostname", "/proc", "A+nowhere"]:
            add(f"base_model={value!r}", seed, lambda r, v=value: r.update(base_model=v))
        add("tokenizer_source=unknown", seed, lambda r: r.update(tokenizer_source="nowhere/tok"))
        add("tokenizer.source wrong type", seed, lambda r: r.update(tokenizer={"source": 3}))
        add("tokenizer.pad_to_multiple_of=0", seed, lambda r: r.update(tokenizer={"source": "union", "pad_to_multiple_of": 0}))
        add("chat_template wrong type", seed, lambda r: r.update(chat_template=[1]))
        add("parameters is a list", seed, lambda r: r.update(parameters=[1, 2]))
        add("two forms", seed, lambda r: r.update(models=[{"model": "A"}], slices=[{"sources": [{"model": "A", "layer_range": [0, 3]}]}]))
        add("calibration on a plain method", seed, lambda r: r.update(calibration={"task": "qa"}))
    form = {"linear": "models", "ties": "models", "slices": "slices", "layer_path": "layer_path"}
    for seed, key in form.items():
        add(f"{key} missing", seed, lambda r, k=key: r.pop(k))
        for value in (None, [], {}, "A", 3):
            add(f"{key}={value!r}", seed, lambda r, k=key, v=value: r.update({k: v}))
        add(f"{key}[0] extra field", seed, lambda r, k=key: r[k][0].update(bogus=1))
        add(f"{key}[0] is a string", seed, lambda r, k=key: _set(r, (k, 0), "A"))
        add(f"{key}[0] is null", seed, lambda r, k=key: _set(r, (k, 0), None))
    for seed in ("linear", "ties"):
        for value in ["", None, 3, [], "nowhere", "/dev/zero", "/etc/hostname", "A+/nowhere"]:
            add(f"models[1].model={value!r}", seed, lambda r, v=value: _set(r, ("models", 1, "model"), v))
        add("models[1].model missing", seed, lambda r: _del(r, ("models", 1, "model")))
        for value in NOT_A_NUMBER + BAD_NUMBERS:
            add(f"weight={value!r}", seed, lambda r, v=value: _set(r, ("models", 0, "parameters", "weight"), v))
        if seed == "linear":  # ties normalises by the weights that agree in sign: 1 and -1 is a valid ties recipe
            add(
                "weights summing to 0",
                seed,
                lambda r: (_set(r, ("models", 0, "parameters", "weight"), 1.0), _set(r, ("models", 1, "parameters", "weight"), -1.0)),
            )
        add("parameters is a number", seed, lambda r: _set(r, ("models", 0, "parameters"), 3))
        add("conditional without value", seed, lambda r: _set(r, ("models", 0, "parameters", "weight"), {"filter": "mlp"}))
        add("conditional extra key", seed, lambda r: _set(r, ("models", 0, "parameters", "weight"), {"filter": "mlp", "value": 1, "x": 2}))
    for value in NOT_A_NUMBER + BAD_NUMBERS + [-1, 0.0, 1.5]:
        add(f"density={value!r}", "ties", lambda r, v=value: _set(r, ("models", 0, "parameters", "density"), v))
    for value in NOT_A_NUMBER + [math.nan, math.inf, -math.inf, 1e308]:  # t of -1 or 2 extrapolates, as in mergekit
        add(f"t={value!r}", "slices", lambda r, v=value: _set(r, ("parameters", "t"), v))
    for value in ([0, 0], [2, 1], [-1, 2], [0, 4], [0, 10**12], [0], [0, 1, 2], "0-3", None, [0.5, 2], ["a", "b"], [0, math.inf]):
        add(f"layer_range={value!r}", "slices", lambda r, v=value: _set(r, ("slices", 0, "sources", 0, "layer_range"), v))
    add("slice sources of different lengths", "slices", lambda r: _set(r, ("slices", 0, "sources", 1, "layer_range"), [0, 2]))
    add("slice sources empty", "slices", lambda r: _set(r, ("slices", 0, "sources"), []))
    add("residual_weight", "slices", lambda r: _set(r, ("slices", 0, "residual_weight"), 0.5))
    add("slerp without base", "slices", lambda r: r.pop("base_model"))
    add("ties without base", "ties", lambda r: r.pop("base_model"))
    for value in (-1, 3, 10**12, 1.5, "0", None, math.nan, True):
        add(f"layer={value!r}", "layer_path", lambda r, v=value: _set(r, ("layer_path", 1, "layer"), v))
    for value in ("", "nowhere", None, 7):
        add(f"layer_path model={value!r}", "layer_path", lambda r, v=value: _set(r, ("layer_path", 1, "model"), v))
    add("layer_path with merge_method linear", "layer_path", lambda r: r.update(merge_method="linear"))
    add("scale=nan", "layer_path", lambda r: _set(r, ("layer_path", 0, "parameters"), {"scale": math.nan}))
    add("scale=inf", "layer_path", lambda r: _set(r, ("layer_path", 0, "parameters"), {"scale": math.inf}))
    return cases


RECIPES = recipe_cases()


@pytest.fixture(scope="module")
def models(zoo):
    return {"A": str(zoo["a"]), "B": str(zoo["b"]), "BASE": str(zoo["base"])}


def resolve(node, models):
    if isinstance(node, dict):
        return {
            k: (models.get(v, v) if k in ("model", "base_model") and isinstance(v, str) else resolve(v, models)) for k, v in node.items()
        }
    if isinstance(node, list):
        return [resolve(v, models) for v in node]
    return node


def refused(tmp_path, capsys, recipe_file, out=None):
    out = out or tmp_path / "out"
    before = sorted(p.name for p in tmp_path.iterdir())
    code = main(["merge", str(recipe_file), str(out)])
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert code == 2, f"exit {code}: {err}"
    assert len(err.splitlines()) == 1, err
    assert "Traceback" not in err and err.startswith("clade: error: ")
    assert sorted(p.name for p in tmp_path.iterdir()) == before, "a refused merge wrote something"
    return err


def write_recipe(tmp_path, recipe) -> object:
    file = tmp_path / "recipe.yaml"
    file.write_text(yaml.safe_dump(recipe, allow_unicode=True))
    return file


def test_case_counts():
    print(f"\nfuzz surfaces: recipes {len(RECIPES)}, damaged files {len(DAMAGED)}")
    assert len(RECIPES) >= 200 and len(DAMAGED) >= 40


@pytest.mark.parametrize("seed", sorted(VALID))
def test_the_seeds_are_valid(seed, models, tmp_path, capsys):
    code = main(["merge", str(write_recipe(tmp_path, resolve(VALID[seed], models))), str(tmp_path / "out")])
    assert code == 0, capsys.readouterr().err
    assert (tmp_path / "out" / "model.safetensors").is_file()


@pytest.mark.parametrize(("name", "recipe"), RECIPES, ids=[n for n, _ in RECIPES])
def test_malformed_recipe(name, recipe, models, tmp_path, capsys):
    refused(tmp_path, capsys, write_recipe(tmp_path, resolve(recipe, models)))


# ---- damaged model files: a copy of model B with one file damaged, merged with model A ----


def header_with(raw_header) -> bytes:
    body = json.dumps(raw_header).encode()
    return struct.pack("<Q", len(body)) + body


def _weights(path):
    return path / "model.safetensors"


def _first_tensor(path):
    data = _weights(path).read_bytes()
    (size,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + size])
    name = next(k for k in header if k != "__metadata__")
    return data, size, header, name


def truncate(fraction):
    def change(path):
        data = _weights(path).read_bytes()
        _weights(path).write_bytes(data[: int(len(data) * fraction)])

    return change


def replace_header(value):
    def change(path):
        _weights(path).write_bytes(header_with(value) + b"\0" * 64)

    return change


def edit_entry(field, value):
    def change(path):
        data, size, header, name = _first_tensor(path)
        header[name][field] = value
        body = json.dumps(header).encode()
        _weights(path).write_bytes(struct.pack("<Q", len(body)) + body + data[8 + size :])

    return change


def offsets_past_end(path):
    data, size, header, name = _first_tensor(path)
    begin, end = header[name]["data_offsets"]
    last = max(v["data_offsets"][1] for k, v in header.items() if k != "__metadata__")
    header[name]["data_offsets"] = [last + 1000, last + 1000 + end - begin]
    body = json.dumps(header).encode()
    _weights(path).write_bytes(struct.pack("<Q", len(body)) + body + data[8 + size :])


def header_size(value):
    def change(path):
        data = _weights(path).read_bytes()
        _weights(path).write_bytes(struct.pack("<Q", value) + data[8:])

    return change


def write_file(name, content: bytes):
    def change(path):
        (path / name).write_bytes(content)

    return change


def config_edit(**fields):
    def change(path):
        config = json.loads((path / "config.json").read_text())
        config.update(fields)
        (path / "config.json").write_text(json.dumps(config))

    return change


def remove(name):
    def change(path):
        (path / name).unlink()

    return change


def damaged_cases():
    cases = []
    for fraction in (0.0, 0.001, 0.3, 0.9, 0.999):
        cases.append((f"weights truncated to {fraction:.1%}", truncate(fraction)))
    for value in ([], [1, 2], 3, None, "text", True, {"t": 5}, {"t": []}):
        cases.append((f"header is {json.dumps(value)}", replace_header(value)))
    for field, value in (
        ("dtype", "F13"),
        ("dtype", None),
        ("shape", None),
        ("shape", [-4, -8]),
        ("shape", "x"),
        ("shape", [10**12]),
        ("data_offsets", None),
        ("data_offsets", [5]),
        ("data_offsets", [-8, 0]),
        ("data_offsets", ["a", "b"]),
    ):
        cases.append((f"header {field}={json.dumps(value)}", edit_entry(field, value)))
    cases.append(("offsets past the end", offsets_past_end))
    for value in (0, 7, 2**40, 2**63):
        cases.append((f"header size {value}", header_size(value)))
    cases.append(("weights not UTF-8 header", write_file("model.safetensors", struct.pack("<Q", 4) + b"\xff\xfe\xfa\x00")))
    cases.append(("weights empty file", write_file("model.safetensors", b"")))
    for value in (b"[]", b"null", b'"a string"', b"3", b"{", b"", b"\xff\xfe not utf-8", b"[1, 2, 3]", b"true"):
        cases.append((f"config.json = {value[:12]!r}", write_file("config.json", value)))
    cases.append(("config.json missing", remove("config.json")))
    for key, value in (
        ("num_hidden_layers", 10**12),
        ("num_hidden_layers", -1),
        ("num_hidden_layers", "3"),
        ("num_hidden_layers", None),
        ("num_hidden_layers", 2),
        ("num_hidden_layers", 4),
        ("num_hidden_layers", 0),
        ("num_hidden_layers", True),
        ("num_hidden_layers", 3.0),
        ("hidden_size", 64),
    ):
        cases.append((f"config {key}={json.dumps(value)}", config_edit(**{key: value})))
    for value in (b"{", b"\xff\xfe", b"[]", b"null", b'{"model": 3}', b'{"model": {"vocab": {"a": 1000}}}', b'{"added_tokens": 5}'):
        cases.append((f"tokenizer.json = {value[:16]!r}", write_file("tokenizer.json", value)))
    cases.append(("tokenizer_config.json not JSON", write_file("tokenizer_config.json", b"{oops")))
    cases.append(("weights index not JSON", write_file("model.safetensors.index.json", b"{oops")))
    cases.append(
        ("weights index names a missing shard", write_file("model.safetensors.index.json", b'{"weight_map": {"x": "nope.safetensors"}}'))
    )
    cases.append(("weights index is a list", write_file("model.safetensors.index.json", b"[]")))
    return cases


DAMAGED = damaged_cases()


@pytest.mark.parametrize(("name", "damage"), DAMAGED, ids=[n for n, _ in DAMAGED])
def test_damaged_model_files(name, damage, zoo, tmp_path_factory, capsys):
    root = tmp_path_factory.mktemp("damaged")
    model = shutil.copytree(zoo["a"], root / "model")  # a has tokenizer files
    damage(model)
    work = root / "work"
    work.mkdir()
    # the damaged model is the base: its config.json and tokenizer are the output's templates
    recipe = {
        "merge_method": "linear",
        "tokenizer_source": "base",
        "base_model": str(model),
        "models": [{"model": str(model), "parameters": {"weight": 1.0}}, {"model": str(zoo["base"]), "parameters": {"weight": 1.0}}],
    }
    err = refused(work, capsys, write_recipe(work, recipe))
    assert str(model) in err or "model" in err, err
