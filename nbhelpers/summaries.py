"""What the chapters' records say: tables beside the paper, and summary sentences.

Each class is mixed into its chapter's record in :mod:`nbhelpers.results`, so a chapter calls
``record.takeaways()`` and the results page ``record.paper_table()``; the methods read only the record.
"""
from __future__ import annotations

import pandas as pd

from . import claims, influence, paper, scorecard, spurious
from .data import HANS_HEURISTICS as HEURISTICS
from .stats import accuracy_difference

SMOKE_NOTE = "**Smoke run**: tiny subsets and one epoch; the numbers below mean nothing."
_SMOKE_SUBSETS = "**Smoke run**: tiny subsets; the numbers below mean nothing."


def _pct(x) -> str:
    return f"{x:.1%}"


def _pct0(x) -> str:  # None: nothing to average
    return "n/a" if x is None else f"{x:.0%}"


def _smoke(lines: list[str], smoke: bool, note: str = SMOKE_NOTE) -> list[str]:
    return ([note] if smoke else []) + lines


def _parse_variant(key: str) -> tuple[str, int, bool]:
    pooling, layer, norm = key.rsplit("-", 2)
    return pooling, int(layer.removeprefix("layer")), norm == "norm"


def _variant(best) -> str:
    return f"{best['pooling']}, layer {best['layer']}, {'normalised' if best['normalize'] else 'raw'}"


class RepresentationsSummary:
    """Chapter 1: the paper table and the takeaways."""

    def paper_table(self):
        """Ours beside the paper: model accuracy, best representation, the paper's choice."""
        best = self.best_variant
        return pd.DataFrame([
            {"quantity": "fine-tuned model accuracy",
             "paper (BERT-base)": f"{_pct(self.paper['model_test_acc_bert_base'])} (SNLI test)",
             "ours": f"{_pct(self.model_val_acc)} (SNLI validation, {self.backbone}, {self.n_train:,} training pairs)"},
            {"quantity": "best representation for kNN", "paper (BERT-base)": self.paper["best_representation"],
             "ours": f"{_variant(best)} ({_pct(best['knn_acc'])})"},
            {"quantity": "kNN accuracy, [CLS] last layer normalised", "paper (BERT-base)": "-",
             "ours": f"{_pct(self.cls_last_norm_knn_acc)} (rank {self.cls_last_norm_rank} of {self.n_variants})"},
        ]).set_index("quantity")

    def takeaways(self) -> list[str]:
        """The chapter's summary bullets (Markdown), written from the record."""
        best, parsed = self.best_variant, {key: (_parse_variant(key), acc) for key, acc in self.knn_acc.items()}
        last = max(layer for (_, layer, _), _ in parsed.values())
        poolings = sorted({p for (p, _, _), _ in parsed.values()})
        norm_gain = {p: self.knn_acc[self.variant_key(p, last, True)] - self.knn_acc[self.variant_key(p, last, False)]
                     for p in poolings}
        shallow = max(acc for (_, layer, _), acc in parsed.values() if layer == 0)
        deep = max(acc for (_, layer, _), acc in parsed.values() if layer == last)
        frozen = {"cls": self.unfinetuned, "mean": self.unfinetuned_mean}
        best_pooling = max(frozen, key=lambda p: frozen[p]["probe_acc"])
        fc, tok = self.unfinetuned, self.tokenisation
        gap = best["knn_acc"] - self.cls_last_norm_knn_acc
        # conservative (unpaired) 95% interval: the grid keeps accuracies, not per-example results
        _, gap_lo, gap_hi = accuracy_difference(self.cls_last_norm_knn_acc, best["knn_acc"], self.n_val)
        half_width = (gap_hi - gap_lo) / 2
        lines = [
            f"- Our {self.backbone} model reaches **{self.model_val_acc:.1%}** on SNLI validation after "
            f"fine-tuning on {self.n_train:,} pairs; the paper's BERT-base, a model five times larger, reaches "
            f"{self.paper['model_test_acc_bert_base']:.1%} on SNLI test.",
            f"- Last-layer `[CLS]` with normalisation gives **{self.cls_last_norm_knn_acc:.1%}** kNN accuracy, "
            + ("the best of all variants, as the paper found." if self.cls_last_norm_rank == 1 else
               f"rank {self.cls_last_norm_rank} of {self.n_variants} (one seed); the best variant ({_variant(best)}) "
               f"is {100 * gap:+.1f} points [{100 * gap_lo:+.1f}, {100 * gap_hi:+.1f}] higher: "
               + ("indistinguishable from it." if gap_lo <= 0 else "beyond the noise.")),
            "- Normalisation changes last-layer kNN accuracy by "
            + ", ".join(f"{100 * g:+.1f} points ({p})" for p, g in norm_gain.items())
            + f" (differences under about {100 * half_width:.1f} points are within the noise of {self.n_val:,} pairs).",
            f"- The best embedding-layer (layer 0) variant reaches {shallow:.1%}, the best last-layer variant "
            f"{deep:.1%}: " + ("the neighbours that reflect the model are found where it has done its work."
                               if deep > shallow else "surface similarity retrieves neighbours as well as the "
                               "fine-tuned layers do here, a sign that the model has learned little beyond it."),
            f"- **Confound, pretraining on NLI**: before fine-tuning, a linear probe on the backbone's last-layer "
            f"`[CLS]` reaches {fc['probe_acc']:.1%} [{fc['probe_ci'][0]:.1%}, {fc['probe_ci'][1]:.1%}] and kNN "
            f"{fc['knn_acc']:.1%}; the best probe ({best_pooling} pooling) is "
            f"{frozen[best_pooling]['probe_share_of_model_acc']:.0%} of the fine-tuned model's accuracy."
            + (" The backbone saw SNLI in pretraining; the paper's did not."
               if self.backbone in ("minilm", "mpnet") else ""),
            f"- **Confound, tokenised evaluation text**: on {tok['n_matched']} CAD-original test pairs the "
            f"tokenised copies score {tok['diff']:+.1%} against raw text "
            f"(95% CI [{tok['ci'][0]:+.1%}, {tok['ci'][1]:+.1%}]), "
            + ("beyond the noise." if tok["beyond_noise"] else "within the noise."),
        ]
        return _smoke(lines, self.smoke)


