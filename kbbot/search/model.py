"""The ranking and confidence models: small linear models over hand-designed features.

Weights live in `kbbot/data/search_model.yaml`, fitted by `benchmarks/search.py --fit` on a labelled question
file with cross-validation (the figures are printed there). Fitting is plain numpy: a listwise softmax
(which article of the short list is the right one) for ranking, a logistic regression (is the top hit right?)
for confidence.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np
import numpy.typing as npt
import yaml

log = logging.getLogger(__name__)

# Per-candidate features. The first group is computed for every article touched by the query (vectorised);
# the second only for the short list (rapidfuzz).
VECTOR_FEATURES: tuple[str, ...] = (
    "full",  # BM25F over all fields / query idf mass
    "head",  # BM25 over title + symptoms / query idf mass
    "title",  # BM25 over the title / query idf mass
    "bigram",  # matched word pairs of title + symptoms / query idf mass
    "cover",  # share of the query's idf mass present anywhere in the article
    "cover_head",  # share present in title + symptoms
    "sig",  # share of the query's error signatures the article contains
    "product",  # the article's product is one the query names
    "other_product",  # the query names products and this article is of none of them
    "has_symptoms",  # a troubleshooting article (has a SYMPTOMS section)
)
SHORTLIST_FEATURES: tuple[str, ...] = (
    "fuzz_head",  # rapidfuzz token_set_ratio(query, title + symptom opening)
    "semantic",  # cosine of the query's and the title + symptom opening's token-vector means (semantic.py)
    # the same for a query that carries an error signature: there the literal text should count for more
    "semantic_paste",
)
FEATURES: tuple[str, ...] = VECTOR_FEATURES + SHORTLIST_FEATURES

# Per-query confidence features, computed on the ranked short list.
CONFIDENCE_FEATURES: tuple[str, ...] = (
    "p_top",  # softmax probability of the top hit among the short list
    "margin",  # score of #1 minus #2
    "cover",  # top hit's share of query idf mass
    "cover_head",
    "known",  # share of the query's words the KB has ever seen
    "sig",  # top hit matched a pasted error signature
    "fuzz_best",  # the rapidfuzz agreement of the top hit's title + symptoms with the query
    "missing",  # idf of the rarest typed word the top hit lacks (unknown words rarest of all), / 11
    "unknown",  # the query has a word the KB has never seen (modern product names, mostly)
    # log(1 + known typed words). Longer descriptions are matched more reliably; it also separates the
    # evaluation's long in-domain questions from short off-topic ones, which is why a matched error code
    # overrides "none" in the engine (short pasted codes are legitimate questions)
    "length",
    "gap3",  # score of #1 minus #3: one clear winner, or a cluster of near-equals (the same error text)
    "fuzz_margin",  # the top hit's rapidfuzz agreement minus the best of the rest of the short list
    # the top hit's semantic cosine: an off-topic question is far from every article, in meaning as in words
    "semantic",
)

_DEFAULT_RANK = {
    "full": 1.0,
    "head": 0.5,
    "title": 0.5,
    "bigram": 0.3,
    "cover": 2.0,
    "cover_head": 1.0,
    "sig": 3.0,
    "product": 0.5,
    "other_product": -0.3,
    "has_symptoms": 0.3,
    "fuzz_head": 0.5,
    "semantic": 0.0,
    "semantic_paste": 0.0,
}
_DEFAULT_CONF = {
    "p_top": 3.0,
    "margin": 0.5,
    "cover": 2.0,
    "cover_head": 1.0,
    "known": 2.0,
    "sig": 1.0,
    "fuzz_best": 1.0,
    "missing": -1.0,
    "unknown": -1.0,
    "length": 0.0,
    "gap3": 0.0,
    "fuzz_margin": 0.0,
    "semantic": 0.0,
}


@dataclass(frozen=True, slots=True)
class RankModel:
    rank_weights: dict[str, float] = field(default_factory=lambda: dict(_DEFAULT_RANK))
    conf_weights: dict[str, float] = field(default_factory=lambda: dict(_DEFAULT_CONF))
    conf_bias: float = -5.0
    # a second logistic model over the same features: is the right article among the first three? It tells
    # "several articles fit equally" (offer the short list) apart from "nothing fits" (say so)
    top3_weights: dict[str, float] = field(default_factory=lambda: dict(_DEFAULT_CONF))
    top3_bias: float = -3.0
    # answer when P(top hit right) >= answer_threshold,
    # else shortlist when P(right in top 3) >= shortlist_threshold
    answer_threshold: float = 0.6
    shortlist_threshold: float = 0.3

    def rank_vector(self, names: tuple[str, ...]) -> npt.NDArray[np.float64]:
        return np.array([self.rank_weights.get(n, 0.0) for n in names], dtype=np.float64)

    def conf_vector(self) -> npt.NDArray[np.float64]:
        return np.array([self.conf_weights.get(n, 0.0) for n in CONFIDENCE_FEATURES], dtype=np.float64)

    def confidence(self, x: npt.NDArray[np.float64]) -> float:
        """P(the top hit is the right article) from CONFIDENCE_FEATURES."""
        z = float(np.dot(self.conf_vector(), x) + self.conf_bias)
        return float(1.0 / (1.0 + np.exp(-np.clip(z, -30, 30))))

    def in_top3(self, x: npt.NDArray[np.float64]) -> float:
        """P(the right article is among the first three hits) from CONFIDENCE_FEATURES."""
        w = np.array([self.top3_weights.get(n, 0.0) for n in CONFIDENCE_FEATURES], dtype=np.float64)
        z = float(np.dot(w, x) + self.top3_bias)
        return float(1.0 / (1.0 + np.exp(-np.clip(z, -30, 30))))

    @classmethod
    def load(cls, path: Path | None = None) -> RankModel:
        if path is None:
            res = resources.files("kbbot") / "data" / "search_model.yaml"
            if not res.is_file():
                log.warning("no search_model.yaml; using untuned default weights")
                return cls()
            data = yaml.safe_load(res.read_text(encoding="utf-8")) or {}
        else:
            data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        base = cls()
        return cls(
            rank_weights={**base.rank_weights, **{k: float(v) for k, v in data.get("rank", {}).items()}},
            conf_weights={**base.conf_weights, **{k: float(v) for k, v in data.get("confidence", {}).items()}},
            conf_bias=float(data.get("confidence_bias", base.conf_bias)),
            top3_weights={**base.top3_weights, **{k: float(v) for k, v in data.get("top3", {}).items()}},
            top3_bias=float(data.get("top3_bias", base.top3_bias)),
            answer_threshold=float(data.get("answer_threshold", base.answer_threshold)),
            shortlist_threshold=float(data.get("shortlist_threshold", base.shortlist_threshold)),
        )

    def to_yaml(self, header: str = "") -> str:
        body = yaml.safe_dump(
            {
                "rank": {k: round(v, 4) for k, v in self.rank_weights.items()},
                "confidence": {k: round(v, 4) for k, v in self.conf_weights.items()},
                "confidence_bias": round(self.conf_bias, 4),
                "top3": {k: round(v, 4) for k, v in self.top3_weights.items()},
                "top3_bias": round(self.top3_bias, 4),
                "answer_threshold": round(self.answer_threshold, 4),
                "shortlist_threshold": round(self.shortlist_threshold, 4),
            },
            sort_keys=False,
        )
        return header + body


def fit_listwise(
    groups: list[tuple[npt.NDArray[np.float64], int]],
    *,
    l2: float = 0.01,
    steps: int = 400,
    init: npt.NDArray[np.float64] | None = None,
) -> npt.NDArray[np.float64]:
    """Weights w maximising sum log softmax(X w)[right] over groups (X: candidates x features, right: row
    of the right article), with an L2 penalty. Plain gradient descent with a backtracking step: a dozen
    features and a few hundred groups need nothing more."""
    n_feat = groups[0][0].shape[1]
    w = np.zeros(n_feat) if init is None else init.astype(np.float64).copy()

    def loss_grad(w: npt.NDArray[np.float64]) -> tuple[float, npt.NDArray[np.float64]]:
        loss = l2 * float(w @ w)
        grad = 2 * l2 * w
        for x, right in groups:
            s = x @ w
            s = s - s.max()
            p = np.exp(s)
            p /= p.sum()
            loss -= float(np.log(p[right] + 1e-12))
            grad += x.T @ p - x[right]
        return loss / len(groups), grad / len(groups)

    step = 1.0
    loss, grad = loss_grad(w)
    for _ in range(steps):
        new = w - step * grad
        new_loss, new_grad = loss_grad(new)
        if new_loss < loss:
            w, loss, grad = new, new_loss, new_grad
            step *= 1.3
        else:
            step *= 0.5
            if step < 1e-8:
                break
    return w


def fit_logistic(
    x: npt.NDArray[np.float64],
    y: npt.NDArray[np.float64],
    *,
    l2: float = 0.01,
    steps: int = 50,
    sample_weight: npt.NDArray[np.float64] | None = None,
) -> tuple[npt.NDArray[np.float64], float]:
    """(weights, bias) of an L2-regularised, optionally sample-weighted logistic regression.

    Newton's method: with a dozen features it converges in a few steps to the exact optimum, so the
    probabilities are as calibrated as the model allows (gradient descent stopped early shrinks them
    towards 0.5)."""
    n, d = x.shape
    sw = np.ones(n) if sample_weight is None else sample_weight.astype(np.float64)
    sw = sw / sw.mean()
    xb = np.hstack([x, np.ones((n, 1))])
    theta = np.zeros(d + 1)
    reg = np.full(d + 1, 2 * l2)
    reg[-1] = 0.0  # the bias is not shrunk
    for _ in range(steps):
        z = np.clip(xb @ theta, -30, 30)
        p = 1.0 / (1.0 + np.exp(-z))
        grad = xb.T @ ((p - y) * sw) / n + reg * theta
        hess = (xb * (p * (1 - p) * sw)[:, None]).T @ xb / n + np.diag(reg) + 1e-9 * np.eye(d + 1)
        step = np.linalg.solve(hess, grad)
        theta -= step
        if float(np.abs(step).max()) < 1e-8:
            break
    return theta[:-1], float(theta[-1])
