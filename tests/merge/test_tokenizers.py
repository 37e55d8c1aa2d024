"""Vocabulary alignment (tokenizer_source, the tokenizer: block), chat templates, and their
malformed inputs. mergekit equivalence of the same features: tests/merge/compat (tokenizer_*)."""

from __future__ import annotations

import json

import pytest
import torch

from tests.merge.compat.toy_tokenizers import save_tokenizer
from tests.merge.compat.zoo import build_zoo
from tests.merge.test_engine import weights
from tools.errors import BadInput
from tools.merge.api import load_recipe, merge_to_dir
from tools.merge.chat_templates import TEMPLATES


@pytest.fixture(scope="module")
def toks(tmp_path_factory):
    root = tmp_path_factory.mktemp("toks")
    zoo = build_zoo(root, ["tok_base", "tok_chatml", "model_b"])
    return zoo


def recipe(models, **extra):
    return {
        "merge_method": "linear",
        "base_model": "tok_base",
        "models": [{"model": m, "parameters": {"weight": 1.0}} for m in models],
        "dtype": "float32",
        **extra,
    }


def test_union_gives_each_token_its_own_rows_and_the_only_holder_for_new_ones(toks, tmp_path):
    import transformers

    report = merge_to_dir(load_recipe(recipe(["tok_base", "tok_chatml"], tokenizer_source="union"), models=toks), tmp_path / "out")
    out, base, chat = weights(tmp_path / "out"), weights(toks["tok_base"]), weights(toks["tok_chatml"])
    vocab = transformers.AutoTokenizer.from_pretrained(tmp_path / "out").get_vocab()
    embed = "model.embed_tokens.weight"
    assert out[embed].shape == (66, 32) and json.loads((tmp_path / "out" / "config.json").read_text())["vocab_size"] == 66
    torch.testing.assert_close(out[embed][vocab["<|im_start|>"]], chat[embed][64])  # only tok_chatml has it
    torch.testing.assert_close(out[embed][5], (base[embed][5] + chat[embed][5]) / 2)  # both have it: the linear merge
    assert "tokenizer.json" in report.tokenizer_files


def test_pad_to_multiple_of_fills_the_extra_rows_with_the_mean_row(toks, tmp_path):
    r = {
        "merge_method": "linear",
        "base_model": "tok_chatml",
        "models": [{"model": "tok_chatml", "parameters": {"weight": 1.0}}],
        "dtype": "float32",
        "tokenizer": {"source": "base", "pad_to_multiple_of": 16},
    }
    merge_to_dir(load_recipe(r, models=toks), tmp_path / "out")
    out = weights(tmp_path / "out")["lm_head.weight"]
    assert out.shape[0] == 80
    torch.testing.assert_close(out[66:], out[:66].mean(dim=0).expand(14, -1))


def test_chat_template_by_name_and_literal(toks, tmp_path):
    import transformers

    merge_to_dir(load_recipe(recipe(["tok_base", "model_b"], chat_template="chatml"), models=toks), tmp_path / "named")
    assert transformers.AutoTokenizer.from_pretrained(tmp_path / "named").chat_template == TEMPLATES["chatml"]
    literal = "{% for m in messages %}{{ m['content'] }}{% endfor %}"
    merge_to_dir(load_recipe(recipe(["tok_base", "model_b"], chat_template=literal), models=toks), tmp_path / "literal")
    assert transformers.AutoTokenizer.from_pretrained(tmp_path / "literal").chat_template == literal


def test_chat_template_auto_takes_the_plurality(toks, tmp_path):
    import transformers

    merge_to_dir(load_recipe(recipe(["tok_base", "model_b"], chat_template="chatml"), models=toks), tmp_path / "with")
    models = toks | {"with": tmp_path / "with"}
    (tmp_path / "with" / "recipe.yaml").unlink()
    merge_to_dir(load_recipe(recipe(["tok_base", "with"], chat_template="auto"), models=models), tmp_path / "auto")
    assert transformers.AutoTokenizer.from_pretrained(tmp_path / "auto").chat_template == TEMPLATES["chatml"]


