"""Multi-task model: objectives, heads, save/load, curriculum gates, metrics and a tiny run."""

from __future__ import annotations

import copy
import json
import math
import random
import statistics

import pytest
import torch

from cetd_lib.multitask.evaluation import evaluate as ev
from cetd_lib.multitask.evaluation import scores as mt_metrics
from cetd_lib.multitask.model import objectives as obj
from cetd_lib.multitask.model.backbone import TASKS, HeadSpec, MultitaskModel, uncertainty_weighted
from cetd_lib.multitask.model.curriculum import Curriculum, Gate, TaskReweighter
from cetd_lib.multitask.model.train_config import MultitaskTrainConfig

SPEC = HeadSpec(("E501", "F401", "UP035"), ("B101", "B307"), (2.0, 5.0, 1.0))
CODE = '''def add(a, b):
    """Sum of two numbers."""
    return a + b


class Counter:
    def __init__(self):
        self.n = 0

    def bump(self, k=1):
        self.n += k
        return self.n
'''


@pytest.fixture()
def tiny_model(tiny_base):
    model, tokenizer = copy.deepcopy(tiny_base[0]), copy.deepcopy(tiny_base[1])
    return MultitaskModel.create("tiny-random", SPEC, base=(model, tokenizer), seed=0)


# ---------------------------------------------------------------------------------------------
# Objectives
# ---------------------------------------------------------------------------------------------


def test_span_masking_makes_valid_spans_at_the_seed_rate():
    rng = random.Random(0)
    masked = total = 0
    lengths = []
    for _ in range(400):
        n = rng.randint(20, 400)
        spans = obj.sample_spans(n, rng, rate=0.15, min_span=1, max_span=5)
        assert sum(e - s for s, e in spans) == round(0.15 * n)
        for (_, e1), (s2, _) in zip(spans, spans[1:], strict=False):
            assert e1 < s2, "spans overlap or touch: two spans would merge into one <mask>"
        assert all(0 <= s < e <= n for s, e in spans)
        lengths += [e - s for s, e in spans]
        masked += sum(e - s for s, e in spans)
        total += n
    assert abs(masked / total - 0.15) < 0.005
    assert set(lengths) <= {1, 2, 3, 4, 5} and {1, 5} <= set(lengths)
    # lengths are uniform 1..5 except the budget-cut last span: mean near 3
    assert 2.6 < statistics.fmean(lengths) < 3.1


def test_span_masking_is_seeded():
    assert obj.sample_spans(300, random.Random(7)) == obj.sample_spans(300, random.Random(7))
    assert obj.sample_spans(300, random.Random(7)) != obj.sample_spans(300, random.Random(8))


def test_masked_example_hides_spans_and_scores_only_their_tokens():
    ids = list(range(100, 140))
    spans = [(3, 5), (10, 11), (30, 35)]
    ex = obj.masked_example(ids, spans, task_id=1, mask_id=2, sep_id=3, eos_id=4)
    sep = ex["input_ids"].index(3)
    prompt, target = ex["input_ids"][: sep + 1], ex["input_ids"][sep + 1 :]
    assert prompt.count(2) == len(spans)
    assert all(label == obj.IGNORE_INDEX for label in ex["labels"][: sep + 1])
    assert ex["labels"][sep + 1 :] == target
    # filling each <mask> of the prompt with its span from the target gives the source back
    answers = [s for s in _split_on(target[:-1], 2) if s]
    rebuilt, k = [], 0
    for tok in prompt[1:-1]:
        if tok == 2:
            rebuilt += answers[k]
            k += 1
        else:
            rebuilt.append(tok)
    assert rebuilt == ids
    scored = [t for t, s in zip(ex["input_ids"], ex["scored"], strict=True) if s]
    assert scored == [t for a in answers for t in a]  # span tokens only: no sentinels, no EOS


def _split_on(seq, sep):
    out, cur = [], []
    for tok in seq:
        if tok == sep:
            out.append(cur)
            cur = []
        else:
            cur.append(tok)
    out.append(cur)
    return out


def test_fim_triples_reassemble_to_the_source(tiny_base):
    tokenizer = copy.deepcopy(tiny_base[1])
    obj.add_task_tokens(tokenizer)
    ids = {
        t: tokenizer.convert_tokens_to_ids(t)
        for t in (obj.FIM_PREFIX, obj.FIM_SUFFIX, obj.FIM_MIDDLE)
    }
    rng = random.Random(0)
    for _ in range(20):
        prefix, middle, suffix = obj.fim_split(CODE, rng)
        assert prefix + middle + suffix == CODE
        ex = obj.fim_example(tokenizer, prefix, middle, suffix, eos_id=tokenizer.eos_token_id)
        seq = ex["input_ids"]
        p, s, m = (seq.index(ids[t]) for t in (obj.FIM_PREFIX, obj.FIM_SUFFIX, obj.FIM_MIDDLE))
        assert p == 0 < s < m  # PSM order
        assert tokenizer.decode(seq[p + 1 : s]) == prefix
        assert tokenizer.decode(seq[s + 1 : m]) == suffix
        assert tokenizer.decode(seq[m + 1 : -1]) == middle
        assert all(label == obj.IGNORE_INDEX for label in ex["labels"][: m + 1])
        assert ex["labels"][m + 1 :] == seq[m + 1 :]


