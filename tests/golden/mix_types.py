#!/usr/bin/env python3
"""llama-quantize's per-tensor types for each file type ("mix"), on small LLaMA-shaped models.

Writes two synthetic F32 GGUF models with the gguf package (seeded random weights, rows of
256 so that the K-quants fit and the mixes' own rules decide): a 16-layer LLaMA with
grouped-query attention (4 query heads per KV head) and its own output.weight, and a
16-layer one without GQA whose output is tied to token_embd. Then either

  --llama-quantize BIN   runs llama.cpp's llama-quantize on each model for every mix and
                         writes the types it chose to mix_types.json (the golden file), or
  --qtl BIN              runs `qtl quantize` the same way and checks that every tensor of
                         every mix has the type the golden file says (exit 1 otherwise).
"""
import argparse, json, pathlib, subprocess, sys, tempfile

import numpy as np
import gguf

MIXES = ["Q2_K", "Q3_K_S", "Q3_K_M", "Q3_K_L", "Q4_K_S", "Q4_K_M", "Q5_K_S", "Q5_K_M", "Q6_K",
         "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "IQ4_NL", "TQ2_0", "F16", "BF16"]
MODELS = {"gqa4": dict(kv_heads=1, output=True), "tied": dict(kv_heads=4, output=False)}
LAYERS, EMBD, HEADS, FF, VOCAB = 16, 256, 4, 256, 512
# llama-quantize's options, with the same meaning in qtl quantize: (model, mix, arguments)
OPTIONS = [
    ("gqa4", "Q4_K_M", ["--pure"]),
    ("gqa4", "Q4_K_M", ["--output-tensor-type", "q8_0", "--token-embedding-type", "q5_K"]),
    ("gqa4", "Q3_K_M", ["--tensor-type", "attn_v=q8_0", "--tensor-type", "BLK\\.1[0-5]\\.ffn_down=Q5_1"]),
    ("gqa4", "Q5_K_M", ["--leave-output-tensor"]),
    ("tied", "Q4_K_M", ["--token-embedding-type", "q8_0"]),
    ("tied", "Q2_K", ["--output-tensor-type", "q4_K"]),
]


def write_model(path, kv_heads, output):
    rng = np.random.default_rng(1234)
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_block_count(LAYERS)
    w.add_context_length(128)
    w.add_embedding_length(EMBD)
    w.add_feed_forward_length(FF)
    w.add_head_count(HEADS)
    w.add_head_count_kv(kv_heads)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_file_type(0)
    w.add_tokenizer_model("llama")  # a vocabulary llama.cpp's loader accepts
    w.add_token_list([f"t{i}".encode() for i in range(VOCAB)])
    w.add_token_scores([0.0] * VOCAB)
    w.add_token_types([1] * VOCAB)
    mat = lambda rows, cols: (rng.standard_normal((rows, cols)) * 0.05).astype(np.float32)
    w.add_tensor("token_embd.weight", mat(VOCAB, EMBD))
    w.add_tensor("output_norm.weight", np.ones(EMBD, np.float32))
    if output:
        w.add_tensor("output.weight", mat(VOCAB, EMBD))
    kv = EMBD // HEADS * kv_heads
    for i in range(LAYERS):
        b = f"blk.{i}."
        w.add_tensor(b + "attn_norm.weight", np.ones(EMBD, np.float32))
        w.add_tensor(b + "attn_q.weight", mat(EMBD, EMBD))
        w.add_tensor(b + "attn_k.weight", mat(kv, EMBD))
        w.add_tensor(b + "attn_v.weight", mat(kv, EMBD))
        w.add_tensor(b + "attn_output.weight", mat(EMBD, EMBD))
        w.add_tensor(b + "ffn_norm.weight", np.ones(EMBD, np.float32))
        w.add_tensor(b + "ffn_gate.weight", mat(FF, EMBD))
        w.add_tensor(b + "ffn_up.weight", mat(FF, EMBD))
        w.add_tensor(b + "ffn_down.weight", mat(EMBD, FF))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def types(path):
    return {t.name: t.tensor_type.name.lower() for t in gguf.GGUFReader(str(path)).tensors}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    tool = ap.add_mutually_exclusive_group(required=True)
    tool.add_argument("--llama-quantize", help="llama.cpp's llama-quantize: regenerate the golden file")
    tool.add_argument("--qtl", help="the qtl tool: check it against the golden file")
    ap.add_argument("--golden", default=str(pathlib.Path(__file__).with_name("mix_types.json")))
    args = ap.parse_args()
    golden = {} if args.llama_quantize else json.loads(pathlib.Path(args.golden).read_text())
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        for model, shape in MODELS.items():
            write_model(pathlib.Path(tmp) / f"{model}.gguf", **shape)
        cases = [(m, mix, []) for m in MODELS for mix in MIXES] + OPTIONS
        for model, mix, extra in cases:
            src, out = pathlib.Path(tmp) / f"{model}.gguf", pathlib.Path(tmp) / "out.gguf"
            cmd = ([args.llama_quantize, *extra, str(src), str(out), mix, "2"] if args.llama_quantize else
                   [args.qtl, "quantize", str(src), "-o", str(out), "--format", mix, "--threads", "2", *extra])
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            got = types(out)
            out.unlink()
            key = " ".join([mix, *extra])
            if args.llama_quantize:
                golden.setdefault(model, {})[key] = got
                continue
            want = golden[model][key]
            bad = {k: (want.get(k), got.get(k)) for k in set(want) | set(got) if want.get(k) != got.get(k)}
            if bad:
                failures += 1
                print(f"{model} {key}: {len(bad)} tensors differ from llama-quantize (want, got): "
                      f"{dict(sorted(bad.items())[:6])}")
            else:
                print(f"{model} {key}: {len(got)} tensor types as llama-quantize's")
    if args.llama_quantize:
        pathlib.Path(args.golden).write_text(json.dumps(golden, indent=1, sort_keys=True) + "\n")
        print("wrote", args.golden)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
