"""The safetensors layouts `qtl quantize` writes, checked with the packages that load them.

    python tests/golden/tool_interop.py --qtl build/dev/tools/qtl [--work DIR] [--model DIR]

Writes a small F32 model (numpy + safetensors), quantizes it with the qtl tool and checks:
(a) int8 and int4 (sym/asym, per row and per group) against compressed-tensors (the
    format llm-compressor writes and vLLM loads): its calculate_qparams + quantize on the
    same groups, and pack_to_int32 for int4 codes and zero points, must give exactly the
    bytes qtl wrote (scales, codes, zero points, weight_shape);
(b) nf4 and fp4 against bitsandbytes: quantize_4bit on the CPU gives qtl's packed bytes
    and absmax, and QuantState.from_dict (what transformers calls on a pre-quantized
    checkpoint) reads qtl's companion tensors into a state that dequantizes qtl's bytes.
(c) with --model DIR (a BERT-style model.safetensors + config.json, e.g. the demo's
    build/models/all-MiniLM-L6-v2): qtl's nf4 file with a bitsandbytes
    quantization_config loads in transformers (Linear4bit layers), and its output equals,
    bit for bit, that of transformers quantizing the F32 checkpoint to NF4 itself.
(d) GGUF: the gguf package (llama.cpp's gguf-py) reads qtl's q8_0/q4_0/q4_1/q5_0/q5_1/
    tq2_0 files and finds the metadata qtl writes and, per tensor, exactly the bytes of
    gguf.quants.quantize on the same weights.
(e) with --model DIR: `qtl quantize --format int4 --method gptq|awq --calibration` (GPL-3
    sentences) loads in transformers through compressed-tensors' pack-quantized config, and
    its mean-pooled sentence embeddings of 48 held-out LGPL-2.1 sentences are closer to
    the float model's than round to nearest's; GPTQ with --scheme asym above 0.99 mean
    cosine (AWQ's folded value bias included).
(a)-(c), (e) need torch (not installed in CI: too large), (d) only gguf; each part skips
without its package. Exits 77 (skip) when no part runs, 1 on a mismatch.
"""
import argparse
import os
import struct
import subprocess
import sys
import tempfile

try:
    import numpy as np
    from safetensors.numpy import load_file, save_file
except ImportError as missing:
    print(f"{missing.name} is not installed: skipping the qtl tool interop test")
    sys.exit(77)

from mismatches import check, count  # noqa: E402  (after the skip on a missing package)


def model():
    """F32 weights with outliers, an all-zero row and an all-positive row; 24 rows test
    the int4 zero points' padding (rows not a multiple of 8)."""
    rng = np.random.default_rng(7)
    a = rng.standard_normal((64, 256)).astype(np.float32) * 0.02
    a[3, 17] = 0.9
    a[5] = 0.0
    a[9] = np.abs(a[9]) + 0.01
    b = rng.standard_t(3, (24, 96)).astype(np.float32) * 0.05
    b[0, :32] = 0.0
    return {"layers.0.mlp.weight": a, "layers.0.attn.weight": b}


def quantize(qtl, src, out, *args):
    subprocess.run([qtl, "quantize", src, "-o", out, *args], check=True, stdout=subprocess.DEVNULL)
    return load_file(out)