class BackoffSummary:
    """Chapter 2: Tables 4 and 5 beside ours, the spread over seeds."""

    def paper_table(self):
        """Table 4 and 5 beside ours, one row per paper setting."""
        rows = []
        for name in self.SETTINGS:
            r = self.setting(name)
            p = r.paper or type(r).paper_numbers(name)
            rows.append({"setting": name, "training data": r.train,
                         "ours: model": _pct(r.model_acc), "ours: backoff": _pct(r.backoff_acc),
                         "ours: interpolation": _pct(r.interp_acc), "ours: tau": f"{r.tau:.2f}",
                         "paper BERT: model → backoff": f"{_pct(p['bert_model'])} → {_pct(p['bert_backoff'])}",
                         "paper BERT: tau": f"{p['bert_tau']:.2f}",
                         "paper RoBERTa: model → backoff": f"{_pct(p['roberta_model'])} → {_pct(p['roberta_backoff'])}",
                         "paper RoBERTa: tau": f"{p['roberta_tau']:.2f}"})
        return pd.DataFrame(rows).set_index("setting")

    def seeds_sentence(self) -> str | None:
        """One sentence on the spread over seeds in SNLI original, or ``None`` with one seed."""
        s = self.snli_original.seeds
        if not s:
            return None
        return (f"Over seeds {s['seeds']}, SNLI original: model {_pct(s['model_acc_mean'])} ± "
                f"{_pct(s['model_acc_std'])}, backoff gain {s['backoff_gain_mean']:+.2%} ± "
                f"{s['backoff_gain_std']:.2%} (backbone {self.snli_original.backbone}).")