def test_code_examples_mix_fim_and_masked_and_fit_the_budget(tiny_base):
    tokenizer = copy.deepcopy(tiny_base[1])
    obj.add_task_tokens(tokenizer)
    rng = random.Random(0)
    fim_id = tokenizer.convert_tokens_to_ids(obj.FIM_PREFIX)
    kinds = []
    for _ in range(200):
        ex = obj.code_example(tokenizer, CODE * 4, rng, max_len=96, rate=0.15, fim_rate=0.5)
        assert len(ex["input_ids"]) <= 96 and len(ex["labels"]) == len(ex["input_ids"])
        kinds.append(ex["input_ids"][0] == fim_id)
    assert 0.4 < statistics.fmean(kinds) < 0.6


def test_prompt_target_example_takes_loss_on_target_only():
    ex = obj.prompt_target_example([7], list(range(50)), [90, 91, 92], eos_id=2, max_len=20)
    assert len(ex["input_ids"]) == 20
    assert ex["input_ids"][0] == 7 and ex["input_ids"][-4:] == [90, 91, 92, 2]
    assert ex["labels"] == [obj.IGNORE_INDEX] * 16 + [90, 91, 92, 2]


def test_task_tokens_encode_as_one_id(tiny_base):
    tokenizer = copy.deepcopy(tiny_base[1])
    ids = obj.add_task_tokens(tokenizer)
    assert len(set(ids)) == len(obj.SPECIAL_TOKENS)
    assert obj.encode_text(tokenizer, "<unit>\n# file: a.py")[0] == tokenizer.convert_tokens_to_ids(
        "<unit>"
    )
    with pytest.raises(KeyError, match="add_task_tokens"):
        obj.token_id(copy.deepcopy(tiny_base[1]), obj.MASK)


# ---------------------------------------------------------------------------------------------
# Model
# ---------------------------------------------------------------------------------------------


def _classify_batch(model, n=3):
    texts = [CODE, "x = 1\n", "import os\nos.system('ls')\n"][:n]
    enc = [model.tokenizer(t, add_special_tokens=False)["input_ids"] for t in texts]
    width = max(map(len, enc))
    ids = torch.full((n, width), model.tokenizer.pad_token_id)
    mask = torch.zeros((n, width), dtype=torch.long)
    for i, e in enumerate(enc):
        ids[i, : len(e)] = torch.tensor(e)
        mask[i, : len(e)] = 1
    return ids, mask


def test_heads_output_one_logit_per_label(tiny_model):
    ids, mask = _classify_batch(tiny_model)
    assert tiny_model.head_logits("quality", ids, mask).shape == (3, 3)
    assert tiny_model.head_logits("security", ids, mask).shape == (3, 2)
    assert tiny_model.head_logits("clarification", ids, mask).shape == (3,)


def test_pooling_ignores_padding(tiny_model):
    ids, mask = _classify_batch(tiny_model)
    tiny_model.eval()
    alone = tiny_model.pooled(ids[1:2, : int(mask[1].sum())], mask[1:2, : int(mask[1].sum())])
    padded = tiny_model.pooled(ids, mask)[1:2]
    assert torch.allclose(alone, padded, atol=1e-5)


def test_gradients_reach_heads_and_lora_but_not_the_frozen_base(tiny_model):
    ids, mask = _classify_batch(tiny_model)
    batch = {"input_ids": ids, "attention_mask": mask}
    q = tiny_model.head_loss("quality", {**batch, "targets": torch.tensor([[1, 0, 0]] * 3)})
    s = tiny_model.head_loss(
        "security",
        {**batch, "targets": torch.tensor([[1, 0]] * 3), "severity": torch.tensor([[3.0, 0]] * 3)},
    )
    c = tiny_model.head_loss("clarification", {**batch, "targets": torch.tensor([1, 0, 1])})
    uncertainty_weighted(
        {"quality": q, "security": s, "clarification": c}, tiny_model.log_vars
    ).backward()
    named = dict(tiny_model.named_parameters())
    for head in ("quality", "security", "clarification"):
        assert named[f"heads.{head}.weight"].grad.abs().sum() > 0
    lora_b = [p for n, p in named.items() if "lora_B" in n]
    assert lora_b and all(p.grad is not None for p in lora_b)
    assert sum(float(p.grad.abs().sum()) for p in lora_b) > 0
    base = [
        p
        for n, p in named.items()
        if "base_layer" in n or n.endswith("embed_tokens.base_layer.weight")
    ]
    assert base and all(not p.requires_grad and p.grad is None for p in base)
    assert tiny_model.log_vars.grad is not None


