"""Real-looking LLM replies, each with the expected parse and apply outcome on TREE."""

from __future__ import annotations

TREE = {
    "merge_op.py": (
        "import torch\n"
        "\n"
        "\n"
        "def merge(base, deltas):\n"
        "    total = sum(deltas)\n"
        "    return base + 0.8 * total\n"
        "\n"
        "\n"
        "def scale(x):\n"
        "    return x\n"
        "\n"
        "\n"
        "def other(x):\n"
        "    return x\n"
    ),
    "notes.md": "# notes\n",
}
EDITABLE = ["**/*.py"]  # any .py file at any depth (`*.py` alone is top-level only)

FENCED = """I will make the merge weight smaller, which should help.

merge_op.py
```python
<<<<<<< SEARCH
    return base + 0.8 * total
=======
    return base + 0.6 * total
>>>>>>> REPLACE
```

That's all.
"""

# Each case: reply, expected parse (number of blocks, or an error substring), and expected apply:
# ("ok", {path: substring that must be in the new text}) or ("fail", substring of the failure reason).
CASES = {
    "well_formed": (
        "merge_op.py\n<<<<<<< SEARCH\n    return base + 0.8 * total\n=======\n    return base + 0.5 * total\n>>>>>>> REPLACE\n",
        1,
        ("ok", {"merge_op.py": "    return base + 0.5 * total\n"}),
    ),
    "extra_prose_and_fences": (FENCED, 1, ("ok", {"merge_op.py": "0.6 * total"})),
    "bold_path_with_colon": (
        "Change in **`merge_op.py`**:\n\n**merge_op.py**:\n<<<<<<< SEARCH\ndef scale(x):\n    return x\n=======\n"
        "def scale(x):\n    return 2 * x\n>>>>>>> REPLACE\n",
        1,
        ("ok", {"merge_op.py": "    return 2 * x\n\n\ndef other"}),
    ),
    "wrong_indentation_under": (
        "merge_op.py\n<<<<<<< SEARCH\ntotal = sum(deltas)\nreturn base + 0.8 * total\n=======\n"
        "total = sum(deltas) / len(deltas)\nreturn base + total\n>>>>>>> REPLACE\n",
        1,
        ("ok", {"merge_op.py": "    total = sum(deltas) / len(deltas)\n    return base + total\n"}),
    ),
    "wrong_indentation_over": (
        "merge_op.py\n<<<<<<< SEARCH\n        def scale(x):\n            return x\n=======\n"
        "        def scale(x):\n            return -x\n>>>>>>> REPLACE\n",
        1,
        ("ok", {"merge_op.py": "def scale(x):\n    return -x\n"}),
    ),
    "stray_blank_line": (
        "merge_op.py\n<<<<<<< SEARCH\n\ndef merge(base, deltas):\n    total = sum(deltas)\n\n=======\n"
        "def merge(base, deltas):\n    total = max(deltas)\n>>>>>>> REPLACE\n",
        1,
        ("ok", {"merge_op.py": "def merge(base, deltas):\n    total = max(deltas)\n    return"}),
    ),
    "non_unique_search": (
        "merge_op.py\n<<<<<<< SEARCH\n    return x\n=======\n    return x + 1\n>>>>>>> REPLACE\n",
        1,
        ("fail", "matches 2 places"),
    ),
    "missing_file": (
        "lib/helpers.py\n<<<<<<< SEARCH\ndef helper():\n=======\ndef helper2():\n>>>>>>> REPLACE\n",
        1,
        ("fail", "lib/helpers.py does not exist"),
    ),
    "not_editable": ("notes.md\n<<<<<<< FILE\n# mine now\n>>>>>>> FILE\n", 1, ("fail", "may not be edited")),
    "truncated": ("merge_op.py\n<<<<<<< SEARCH\n    return base + 0.8 * total\n=======\n    return base + 0.7 *", "truncated", None),
    "no_divider": ("merge_op.py\n<<<<<<< SEARCH\n    return base + 0.8 * total\n>>>>>>> REPLACE\n", "no `=======`", None),
    "no_blocks": ("I think the operator is already optimal.", "no edit blocks found", None),
    "no_path": ("Here is my change:\n<<<<<<< SEARCH\nx\n=======\ny\n>>>>>>> REPLACE\n", "no file path", None),
    "search_not_found": (
        "merge_op.py\n<<<<<<< SEARCH\n    return base + 0.9 * total\n=======\n    return base\n>>>>>>> REPLACE\n",
        1,
        ("fail", "does not match"),
    ),
    "whole_file_new": (
        "extra.py\n<<<<<<< FILE\ndef helper():\n    return 1\n>>>>>>> FILE\n",
        1,
        ("ok", {"extra.py": "def helper():\n    return 1\n"}),
    ),
    "whole_file_rewrite_with_divider_inside": (
        "merge_op.py\n```python\n<<<<<<< FILE\n# =======\ndef merge(base, deltas):\n    return base\n>>>>>>> FILE\n```\n",
        1,
        ("ok", {"merge_op.py": "# =======\ndef merge(base, deltas):\n    return base\n"}),
    ),
    "two_blocks_second_reuses_path": (
        "merge_op.py\n<<<<<<< SEARCH\nimport torch\n=======\nimport math\nimport torch\n>>>>>>> REPLACE\n\n"
        "and then:\n<<<<<<< SEARCH\ndef other(x):\n    return x\n=======\ndef other(x):\n    return math.sqrt(x)\n>>>>>>> REPLACE\n",
        2,
        ("ok", {"merge_op.py": "import math\nimport torch\n"}),
    ),
    "second_path_above_fence_and_blank_lines": (
        "merge_op.py\n<<<<<<< SEARCH\nimport torch\n=======\nimport math\nimport torch\n>>>>>>> REPLACE\n\n"
        "extra.py\n\n```python\n\n<<<<<<< FILE\nX = 1\n>>>>>>> FILE\n```\n",
        2,
        ("ok", {"merge_op.py": "import math\n", "extra.py": "X = 1\n"}),
    ),
    "prose_naming_another_file_is_not_guessed": (
        "merge_op.py\n<<<<<<< SEARCH\nimport torch\n=======\nimport math\nimport torch\n>>>>>>> REPLACE\n\n"
        "extra.py is next; edit it:\n<<<<<<< SEARCH\nimport torch\n=======\nimport os\n>>>>>>> REPLACE\n",
        "no file path before",
        None,
    ),
    "crlf_line_endings": (
        "merge_op.py\r\n<<<<<<< SEARCH\r\n    return base + 0.8 * total\r\n=======\r\n    return base\r\n>>>>>>> REPLACE\r\n",
        1,
        ("ok", {"merge_op.py": "    total = sum(deltas)\n    return base\n"}),
    ),
    "path_escapes_tree": (
        "../evaluate.py\n<<<<<<< FILE\nprint('{\"fitness\": 1.0}')\n>>>>>>> FILE\n",
        1,
        ("fail", "not a plain relative path"),
    ),
    "empty_search_existing_file": (
        "merge_op.py\n<<<<<<< SEARCH\n=======\nprint(1)\n>>>>>>> REPLACE\n",
        1,
        ("fail", "SEARCH text is empty"),
    ),
}