def check_integer(qtl, src, weights, work):
    try:
        import torch
        try:  # moved between releases
            from compressed_tensors.compressors.pack_quantized.helpers import pack_to_int32
        except ImportError:
            from compressed_tensors.compressors.quantized_compressors.pack_quantized import pack_to_int32
        from compressed_tensors.quantization import QuantizationArgs
        from compressed_tensors.quantization.lifecycle.forward import quantize as ct_quantize
        from compressed_tensors.quantization.utils import calculate_qparams
    except ImportError:
        print("compressed-tensors is not installed: int8/int4 part skipped")
        return False
    for bits, scheme, group in [(8, "sym", None), (8, "asym", None), (8, "sym", 32), (8, "asym", 32),
                                (4, "sym", None), (4, "asym", None), (4, "sym", 32), (4, "asym", 32)]:
        args = ["--format", f"int{bits}", "--scheme", scheme] + (["--group-size", str(group)] if group else [])
        got = quantize(qtl, src, os.path.join(work, f"int{bits}_{scheme}_{group}.safetensors"), *args)
        for name, w in weights.items():
            g = group or (w.shape[1] if bits == 8 else 128)
            if w.shape[1] % g:
                continue
            what = f"int{bits} {scheme} group {g} {name}"
            qa = QuantizationArgs(num_bits=bits, type="int", symmetric=scheme == "sym",
                                  strategy="group" if g < w.shape[1] else "channel",
                                  **({"group_size": g} if g < w.shape[1] else {}))
            x = torch.from_numpy(w)
            groups = x.reshape(w.shape[0], -1, g)
            scale, zp = calculate_qparams(groups.amin(-1), groups.amax(-1), qa)
            q = ct_quantize(x, scale, zp, qa, dtype=torch.int8)
            check(np.array_equal(got[name + "_scale"], scale.numpy().astype(np.float32)), what + ": scales")
            if bits == 8:
                check(np.array_equal(got[name], q.numpy()), what + ": codes")
                if scheme == "asym":
                    check(np.array_equal(got[name + "_zero_point"], zp.to(torch.int8).numpy()), what + ": zero points")
            else:
                check(np.array_equal(got[name + "_packed"], pack_to_int32(q, 4).numpy()), what + ": packed codes")
                check(list(got[name + "_shape"]) == list(w.shape), what + ": weight_shape")
                if scheme == "asym":
                    want = pack_to_int32(zp.to(torch.int8), 4, packed_dim=0).numpy()
                    check(np.array_equal(got[name + "_zero_point"], want), what + ": packed zero points")
            print("checked", what)
    return True


def check_bnb(qtl, src, weights, work):
    try:
        import torch
        import bitsandbytes.functional as F
    except ImportError:
        print("bitsandbytes is not installed: nf4/fp4 part skipped")
        return False
    for kind in ("nf4", "fp4"):
        for block in (64, 128):
            got = quantize(qtl, src, os.path.join(work, f"{kind}_{block}.safetensors"),
                           "--format", kind, "--group-size", str(block))
            for name, w in weights.items():
                what = f"{kind} block {block} {name}"
                packed, state = F.quantize_4bit(torch.from_numpy(w), blocksize=block, quant_type=kind,
                                                compress_statistics=False)
                check(np.array_equal(got[name], packed.numpy()), what + ": packed bytes")
                check(np.array_equal(got[name + ".absmax"], state.absmax.numpy()), what + ": absmax")
                prefix = name + "."
                loaded = F.QuantState.from_dict({k[len(prefix):]: torch.from_numpy(v) for k, v in got.items()
                                                 if k.startswith(prefix)}, device=torch.device("cpu"))
                check(loaded.quant_type == kind and loaded.blocksize == block and
                      list(loaded.shape) == list(w.shape) and loaded.dtype == torch.float32, what + ": quant state")
                back = F.dequantize_4bit(torch.from_numpy(got[name]), loaded)
                check(torch.equal(back, F.dequantize_4bit(packed, state)), what + ": dequantized through from_dict")
                print("checked", what)
    return True


