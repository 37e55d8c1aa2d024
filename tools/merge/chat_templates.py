"""`chat_template:` in a recipe, with mergekit 0.1.5's meaning: a name of a built-in template
(alpaca, chatml, exaone, llama3, mistral), `auto` (the template most of the input models'
tokenizers carry; ties go to the first model that has it; none: the output keeps its own), or a
Jinja template given literally (at least 20 characters and a `{`, else it is refused as mergekit
does). The template is written into the output tokenizer's files by transformers.

The built-in templates are Clade's own text; each renders a conversation exactly as mergekit's
template of that name does (tests/merge/test_tokenizers.py), except `exaone`: mergekit's leaks
its Jinja indentation into the prompt (spaces before every turn and a blank line after it), Clade's
renders EXAONE's format without them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

from tools.errors import BadInput
from tools.merge.sources import SourceModel

CHATML = (
    "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>\\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
LLAMA3 = (
    "{% for m in messages %}{% if loop.first %}{{ bos_token }}{% endif %}"
    "{{ '<|start_header_id|>' + m['role'] + '<|end_header_id|>\\n\\n' + m['content'] | trim + '<|eot_id|>\\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}"
)
MISTRAL = (
    "{%- set rest = messages[1:] if messages[0]['role'] == 'system' else messages -%}"
    "{{- bos_token -}}"
    "{%- for m in rest -%}"
    "{%- if (m['role'] == 'user') != (loop.index0 % 2 == 0) -%}{{- raise_exception('After the optional system message, conversation roles must alternate user/assistant/user/assistant/...') -}}{%- endif -%}"
    "{%- if m['role'] == 'user' and loop.first and messages[0]['role'] == 'system' -%}{{- ' [INST] ' + messages[0]['content'] + '\\n\\n' + m['content'] + ' [/INST]' -}}"
    "{%- elif m['role'] == 'user' -%}{{- ' [INST] ' + m['content'] + ' [/INST]' -}}"
    "{%- elif m['role'] == 'assistant' -%}{{- ' ' + m['content'] + eos_token -}}"
    "{%- else -%}{{- raise_exception('Only user and assistant roles are supported, with the exception of an initial optional system message!') -}}{%- endif -%}"
    "{%- endfor -%}"
)
EXAONE = (
    "{% for m in messages %}{% if loop.first and m['role'] != 'system' %}{{ '[|system|][|endofturn|]\\n' }}{% endif %}"
    "{{ '[|' + m['role'] + '|]' + m['content'] }}{{ '\\n' if m['role'] == 'user' else '[|endofturn|]\\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '[|assistant|]' }}{% endif %}"
)
ALPACA = (
    "{% set system = messages | selectattr('role', 'equalto', 'system') | list %}"
    "{{ system[-1]['content'] | trim if system else '' }}\n\n"
    "{% set heads = {'user': '### Instruction:', 'assistant': '### Response:', 'user_context': '### Input:'} %}"
    "{% for m in messages %}{% if m['role'] in heads %}{{ heads[m['role']] + '\\n' + m['content'] | trim }}{% if not loop.last %}{{ '\\n\\n' }}{% endif %}{% endif %}{% endfor %}"
    "{% if add_generation_prompt and messages[-1]['role'] != 'assistant' %}{{ '### Response:\\n' }}{% endif %}"
)
TEMPLATES = {"alpaca": ALPACA, "chatml": CHATML, "exaone": EXAONE, "llama3": LLAMA3, "mistral": MISTRAL}


def resolve(value: str, sources: Mapping[str, SourceModel]) -> str | None:
    """The template text for a recipe's `chat_template` value (None: keep the tokenizer's own)."""
    if value == "auto":
        return _plurality(sources)
    if value in TEMPLATES:
        return TEMPLATES[value]
    if len(value) < 20 or "{" not in value:
        raise BadInput(
            f"field chat_template: {value!r} is neither a known template ({', '.join(sorted(TEMPLATES))}, auto) nor a Jinja template"
        )
    return value


def _plurality(sources: Mapping[str, SourceModel]) -> str | None:
    from tools.merge.vocabulary import load_tokenizer

    found = []
    for source in sources.values():
        tokenizer = load_tokenizer(source)
        template = tokenizer.chat_template if tokenizer is not None else None
        template = template.get("default") if isinstance(template, dict) else template
        if template:
            found.append(template.strip())
    return Counter(found).most_common(1)[0][0] if found else None