def test_save_load_round_trip_gives_identical_outputs(tiny_model, tiny_base, tmp_path):
    opt = torch.optim.AdamW([p for p in tiny_model.parameters() if p.requires_grad], lr=1e-2)
    ex = [
        obj.code_example(
            tiny_model.tokenizer, CODE, random.Random(i), max_len=64, rate=0.15, fim_rate=0.5
        )
        for i in range(2)
    ]
    batch = obj.collate(ex, tiny_model.tokenizer.pad_token_id)
    ids, mask = _classify_batch(tiny_model)
    loss = tiny_model.lm_loss(batch)[0] + tiny_model.head_loss(
        "quality", {"input_ids": ids, "attention_mask": mask, "targets": torch.ones(3, 3)}
    )
    loss.backward()
    opt.step()  # LoRA B and the new token rows move away from their initial values
    tiny_model.eval()
    tiny_model.save(tmp_path / "ckpt", {"epoch": 3})
    loaded = MultitaskModel.load(tmp_path / "ckpt", base=copy.deepcopy(tiny_base[0]))
    with torch.no_grad():
        a = tiny_model.lm(
            input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]
        ).logits
        b = loaded.lm(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        fresh = MultitaskModel.create("tiny-random", SPEC, base=copy.deepcopy(tiny_base), seed=0)
        c = fresh.lm(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        for head in ("quality", "security", "clarification"):
            assert torch.equal(
                tiny_model.head_logits(head, ids, mask), loaded.head_logits(head, ids, mask)
            )
    assert torch.equal(a, b)
    assert not torch.allclose(a, c)  # the trained state, not just the base, was restored
    assert torch.equal(tiny_model.log_vars, loaded.log_vars)
    saved = json.loads((tmp_path / "ckpt" / "multitask_config.json").read_text())
    assert saved["state"] == {"epoch": 3} and saved["heads"]["quality_labels"] == list(
        SPEC.quality_labels
    )


def test_head_losses_weight_as_documented():
    from cetd_lib.multitask.model.backbone import quality_loss, security_loss

    logits, target = torch.zeros(1, 2), torch.tensor([[1.0, 0.0]])
    ln2 = math.log(2)
    assert quality_loss(logits, target, torch.tensor([3.0, 3.0])).item() == pytest.approx(
        (3 * ln2 + ln2) / 2
    )
    assert security_loss(logits, target, torch.tensor([[2.0, 0.0]])).item() == pytest.approx(
        (2 * ln2 + ln2) / 2
    )


def test_uncertainty_weighting_matches_kendall_formula():
    log_vars = torch.zeros(len(TASKS))
    log_vars[TASKS.index("quality")] = math.log(2.0)
    losses = {"code": torch.tensor(3.0), "quality": torch.tensor(4.0)}
    total = uncertainty_weighted(losses, log_vars, {"code": 2.0})
    assert total.item() == pytest.approx(2.0 * 3.0 + 0.0 + 4.0 / 2.0 + math.log(2.0))


# ---------------------------------------------------------------------------------------------
# Curriculum
# ---------------------------------------------------------------------------------------------

GATES = {
    "code": Gate("val/code_loss", 3.5, "below"),
    "simple_ontology": Gate("val/ontology_utilization", 0.8, "above"),
    "multi_hop_ontology": Gate("val/pass_at_1_gain", 0.05, "above"),
}
EPOCHS = {"code": 3, "simple_ontology": 2, "multi_hop_ontology": 2, "joint": 10}


def test_curriculum_advances_on_its_gates():
    cur = Curriculum(EPOCHS, GATES, patience=2)
    stream = [
        ("code", {"val/code_loss": 4.2}),
        ("code", {"val/code_loss": 3.4}),  # gate met
        ("simple_ontology", {"val/ontology_utilization": 0.9}),  # gate met
        ("multi_hop_ontology", {"val/pass_at_1_gain": 0.06}),  # gate met
        ("joint", {"val/loss": 2.0}),
        ("joint", {"val/loss": 1.5}),
        ("joint", {"val/loss": 1.6}),
        ("joint", {"val/loss": 1.55}),  # 2 epochs without improvement: plateau
    ]
    for phase, metrics in stream:
        assert cur.phase == phase
        cur.observe(metrics)
    assert cur.done and cur.best == 1.5 and cur.best_epoch == 6
    kinds = [(e["phase"], e["event"]) for e in cur.events if e["event"] != "epoch"]
    assert kinds == [
        ("code", "gate met"),
        ("simple_ontology", "gate met"),
        ("multi_hop_ontology", "gate met"),
        ("joint", "plateau"),
    ]
    met = next(e for e in cur.events if e["event"] == "gate met")
    assert met["next_phase"] == "simple_ontology" and met["value"] == 3.4


def test_curriculum_falls_back_to_max_epochs_when_a_gate_is_missed():
    cur = Curriculum(EPOCHS, GATES, patience=5)
    for _ in range(3):
        cur.observe({"val/code_loss": 5.0})
    assert cur.phase == "simple_ontology"
    cur.observe({"val/ontology_utilization": 0.1})
    cur.observe({})  # metric not measured: never counts as met
    assert cur.phase == "multi_hop_ontology"
    cur.observe({"val/pass_at_1_gain": float("nan")})
    cur.observe({"val/pass_at_1_gain": 0.01})
    for loss in [3.0 - 0.1 * i for i in range(10)]:  # keeps improving: stops on max epochs
        cur.observe({"val/loss": loss})
    missed = [e for e in cur.events if e["event"] == "gate missed"]
    assert [e["phase"] for e in missed] == ["code", "simple_ontology", "multi_hop_ontology"]
    assert missed[0]["epoch_in_phase"] == 3 and missed[0]["gate"] == "val/code_loss < 3.5"
    assert cur.events[-1]["event"] == "max epochs" and cur.done
    with pytest.raises(RuntimeError):
        cur.observe({"val/loss": 1.0})


def test_reweighter_boosts_a_degrading_task_up_to_the_cap():
    rw = TaskReweighter(boost=2.0, max_boost=3.0)
    assert rw.update({"quality": 1.0, "code": 2.0}) == []
    assert rw.update({"quality": 1.2, "code": 1.9}) == ["quality"]
    assert rw.update({"quality": 1.3, "code": 1.8}) == ["quality"]
    assert rw.weights == {"quality": 3.0}


# ---------------------------------------------------------------------------------------------
# Metrics
# ---------------------------------------------------------------------------------------------


def test_multilabel_prf_macro_and_micro_by_hand():
    truth = [[1, 0, 0], [1, 1, 0], [0, 1, 0]]
    pred = [[1, 1, 0], [0, 1, 0], [0, 1, 1]]
    out = mt_metrics.multilabel_prf(truth, pred, ["a", "b", "c"])
    assert out["per_label"]["a"] == {"precision": 1.0, "recall": 0.5, "f1": 2 / 3, "support": 2}
    assert out["per_label"]["b"]["precision"] == pytest.approx(2 / 3)
    assert out["per_label"]["b"]["recall"] == 1.0
    # c has no support in truth: left out of the macro average
    assert out["macro"]["f1"] == pytest.approx((2 / 3 + 0.8) / 2)
    # micro: tp=3, fp=2, fn=1
    assert out["micro"]["precision"] == pytest.approx(3 / 5)
    assert out["micro"]["recall"] == pytest.approx(3 / 4)
    grouped = mt_metrics.grouped_prf(truth, pred, ["a", "b", "c"], {"a": "X", "b": "X", "c": "Y"})
    assert grouped["per_label"]["X"]["recall"] == 1.0


def test_pass_at_k_and_targets():
    out = mt_metrics.pass_at_ks([0, 1, 10], n=10)
    assert out["pass@1"] == pytest.approx((0 + 0.1 + 1.0) / 3)
    assert out["pass@10"] == pytest.approx((0 + 1 + 1) / 3)
    assert "pass@10" not in mt_metrics.pass_at_ks([1], n=2)
    assert mt_metrics.target_verdict(0.8, 0.7, what="x")["status"] == "met"
    assert mt_metrics.target_verdict(0.7, 0.7, what="x")["status"] == "missed"
    assert mt_metrics.target_verdict(None, 0.7, what="x")["status"] == "not measured"


def test_bleu_chrf_rank_identical_above_unrelated():
    same = mt_metrics.bleu_chrf(
        ["the rule flags unused imports"], ["the rule flags unused imports"]
    )
    other = mt_metrics.bleu_chrf(
        ["completely different words here"], ["the rule flags unused imports"]
    )
    assert same["bleu"] == pytest.approx(1.0) and same["chrf"] == pytest.approx(1.0)
    assert same["chrf"] > other["chrf"] and 0 <= other["bleu"] < 0.1  # 0-1, like Phase 2
    numbered = mt_metrics.bleu_chrf(
        ["1. the rule flags unused imports"], ["the rule flags unused imports"]
    )
    assert numbered["bleu"] == pytest.approx(1.0)


def test_ontology_utilization_counts_generations_using_known_entities():
    names = mt_metrics.entity_names(["function:lexer.tokenize", "class:evaluator.Parser"])
    assert names == {"tokenize", "Parser"}
    gens = [
        "toks = tokenize(src)\np = Parser(toks)\nprint(len(toks))",  # only known names + builtins
        "x = invented_helper(1)",  # invents a name
        "x = 1",  # references nothing
        "def helper(a):\n    return a\nhelper(tokenize('1'))",  # defines helper itself
    ]
    out = mt_metrics.ontology_utilization(gens, [names] * 4)
    assert out["utilization"] == 0.5 and out["referencing_share"] == 0.75


def test_chat_answers_become_runnable_programs():
    prompt = 'from typing import List\n\n\ndef f(xs: List[int]) -> int:\n    """Sum."""\n'
    answer = "Sure:\n```python\ndef f(xs):\n    return sum(xs)\n```\nIt sums."
    program = ev.humaneval_program(prompt, "f", answer, "chat")
    assert program == "from typing import List\ndef f(xs):\n    return sum(xs)\n"
    body_only = "```python\n    return sum(xs)\n```"  # no def: treated as the body
    assert ev.humaneval_program(prompt, "f", body_only, "chat") == prompt + "    return sum(xs)\n"


def test_completion_truncation_and_pair_sources():
    assert ev.truncate_completion("    return 1\n\ndef other():\n    pass\n") == "    return 1\n\n"
    prompt = "def f(x):\n"
    cut_mid_statement = "    y = x + 1\n    return (y +"
    assert ev.complete_program(prompt, cut_mid_statement) == prompt + "    y = x + 1\n"
    assert ev.complete_program(prompt, "    return x\nprint(f(1))") == prompt + "    return x\n"
    cut_test = "def test_a():\n    assert 1\n\ndef test_b():\n    assert f("
    assert ev.parsing_prefix(cut_test) == "def test_a():\n    assert 1\n\n"
    assert ev.parsing_prefix("def (") == "def ("  # nothing parses: left for the harness
    text = "<unit>\n# file: a.py\nx = 1\n\n# file: b.py\ny = 2\n"
    assert ev.sources_from_pair_input(text) == {"a.py": "x = 1\n\n", "b.py": "y = 2\n"}


# ---------------------------------------------------------------------------------------------
# Params and the whole curriculum on the tiny model
# ---------------------------------------------------------------------------------------------


def test_params_files_fill_multitask_train():
    from cetd_lib.params import ParamsError, load_params

    assert load_params("params/smoke.yaml").multitask_train.joint_epochs == 2
    assert load_params("params/tiny.yaml").multitask_train.base_model == "tiny-random"
    full = load_params("params/full.yaml").multitask_train
    assert full == MultitaskTrainConfig()  # full = the seed's defaults
    with pytest.raises(ParamsError, match="multitask_train.mask_rat"):
        load_params(None, ["multitask_train.mask_rat=0.2"])
    with pytest.raises(ParamsError, match="mask_rate"):
        load_params(None, ["multitask_train.mask_rate=0.9"])


def _row(split, group, text, i, **extra):
    return {"id": f"{group}-{i}", "group": group, "split": split, "text": text, **extra}


def synthetic_data():
    """A few records per set and split, in the data build's format."""
    from cetd_lib.multitask.model.train_data import MultitaskData

    sets = {}
    groups = {"train": "g_train", "val": "g_val", "test": "g_test"}
    for split, group in groups.items():
        corpus = [
            _row(split, group, CODE, i, symbols=["add", "Counter"], origin="apps") for i in range(3)
        ]
        sets.setdefault("corpus", {})[split] = corpus
        sets.setdefault("quality", {})[split] = [
            {**r, "multi_hot": [i % 2, 0, 1], "labels": []} for i, r in enumerate(corpus)
        ]
        sets.setdefault("security", {})[split] = [
            {**r, "multi_hot": [1, 0], "severity_weight": [1.0, 0.0], "labels": ["B101"],
             "findings": [{"code": "B101", "cwe_category": "code-quality"}]}
            for r in corpus
        ]  # fmt: skip
        sets.setdefault("pairs", {})[split] = [
            {"id": f"p{i}", "group": group, "split": split, "direction": d, "test_type": "<unit>",
             "origin": "apps", "input": "<unit>\n# file: calc.py\n" + CODE,
             "target": "from calc import add\n\ndef test_add():\n    assert add(1, 2) == 3\n"}
            for i, d in enumerate(["code_to_test", "test_to_code"])
        ]  # fmt: skip
        sets.setdefault("clarification", {})[split] = [
            {"id": f"c{i}", "group": group, "split": split, "description": "1. add(a, b) sums.",
             "label": i % 2, "mode": "clear" if i % 2 == 0 else "drop",
             "question": None if i % 2 == 0 else "What does add return?"}
            for i in range(2)
        ]  # fmt: skip
        sets.setdefault("explanation", {})[split] = [
            {"id": "e0", "group": group, "split": split, "tool": "ruff", "code": "F401",
             "input": "    1 | import os\n\nFinding: ruff F401 at line 1",
             "target": "Reasoning: line 1 imports os unused.\n"
                       "Explanation: Unused imports add noise."}
        ]  # fmt: skip
        sets.setdefault("ontology", {})[split] = [
            {"id": group, "group": group, "split": split,
             "entities": ["function:calc.add", "class:calc.Counter"],
             "paths": ["class:calc.Counter defines function:calc.Counter.bump",
                       "module:calc defines class:calc.Counter ; "
                       "class:calc.Counter defines function:calc.Counter.bump"]}
        ]  # fmt: skip
    vocab_q = {
        "labels": list(SPEC.quality_labels),
        "pos_weight": dict.fromkeys(SPEC.quality_labels, 2.0),
    }
    vocab_s = {"labels": list(SPEC.security_labels), "pos_weight": {}}
    return MultitaskData(sets, vocab_q, vocab_s, "synthetic")


def test_tiny_curriculum_passes_every_phase_and_exports_without_overwriting(tiny_base, tmp_path):
    from cetd_lib.multitask.evaluation.heldout import evaluate_model
    from cetd_lib.multitask.model.checkpoints import export_final
    from cetd_lib.multitask.train import run_curriculum
    from cetd_lib.sandbox.config import HarnessConfig

    config = MultitaskTrainConfig(
        base_model="tiny-random", max_seq_len=64, batch_size=2, max_train_examples=2,
        max_val_examples=2, code_epochs=1, simple_ontology_epochs=1, multi_hop_epochs=1,
        joint_epochs=2, plateau_patience=1, max_new_tokens=8, text_max_new_tokens=8,
        eval_max_examples=1, mutation_max_mutants=2,
    )  # fmt: skip
    data = synthetic_data()
    data.source = str(tmp_path / "build")  # where a data build would be: its files get hashed
    (tmp_path / "build" / "quality").mkdir(parents=True)
    (tmp_path / "build" / "quality" / "train.jsonl").write_text(json.dumps({"x": 1}) + "\n")
    model = MultitaskModel.create("tiny-random", SPEC, base=copy.deepcopy(tiny_base), seed=0)
    rows = []
    out = run_curriculum(model, data, config, tmp_path / "mt",
                         log_metrics=lambda step, **m: rows.append(m),
                         harness=HarnessConfig(cache=False))  # fmt: skip
    transitions = [(e["phase"], e["event"]) for e in out["events"] if e["event"] != "epoch"]
    # a random model meets no gate: each phase ends on its max epochs, logged as such
    assert transitions[:3] == [
        ("code", "gate missed"),
        ("simple_ontology", "gate missed"),
        ("multi_hop_ontology", "gate missed"),
    ]
    assert transitions[3][0] == "joint" and transitions[3][1] in ("plateau", "max epochs")
    assert {e["phase"] for e in out["epochs"]} == {
        "code",
        "simple_ontology",
        "multi_hop_ontology",
        "joint",
    }
    joint = [e for e in out["epochs"] if e["phase"] == "joint"]
    assert all(f"val/{t}_loss" in joint[0] for t in TASKS)
    assert (
        "val/masking_accuracy" in out["epochs"][0]
        and "val/ontology_utilization" in out["epochs"][1]
    )
    assert any("losses/train_quality" in r for r in rows)
    assert (tmp_path / "mt" / "best" / "multitask_config.json").exists()
    from cetd_lib.tracking.training_config import load_training_config

    saved = load_training_config(tmp_path / "mt" / "best", restore_rng=False)
    state = json.loads((tmp_path / "mt" / "best" / "multitask_config.json").read_text())["state"]
    assert saved.step == state["step"] > 0 and saved.seed == config.seed
    assert saved.optimizer["name"] == "AdamW" and len(saved.optimizer["groups"]) == 2
    assert list(saved.data) == [str(tmp_path / "build" / "quality" / "train.jsonl")]
    assert all(len(h) == 64 for h in saved.data.values())  # sha256

    final = tmp_path / "models" / "final"
    assert export_final(tmp_path / "mt" / "best", final) is None
    kept = export_final(tmp_path / "mt" / "best", final)
    assert kept is not None and (kept / "heads.safetensors").exists() and final.exists()

    results = evaluate_model(model, data, config, baseline_pass_at_1=None,
                             harness=HarnessConfig(cache=False))  # fmt: skip
    assert results["humaneval"]["n_problems"] == 0  # no HumanEval in the synthetic test split
    assert results["targets"]["pass@1"]["status"] == "not measured"
    assert results["targets"]["explanation_rating"]["status"] == "not rated"
    assert "review.kind=explanation" in results["explanation"]["rating"]["how"]
    (explained,) = results["explanation"]["samples"]  # with what a rater needs to judge it
    assert (explained["id"], explained["rule"], explained["code"], explained["finding"]) == (
        "e0", "F401", "    1 | import os", "ruff F401 at line 1",
    )  # fmt: skip
    assert set(results["quality"]["per_label"]) == set(SPEC.quality_labels)
    assert {"quality", "security", "clarification"} <= set(results["error_analysis"])
    assert "code-quality" in results["security"]["per_cwe"]["per_label"]
    assert results["tests"]["n"] == 1 and 0.0 <= results["tests"]["pass@1"] <= 1.0
    assert results["tests"]["reference_coverage"] == {"mean": 5 / 8, "n": 1}  # the gold test
    from cetd_lib.multitask.train import untargeted_markdown

    lines = untargeted_markdown(results).splitlines()
    assert lines[0].startswith("- HumanEval CodeBLEU") and "0 problems): —" in lines[0]
    assert "by the gold test function of the same pairs: 0.625" in lines[1]


@pytest.mark.slow
def test_embedded_model_completes_humaneval_with_parseable_code(smollm2_base):
    from cetd_lib.apps.humaneval import read_problems

    model = MultitaskModel.create(
        "smollm2-135m-instruct",
        SPEC,
        base=(copy.deepcopy(smollm2_base[0]), copy.deepcopy(smollm2_base[1])),
    )
    problem = read_problems()["HumanEval/0"]
    prompt = ev.humaneval_prompt_ids(model.tokenizer, problem["prompt"], "chat")
    (completions,) = ev.generate(model, [prompt], max_new_tokens=160)
    program = ev.humaneval_program(problem["prompt"], "has_close_elements", completions[0], "chat")
    assert ev.parses(program) and "def has_close_elements(" in program


def test_error_analysis_groups_failures_by_class_and_flags_weak_labels():
    from cetd_lib.multitask.evaluation.evaluate import (
        failure_summary,
        sample_failure_class,
        task_error_analysis,
    )
    from cetd_lib.sandbox.results import RunResult, TestOutcome

    def run(*classes):
        return RunResult(per_test={
            f"t::{i}": TestOutcome(passed=c is None, failure_class=c) for i, c in enumerate(classes)
        })  # fmt: skip

    passed, syntax, mostly_assert = (
        run(None, None),
        run("SYNTAX_ERROR"),
        run("ASSERTION_FAILURE", "ASSERTION_FAILURE", "RUNTIME_ERROR", None),
    )
    assert sample_failure_class(passed) is None
    assert sample_failure_class(syntax) == "SYNTAX_ERROR"
    assert sample_failure_class(mostly_assert) == "ASSERTION_FAILURE"
    assert sample_failure_class(RunResult()) == "EMPTY_GENERATION"  # nothing ran at all
    summary = failure_summary(["a", "b", "c"], ["ok", "def f(:", "x"], [passed, syntax, syntax])
    assert summary["failure_classes"] == {"SYNTAX_ERROR": 2}
    assert [f["id"] for f in summary["failures"]] == ["b", "c"]

    label = {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 3}
    unseen = {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    good = {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 2}
    results = {
        "humaneval": {"pass@1": 0.2, **summary},
        "quality": {"per_label": {"E501": label, "F401": good, "W291": unseen},
                    "macro": {"f1": 0.5}},
        "security": {"per_label": {"B602": good}, "per_cwe": {"per_label": {"CWE-78": label}},
                     "macro": {"f1": 1.0}},
        "clarification": {"f1": 0.9},
    }  # fmt: skip
    analysis = task_error_analysis(results, below=0.5)
    assert analysis["humaneval"]["underperforming"] and analysis["humaneval"]["failure_classes"]
    assert [f["name"] for f in analysis["quality"]["flagged"]] == ["E501"]  # W291: no support
    assert not analysis["quality"]["underperforming"]  # macro 0.5 is not below 0.5
    assert [(f["kind"], f["name"]) for f in analysis["security"]["flagged"]] == [("CWE", "CWE-78")]
    assert not analysis["clarification"]["underperforming"]

    from cetd_lib.tracking.dashboard import task_error_analysis_html

    page = task_error_analysis_html(analysis)
    assert "SYNTAX_ERROR × 2" in page and "label E501" in page and "underperforming" in page
    assert "def f(:" in page  # the failing example is shown


def test_clarification_delta_pass_rebuilds_with_and_without_the_answer(tiny_base):
    from cetd_lib.apps.app import App
    from cetd_lib.multitask.evaluation import clarification_delta as cd
    from cetd_lib.sandbox.config import HarnessConfig

    test = "from calc import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n"
    tests = {"test_calc.py": test}
    app = App("calc_app", {"calc.py": CODE}, tests, ("add(a, b) returns a + b.",))
    record = {"id": "c1", "group": "calc_app", "label": "1", "description": "1. add(a, b) sums.",
              "question": "What does add return?", "answer": "a + b"}  # fmt: skip
    assert cd.clarified(record["description"], record["question"], record["answer"]) == [
        "add(a, b) sums.",
        "Clarification: What does add return? Answer: a + b",
    ]
    model = MultitaskModel.create("tiny-random", SPEC, base=copy.deepcopy(tiny_base), seed=0)
    side = model.tokenizer.padding_side
    clear = {**record, "id": "c0", "label": "0"}
    out = cd.clarification_delta_pass(
        model, [record, clear, {**record, "group": "elsewhere"}], {"calc_app": app},
        model_questions=["What does add return?", "-", "-"],
        max_new_tokens=8, harness=HarnessConfig(cache=False),
    )  # fmt: skip
    assert out["n"] == 1  # only the ambiguous record whose app is known is rebuilt
    assert out["delta_pass@1"] == out["pass@1_with_model_question"] - out["pass@1_without_answer"]
    assert out["delta_pass@1_ceiling"] == (
        out["pass@1_with_gold_answer"] - out["pass@1_without_answer"]
    )
    assert out["samples"][0]["answer"] == "add(a, b) returns a + b."  # answered from gold
    assert model.tokenizer.padding_side == side
    none = cd.clarification_delta_pass(
        model, [clear], {"calc_app": app}, model_questions=["?"], max_new_tokens=8
    )
    assert none == {"n": 0, "delta_pass@1": None, "delta_pass@1_ceiling": None}


class FactRebuilder:
    """A fake rebuilder: writes the right constant only when its prompt states it."""

    name = "multitask"

    def generate(self, prompts, n, temperature, max_new_tokens, seed, *, top_p=1.0):
        out = []
        for prompt in prompts:
            text = prompt.messages[-1]["content"]
            value = 42 if "42" in text else 0
            out.append([f"```python\n# file: rate.py\nLIMIT = {value}\n```"] * n)
        return out


def test_clarification_delta_uses_the_models_own_question():
    from cetd_lib.apps.app import App
    from cetd_lib.multitask.evaluation import clarification_delta as cd
    from cetd_lib.sandbox.config import HarnessConfig

    gold = ("`LIMIT` caps requests per minute at 42.", "Requests are logged to stderr.")
    app = App(
        "rate_app", {"rate.py": "LIMIT = 42\n"},
        {"test_rate.py": "from rate import LIMIT\n\n\ndef test_limit():\n    assert LIMIT == 42\n"},
        gold,
    )  # fmt: skip
    record = {
        "id": "r1", "group": "rate_app", "label": "1",
        "description": "1. `LIMIT` caps requests per minute at [unspecified].\n"
                       "2. Requests are logged to stderr.",
        "question": "What exactly is [unspecified] in: `LIMIT` caps requests per minute at "
                    "[unspecified].",
        "answer": "42",
    }  # fmt: skip

    def run(question):
        return cd.clarification_delta_pass(
            None, [record], {"rate_app": app}, model_questions=[question], max_new_tokens=8,
            harness=HarnessConfig(cache=False), backend=FactRebuilder(),
        )  # fmt: skip

    pointed = run("How many requests per minute does LIMIT allow?")
    vague = run("Where are requests logged?")
    # the pointed question draws the item that states 42, the vague one the logging item
    assert pointed["samples"][0]["answer"] == gold[0]
    assert vague["samples"][0]["answer"] == gold[1]
    assert pointed["pass@1_without_answer"] == vague["pass@1_without_answer"] == 0.0
    assert pointed["delta_pass@1"] == 1.0 and vague["delta_pass@1"] == 0.0
    # the gold question and answer are the ceiling, the same for both
    assert pointed["delta_pass@1_ceiling"] == vague["delta_pass@1_ceiling"] == 1.0
    unanswerable = run("Anything else?")  # no content word in common: no answer, no change
    assert unanswerable["samples"][0]["answer"] is None and unanswerable["delta_pass@1"] == 0.0
    assert unanswerable["answered_share"] == 0.0


def test_codebleu_rewards_structure_a_token_match_misses():
    same = "def add(a, b):\n    return a + b\n"
    renamed = "def plus(first, second):\n    return first + second\n"
    assert mt_metrics.codebleu([same], [same])["codebleu"] == pytest.approx(1.0)
    scores = mt_metrics.codebleu([renamed], [same])
    # Same tree and same data flow, few shared tokens (Ren et al. 2020's motivating case).
    assert scores["syntax_match_score"] == 1.0 and scores["dataflow_match_score"] == 1.0
    assert scores["ngram_match_score"] < 0.2
    components = [k for k in scores if k != "codebleu"]
    assert scores["codebleu"] == pytest.approx(statistics.fmean(scores[k] for k in components))
    with pytest.raises(ValueError, match="2 hypotheses for 1 references"):
        mt_metrics.codebleu([same, same], [same])


def test_generated_tests_report_coverage_against_the_gold_test(monkeypatch, tiny_base):
    from cetd_lib.sandbox.config import HarnessConfig

    record = synthetic_data().sets["pairs"]["test"][0]  # gold: add(1, 2) == 3
    generated = (
        "Here:\n```python\nfrom calc import Counter\n\n\ndef test_bump():\n"
        "    counter = Counter()\n    assert counter.bump(2) == 2\n```"
    )
    monkeypatch.setattr(ev, "generate", lambda *a, **k: [[generated]])
    out = ev.generated_tests(
        None, [record], [[0]], max_new_tokens=8, max_mutants=4, seed=0,
        harness=HarnessConfig(cache=False),
    )  # fmt: skip
    # calc.py has 8 statements: 4 def/class lines run on import; the gold test adds
    # `return a + b` (5/8), the generated one the three Counter body lines (7/8).
    assert out["pass@1"] == 1.0
    assert out["coverage"] == {"mean": 7 / 8, "n": 1} == out["coverage_passing"]
    assert out["reference_coverage"] == {"mean": 5 / 8, "n": 1} and out["reference_pass@1"] == 1
    assert out["samples"][0]["coverage"] == 7 / 8
    assert out["mutation_scored"] == 1 and out["mutation_source_coupled"] == 0


def test_a_generated_test_of_the_source_text_scores_zero_mutation(monkeypatch, tiny_base):
    from cetd_lib.sandbox.config import HarnessConfig

    record = synthetic_data().sets["pairs"]["test"][0]
    generated = (
        "```python\nimport inspect, calc\n\n\ndef test_text():\n"
        "    assert 'return a + b' in inspect.getsource(calc)\n```"
    )
    monkeypatch.setattr(ev, "generate", lambda *a, **k: [[generated]])
    out = ev.generated_tests(
        None, [record], [[0]], max_new_tokens=8, max_mutants=4, seed=0,
        harness=HarnessConfig(cache=False, screen=False),
    )  # fmt: skip
    assert out["pass@1"] == 1.0  # it passes on the code ...
    assert out["mutation_score"] == 0.0 and out["mutation_source_coupled"] == 1  # ... not behaviour
    screened = ev.generated_tests(
        None, [record], [[0]], max_new_tokens=8, max_mutants=4, seed=0,
        harness=HarnessConfig(cache=False),
    )  # fmt: skip
    # The screen stops it: it never passes, so no mutation score is earned at all.
    assert screened["pass@1"] == 0.0 and screened["mutation_score"] is None


def test_generation_prompts_keep_the_code_when_the_cap_exceeds_the_budget(tiny_base):
    from cetd_lib.multitask.model.train_data import TaskFormats

    tokenizer = copy.deepcopy(tiny_base[1])
    obj.add_task_tokens(tokenizer)
    data = synthetic_data()
    record = data.split("pairs", "test")[0]
    config = MultitaskTrainConfig(base_model="tiny-random", max_seq_len=64, max_new_tokens=160)
    formats = TaskFormats(tokenizer, config, data)
    head, body, _ = formats.prompt("test", record)
    ids = formats.prompt_ids("test", record, config.max_new_tokens)
    # As in training, the prompt gets at least half the budget; before, 64 - 160 left nothing
    # but the task token, so every code->test prompt was the same.
    assert ids[: len(head)] == head and len(ids) == 64 - 32
    assert ids[len(head) :] == formats.ids(body)[: 32 - len(head)]
    long = MultitaskTrainConfig(base_model="tiny-random", max_seq_len=1024, max_new_tokens=256)
    room = 1024 - 256 - len(head)
    assert TaskFormats(tokenizer, long, data).prompt_ids("test", record, 256) == (
        head + formats.ids(body)[:room]
    )
