#!/usr/bin/env python3
"""`qtl quantize DIR` on a Hugging Face BERT directory, read back with the gguf package.

    python tests/golden/convert_interop.py --qtl build/dev/tools/qtl [--work DIR] [--model DIR]

Writes a small BERT model directory (seeded random F32 weights under the transformers
names, config.json, a WordPiece tokenizer.json, tokenizer_config.json and the
sentence-transformers pooling files), converts it with qtl to F16, Q8_0 and Q4_K_M GGUF
files and checks them with gguf's GGUFReader:
- general.architecture and every hyperparameter under the gguf package's key names;
- every tensor under the name gguf's own tensor map (get_tensor_name_map(BERT)) gives the
  transformers name, the pooler and position_ids left out;
- the vocabulary in llama.cpp's phantom-space spelling, token types, the special ids;
- the data: F16 = numpy's float16 of the weights, Q8_0 = gguf.quants.quantize's bytes,
  position and token-type embeddings, norms and biases kept as F32 (llama-quantize's rules);
- bad directories: an architecture qtl does not convert, no tokenizer, a broken config:
  exit 1, one line naming the problem, no output file.
With --model DIR (the demo's all-MiniLM-L6-v2 from scripts/fetch_model.sh) the real model
is converted and checked the same way. Exits 77 when gguf is missing.
"""
import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile

try:
    import numpy as np
    import gguf
    from safetensors.numpy import load_file, save_file
except ImportError as missing:
    print(f"{missing.name} is not installed: skipping the conversion test")
    sys.exit(77)

from mismatches import check, count  # noqa: E402

SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
WORDS = ["the", "a", "quick", "brown", "fox", "dog", "jump", "##s", "##ed", "over", "lazy", ".", ",", "[unused0]"]