@pytest.mark.parametrize(
    "extra, message",
    [
        ({"chat_template": "chat-ml"}, "field chat_template: 'chat-ml' is neither a known template"),
        (
            {
                "tokenizer": {
                    "source": "base",
                    "tokens": {"_tok_5": {"source": {"kind": "model_token", "model": "tok_chatml", "token": "<nope>"}, "force": True}},
                }
            },
            "model tok_chatml has no token '<nope>'",
        ),
        (
            {
                "tokenizer": {
                    "source": "base",
                    "tokens": {"_tok_5": {"source": {"kind": "model_token", "model": "tok_chatml", "token_id": 900}, "force": True}},
                }
            },
            "token id 900 is outside model tok_chatml's 66 rows",
        ),
        ({"tokenizer": {"source": "base", "tokens": {"_tok_5": {"force": True}}}}, "field tokenizer.tokens._tok_5.source: missing"),
        (
            {
                "tokenizer": {
                    "source": "base",
                    "tokens": {"_tok_5": {"source": {"kind": "model_token", "model": "tok_chatml", "token_id": 1, "token": "<s>"}}},
                }
            },
            "exactly one of token_id and token",
        ),
        ({"tokenizer": {"source": "base", "pad_to_multiple_of": 0}}, "pad_to_multiple_of"),
    ],
)
def test_malformed_tokenizer_settings_are_refused_naming_the_field(toks, tmp_path, extra, message):
    with pytest.raises(BadInput, match=message.replace("(", "\\(").replace(")", "\\)")):
        merge_to_dir(load_recipe(recipe(["tok_base", "tok_chatml"], **extra), models=toks), tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_union_and_chat_template_need_tokenizer_files(toks, tmp_path):
    r = {
        "merge_method": "linear",
        "base_model": "model_b",
        "models": [{"model": "model_b", "parameters": {"weight": 1.0}}, {"model": "tok_base", "parameters": {"weight": 1.0}}],
    }
    with pytest.raises(BadInput, match="model model_b .*: the base model has no tokenizer files"):
        merge_to_dir(load_recipe(r | {"tokenizer_source": "union"}, models=toks), tmp_path / "out")
    with pytest.raises(BadInput, match="field chat_template: the tokenizer source model_b .* has no tokenizer files"):
        merge_to_dir(load_recipe(r | {"chat_template": "chatml"}, models=toks), tmp_path / "out")


def test_a_tokenizer_source_without_gaps_is_required(toks, tmp_path):
    save_tokenizer(tmp_path / "src", 64, ("<a>",))
    data = json.loads((tmp_path / "src" / "tokenizer.json").read_text())
    data["model"]["vocab"]["_tok_9"] = 400
    (tmp_path / "src" / "tokenizer.json").write_text(json.dumps(data))
    (tmp_path / "src" / "config.json").write_text((toks["tok_base"] / "config.json").read_text())
    for file in toks["tok_base"].glob("*.safetensors"):
        (tmp_path / "src" / file.name).write_bytes(file.read_bytes())
    models = toks | {"src": tmp_path / "src"}
    with pytest.raises(BadInput, match="has id 400 but the vocabulary has"):
        merge_to_dir(load_recipe(recipe(["tok_base", "tok_chatml"], tokenizer_source="src"), models=models), tmp_path / "out")


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_built_in_chat_templates_render_as_mergekits(name):
    from tests.merge.compat.check import load_expected
    from tests.merge.compat.regenerate import render

    expected = load_expected()["chat_renders"][name]
    if name == "exaone":  # mergekit's leaks its indentation (chat_templates.py): same text up to whitespace
        squeeze = lambda texts: ["".join(t.split()) for t in texts]
        assert squeeze(render(TEMPLATES[name])) == squeeze(expected)
    else:
        assert render(TEMPLATES[name]) == expected


def test_the_resident_merger_serves_the_tokenizer_a_recipe_builds(toks):
    import transformers

    from tools.merge.api import ResidentMerger

    merger = ResidentMerger(toks)
    r = recipe(["tok_base", "tok_chatml"], tokenizer_source="union")
    model = merger.apply(r)
    tokenizer = transformers.AutoTokenizer.from_pretrained(merger.tokenizer_dir(r))
    assert len(tokenizer) == model.get_input_embeddings().weight.shape[0] == 66
    assert merger.tokenizer_dir(recipe(["tok_base"])) == toks["tok_base"].resolve()
