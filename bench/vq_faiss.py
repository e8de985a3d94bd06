#!/usr/bin/env python3
"""k-means, product quantization (PQ, OPQ) and residual quantization, qtl against faiss-cpu, on the demo model's token
embeddings (all-MiniLM-L6-v2: 30,522 x 384 float32; scripts/fetch_model.sh). 1,000 rows
drawn with a fixed seed are held out as queries, the rest are trained on, encoded and
searched. Both libraries run in this one process tree, one after the other, for each
thread count. Prints a markdown table: train and encode seconds, the reconstruction's
mean squared error per component, and 1-recall@1 / @10 (the share of queries whose exact
nearest neighbour, by brute force, is the first / among the first 10 found by ADC).

    python bench/vq_faiss.py [--model build/models/all-MiniLM-L6-v2/model.safetensors | --vectors ROWS.f32 --dim D]
                             [--qtl build/release/bench/qtl_vq_compare] [--threads 1 2]
                             [--kmeans 256 1024] [--pq 8 16 48] [--opq 16] [--rq 8] [--seed S]

k-means runs twice on qtl's side: from k-means++ (kmeans_options' default) and from k
random rows (kmeans_init::random_rows, the start faiss uses). So does RQ: each stage's
progressive k-means widening linearly (rq_options' default) and geometrically
(progressive_schedule::geometric, faiss's widths).

--vectors takes other rows instead: raw float32, D per row, such as the sentence
embeddings that bench/sentence_set.py and `examples/minilm MODEL --embed` make.

--seed (1234 unless given, both libraries' default) sets the k-means seed on both sides:
qtl's kmeans_options::seed for every method; faiss's Kmeans seed, ProductQuantizer.cp.seed,
ResidualQuantizer.cp.seed and, for OPQ, the seed of the final PQ (faiss's OPQ training keeps
its own seeds). Recall at 1,000 queries moves by about 0.01-0.02 between seeds, so compare
over several.

Needs numpy and faiss-cpu (pip install faiss-cpu==1.15.1); never run in CI.
"""
import argparse
import json
import pathlib
import struct
import subprocess
import sys
import tempfile
import time

import numpy as np


def read_tensor(path, name):
    """One float32 tensor of a safetensors file (header: u64 length, JSON)."""
    with open(path, "rb") as f:
        (length,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(length))
        entry = header[name]
        if entry["dtype"] != "F32":
            sys.exit(f"vq_faiss: {name} is {entry['dtype']}, expected F32")
        begin, end = entry["data_offsets"]
        f.seek(8 + length + begin)
        return np.frombuffer(f.read(end - begin), dtype=np.float32).reshape(entry["shape"]).copy()


def nearest(queries, base):
    scores = (base * base).sum(1)[None, :] - 2 * queries @ base.T
    return scores.argmin(1).astype(np.int32)


def faiss_kmeans(faiss, base, k, iterations, seed):
    km = faiss.Kmeans(base.shape[1], k, niter=iterations, seed=seed)
    t = time.perf_counter()
    km.train(base)
    train = time.perf_counter() - t
    t = time.perf_counter()
    distances, _ = km.index.search(base, 1)
    encode = time.perf_counter() - t
    return dict(train_s=train, encode_s=encode, mse=float(distances.sum() / base.size))


def faiss_pq(faiss, base, queries, truth, m, nbits, seed):
    index = faiss.IndexPQ(base.shape[1], m, nbits)
    index.pq.cp.seed = seed
    t = time.perf_counter()
    index.train(base)
    train = time.perf_counter() - t
    t = time.perf_counter()
    codes = index.pq.compute_codes(base)
    encode = time.perf_counter() - t
    index.add(base)
    mse = float(((index.pq.decode(codes) - base) ** 2).sum() / base.size)
    t = time.perf_counter()
    _, labels = index.search(queries, 10)
    search = time.perf_counter() - t
    return dict(train_s=train, encode_s=encode, search_s=search, mse=mse,
                recall1=float((labels[:, 0] == truth).mean()),
                recall10=float((labels == truth[:, None]).any(1).mean()))


def faiss_opq(faiss, base, queries, truth, m, nbits, seed):
    """OPQ with faiss's defaults (50 alternations, PQ 40 then 4 iterations), then a PQ."""
    index = faiss.index_factory(base.shape[1], f"OPQ{m},PQ{m}x{nbits}")
    faiss.downcast_index(index.index).pq.cp.seed = seed
    t = time.perf_counter()
    index.train(base)
    train = time.perf_counter() - t
    t = time.perf_counter()
    codes = index.sa_encode(base)
    encode = time.perf_counter() - t
    mse = float(((index.sa_decode(codes) - base) ** 2).sum() / base.size)
    index.add(base)
    _, labels = index.search(queries, 10)
    return dict(train_s=train, encode_s=encode, mse=mse,
                recall1=float((labels[:, 0] == truth).mean()),
                recall10=float((labels == truth[:, None]).any(1).mean()))


def faiss_rq(faiss, base, queries, truth, m, nbits, seed):
    """RQ with beam 5, faiss's default."""
    rq = faiss.ResidualQuantizer(base.shape[1], m, nbits)
    rq.cp.seed = seed
    return additive(rq, base, queries, truth)