def check_transformers(qtl, model_dir, work):
    try:
        import json
        import shutil

        import accelerate  # noqa: F401  (transformers needs it for bitsandbytes models)
        import torch
        from transformers import AutoModel, BitsAndBytesConfig
    except ImportError:
        print("transformers/accelerate not installed: transformers part skipped")
        return False
    out = os.path.join(work, "hf_nf4")
    os.makedirs(out, exist_ok=True)
    subprocess.run([qtl, "quantize", os.path.join(model_dir, "model.safetensors"), "-o",
                    os.path.join(out, "model.safetensors"), "--format", "nf4"], check=True, stdout=subprocess.DEVNULL)
    with open(os.path.join(model_dir, "config.json")) as f:
        config = json.load(f)
    config["quantization_config"] = {"quant_method": "bitsandbytes", "load_in_4bit": True,
                                     "bnb_4bit_quant_type": "nf4", "bnb_4bit_use_double_quant": False,
                                     "bnb_4bit_compute_dtype": "float32", "bnb_4bit_quant_storage": "uint8"}
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(config, f)
    loaded = AutoModel.from_pretrained(out, device_map="cpu")
    own = AutoModel.from_pretrained(model_dir, device_map="cpu", quantization_config=BitsAndBytesConfig(
        load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=torch.float32))
    layers = [type(m).__name__ for m in loaded.modules()]
    check(layers.count("Linear4bit") > 0, "transformers: no Linear4bit layer in qtl's nf4 model")
    ids = torch.tensor([[101, 7592, 2088, 2003, 1037, 3231, 1012, 102]])
    with torch.no_grad():
        a, b = (m(input_ids=ids).last_hidden_state for m in (loaded, own))
    check(torch.equal(a, b), f"transformers: qtl's nf4 file gives other outputs (max diff {float((a - b).abs().max())})")
    print(f"checked transformers: {layers.count('Linear4bit')} Linear4bit layers, outputs identical")
    shutil.rmtree(out)
    return True


def held_out_sentences(path, most):
    """qtl::ptq::sentences: split at words ending in '.' and blank lines, 6 to 60 words."""
    out, words = [], []

    def flush():
        if 6 <= len(words) <= 60 and len(out) < most:
            out.append(" ".join(words))
        words.clear()
    with open(path) as f:
        for line in f:
            if not line.strip():
                flush()
            for w in line.split():
                words.append(w)
                if w.endswith("."):
                    flush()
    flush()
    return out


def check_method(qtl, model_dir, work):
    try:
        import json
        import shutil

        import compressed_tensors  # noqa: F401  (transformers' loader for the config below)
        import torch
        from transformers import AutoModel, AutoTokenizer
    except ImportError:
        print("transformers/compressed-tensors not installed: --method part skipped")
        return False
    licenses = "/usr/share/common-licenses"
    sentences = held_out_sentences(os.path.join(licenses, "LGPL-2.1"), 48)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)

    def embed(m):
        with torch.no_grad():
            e = [m(**tokenizer(s, return_tensors="pt")).last_hidden_state[0].mean(0) for s in sentences]
        return torch.nn.functional.normalize(torch.stack(e), dim=1)
    reference = embed(AutoModel.from_pretrained(model_dir).eval())
    with open(os.path.join(model_dir, "config.json")) as f:
        config = json.load(f)
    cosine = {}
    for method, scheme in (("rtn", "sym"), ("gptq", "sym"), ("awq", "sym"), ("gptq", "asym")):
        out = os.path.join(work, f"hf_int4_{method}_{scheme}")
        os.makedirs(out, exist_ok=True)
        extra = [] if method == "rtn" else ["--calibration", os.path.join(licenses, "GPL-3")]
        subprocess.run([qtl, "quantize", os.path.join(model_dir, "model.safetensors"), "-o",
                        os.path.join(out, "model.safetensors"), "--format", "int4", "--scheme", scheme,
                        "--method", method, *extra], check=True, stdout=subprocess.DEVNULL)
        config["quantization_config"] = {
            "quant_method": "compressed-tensors", "format": "pack-quantized", "quantization_status": "compressed",
            "config_groups": {"group_0": {"targets": ["Linear"], "weights": {
                "num_bits": 4, "type": "int", "symmetric": scheme == "sym", "strategy": "group", "group_size": 128}}}}
        with open(os.path.join(out, "config.json"), "w") as f:
            json.dump(config, f)
        cosine[method, scheme] = float((embed(AutoModel.from_pretrained(out).eval()) * reference).sum(1).mean())
        shutil.rmtree(out)
    rtn, gptq, awq, asym = (cosine[k] for k in (("rtn", "sym"), ("gptq", "sym"), ("awq", "sym"), ("gptq", "asym")))
    check(gptq > rtn + 0.02 and gptq > 0.98, f"--method gptq: mean cosine {gptq:.4f}, round to nearest {rtn:.4f}")
    # AWQ's scales folded between value and the attention output (value's bias written too)
    check(awq > rtn + 0.01, f"--method awq: mean cosine {awq:.4f}, round to nearest {rtn:.4f}")
    check(asym > 0.99, f"--method gptq --scheme asym: mean cosine {asym:.4f}")
    print(f"checked --method in transformers, int4 g128 mean cosine: round to nearest {rtn:.4f}, gptq {gptq:.4f}, "
          f"awq {awq:.4f}, gptq asym {asym:.4f}")
    return True


