#!/usr/bin/env python3
"""Print a qtl_bench JSON result as a table: time, GB/s and the ratio to the
BM_stream_read baseline of the same run (so noise on a shared machine cancels out); the
dequantize kernels, whose large side is the float output, also against BM_stream_write.
Uses medians when the run had repetitions."""
import json
import sys


def main(path: str) -> None:
    with open(path) as f:
        data = json.load(f)
    rows = {}
    for b in data["benchmarks"]:
        if b.get("run_type") == "aggregate" and b.get("aggregate_name") != "median":
            continue
        name = b.get("run_name", b["name"])
        if b.get("run_type") == "iteration" and name in rows:
            continue  # keep the median (aggregates come after iterations) or the single run
        rows[name] = b
    baseline = rows.get("BM_stream_read", {}).get("GB/s")
    ctx = data.get("context", {})
    print(f"qtl_bench on {ctx.get('num_cpus', '?')} CPUs at {ctx.get('mhz_per_cpu', '?')} MHz"
          f" ({ctx.get('host_name', '')})")
    print(f"{'case':<48} {'time':>9} {'GB/s':>8} {'x stream':>9}")
    for name, b in rows.items():
        gbps = b.get("GB/s", 0.0)
        ratio = f"{gbps / baseline:9.3f}" if baseline else f"{'-':>9}"
        print(f"{name:<48} {b['real_time']:9.2f} {gbps:8.2f} {ratio}")
    compare_with_scalar(rows)
    compare_with_ggml(rows)
    compare_mul_mat(rows, baseline, rows.get("BM_stream_read_2_threads/real_time", {}).get("GB/s"))
    compare_tl_with_i2_s(rows)
    compare_dequantize(rows, rows.get("BM_stream_write", {}).get("GB/s"))
    compare_composed(rows, baseline, rows.get("BM_stream_write", {}).get("GB/s"))
    compare_composed_gemv(rows, baseline, rows.get("BM_stream_read_2_threads/real_time", {}).get("GB/s"))
    compare_observers(rows)
    compare_ptq(rows)
    compare_optim(rows, baseline, rows.get("BM_stream_read_2_threads/real_time", {}).get("GB/s"))
    compare_vq_nearest(rows)


def compare_tl_with_i2_s(rows) -> None:
    """The lookup-table GEMV (gemv_tl_bench.cpp) against the I2_S kernel of the same arch,
    shape and threads in the same run."""
    pairs = [(n, b, rows.get(n.replace("BM_gemv_ternary/tl/", "BM_gemv_ternary/i2_s/", 1)))
             for n, b in rows.items() if n.startswith("BM_gemv_ternary/tl/")]
    pairs = [(n, b, i) for n, b, i in pairs if i and i.get("GB/s")]
    if not pairs:
        return
    print(f"\n{'TL vs I2_S (same codes, same arch)':<48} {'TL GB/s':>8} {'I2_S GB/s':>10} {'TL GOP/s':>9} {'x I2_S':>7}")
    for name, tl, i2_s in pairs:
        key = name[len("BM_gemv_ternary/tl/"):].replace("/real_time", "")
        print(f"{key:<48} {tl['GB/s']:8.2f} {i2_s['GB/s']:10.2f} {tl.get('GOP/s', 0.0):9.1f}"
              f" {tl['GB/s'] / i2_s['GB/s']:7.2f}")


def compare_composed(rows, read, write) -> None:
    """kernel::simd_quantizer (simd_quantizer_bench.cpp) against the scalar quantizer of the
    same composition and the stream baseline of its large side: quantize reads floats
    (x read), dequantize writes them (x write)."""
    cases = [(n, b) for n, b in rows.items() if n.startswith("BM_composed_") and "/simd" in n]
    if not cases:
        return
    print(f"\n{'composed (GB/s of floats)':<58} {'GB/s':>7} {'x scalar':>9} {'x stream':>9}")
    for name, b in cases:
        kind, case, path = name[len("BM_composed_"):].split("/")[:3]  # then /real_time
        scalar = rows.get(name.replace(f"/{case}/{path}", f"/{case}/scalar", 1), {}).get("GB/s")
        stream = read if kind == "quantize" else write
        x_scalar = f"{b['GB/s'] / scalar:9.1f}" if scalar else f"{'-':>9}"
        x_stream = f"{b['GB/s'] / stream:9.3f}" if stream else f"{'-':>9}"
        print(f"{kind + ' ' + case + ' ' + path:<58} {b['GB/s']:7.2f} {x_scalar} {x_stream}")