def additive(aq, base, queries, truth):
    """An additive quantizer (RQ, LSQ) trained on the first 10,000 rows; search by exact
    distances to the decoded rows (qtl_vq_compare searches by ADC, which gives the same
    distances up to float rounding)."""
    t = time.perf_counter()
    aq.train(base[:10000])
    train = time.perf_counter() - t
    t = time.perf_counter()
    codes = aq.compute_codes(base)
    encode = time.perf_counter() - t
    decoded = aq.decode(codes)
    mse = float(((decoded - base) ** 2).sum() / base.size)
    scores = (decoded * decoded).sum(1)[None, :] - 2 * queries @ decoded.T
    labels = np.argsort(scores, axis=1, kind="stable")[:, :10]
    return dict(train_s=train, encode_s=encode, mse=mse,
                recall1=float((labels[:, 0] == truth).mean()),
                recall10=float((labels == truth[:, None]).any(1).mean()))


def faiss_lsq(faiss, base, queries, truth, m, nbits, seed):
    """LSQ with faiss's defaults (25 iterations; 8 and 16 local search rounds of 4 ICM sweeps)."""
    lsq = faiss.LocalSearchQuantizer(base.shape[1], m, nbits)
    lsq.random_seed = seed
    return additive(lsq, base, queries, truth)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="build/models/all-MiniLM-L6-v2/model.safetensors")
    ap.add_argument("--vectors", help="raw float32 rows instead of the model's token embeddings")
    ap.add_argument("--dim", type=int, default=384, help="the length of a --vectors row")
    ap.add_argument("--qtl", default="build/release/bench/qtl_vq_compare")
    ap.add_argument("--baseline", help="a second qtl_vq_compare (an earlier build, say): each qtl row is "
                    "followed by its row, marked 'baseline', in the same run")
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--kmeans", type=int, nargs="*", default=[256, 1024])
    ap.add_argument("--pq", type=int, nargs="*", default=[8, 16, 48])
    ap.add_argument("--opq", type=int, nargs="*", default=[16])
    ap.add_argument("--rq", type=int, nargs="*", default=[8])
    ap.add_argument("--lsq", type=int, nargs="*", default=[])
    ap.add_argument("--seed", type=int, default=1234)
    args = ap.parse_args()
    import faiss

    if args.vectors:
        x = np.fromfile(args.vectors, dtype=np.float32)
        if x.size == 0 or x.size % args.dim:
            sys.exit(f"vq_faiss: {args.vectors} does not hold whole rows of {args.dim} floats")
        x = x.reshape(-1, args.dim)
    else:
        x = read_tensor(args.model, "embeddings.word_embeddings.weight")
    held = np.random.default_rng(0).permutation(len(x))[:1000]
    mask = np.ones(len(x), bool)
    mask[held] = False
    queries, base = np.ascontiguousarray(x[held]), np.ascontiguousarray(x[mask])
    truth = nearest(queries, base)
    n, d = base.shape
    print(f"faiss {faiss.__version__}; {n} base rows, {len(queries)} queries, dimension {d}\n")
    print("| method | threads | library | train s | encode s | MSE | recall@1 | recall@10 |")
    print("|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        base.tofile(tmp / "base.f32")
        queries.tofile(tmp / "queries.f32")
        truth.tofile(tmp / "truth.i32")

        def run_qtl(binary, method, a, b, threads):
            out = subprocess.run([binary, str(tmp / "base.f32"), str(n), str(d), str(tmp / "queries.f32"),
                                  str(len(queries)), str(tmp / "truth.i32"), method, str(a), str(b), str(threads),
                                  str(args.seed)],
                                 check=True, capture_output=True, text=True).stdout
            return json.loads(out)

        def row(name, threads, lib, r):
            recall = (f"{r['recall1']:.3f} | {r['recall10']:.3f}" if "recall1" in r else "— | —")
            print(f"| {name} | {threads} | {lib} | {r['train_s']:.2f} | {r['encode_s']:.3f} | {r['mse']:.3e} | {recall} |",
                  flush=True)

        def qtl_rows(name, threads, lib, method, a, b):
            row(name, threads, lib, run_qtl(args.qtl, method, a, b, threads))
            if args.baseline:
                row(name, threads, lib.replace("qtl", "qtl baseline", 1), run_qtl(args.baseline, method, a, b, threads))

        for threads in args.threads:
            faiss.omp_set_num_threads(threads)
            for k in args.kmeans:
                row(f"k-means k={k}, 20 it.", threads, "faiss", faiss_kmeans(faiss, base, k, 20, args.seed))
                qtl_rows(f"k-means k={k}, 20 it.", threads, "qtl", "kmeans", k, 20)
                qtl_rows(f"k-means k={k}, 20 it.", threads, "qtl, random start", "kmeans_random", k, 20)
            for m in args.pq:
                row(f"PQ{m}x8", threads, "faiss", faiss_pq(faiss, base, queries, truth, m, 8, args.seed))
                qtl_rows(f"PQ{m}x8", threads, "qtl", "pq", m, 8)
            for m in args.opq:
                row(f"OPQ{m}x8", threads, "faiss", faiss_opq(faiss, base, queries, truth, m, 8, args.seed))
                qtl_rows(f"OPQ{m}x8", threads, "qtl", "opq", m, 8)
            for m in args.rq:
                row(f"RQ{m}x8 (10k train)", threads, "faiss", faiss_rq(faiss, base, queries, truth, m, 8, args.seed))
                qtl_rows(f"RQ{m}x8 (10k train)", threads, "qtl", "rq", m, 8)
                qtl_rows(f"RQ{m}x8 (10k train)", threads, "qtl, geometric widths", "rq_geometric", m, 8)
            for m in args.lsq:
                row(f"LSQ{m}x8 (10k train)", threads, "faiss", faiss_lsq(faiss, base, queries, truth, m, 8, args.seed))
                qtl_rows(f"LSQ{m}x8 (10k train)", threads, "qtl", "lsq", m, 8)


if __name__ == "__main__":
    main()