def check_gguf(qtl, src, weights, work):
    try:
        import gguf
    except ImportError:
        print("gguf is not installed: GGUF part skipped")
        return False
    # llama-quantize's type for rows that are not whole blocks (llama.cpp's tensor_type_fallback)
    fallback = {"q2_K": "q4_0", "q3_K": "q4_0", "tq2_0": "q4_0", "q4_K": "q5_0", "q5_K": "q5_1", "q6_K": "q8_0"}
    # the smallest SQNR (dB) of gguf's dequantization of qtl's K-quant bytes on these weights
    k_sqnr = {"q2_K": 5.0, "q3_K": 10.0, "q4_K": 15.0, "q5_K": 20.0, "q6_K": 25.0}
    for fmt in ("q8_0", "q4_0", "q4_1", "q5_0", "q5_1", "tq2_0", "q2_K", "q3_K", "q4_K", "q5_K", "q6_K"):
        out = os.path.join(work, f"{fmt}.gguf")
        subprocess.run([qtl, "quantize", src, "-o", out, "--format", fmt], check=True, stdout=subprocess.DEVNULL)
        reader = gguf.GGUFReader(out)
        fields = {f.name: f for f in reader.fields.values()}
        check("general.quantization_version" in fields and "general.file_type" in fields, f"{fmt}: metadata keys")
        tensors = {t.name: t for t in reader.tensors}
        for name, w in weights.items():
            used = fmt
            if w.shape[1] % gguf.GGML_QUANT_SIZES[gguf.GGMLQuantizationType[fmt.upper()]][0]:
                used = fallback.get(fmt)
                if used is None or w.shape[1] % gguf.GGML_QUANT_SIZES[gguf.GGMLQuantizationType[used.upper()]][0]:
                    check(tensors[name].tensor_type == gguf.GGMLQuantizationType.F32, f"{fmt} {name}: kept as F32")
                    continue
            kind = gguf.GGMLQuantizationType[used.upper()]
            t = tensors[name]
            check(t.tensor_type == kind, f"{fmt} {name}: type {t.tensor_type}, not {used}")
            data = np.asarray(t.data).reshape(-1).view(np.uint8)
            if used in k_sqnr:  # gguf has no K-quant quantizer: its dequantizer reads qtl's bytes
                back = gguf.quants.dequantize(data.reshape(w.shape[0], -1), kind).reshape(w.shape)
                sqnr = 10 * np.log10(np.sum(w.astype(np.float64) ** 2) / np.sum((w - back).astype(np.float64) ** 2))
                check(sqnr > k_sqnr[used], f"{fmt} {name}: SQNR {sqnr:.1f} dB through gguf's dequantizer")
            else:
                want = gguf.quants.quantize(w, kind)
                check(np.array_equal(data, want.reshape(-1).view(np.uint8)),
                      f"{fmt} {name}: bytes differ from gguf.quants.quantize ({used})")
            print("checked", fmt, name, "as", used)
    # plain conversions: F32 as is, F16 as numpy's round to nearest even, BF16 as gguf's
    for fmt in ("f32", "f16", "bf16"):
        out = os.path.join(work, f"{fmt}.gguf")
        subprocess.run([qtl, "quantize", src, "-o", out, "--format", fmt], check=True, stdout=subprocess.DEVNULL)
        tensors = {t.name: t for t in gguf.GGUFReader(out).tensors}
        kind = gguf.GGMLQuantizationType[fmt.upper()]
        for name, w in weights.items():
            t = tensors[name]
            check(t.tensor_type == kind, f"{fmt} {name}: type {t.tensor_type}")
            want = w if fmt == "f32" else w.astype(np.float16) if fmt == "f16" else gguf.quants.quantize(w, kind)
            check(np.array_equal(np.asarray(t.data).reshape(-1).view(np.uint8), want.reshape(-1).view(np.uint8)),
                  f"{fmt} {name}: bytes differ")
            print("checked", fmt, name)
    return True