def compare_composed_gemv(rows, read, read_2) -> None:
    """kernel::composed_gemv (composed_gemv_bench.cpp): GB/s of weight bytes (codes and
    params) against the stream read at the same thread count."""
    cases = [(n, b) for n, b in rows.items() if n.startswith("BM_composed_gemv/")]
    if not cases:
        return
    print(f"\n{'composed GEMV (GB/s of weight bytes)':<62} {'GB/s':>7} {'GOP/s':>7} {'x stream':>9}")
    for name, b in cases:
        case, shape, threads = name[len("BM_composed_gemv/"):].split("/")[:3]  # then /real_time
        stream = read_2 if threads == "2t" else read
        x_stream = f"{b['GB/s'] / stream:9.3f}" if stream else f"{'-':>9}"
        print(f"{case + ' ' + shape + ' ' + threads:<62} {b['GB/s']:7.2f} {b.get('GOP/s', 0.0):7.1f} {x_stream}")


def compare_observers(rows) -> None:
    """Each observer's one-batch calibration (observer_bench.cpp) against minmax's in the same run."""
    cases = {n: b for n, b in rows.items() if n.startswith("BM_observer/")}
    minmax = cases.get("BM_observer/minmax", {}).get("GB/s")
    if not cases or not minmax:
        return
    print(f"\n{'observer (GB/s of float input)':<44} {'GB/s':>8} {'x minmax':>9}")
    for name, b in cases.items():
        print(f"{name[len('BM_observer/'):]:<44} {b['GB/s']:8.3f} {b['GB/s'] / minmax:9.3f}")


def compare_dequantize(rows, stream) -> None:
    """Each dequantize kernel against the scalar table's (the reference path) and the
    stream write of the same run (GB/s of float output)."""
    cases = {n: b for n, b in rows.items() if n.startswith("BM_dequantize_kernel/")}
    if not cases:
        return
    print(f"\n{'dequantize (GB/s of float output)':<44} {'GB/s':>8} {'x scalar':>9} {'x write':>9}")
    for name, b in cases.items():
        kind, arch, shape = name.split("/")[1:4]
        scalar = rows.get(name.replace(f"/{arch}/", "/scalar/", 1), {}).get("GB/s")
        x_scalar = f"{b['GB/s'] / scalar:9.2f}" if scalar else f"{'-':>9}"
        x_stream = f"{b['GB/s'] / stream:9.3f}" if stream else f"{'-':>9}"
        print(f"{kind + ' ' + shape + ' ' + arch:<44} {b['GB/s']:8.2f} {x_scalar} {x_stream}")


def compare_with_scalar(rows) -> None:
    """Kernel cases named BM_<kind>/<type>/<arch>/<shape> next to the scalar table's case
    of the same type and shape (BM_quantize_kernel)."""
    cases = [n for n in rows if n.startswith("BM_quantize_kernel/")]
    if not cases:
        return
    print(f"\n{'quantize kernels vs the scalar table':<48} {'GB/s':>8} {'x scalar':>9}")
    for name in cases:
        parts = name.split("/")
        scalar = rows.get("/".join(parts[:2] + ["scalar"] + parts[3:]), {}).get("GB/s")
        gbps = rows[name].get("GB/s", 0.0)
        ratio = f"{gbps / scalar:9.2f}" if scalar else f"{'-':>9}"
        print(f"{name:<48} {gbps:8.2f} {ratio}")


def compare_with_ggml(rows) -> None:
    """When the run has ggml's vec_dot cases (QTL_BENCH_GGML_DIR), print qtl's best arch
    next to ggml on the same type, shape and threads."""
    ggml = {n[len("BM_ggml_gemv/"):]: b for n, b in rows.items() if n.startswith("BM_ggml_gemv/")}
    if not ggml:
        return
    print(f"\n{'GEMV vs ggml vec_dot (same bytes)':<44} {'qtl GB/s':>9} {'ggml GB/s':>10} {'x ggml':>7}")
    for key, g in ggml.items():
        kind, shape, threads = key.split("/")[0], key.split("/")[1], key.split("/")[2]
        ours = [b for n, b in rows.items() if n.startswith(f"BM_gemv/{kind}/") and n.split("/")[3] == shape
                and n.split("/")[4] == threads]
        if not ours or not g.get("GB/s"):
            continue
        best = max(ours, key=lambda b: b.get("GB/s", 0.0))
        arch = best.get("run_name", best["name"]).split("/")[2]
        print(f"{kind + ' ' + shape + ' ' + threads + ' (' + arch + ')':<44} {best['GB/s']:9.2f} {g['GB/s']:10.2f}"
              f" {best['GB/s'] / g['GB/s']:7.2f}")