class InfluenceSummary:
    """Chapter 3: the speed table and the takeaways."""

    def speed_table(self):
        """Ours beside the paper: speed-up over influence functions and top-k overlap."""
        sp = self.speed
        return pd.DataFrame([
            {"quantity": "kNN speed-up over influence functions, per explained example",
             "paper (BERT)": f"about {paper.SPEEDUP['factor']}x (< {paper.SPEEDUP['n_train_below']:,} training examples)",
             "ours": f"{sp['speedup']:.0f}x ({sp['n_train']:,} training pairs, set-up included; "
                     f"{sp['speedup_per_query']:.0f}x per query; influence functions over {', '.join(sp['layers'])})"},
            {"quantity": "top-k overlap, kNN vs influence functions", "paper (BERT)": "-",
             "ours": f"{_pct(self.topk_overlap)} (chance {_pct(self.topk_overlap_random)})"}]).set_index("quantity")

    def takeaways(self, *, model_val_acc: float) -> list[str]:
        """The chapter's summary bullets; ``model_val_acc`` is the model's SNLI validation accuracy."""
        fractions = self.removal["fractions"]
        o10 = self.retrieval["top_set_overlap_train_test"][f"{float(min(fractions)):g}"]
        share = self.retrieval["top10_share"]["training queries"]
        sp = self.speed
        data = self.to_dict()
        lines = [
            f"- **The model**: `{self.backbone}` fine-tuned on {self.n_train:,} CAD-original pairs, "
            f"{model_val_acc:.1%} on SNLI validation (the paper: BERT-base). kNN with k = {self.k} puts "
            f"{_pct0(self.support['right'])} of its weight on the model's answer when the model is right and "
            f"{_pct0(self.support['wrong'])} when it is wrong.",
            f"- **Retrieval counts**: the most retrieved 10% of the pairs receive {share:.0%} of "
            f"the retrievals by training queries; training and test queries rank the pairs with a rank correlation "
            f"of {self.retrieval['spearman_train_test']:.2f}, and their most retrieved {float(min(fractions)):.0%} "
            f"share {o10['overlap']:.0%} of their pairs (chance {o10['chance']:.0%}). The removal test uses the "
            "training-query counts.",
            *(f"- **Removal test, {row}** (points): {'; '.join(f'{col} {v}' for col, v in r.items())}."
              for row, r in influence.removal_table(self.removal, paper.REMOVAL).iterrows()),
            f"- **kNN against influence functions**: {sp['speedup']:.0f} times faster per explained example, "
            f"set-up included, with {sp['n_train']:,} training pairs; top-{self.k} lists share "
            f"{self.topk_overlap:.1%} (chance {self.topk_overlap_random:.1%}).",
            "- **Stand-ins and confounds**: a 22M-parameter MiniLM for BERT-base; a backbone pretrained on AllNLI, "
            "which contains every training pair the removal test removes (see *How to read it*).",
        ]
        if self.smoke:
            lines.append("- *This is a smoke run: tiny data and few steps, so none of these numbers means anything.*")
        rows = claims.removal_claims(data) + claims.speed_claims(data)
        return lines + ["", "**The claims, by the scorecard's rule:**", ""] + [
            "- " + scorecard.sentence(c) for c in rows]


