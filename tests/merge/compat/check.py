"""Running a case through Clade and checking it against mergekit's expected outputs; as a script,
the scoreboard of mergekit's 59 test configurations and 6 examples:

    python -m tests.merge.compat.check [--zoo DIR]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from tests.merge.compat.cases import CASES, Case
from tests.merge.compat.summary import compare, summarize
from tools.errors import BadInput

EXPECTED = Path(__file__).with_name("expected.json")


def load_expected() -> dict:
    return json.loads(EXPECTED.read_text())


def run_clade(case: Case, zoo: dict[str, Path], out: Path) -> tuple[str, object]:
    """("ok", summary) or ("error", message) of Clade merging the case."""
    from tools.merge.api import load_recipe, merge_to_dir

    try:
        merge_to_dir(load_recipe(case.recipe, models=zoo), out)
    except BadInput as exc:
        return "error", str(exc)
    return "ok", summarize(out)


def check(case: Case, expected: dict, zoo: dict[str, Path], out: Path) -> list[str]:
    """Problems (none: Clade does what mergekit 0.1.5 does, or refuses what it refuses)."""
    status, result = run_clade(case, zoo, out)
    if case.error is not None:
        return (
            []
            if status == "error" and case.error in result
            else [f"expected an error containing {case.error!r}, got {status}: {str(result)[:200]}"]
        )
    if status == "error":
        return [f"Clade refused: {result}"]
    if expected["status"] != "ok":
        return [f"mergekit failed ({expected.get('error')}); no reference"]
    dtype = case.recipe.get("dtype") if "dtype" in case.deviations else None
    reference = dict(expected["summary"])
    if "tokenizer" in case.deviations:
        reference["tokenizer"] = result["tokenizer"]
    return compare(reference, result, random=case.random or "tie_picks" in case.deviations, dtype=dtype)


def scoreboard(zoo: dict[str, Path], work: Path) -> dict[str, list[str]]:
    expected = load_expected()["cases"]
    return {name: check(case, expected[name], zoo, work / name) for name, case in CASES.items()}


def live_differences(python: str, zoo: dict[str, Path], work: Path) -> dict[str, tuple[float, int, int]]:
    """Case -> (max |Clade − mergekit|, differing elements, elements) over the tensors both write,
    running mergekit now (deterministic cases only)."""
    from tests.merge.compat.reference import mergekit_cases, run_mergekit, text_zoo
    from tests.merge.compat.summary import load_tensors

    cases = [c for c in CASES.values() if not c.random and not c.error]
    results = run_mergekit(python, mergekit_cases(cases), zoo | text_zoo(zoo, work / "text"), work / "mergekit")
    table = {}
    for case in cases:
        if results[case.name]["status"] != "ok" or run_clade(case, zoo, work / "clade" / case.name)[0] != "ok":
            continue
        ours = load_tensors(work / "clade" / case.name)
        theirs = {(k if k in ours else k.removeprefix("model.")): v for k, v in load_tensors(work / "mergekit" / case.name).items()}
        if (work / "mergekit" / f"{case.name}#text").is_dir():
            theirs |= {"language_model." + k: v for k, v in load_tensors(work / "mergekit" / f"{case.name}#text").items()}
        diffs = [(ours[k].double() - v.double()).abs() for k, v in theirs.items() if k in ours]
        table[case.name] = (max(float(d.max()) for d in diffs), sum(int((d > 0).sum()) for d in diffs), sum(d.numel() for d in diffs))
    return table


def main() -> None:
    from tests.merge.compat.zoo import build_zoo

    parser = argparse.ArgumentParser(description="Clade against mergekit 0.1.5 on mergekit's own test configurations")
    parser.add_argument("--zoo", type=Path, help="where to build (or find) the tiny models (default: a temporary directory)")
    parser.add_argument("--mergekit-python", help="also run mergekit now and print each case's max |difference| and differing elements")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        zoo = build_zoo(args.zoo or Path(tmp) / "zoo")
        results = scoreboard(zoo, Path(tmp) / "out")
        if args.mergekit_python:
            for name, (worst, differing, total) in live_differences(args.mergekit_python, zoo, Path(tmp) / "live").items():
                print(f"LIVE {name} {CASES[name].recipe.get('dtype', 'float32')} max|diff| {worst:.2e} differing {differing}/{total}")
    for name, problems in results.items():
        print(f"{'PASS' if not problems else 'FAIL'} {name}" + (f": {problems[0]}" if problems else ""))
    for suite in ("tests", "examples"):
        names = [n for n, c in CASES.items() if c.suite == suite and c.twin_of is None]
        twins = [n for n, c in CASES.items() if c.suite == suite and c.twin_of is not None]
        print(
            f"mergekit {suite}: {sum(not results[n] for n in names)}/{len(names)} pass; float32 twins {sum(not results[n] for n in twins)}/{len(twins)}"
        )


if __name__ == "__main__":
    main()