def write_imatrix_dat(path, entries, ncall, dataset="test.txt"):
    """llama-imatrix's legacy .dat: sums are importance * ncall."""
    with open(path, "wb") as f:
        f.write(struct.pack("<i", len(entries)))
        for name, v in entries.items():
            f.write(struct.pack("<i", len(name)) + name.encode())
            f.write(struct.pack("<ii", ncall, v.size) + (v * ncall).astype("<f4").tobytes())
        f.write(struct.pack("<ii", 10, len(dataset)) + dataset.encode())


def write_imatrix_gguf(gguf, path, entries, count):
    """llama-imatrix's GGUF form: <name>.in_sum2 (importance * count) and <name>.counts."""
    w = gguf.GGUFWriter(path, arch=None)
    w.add_type("imatrix")
    w.add_array("imatrix.datasets", ["test.txt"])
    w.add_uint32("imatrix.chunk_count", 10)
    w.add_uint32("imatrix.chunk_size", 512)
    for name, v in entries.items():
        w.add_tensor(name + ".in_sum2", (v * count).astype(np.float32).reshape(1, -1))
        w.add_tensor(name + ".counts", np.array([[count]], np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def check_imatrix(qtl, src, weights, work):
    """--imatrix: both file forms give the same bytes, the weights change the choice and
    lower the importance-weighted error; bad files and sizes are refused."""
    try:
        import gguf
    except ImportError:
        return False
    rng = np.random.default_rng(3)
    entries = {name: rng.lognormal(0.0, 1.5, w.shape[1]).astype(np.float32) for name, w in weights.items()}
    dat, ggf = os.path.join(work, "imatrix.dat"), os.path.join(work, "imatrix.gguf")
    write_imatrix_dat(dat, entries, ncall=8)
    write_imatrix_gguf(gguf, ggf, entries, count=4.0)  # both exact: the same weights
    for fmt in ("q4_0", "q5_1", "q4_K", "q6_K", "iq4_nl"):
        outs = {}
        for tag, args in (("plain", []), ("dat", ["--imatrix", dat]), ("gguf", ["--imatrix", ggf])):
            out = os.path.join(work, f"imatrix-{fmt}-{tag}.gguf")
            r = subprocess.run([qtl, "quantize", src, "-o", out, "--format", fmt, *args], capture_output=True, text=True)
            check(r.returncode == 0, f"{fmt} {tag}: exit {r.returncode}: {r.stderr}")
            if tag != "plain":
                check("imatrix" in r.stdout, f"{fmt} {tag}: the table names the imatrix")
            outs[tag] = {t.name: t for t in gguf.GGUFReader(out).tensors}
        for name, w in weights.items():
            t = outs["plain"][name]
            if t.tensor_type == gguf.GGMLQuantizationType.Q8_0:  # q6_K's fallback: no importance search
                continue
            data = {tag: np.asarray(o[name].data).reshape(-1).view(np.uint8) for tag, o in outs.items()}
            check(np.array_equal(data["dat"], data["gguf"]), f"{fmt} {name}: .dat and GGUF imatrix differ")
            check(not np.array_equal(data["dat"], data["plain"]), f"{fmt} {name}: the imatrix changed nothing")
            def weighted_error(d):
                back = gguf.quants.dequantize(d.reshape(w.shape[0], -1), t.tensor_type).reshape(w.shape)
                return float(np.sum(entries[name] * (w - back).astype(np.float64) ** 2))
            check(weighted_error(data["dat"]) < weighted_error(data["plain"]),
                  f"{fmt} {name}: the imatrix did not lower the weighted error")
            print("checked --imatrix", fmt, name)
    # a truncated file, and an entry of the wrong length: one error line, no output
    with open(dat, "rb") as f:
        raw = f.read()
    bad = os.path.join(work, "truncated.dat")
    with open(bad, "wb") as f:
        f.write(raw[:50])
    wrong = os.path.join(work, "wrong.dat")
    write_imatrix_dat(wrong, {name: v[:-1] for name, v in entries.items()}, ncall=1)
    for path, words in ((bad, "ends at byte 50"), (wrong, "importance weights for 1 × rows of")):
        out = os.path.join(work, "refused.gguf")
        r = subprocess.run([qtl, "quantize", src, "-o", out, "--format", "q4_K", "--imatrix", path],
                           capture_output=True, text=True)
        check(r.returncode == 1 and words in r.stderr and not os.path.exists(out),
              f"{os.path.basename(path)}: exit {r.returncode}, {r.stderr.strip()}")
    check_imatrix_experts(qtl, gguf, work)
    return True


def check_imatrix_experts(qtl, gguf, work):
    """A 3-D expert tensor takes one row of importance weights per expert (llama-imatrix's
    layout: expert e at e * row): each expert's bytes equal those of the same matrix
    quantized alone as a 2-D tensor with that expert's weights."""
    rng = np.random.default_rng(5)
    experts = (rng.standard_normal((4, 64, 256)) * 0.05).astype(np.float32)
    src = os.path.join(work, "experts.gguf")
    w = gguf.GGUFWriter(src, "llama")
    w.add_tensor("blk.0.ffn_up_exps.weight", experts)
    for e in range(4):
        w.add_tensor(f"blk.0.e{e}.weight", experts[e].copy())
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    per_expert = [rng.lognormal(0.0, 1.5, 256).astype(np.float32) for _ in range(4)]
    entries = {"blk.0.ffn_up_exps.weight": np.concatenate(per_expert)}
    entries.update({f"blk.0.e{e}.weight": per_expert[e] for e in range(4)})
    ggf = os.path.join(work, "experts-imatrix.gguf")
    write_imatrix_gguf(gguf, ggf, entries, count=2.0)
    for fmt in ("q4_K", "q5_0"):
        out = os.path.join(work, f"experts-{fmt}.gguf")
        r = subprocess.run([qtl, "quantize", src, "-o", out, "--format", fmt, "--pure", "--imatrix", ggf],
                           capture_output=True, text=True)
        if not check(r.returncode == 0, f"experts {fmt}: exit {r.returncode}: {r.stderr}"):
            continue
        t = {x.name: np.asarray(x.data).reshape(-1).view(np.uint8) for x in gguf.GGUFReader(out).tensors}
        stacked = t["blk.0.ffn_up_exps.weight"].reshape(4, -1)
        for e in range(4):
            check(np.array_equal(stacked[e], t[f"blk.0.e{e}.weight"]),
                  f"experts {fmt}: expert {e} is not quantized with its own importance row")
        check(not np.array_equal(stacked[1], t["blk.0.e0.weight"]), f"experts {fmt}: experts 0 and 1 alike")
        print("checked --imatrix on a 3-D expert tensor:", fmt)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--qtl", required=True)
    p.add_argument("--work", default=None)
    p.add_argument("--model", default=None, help="a directory with model.safetensors and config.json")
    a = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = a.work or tmp
        os.makedirs(work, exist_ok=True)
        weights = model()
        src = os.path.join(work, "model.safetensors")
        save_file(weights, src)
        ran = [check_integer(a.qtl, src, weights, work), check_bnb(a.qtl, src, weights, work),
               check_gguf(a.qtl, src, weights, work), check_imatrix(a.qtl, src, weights, work)]
        if a.model:
            ran.append(check_transformers(a.qtl, a.model, work))
            ran.append(check_method(a.qtl, a.model, work))
    if not any(ran):
        sys.exit(77)
    if count():
        sys.exit(1)
    print("qtl tool output matches compressed-tensors, bitsandbytes, transformers and gguf" if all(ran) else "checked what was installed")


if __name__ == "__main__":
    main()