def compare_mul_mat(rows, read, read_2) -> None:
    """qtl's whole kernel::gemv call (BM_mul_mat) against ggml's whole mul_mat op with the
    weights in the plain CPU buffer and in the repack buffer (BM_ggml_mul_mat, when the run
    has them), the ratio against the faster of the two (I2_S: against ggml's TQ2_0, by
    GOP/s); and against the stream read at the same thread count (1 thread, or the
    2-thread read)."""
    cases = [(n, b) for n, b in rows.items() if n.startswith("BM_mul_mat/")]
    if not cases:
        return
    print(f"\n{'mul_mat, whole op (GB/s of weight bytes)':<44} {'qtl':>7} {'plain':>7} {'repack':>7}"
          f" {'x best':>7} {'x read':>7}")
    for name, b in cases:
        key = name[len("BM_mul_mat/"):].replace("/real_time", "")
        kind, rest = key.split("/", 1)
        # I2_S has no ggml twin: it is set against ggml's ternary TQ2_0 by time (GOP/s).
        # Prepared weights (<type>_prepared) are set against the same type's ggml op.
        twin, unit = ("tq2_0", "GOP/s") if kind == "i2_s" else (kind.removesuffix("_prepared"), "GB/s")
        found = {v: rows.get(f"BM_ggml_mul_mat/{twin}/{v}/{rest}/real_time", {}).get("GB/s") for v in ("plain", "repack")}
        best_unit = max((rows.get(f"BM_ggml_mul_mat/{twin}/{v}/{rest}/real_time", {}).get(unit) or 0.0
                         for v in ("plain", "repack")), default=0.0)
        threads = rest.rsplit(":", 1)[1]
        stream = read if threads == "1" else (read_2 if threads == "2" else None)
        cell = lambda g: f"{g:7.2f}" if g else f"{'-':>7}"
        x_best = f"{b.get(unit, 0.0) / best_unit:7.2f}" if best_unit else f"{'-':>7}"
        x_read = f"{b['GB/s'] / stream:7.2f}" if stream else f"{'-':>7}"
        print(f"{key:<44} {b['GB/s']:7.2f} {cell(found['plain'])} {cell(found['repack'])} {x_best} {x_read}")


def compare_ptq(rows) -> None:
    """The PTQ linear layers (ptq_bench.cpp) against the fp32 reference of the same run."""
    cases = {n.split("/")[1]: b for n, b in rows.items() if n.startswith("BM_ptq_linear/")}
    fp32 = cases.get("fp32", {}).get("GOP/s")
    if not fp32:
        return
    print(f"\n{'PTQ linear 16x4096x4096 vs fp32 (Eigen)':<44} {'GOP/s':>9} {'x fp32':>7}")
    for kind, b in cases.items():
        print(f"{kind:<44} {b.get('GOP/s', 0.0):9.2f} {b.get('GOP/s', 0.0) / fp32:7.2f}")


def compare_optim(rows, read, read_2):
    """One optimizer step over 100 M parameters (optim_bench.cpp): GB/s of the bytes it
    touches against the stream read on as many threads, and the 8-bit step's time against
    the 32-bit step's."""
    cases = [(n, b) for n, b in rows.items() if n.startswith("BM_optim_") and b.get("GB/s")]
    if not cases:
        return
    print(f"\n{'optimizer step, 100 M parameters':<32} {'ms':>9} {'Gparam/s':>9} {'GB/s':>7} {'x stream':>9} {'x 32-bit':>9}")
    for name, b in cases:
        case, threads = name[len("BM_optim_"):].split("/")[:2]
        stream = read_2 if threads == "threads:2" else read
        full = rows.get(name.replace(case, case[:-1] + "32", 1)) if case.endswith("8") else None
        x_stream = f"{b['GB/s'] / stream:9.3f}" if stream else f"{'-':>9}"
        x_full = f"{full['real_time'] / b['real_time']:9.2f}" if full else f"{'-':>9}"
        print(f"{case + ' ' + threads:<32} {b['real_time']:9.1f} {b.get('Gparams/s', 0):9.3f} {b['GB/s']:7.2f} "
              f"{x_stream} {x_full}")


def compare_vq_nearest(rows) -> None:
    """vq::nearest's fused kernel (vq_nearest_bench.cpp) against Eigen's product and an
    argmin, the path it replaced, at the same shape in the same run."""
    cases = [(n, b) for n, b in rows.items() if n.startswith("BM_vq_nearest/")]
    if not cases:
        return
    print(f"\n{'vq::nearest, 12,288 rows, 1 thread':<36} {'ms':>8} {'GFLOP/s':>8} {'eigen':>8} {'x eigen':>8}")
    for name, b in cases:
        shape = name[len("BM_vq_nearest/"):]
        base = rows.get("BM_vq_nearest_eigen_argmin/" + shape)
        base_rate = f"{base['GFLOP/s']:8.1f}" if base else f"{'-':>8}"
        ratio = f"{b['GFLOP/s'] / base['GFLOP/s']:8.2f}" if base else f"{'-':>8}"
        print(f"{shape:<36} {b['real_time']:8.2f} {b['GFLOP/s']:8.1f} {base_rate} {ratio}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "bench.json")
