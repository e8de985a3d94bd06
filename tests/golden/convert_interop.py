#!/usr/bin/env python3
"""`qtl quantize DIR` on Hugging Face model directories, read back with the gguf package.

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
The same for a LLaMA-3-style model (two shards and their index, tied embeddings, llama3 RoPE
scaling: rope_freqs.weight, q/k rows un-permuted as the converter's LlamaModel.permute) and
a Qwen2-style one (q/k/v biases, lm_head), each with a byte-level BPE tokenizer.json in the
tokenizers library's layout: gpt2 model, llama-bpe / qwen2 pre-tokenizer, tokens, types,
merges, bos/eos ids, add_bos/add_eos, chat template; a SentencePiece-only tokenizer and a
mixture of experts are refused by name.
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


def byte_chars():
    """GPT-2's byte-to-character table (the alphabet of every byte-level BPE vocabulary)."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    chars, n = {}, 0
    for b in range(256):
        if b in keep:
            chars[b] = chr(b)
        else:
            chars[b] = chr(256 + n)
            n += 1
    return [chars[b] for b in range(256)]


LLAMA3_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|"
                r"\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN2_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|"
               r"\s*[\r\n]+|\s+(?!\S)|\s+")


def write_decoder(d, arch, layers=2, hidden=64, heads=4, kv_heads=2, ff=128):
    """A LLaMA-3-style (arch "llama": tied embeddings, llama3 RoPE scaling) or Qwen2-style
    (q/k/v biases, its own lm_head) model directory with a byte-level BPE tokenizer.json in
    the layout the tokenizers library writes (merges as pairs, as transformers >= 4.45)."""
    d.mkdir(parents=True, exist_ok=True)
    alphabet = byte_chars()
    merges = [["\u0120", "t"], ["h", "e"], ["\u0120t", "he"], ["\u0120", "q"], ["u", "i"], ["\u0120q", "ui"],
              ["c", "k"], ["\u0120qui", "ck"], ["o", "x"], ["\u0120", "f"], ["\u0120f", "ox"]]
    vocab = {c: i for i, c in enumerate(alphabet)}
    for a, b in merges:
        vocab[a + b] = len(vocab)
    specials = ["<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>"] if arch == "llama" else \
        ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    added = [{"id": len(vocab) + i, "content": t, "special": True, "normalized": False} for i, t in enumerate(specials)]
    tok = {"version": "1.0", "added_tokens": added, "normalizer": None,
           "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
               {"type": "Split", "pattern": {"Regex": LLAMA3_SPLIT if arch == "llama" else QWEN2_SPLIT},
                "behavior": "Isolated", "invert": False},
               {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}]},
           "post_processor": ({"type": "Sequence", "processors": [
               {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True},
               {"type": "TemplateProcessing",
                "single": [{"SpecialToken": {"id": specials[0], "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
                "pair": [{"SpecialToken": {"id": specials[0], "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                         {"SpecialToken": {"id": specials[0], "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
                "special_tokens": {specials[0]: {"id": specials[0], "ids": [len(vocab)], "tokens": [specials[0]]}}}]}
               if arch == "llama" else
               {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False}),
           "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
           "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                     "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                     "vocab": vocab, "merges": merges}}
    (d / "tokenizer.json").write_text(json.dumps(tok))
    n_vocab = len(vocab) + len(specials) + 2  # two ids past the tokenizer's: [PAD<i>]
    config = {"architectures": ["LlamaForCausalLM" if arch == "llama" else "Qwen2ForCausalLM"], "model_type": arch,
              "hidden_size": hidden, "num_hidden_layers": layers, "num_attention_heads": heads,
              "num_key_value_heads": kv_heads, "intermediate_size": ff, "max_position_embeddings": 256,
              "rms_norm_eps": 1e-5, "vocab_size": n_vocab, "tie_word_embeddings": arch == "llama",
              "bos_token_id": len(vocab), "eos_token_id": len(vocab) + 1}
    if arch == "llama":
        config.update(rope_theta=500000.0, rope_scaling={"rope_type": "llama3", "factor": 32.0, "low_freq_factor": 1.0,
                                                         "high_freq_factor": 4.0,
                                                         "original_max_position_embeddings": 8192})
    else:
        config.update(rope_theta=1000000.0)
    (d / "config.json").write_text(json.dumps(config))
    (d / "tokenizer_config.json").write_text(json.dumps(
        {"bos_token": specials[0] if arch == "llama" else None, "eos_token": specials[1],
         "chat_template": "{% for m in messages %}{{ m['content'] }}{% endfor %}"}))
    rng = np.random.default_rng(11)
    w = lambda *s: (rng.standard_normal(s) * 0.05).astype(np.float32)
    kv = hidden // heads * kv_heads
    t = {"model.embed_tokens.weight": w(n_vocab, hidden), "model.norm.weight": w(hidden)}
    if arch != "llama":
        t["lm_head.weight"] = w(n_vocab, hidden)
    for i in range(layers):
        p = f"model.layers.{i}."
        t.update({p + "input_layernorm.weight": w(hidden), p + "post_attention_layernorm.weight": w(hidden),
                  p + "self_attn.q_proj.weight": w(hidden, hidden), p + "self_attn.k_proj.weight": w(kv, hidden),
                  p + "self_attn.v_proj.weight": w(kv, hidden), p + "self_attn.o_proj.weight": w(hidden, hidden),
                  p + "mlp.gate_proj.weight": w(ff, hidden), p + "mlp.up_proj.weight": w(ff, hidden),
                  p + "mlp.down_proj.weight": w(hidden, ff)})
        if arch != "llama":
            t.update({p + "self_attn.q_proj.bias": w(hidden), p + "self_attn.k_proj.bias": w(kv),
                      p + "self_attn.v_proj.bias": w(kv)})
    half = len(t) // 2  # two shards and their index, as large checkpoints come
    names = sorted(t)
    shards = {"model-00001-of-00002.safetensors": names[:half], "model-00002-of-00002.safetensors": names[half:]}
    for f, ns in shards.items():
        save_file({n: t[n] for n in ns}, str(d / f))
    (d / "model.safetensors.index.json").write_text(json.dumps(
        {"metadata": {}, "weight_map": {n: f for f, ns in shards.items() for n in ns}}))
    return config, tok


def permute(w, heads):
    """convert_hf_to_gguf's LlamaModel.permute: per head, rows (2, half) -> (half, 2)."""
    return w.reshape(heads, 2, w.shape[0] // heads // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def check_decoder(qtl, d, arch, config, tok, work):
    weights = {}
    for f in sorted(d.glob("*.safetensors")):
        weights.update(load_file(str(f)))
    layers = config["num_hidden_layers"]
    model_arch = gguf.MODEL_ARCH.LLAMA if arch == "llama" else gguf.MODEL_ARCH.QWEN2
    names = gguf.get_tensor_name_map(model_arch, layers)
    expected = {}
    for hf, data in weights.items():
        g = names.get_name(hf, try_suffixes=(".weight", ".bias"))
        check(g is not None, f"{arch}: gguf has no name for {hf}")
        if arch == "llama" and ("q_proj" in hf or "k_proj" in hf):
            data = permute(data, config["num_attention_heads"] if "q_proj" in hf else config["num_key_value_heads"])
        expected[g] = data
    K = gguf.Keys
    for fmt in ("F16", "Q8_0"):
        out = work / f"{arch}-{fmt}.gguf"
        r = run(qtl, d, "-o", out, "--format", fmt, "--threads", "2")
        if not check(r.returncode == 0, f"{arch} {fmt}: qtl failed: {r.stderr.strip()}"):
            continue
        reader = gguf.GGUFReader(str(out))
        meta = lambda k: value(reader, k.format(arch=arch) if "{arch}" in k else k)
        check(meta(K.General.ARCHITECTURE) == arch, f"{arch} {fmt}: general.architecture")
        for key, want in ((K.LLM.BLOCK_COUNT, layers), (K.LLM.CONTEXT_LENGTH, config["max_position_embeddings"]),
                          (K.LLM.EMBEDDING_LENGTH, config["hidden_size"]),
                          (K.LLM.FEED_FORWARD_LENGTH, config["intermediate_size"]),
                          (K.Attention.HEAD_COUNT, config["num_attention_heads"]),
                          (K.Attention.HEAD_COUNT_KV, config["num_key_value_heads"])):
            check(meta(key) == want, f"{arch} {fmt}: {key} is not {want}")
        check(abs(meta(K.Rope.FREQ_BASE) - config["rope_theta"]) < 1e-3 * config["rope_theta"], f"{arch}: rope base")
        check(abs(meta(K.Attention.LAYERNORM_RMS_EPS) - 1e-5) < 1e-9, f"{arch}: rms eps")
        if arch == "llama":
            check(meta(K.LLM.VOCAB_SIZE) == config["vocab_size"], f"{arch}: vocab_size")
            check(meta(K.Rope.DIMENSION_COUNT) == config["hidden_size"] // config["num_attention_heads"], "rope dims")
        check(meta(K.Tokenizer.MODEL) == "gpt2", f"{arch}: tokenizer model")
        check(meta(K.Tokenizer.PRE) == ("llama-bpe" if arch == "llama" else "qwen2"), f"{arch}: pre-tokenizer")
        tokens, types = meta(K.Tokenizer.LIST), meta(K.Tokenizer.TOKEN_TYPE)
        by_id = {i: t for t, i in tok["model"]["vocab"].items()}
        by_id.update({a["id"]: a["content"] for a in tok["added_tokens"]})
        want_tokens = [by_id.get(i, f"[PAD{i}]") for i in range(config["vocab_size"])]
        want_types = [gguf.TokenType.UNUSED if i not in by_id else
                      gguf.TokenType.CONTROL if i >= len(tok["model"]["vocab"]) else gguf.TokenType.NORMAL
                      for i in range(config["vocab_size"])]
        check(tokens == want_tokens, f"{arch}: token list")
        check(list(types) == want_types, f"{arch}: token types")
        check(meta(K.Tokenizer.MERGES) == [" ".join(m) for m in tok["model"]["merges"]], f"{arch}: merges")
        check(meta(K.Tokenizer.BOS_ID) == config["bos_token_id"] and meta(K.Tokenizer.EOS_ID) == config["eos_token_id"],
              f"{arch}: bos/eos ids")
        check(meta(K.Tokenizer.ADD_BOS) is (arch == "llama") and meta(K.Tokenizer.ADD_EOS) is False,
              f"{arch}: add_bos {meta(K.Tokenizer.ADD_BOS)}, add_eos {meta(K.Tokenizer.ADD_EOS)}")
        check(meta(K.Tokenizer.CHAT_TEMPLATE) == "{% for m in messages %}{{ m['content'] }}{% endfor %}",
              f"{arch}: chat template")
        tensors = {t.name: t for t in reader.tensors}
        want_names = set(expected) | ({"rope_freqs.weight"} if arch == "llama" else set())
        check(set(tensors) == want_names, f"{arch} {fmt}: tensor names {sorted(set(tensors) ^ want_names)}")
        for name, w in expected.items():
            t = tensors.get(name)
            if t is None:
                continue
            data = np.asarray(t.data)
            if w.ndim < 2:
                check(t.tensor_type == gguf.GGMLQuantizationType.F32 and np.array_equal(data.reshape(w.shape), w),
                      f"{arch} {fmt} {name}: kept F32")
            elif fmt == "F16":
                check(np.array_equal(data.reshape(w.shape), w.astype(np.float16)), f"{arch} {fmt} {name}: values")
            else:
                kind = gguf.GGMLQuantizationType[t.tensor_type.name]
                check(data.tobytes() == gguf.quants.quantize(w, kind).tobytes(), f"{arch} {fmt} {name}: bytes")
        if arch == "llama" and "rope_freqs.weight" in tensors:  # LlamaModel.generate_extra_tensors, in float32
            dim = config["hidden_size"] // config["num_attention_heads"]
            rs = config["rope_scaling"]
            freqs = 1.0 / (np.float32(config["rope_theta"]) ** (np.arange(0, dim, 2, dtype=np.float32) / np.float32(dim)))
            wavelen = 2 * np.pi / freqs
            lo, hi = rs["original_max_position_embeddings"] / rs["low_freq_factor"], \
                rs["original_max_position_embeddings"] / rs["high_freq_factor"]
            smooth = (rs["original_max_position_embeddings"] / wavelen - rs["low_freq_factor"]) / \
                (rs["high_freq_factor"] - rs["low_freq_factor"])
            want = np.where(wavelen < hi, 1.0, np.where(wavelen > lo, rs["factor"],
                                                         1 / ((1 - smooth) / rs["factor"] + smooth)))
            got = np.asarray(tensors["rope_freqs.weight"].data)
            check(np.allclose(got, want, rtol=1e-5), f"llama: rope_freqs {got} vs {want}")


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


def nf4_values(layout, name, absmax):
    """The weights a transformers + bitsandbytes 4-bit layout holds: quant_map[code] times
    its block's absmax, the first code of a byte in the high nibble."""
    state = json.loads(bytes(layout[name + ".quant_state.bitsandbytes__nf4"]).decode())
    packed = layout[name].reshape(-1)
    codes = np.stack([packed >> 4, packed & 15], axis=1).reshape(-1)
    n = int(np.prod(state["shape"]))
    blocks = np.repeat(absmax, state["blocksize"])[:n]
    return (layout[name + ".quant_map"][codes[:n]] * blocks).astype(np.float32).reshape(state["shape"])


def check_back(qtl, d, arch, work):
    """GGUF -> transformers: the F32 GGUF of a model directory written back to safetensors
    (f32, f16) gives the original tensors under their transformers names (LLaMA's q/k rows
    back in their order) and a config.json with the original's hyperparameters."""
    original = {}
    for f in sorted(d.glob("*.safetensors")):
        original.update(load_file(str(f)))
    config = json.loads((d / "config.json").read_text())
    gg = work / f"{arch}-back.gguf"
    r = run(qtl, d, "-o", gg, "--format", "F32")
    if not check(r.returncode == 0, f"{arch} -> F32 GGUF: {r.stderr.strip()}"):
        return
    for fmt, dtype, torch_dtype in (("f32", np.float32, "float32"), ("f16", np.float16, "float16")):
        out = work / f"{arch}-back-{fmt}" / "model.safetensors"
        out.parent.mkdir(exist_ok=True)
        r = run(qtl, gg, "-o", out, "--format", fmt)
        if not check(r.returncode == 0 and (out.parent / "config.json").exists(), f"{arch} GGUF -> {fmt}: {r.stderr}"):
            continue
        back = load_file(str(out))
        dropped = {n for n in original if n not in back}
        check(dropped <= {"embeddings.position_ids", "pooler.dense.weight", "pooler.dense.bias"},
              f"{arch} {fmt}: tensors lost {sorted(dropped)}")
        for n, w in back.items():
            check(n in original and w.dtype == dtype and np.array_equal(w, original[n].astype(dtype)),
                  f"{arch} {fmt}: {n} is not the original's")
        c = json.loads((out.parent / "config.json").read_text())
        keys = ["hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
                "max_position_embeddings", "vocab_size"] + (["type_vocab_size", "layer_norm_eps"] if arch == "bert" else
                                                            ["num_key_value_heads", "rms_norm_eps", "rope_theta"])
        for k in keys:
            check(c.get(k) == config[k], f"{arch} {fmt} config.json: {k} = {c.get(k)}, not {config[k]}")
        check(c["architectures"] == config["architectures"] and c["torch_dtype"] == torch_dtype,
              f"{arch} {fmt} config.json: {c['architectures']} {c['torch_dtype']}")
        if arch != "bert":
            check(c["tie_word_embeddings"] == ("lm_head.weight" not in original), f"{arch}: tie_word_embeddings")
    # 4-bit: transformers loads it through the config's bitsandbytes quantization_config
    out = work / f"{arch}-back-nf4" / "model.safetensors"
    out.parent.mkdir(exist_ok=True)
    r = run(qtl, gg, "-o", out, "--format", "nf4")
    if check(r.returncode == 0, f"{arch} GGUF -> nf4: {r.stderr}"):
        q = json.loads((out.parent / "config.json").read_text()).get("quantization_config", {})
        check(q.get("quant_method") == "bitsandbytes" and q.get("bnb_4bit_quant_type") == "nf4",
              f"{arch} nf4 config.json: quantization_config {q}")
    # a config.json already beside the output (another model's, perhaps) is never overwritten
    (out.parent / "config.json").write_text("{}")
    r = run(qtl, gg, "-o", out, "--format", "f32")
    check(r.returncode == 0 and (out.parent / "config.json").read_text() == "{}" and "is kept" in r.stderr,
          f"{arch}: an existing config.json was replaced or not reported: {r.stderr}")


def check_nf4(qtl, work):
    """A BERT directory whose weights are bitsandbytes NF4 (qtl's own nf4 output, and the same
    with double-quantized absmax as transformers saves bnb_4bit_use_double_quant models)
    converts to GGUF holding exactly the weights the 4-bit layout decodes to."""
    d = work / "nf4-src"
    write_bert(d)
    nf4 = work / "nf4"
    nf4.mkdir(exist_ok=True)
    for f in ("config.json", "tokenizer.json", "tokenizer_config.json"):
        (nf4 / f).write_bytes((d / f).read_bytes())
    r = run(qtl, d / "model.safetensors", "-o", nf4 / "model.safetensors", "--format", "nf4")
    if not check(r.returncode == 0, f"nf4: {r.stderr.strip()}"):
        return
    layout = load_file(str(nf4 / "model.safetensors"))
    weights = [n for n in layout if n + ".quant_state.bitsandbytes__nf4" in layout]
    # double quantization: absmax - mean as 8-bit codes of a 256-entry map, per 256 absmax one scale
    dq = dict(layout)
    qmap = np.linspace(-1.0, 1.0, 256, dtype=np.float32)
    for n in weights:
        a = layout[n + ".absmax"]
        offset = np.float32(a.mean())
        centered = a - offset
        pad = (-len(centered)) % 256
        nested = np.abs(np.concatenate([centered, np.zeros(pad, np.float32)])).reshape(-1, 256).max(1)
        nested = np.maximum(nested, np.float32(1e-12)).astype(np.float32)
        scaled = centered / np.repeat(nested, 256)[:len(a)]
        dq[n + ".absmax"] = np.abs(scaled[:, None] - qmap[None, :]).argmin(1).astype(np.uint8)
        dq[n + ".nested_absmax"], dq[n + ".nested_quant_map"] = nested, qmap
        state = json.loads(bytes(layout[n + ".quant_state.bitsandbytes__nf4"]).decode())
        state.update(nested_blocksize=256, nested_offset=float(offset), nested_dtype="float32")
        dq[n + ".quant_state.bitsandbytes__nf4"] = np.frombuffer(json.dumps(state).encode(), np.uint8).copy()
    nested_dir = work / "nf4-nested"
    nested_dir.mkdir(exist_ok=True)
    for f in ("config.json", "tokenizer.json", "tokenizer_config.json"):
        (nested_dir / f).write_bytes((d / f).read_bytes())
    save_file(dq, str(nested_dir / "model.safetensors"))
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.BERT, 2)
    for tag, src, lay in (("nf4", nf4, layout), ("nf4 double-quantized", nested_dir, dq)):
        out = work / "from-nf4.gguf"
        r = run(qtl, src, "-o", out, "--format", "F32")
        if not check(r.returncode == 0, f"{tag} -> GGUF: {r.stderr.strip()}"):
            continue
        tensors = {t.name: np.asarray(t.data) for t in gguf.GGUFReader(str(out)).tensors}
        for n in weights:
            if n.startswith("pooler."):  # not in llama.cpp's BERT
                continue
            if n + ".nested_absmax" in lay:
                absmax = (lay[n + ".nested_quant_map"][lay[n + ".absmax"]] *
                          np.repeat(lay[n + ".nested_absmax"], 256)[:len(lay[n + ".absmax"])] +
                          np.float32(json.loads(bytes(lay[n + ".quant_state.bitsandbytes__nf4"]).decode())
                                     ["nested_offset"])).astype(np.float32)
            else:
                absmax = lay[n + ".absmax"]
            want = nf4_values(lay, n, absmax)
            got = tensors.get(names.get_name(n, try_suffixes=(".weight", ".bias")))
            check(got is not None and np.array_equal(got.reshape(want.shape), want), f"{tag} {n}: GGUF values")
    # --original: each quantized tensor's SQNR against the model the NF4 one was made from
    # (NF4's error and Q8_0's together), equal to the one computed here from gguf's decoding
    out, rep = work / "from-nf4-q8.gguf", work / "from-nf4-q8.json"
    r = run(qtl, nf4, "-o", out, "--format", "Q8_0", "--original", d, "--report", rep)
    if check(r.returncode == 0 and "vs original dB" in r.stdout, f"nf4 --original: {r.stderr.strip()}"):
        reference = {names.get_name(n, try_suffixes=(".weight", ".bias")): w.astype(np.float64)
                     for n, w in load_file(str(d / "model.safetensors")).items()}
        written = {t.name: t for t in gguf.GGUFReader(str(out)).tensors}
        rows = [t for t in json.loads(rep.read_text())["tensors"] if t["format"] != "keep"]
        check(len(rows) > 0, "nf4 --original: nothing quantized")
        for row in rows:
            t = written[row["name"]]
            got = gguf.quants.dequantize(np.asarray(t.data), t.tensor_type).astype(np.float64)
            x = reference[row["name"]].reshape(got.shape)
            want = 10 * np.log10((x * x).sum() / ((x - got) ** 2).sum())
            # lower than against the NF4 weights where NF4 had rounded the tensor, else the same
            was_nf4 = row["name"] in {names.get_name(n, try_suffixes=(".weight", ".bias")) for n in weights}
            check(abs(row.get("sqnr_original_db", np.nan) - want) < 1e-6 * abs(want) and
                  (row["sqnr_original_db"] < row["sqnr_db"] - 1 if was_nf4 else
                   abs(row["sqnr_original_db"] - row["sqnr_db"]) < 1e-9 * abs(want)),
                  f"nf4 --original {row['name']}: {row.get('sqnr_original_db')} dB, not {want} "
                  f"(against the NF4 weights {row['sqnr_db']})")
    # the quant_state missing: one line naming the tensor, no output
    broken = dict(layout)
    del broken[weights[0] + ".quant_state.bitsandbytes__nf4"]
    save_file(broken, str(nf4 / "model.safetensors"))
    r = run(qtl, nf4, "-o", work / "refused.gguf", "--format", "Q8_0")
    check(r.returncode == 1 and "quant_state" in r.stderr and r.stderr.count("\n") == 1 and
          not (work / "refused.gguf").exists(), f"nf4 without quant_state: exit {r.returncode}, {r.stderr.strip()!r}")


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
    # a LLaMA whose tokenizer is SentencePiece's tokenizer.model only, and a mixture of experts
    d = work / "bad-spm"
    write_decoder(d, "llama")
    (d / "tokenizer.json").unlink()
    (d / "tokenizer.model").write_bytes(b"\x0a")
    r = run(qtl, d, "-o", work / "refused.gguf", "--format", "Q8_0")
    check(r.returncode == 1 and "SentencePiece" in r.stderr and not (work / "refused.gguf").exists(),
          f"tokenizer.model: exit {r.returncode}, stderr {r.stderr.strip()!r}")
    d = work / "bad-moe"
    write_decoder(d, "llama")
    config = json.loads((d / "config.json").read_text())
    (d / "config.json").write_text(json.dumps({**config, "num_local_experts": 8}))
    r = run(qtl, d, "-o", work / "refused.gguf", "--format", "Q8_0")
    check(r.returncode == 1 and "mixture-of-experts" in r.stderr, f"MoE: exit {r.returncode}, {r.stderr.strip()!r}")
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
        check_back(a.qtl, work / "bert", "bert", work)
        for arch in ("llama", "qwen2"):
            config, tok = write_decoder(work / arch, arch)
            check_decoder(a.qtl, work / arch, arch, config, tok, work)
            check_back(a.qtl, work / arch, arch, work)
        if a.model and (pathlib.Path(a.model) / "config.json").is_file():
            check_model(a.qtl, pathlib.Path(a.model), work, "model")
        elif a.model:
            print(f"{a.model} is not there (scripts/fetch_model.sh fetches it): the real model is not checked")
        check_nf4(a.qtl, work)
        check_refusals(a.qtl, work)
    if count():
        return 1
    print("qtl's converted BERT, LLaMA and Qwen2 GGUF files read back as the gguf package defines them")
    return 0


if __name__ == "__main__":
    sys.exit(main())