class SpuriousSummary:
    """Chapter 4: the takeaways and the results page's paragraph."""

    def takeaways(self, *, n_train: dict[str, int]) -> list[str]:
        """The chapter's summary bullets; ``n_train``: the training set's size per split, not in the record."""
        lines = []
        for pattern, counts in self.example_selection.items():
            rule = spurious.EXAMPLE_RULES[spurious.PAPER_EXAMPLE_RULE[pattern]]
            lines.append(f"- {pattern}: {counts['with pattern']} queries contain the pattern in premise or "
                         f"hypothesis, {counts['changed prediction']} of them change prediction between the models, "
                         f"and {counts['paper direction']} change in the paper's direction ({rule}).")
        nc, (o, a), counts = self.not_claim, *self._not_reading()
        lines.append(
            f"- *not*: the reading that matches the paper's {nc['paper']['original']:.0%} / "
            f"{nc['paper']['augmented']:.0%} best is **{nc['closest_reading']}**: {counts}. It rests on {o['n']} "
            f"and {a['n']} pairs out of {n_train['original']:,} and {n_train['augmented']:,}.")
        for name, r in self.negation_entailment_change.items():
            if r["n"] > 0:
                lines.append(
                    f"- Entailment pairs with negation in the hypothesis, {name} (n = {r['n']:.0f}): "
                    f"{r['before']:.1%} -> {r['after']:.1%} after augmentation, {100 * r['diff']:+.1f} points "
                    f"(95% CI {100 * r['lo']:+.1f} to {100 * r['hi']:+.1f}; the paper: about "
                    f"{100 * paper.NEGATION_ENTAILMENT_CHANGE:+.0f} points). "
                    + ("The interval excludes zero." if r["lo"] > 0 or r["hi"] < 0 else "The interval includes "
                       "zero: on this slice the change is indistinguishable from noise."))
        if self.lime:
            n_premise = sum(r["premise words in top 3"] > 0 for r in self.lime)
            lines.append(f"- LIME over both sentences puts at least one premise word among the top 3 in "
                         f"{n_premise} of {len(self.lime)} explanations.")
        hits = self.miner_pattern_hits_top10
        lines.append(f"- The miner's top words: {self._top_words()}; "
                     f"colour or negation words among them: {', '.join(hits) if hits else 'none'}.")
        return _smoke(lines, self.setup["smoke"], _SMOKE_SUBSETS)

    def _not_reading(self):
        """The closest reading of 'not' per split, and the sentence giving its counts."""
        nc = self.not_claim
        o, a = (nc["readings"][split][nc["closest_reading"]] for split in ("original", "augmented"))
        return (o, a), (f"{o['count']} of {o['n']} pairs ({_pct(o['share'])}) in the original split and "
                        f"{a['count']} of {a['n']} ({_pct(a['share'])}) in the augmented one")

    def _top_words(self) -> str:
        return ", ".join(t["token"] for t in self.miner_top_tokens[:10])

    def summary_sentence(self) -> str:
        """The results page's paragraph: the 'not' reading, the examples and the miner."""
        nc = self.not_claim
        return (f"Closest reading of the 'not' claim: *{nc['closest_reading']}*, {self._not_reading()[1]}, against "
                f"the paper's {_pct(nc['paper']['original'])} and {_pct(nc['paper']['augmented'])}. Examples "
                "meeting the paper's rule (pattern in premise or hypothesis, change in the paper's direction): "
                + ", ".join(f"{p} {s['paper direction']}" for p, s in self.example_selection.items())
                + f". The miner's top words: {self._top_words()}.")


class MislabelSummary:
    """Chapter 5: ours beside the paper."""

    def paper_table(self):
        """Ours beside the paper's Section 5 numbers."""
        k, lb, cl, rk, p = self.knn, self.loss_baseline, self.cleanlab, self.ranked_knn, self.paper
        return pd.DataFrame([
            {"quantity": "kNN candidates: precision / recall / F1",
             "paper (BERT)": f"{p['precision']:.2f} / {p['recall']:.2f} / {p['f1']:.2f}",
             "ours": f"{k['precision']:.2f} / {k['recall']:.2f} / {k['f1']:.2f}"
                     + ("" if k["sd_f1"] is None else f" (± {k['sd_f1']:.2f})")},
            {"quantity": "loss ranking: data inspected to reach kNN recall",
             "paper (BERT)": _pct(p["loss_fraction_for_knn_recall"]), "ours": _pct(lb["fraction_for_knn_recall"])},
            {"quantity": "average precision: loss / cleanlab / ranked kNN", "paper (BERT)": "-",
             "ours": f"{lb['average_precision']:.2f} / {cl['average_precision']:.2f} / {rk['average_precision']:.2f}"},
            {"quantity": "cleanlab find_label_issues: precision / recall / F1", "paper (BERT)": "-",
             "ours": f"{cl['precision']:.2f} / {cl['recall']:.2f} / {cl['f1']:.2f}"},
        ]).set_index("quantity")


