"""Regenerate expected.json: mergekit 0.1.5's outputs for every case, as checksums.

    python -m tests.merge.compat.regenerate --mergekit-python /tmp/mk-venv/bin/python

The mergekit venv: `python3.11 -m venv /tmp/mk-venv && /tmp/mk-venv/bin/pip install mergekit==0.1.5
torch==2.13.0`. It builds the tiny zoo (zoo.py) in a temporary directory, runs every case through
mergekit in that venv (mergekit_runner.py), and records per case the outcome and the summary
(summary.py) of what mergekit wrote, plus the zoo's fingerprints and the versions used.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from tests.merge.compat.cases import all_cases
from tests.merge.compat.reference import mergekit_cases, renamer, run_mergekit, text_zoo
from tests.merge.compat.summary import summarize
from tests.merge.compat.zoo import ADAPTERS, MODELS, build_zoo, fingerprint

EXPECTED = Path(__file__).with_name("expected.json")


def reference_summaries(python: str, root: Path) -> tuple[dict, dict]:
    """(zoo fingerprints, case name -> {"status", "error"?, "summary"?}) from mergekit."""
    zoo = build_zoo(root / "zoo")
    zoo |= text_zoo(zoo, root / "zoo")
    cases = all_cases()
    results = run_mergekit(python, mergekit_cases(cases), zoo, root / "out")
    expected = {}
    for case in cases:
        result = dict(results[case.name])
        if result["status"] == "ok":
            result["summary"] = _summary(case, results, zoo, root / "out")
        expected[case.name] = result
    return {name: fingerprint(zoo[name]) for name in (*MODELS, *ADAPTERS)}, expected


def _summary(case, results: dict, zoo: dict, out: Path) -> dict:
    from safetensors import safe_open

    inputs = {k for m in case.models for f in zoo[m].glob("model*.safetensors") for k in safe_open(f, "pt").keys()}  # noqa: SIM118 - safe_open is not a dict
    summary = summarize(out / case.name, renamer(inputs, text=False))
    text = results.get(case.name + "#text")
    if text is not None:
        if text["status"] != "ok":
            raise SystemExit(f"{case.name}: mergekit failed on the text-only models: {text['error']}")
        summary["tensors"] |= summarize(out / (case.name + "#text"), renamer(inputs, text=True))["tensors"]
    return summary


CONVERSATIONS = [
    [
        {"role": "system", "content": " Be brief. "},
        {"role": "user", "content": "Hi there "},
        {"role": "assistant", "content": "Hello"},
        {"role": "user", "content": "More"},
    ],
    [{"role": "user", "content": "Q"}, {"role": "assistant", "content": " A "}],
    [{"role": "user", "content": "Q"}, {"role": "user_context", "content": "ctx"}, {"role": "assistant", "content": "A"}],
]


def render(template: str) -> list[str]:
    """A template's renderings of CONVERSATIONS, without and with the generation prompt."""
    from jinja2.exceptions import TemplateError
    from transformers.utils.chat_template_utils import render_jinja_template

    def one(conversation, generation_prompt: bool) -> str:
        try:
            return render_jinja_template(
                [conversation], chat_template=template, add_generation_prompt=generation_prompt, bos_token="<s>", eos_token="</s>"
            )[0][0]
        except TemplateError as exc:
            return f"raises: {exc}"

    return [one(c, g) for c in CONVERSATIONS for g in (False, True)]


def chat_renders(python: str) -> dict[str, list[str]]:
    import subprocess

    code = "import mergekit, os; print(os.path.join(os.path.dirname(mergekit.__file__), '_data', 'chat_templates'))"
    folder = Path(subprocess.run([python, "-c", code], capture_output=True, text=True, check=True).stdout.strip())
    return {f.stem: render(f.read_text()) for f in sorted(folder.glob("*.jinja"))}


def versions(python: str) -> dict[str, str]:
    import subprocess

    code = "import importlib.metadata as m; print({p: m.version(p) for p in ('mergekit', 'torch', 'transformers')})"
    return eval(subprocess.run([python, "-c", code], capture_output=True, text=True, check=True).stdout)  # our own printed dict


def dump(data: dict) -> str:
    """One line per case, so a regeneration diffs case by case."""
    head = {k: v for k, v in data.items() if k != "cases"}
    lines = [
        f"{json.dumps(name)}:{json.dumps(case, sort_keys=True, separators=(',', ':'))}" for name, case in sorted(data["cases"].items())
    ]
    return json.dumps(head, sort_keys=True)[:-1] + ',"cases":{\n' + ",\n".join(lines) + "\n}}\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mergekit-python", default="/tmp/mk-venv/bin/python")
    parser.add_argument("--out", type=Path, default=EXPECTED)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        fingerprints, cases = reference_summaries(args.mergekit_python, Path(tmp))
    data = {
        "mergekit": versions(args.mergekit_python),
        "zoo": fingerprints,
        "chat_renders": chat_renders(args.mergekit_python),
        "cases": cases,
    }
    args.out.write_text(dump(data))
    ok = sum(c["status"] == "ok" for c in cases.values())
    print(f"wrote {args.out}: {len(cases)} cases, mergekit finished {ok}")


if __name__ == "__main__":
    main()