def write_bert(d, layers=2, hidden=64, heads=4, ff=128, positions=32):
    d.mkdir(parents=True, exist_ok=True)
    vocab = SPECIAL + WORDS
    config = {"architectures": ["BertModel"], "model_type": "bert", "hidden_size": hidden,
              "num_hidden_layers": layers, "num_attention_heads": heads, "intermediate_size": ff,
              "max_position_embeddings": positions, "type_vocab_size": 2, "vocab_size": len(vocab) + 2,
              "layer_norm_eps": 1e-12, "pad_token_id": 0}
    (d / "config.json").write_text(json.dumps(config))
    tok = {"version": "1.0",
           "added_tokens": [{"id": i, "content": t, "special": True} for i, t in enumerate(SPECIAL)],
           "normalizer": {"type": "BertNormalizer", "lowercase": True, "strip_accents": None},
           "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                     "vocab": {t: i for i, t in enumerate(vocab)}}}
    (d / "tokenizer.json").write_text(json.dumps(tok))
    (d / "tokenizer_config.json").write_text(json.dumps(
        {"unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]", "cls_token": "[CLS]",
         "mask_token": "[MASK]", "do_lower_case": True}))
    (d / "modules.json").write_text(json.dumps(
        [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
         {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]))
    (d / "1_Pooling").mkdir(exist_ok=True)
    (d / "1_Pooling" / "config.json").write_text(json.dumps({"pooling_mode_cls_token": True}))
    rng = np.random.default_rng(7)
    w = lambda *s: (rng.standard_normal(s) * 0.05).astype(np.float32)
    t = {"embeddings.word_embeddings.weight": w(config["vocab_size"], hidden),
         "embeddings.position_embeddings.weight": w(positions, hidden),
         "embeddings.token_type_embeddings.weight": w(2, hidden),
         "embeddings.LayerNorm.weight": w(hidden), "embeddings.LayerNorm.bias": w(hidden),
         "embeddings.position_ids": np.arange(positions, dtype=np.int64)[None, :],
         "pooler.dense.weight": w(hidden, hidden), "pooler.dense.bias": w(hidden)}
    for i in range(layers):
        p = f"encoder.layer.{i}."
        for name, shape in (("attention.self.query", (hidden, hidden)), ("attention.self.key", (hidden, hidden)),
                            ("attention.self.value", (hidden, hidden)), ("attention.output.dense", (hidden, hidden)),
                            ("intermediate.dense", (ff, hidden)), ("output.dense", (hidden, ff))):
            t[p + name + ".weight"], t[p + name + ".bias"] = w(*shape), w(shape[0])
        for norm in ("attention.output.LayerNorm", "output.LayerNorm"):
            t[p + norm + ".weight"], t[p + norm + ".bias"] = w(hidden), w(hidden)
    save_file(t, str(d / "model.safetensors"))
    return config


def run(qtl, *args):
    return subprocess.run([qtl, "quantize", *map(str, args)], capture_output=True, text=True)


def value(reader, key):
    f = reader.fields.get(key)
    return None if f is None else f.contents()


def check_model(qtl, d, work, tag):
    config = json.loads((d / "config.json").read_text())
    weights = load_file(str(d / "model.safetensors"))
    layers = config["num_hidden_layers"]
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.BERT, layers)
    expected = {}
    for hf, data in weights.items():
        gname = names.get_name(hf[5:] if hf.startswith("bert.") else hf, try_suffixes=(".weight", ".bias"))
        if gname is not None and not hf.startswith("pooler."):
            expected[gname] = data
    arch = gguf.MODEL_ARCH_NAMES[gguf.MODEL_ARCH.BERT]
    K = gguf.Keys
    for fmt in ("F16", "Q8_0", "Q4_K_M"):
        out = work / f"{tag}-{fmt}.gguf"
        r = run(qtl, d, "-o", out, "--format", fmt, "--threads", "2")
        if not check(r.returncode == 0, f"{tag} {fmt}: qtl failed: {r.stderr.strip()}"):
            continue
        reader = gguf.GGUFReader(str(out))
        meta = lambda k: value(reader, k)
        check(meta(K.General.ARCHITECTURE) == arch, f"{tag} {fmt}: general.architecture")
        for key, want in ((K.LLM.BLOCK_COUNT, layers), (K.LLM.CONTEXT_LENGTH, config["max_position_embeddings"]),
                          (K.LLM.EMBEDDING_LENGTH, config["hidden_size"]),
                          (K.LLM.FEED_FORWARD_LENGTH, config["intermediate_size"]),
                          (K.Attention.HEAD_COUNT, config["num_attention_heads"]), (K.Attention.CAUSAL, False)):
            check(meta(key.format(arch=arch)) == want, f"{tag} {fmt}: {key.format(arch=arch)} is not {want}")
        eps = meta(K.Attention.LAYERNORM_EPS.format(arch=arch))
        check(eps is not None and abs(eps - config["layer_norm_eps"]) <= 1e-6 * config["layer_norm_eps"],
              f"{tag} {fmt}: layer norm epsilon {eps}")
        check(meta(K.Tokenizer.MODEL) == "bert", f"{tag} {fmt}: tokenizer.ggml.model")
        check(meta(K.Tokenizer.TOKEN_TYPE_COUNT) == config["type_vocab_size"], f"{tag} {fmt}: token type count")
        check(meta(getattr(K.Tokenizer, "NORMALIZER_LOWERCASE", "tokenizer.ggml.normalizer.lowercase")) is True,
              f"{tag} {fmt}: lowercase normalizer")
        tokens, types = meta(K.Tokenizer.LIST), meta(K.Tokenizer.TOKEN_TYPE)
        check(len(tokens) == config["vocab_size"] == len(types), f"{tag} {fmt}: {len(tokens)} tokens")
        vocab = json.loads((d / "tokenizer.json").read_text())["model"]["vocab"]
        by_id = {i: t for t, i in vocab.items()}
        special = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"}
        for i, (got, kind) in enumerate(zip(tokens, types)):  # convert_hf_to_gguf's BertModel spelling
            src = by_id.get(i)
            want = (f"[PAD{i}]" if src is None else src if src in special else
                    src[2:] if src.startswith("##") else "\u2581" + src)
            want_kind = (gguf.TokenType.UNUSED if src is None else gguf.TokenType.CONTROL if src in special
                         else gguf.TokenType.NORMAL)
            if not check(got == want and kind == want_kind, f"{tag} {fmt}: token {i} is {got!r}/{kind}"):
                break
        for key, token in ((K.Tokenizer.BOS_ID, "[CLS]"), (K.Tokenizer.EOS_ID, "[SEP]"), (K.Tokenizer.SEP_ID, "[SEP]"),
                           (K.Tokenizer.UNK_ID, "[UNK]"), (K.Tokenizer.PAD_ID, "[PAD]"), (K.Tokenizer.MASK_ID, "[MASK]")):
            check(meta(key) == vocab[token], f"{tag} {fmt}: {key} is not {token}'s id")
        tensors = {t.name: t for t in reader.tensors}
        check(set(tensors) == set(expected), f"{tag} {fmt}: tensor names {sorted(set(tensors) ^ set(expected))}")
        F32, F16, Q8 = gguf.GGMLQuantizationType.F32, gguf.GGMLQuantizationType.F16, gguf.GGMLQuantizationType.Q8_0
        for name, w in expected.items():
            t = tensors.get(name)
            if t is None:
                continue
            kept = w.ndim < 2 or name in ("position_embd.weight", "token_types.weight")
            data = np.asarray(t.data)
            if kept:
                check(t.tensor_type == F32 and np.array_equal(data.reshape(w.shape), w), f"{tag} {fmt} {name}: kept F32")
            elif fmt == "F16":
                check(t.tensor_type == F16 and np.array_equal(data.reshape(w.shape), w.astype(np.float16)),
                      f"{tag} {fmt} {name}: numpy's float16")
            elif fmt == "Q8_0":
                check(t.tensor_type == Q8 and data.tobytes() == gguf.quants.quantize(w, Q8).tobytes(),
                      f"{tag} {fmt} {name}: gguf.quants.quantize's Q8_0 bytes")
            else:  # rows of 64: llama-quantize's Q4_K_M falls back to Q5_0 (Q6_K to Q8_0 for V, FFN down)
                back = gguf.quants.dequantize(data, t.tensor_type).reshape(w.shape)
                sqnr = 10 * np.log10(np.sum(w.astype(np.float64) ** 2) / np.sum((w - back).astype(np.float64) ** 2))
                check(t.tensor_type != F32 and sqnr > 20, f"{tag} {fmt} {name}: {t.tensor_type.name}, {sqnr:.1f} dB")
    return True


def check_refusals(qtl, work):
    cases = {
        "unsupported architecture": ({"architectures": ["MambaForCausalLM"]}, "MambaForCausalLM"),
        "no tokenizer": ("rm-tokenizer", "no tokenizer"),
        "broken config": ("{not json", "config.json"),
    }
    for what, (change, needle) in cases.items():
        d = work / ("bad-" + what.replace(" ", "-"))
        write_bert(d)
        if change == "rm-tokenizer":
            (d / "tokenizer.json").unlink()
        elif isinstance(change, dict):
            config = json.loads((d / "config.json").read_text())
            config.update(change)
            (d / "config.json").write_text(json.dumps(config))
        else:
            (d / "config.json").write_text(change)
        out = work / "refused.gguf"
        r = run(qtl, d, "-o", out, "--format", "Q8_0")
        check(r.returncode == 1 and needle in r.stderr and r.stderr.count("\n") == 1 and not out.exists(),
              f"{what}: exit {r.returncode}, stderr {r.stderr.strip()!r}")
    # --no-convert writes the tensors under their own names
    d = work / "plain"
    write_bert(d)
    out = work / "plain.gguf"
    r = run(qtl, d / "model.safetensors", "-o", out, "--format", "Q8_0", "--no-convert")
    if check(r.returncode == 0, f"--no-convert: {r.stderr.strip()}"):
        names = {t.name for t in gguf.GGUFReader(str(out)).tensors}
        check("encoder.layer.0.attention.self.query.weight" in names, "--no-convert keeps the transformers names")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--qtl", required=True)
    ap.add_argument("--work")
    ap.add_argument("--model", help="a real BERT model directory (the demo's all-MiniLM-L6-v2)")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = pathlib.Path(a.work or tmp)
        work.mkdir(parents=True, exist_ok=True)
        write_bert(work / "bert")
        check_model(a.qtl, work / "bert", work, "synthetic")
        if a.model and (pathlib.Path(a.model) / "config.json").is_file():
            check_model(a.qtl, pathlib.Path(a.model), work, "model")
        elif a.model:
            print(f"{a.model} is not there (scripts/fetch_model.sh fetches it): the real model is not checked")
        check_refusals(a.qtl, work)
    if count():
        return 1
    print("qtl's converted BERT GGUF files read back as the gguf package defines them")
    return 0


if __name__ == "__main__":
    sys.exit(main())