class HansSummary:
    """Chapter 6: Table 6 beside ours, the slice rule, the takeaways."""

    def paper_table(self):
        """Table 6 beside ours: non-entailment accuracy per heuristic, model and backoff."""
        p6, rows = self.paper_table6_non_entailment, []
        for h in HEURISTICS:
            r = self.heuristic(h)["non-entailment"]
            rows.append({"heuristic": h, "ours: model": _pct(r["model_acc"]), "ours: backoff": _pct(r["backoff_acc"]),
                         "paper: BERT → kNN-BERT": f"{_pct(p6['BERT'][h])} → {_pct(p6['kNN-BERT'][h])}",
                         "paper: RoBERTa → kNN-RoBERTa": f"{_pct(p6['RoBERTa'][h])} → {_pct(p6['kNN-RoBERTa'][h])}"})
        return pd.DataFrame(rows).set_index("heuristic")

    def slice_rule_sentence(self) -> str:
        sr = self.slice_rule
        return (f"Beyond the paper, one threshold per heuristic: {_pct(sr['test_acc'])} on HANS test against "
                f"{_pct(sr['confidence_rule_test_acc'])} for the confidence rule and {_pct(sr['model_test_acc'])} "
                f"for the model alone ({self.setting['backbone']}, trained on {self.setting['train']}).")

    def takeaways(self, *, n_fixed: int, n_broken: int, n_val: int) -> list[str]:
        """The chapter's summary bullets; the counts of validation examples backoff fixes and breaks."""
        p6, sr, boot = self.paper_table6_non_entailment, self.slice_rule, self.slice_rule["diff_vs_confidence_rule"]
        ne = {h: self.heuristic(h)["non-entailment"] for h in HEURISTICS}
        lines = [
            "- Non-entailment accuracy, model → backoff: " + "; ".join(
                f"{h.replace('_', ' ')} {ne[h]['model_acc']:.1%} → {ne[h]['backoff_acc']:.1%}" for h in HEURISTICS)
            + ". Paper, BERT: " + "; ".join(f"{p6['BERT'][h]:.1%} → {p6['kNN-BERT'][h]:.1%}" for h in HEURISTICS)
            + ".",
            f"- Backoff fixes {n_fixed:,} and breaks {n_broken:,} of the {n_val:,} validation examples "
            f"(tau = {self.setting['tau']:.2f}).",
            f"- Per-heuristic thresholds ({', '.join(f'{h}: {t:.2f}' for h, t in sr['taus'].items())}) give "
            f"{sr['test_acc']:.1%} on test against {sr['confidence_rule_test_acc']:.1%} for one confidence "
            f"threshold ({boot['diff']:+.1%}, 95% CI {boot['lo']:+.1%} to {boot['hi']:+.1%}).",
        ]
        claim = claims.hans_claims(self.to_dict(), {"hans": {"train": self.setting["train"]}})
        if claim:
            lines.append("- " + scorecard.sentence(claim[0]))
        weakest = min(HEURISTICS, key=lambda h: ne[h]["model_acc"])
        lines.append(f"- The model's lowest non-entailment accuracy is {ne[weakest]['model_acc']:.1%} "
                     f"({weakest.replace('_', ' ')}).")
        return _smoke(lines, self.setting["smoke"], _SMOKE_SUBSETS)
