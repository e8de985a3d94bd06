#!/usr/bin/env python3
"""Golden vectors for qtl::ptq::wordpiece and qtl::ptq::bert (tests/ptq/bert_test.cpp):
all-MiniLM-L6-v2 (scripts/fetch_model.sh) tokenized by the tokenizers package and
embedded by sentence-transformers, written to tests/golden/minilm.json.

    python3 tests/golden/minilm.py MODEL_DIR            # rewrite minilm.json
    python3 tests/golden/minilm.py MODEL_DIR --check    # compare with the committed file

Needs tokenizers (the token ids) and sentence-transformers with torch (the embeddings;
tests/golden/requirements-torch.txt's torch); exits 77 (skipped) without them. CI does
not install torch: the C++ test reads the committed file."""
import argparse
import hashlib
import json
import pathlib
import sys

HERE = pathlib.Path(__file__).resolve().parent
GOLDEN = HERE / "minilm.json"

# Sentences the embeddings are checked on: plain English, numbers and punctuation, a long
# one, accents, other scripts.
SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "A man is playing a guitar on the street.",
    "Quantization maps floating-point weights to a few integer levels.",
    "In 2023, 4-bit models (NF4, Q4_K_M) ran on laptops at 20 tokens/s!",
    "The weather today is sunny with a light breeze from the west.",
    "She sells sea shells by the sea shore; the shells she sells are surely sea shells.",
    "Café au lait, naïve résumé, Zürich and São Paulo.",
    "東京は日本の首都です。 Москва — столица России.",
    " ".join(["This sentence repeats to be longer than the model's 256-token limit."] * 30),
]

# Text for the tokenizer alone: the normalizer's and pre-tokenizer's corner cases.
TOKENIZER_CASES = [
    "",
    "   \t\n  ",
    "Hello, World!!",
    "unaffable antidisestablishmentarianism",
    "ÀÉÎÕÜ àéîõü ñÑ çÇ ÿ Ǖ ǖ ẞ ß Æ æ Ø ø Œ œ",
    "İstanbul ıi ΣΑΣ σας Ωμέγα ἄλφα",
    "mixed\u0000control\u0007chars\u200bhere\ufffdx",
    "combining e\u0301 a\u0308 n\u0303 marks",
    "中文字符和日本語のかな 한국어 텍스트",
    "quotes «“‘’”» dashes – — … ¿¡ §¶ ‰ ′″",
    "emoji 😀🚀 and symbols ©®™ €£¥ ±×÷ ≤≥",
    "x" * 101,
    "a" * 100,
    "don't can't won't it's e.g. U.S.A. 3.14 1,000,000",
    "tabs\tand\nnewlines\r\nand\u00a0nbsp\u3000ideographic",
    "ﬁﬂ ligatures ℌ ① ｆｕｌｌｗｉｄｔｈ",
]


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("model", type=pathlib.Path)
    p.add_argument("--check", action="store_true")
    a = p.parse_args()
    try:
        import numpy as np
        from sentence_transformers import SentenceTransformer
        from tokenizers import Tokenizer
    except ImportError as e:
        print(f"minilm.py: {e.name} is not installed: skipped", file=sys.stderr)
        return 77
    tok = Tokenizer.from_file(str(a.model / "tokenizer.json"))
    tok.no_padding()
    tok.no_truncation()
    st = SentenceTransformer(str(a.model), device="cpu")
    emb = st.encode(SENTENCES, convert_to_numpy=True, normalize_embeddings=False, batch_size=1)
    features = st.preprocess(SENTENCES) if hasattr(st, "preprocess") else st.tokenize(SENTENCES)
    ids, mask = features["input_ids"], features["attention_mask"]
    import sentence_transformers
    import tokenizers
    golden = {
        "model": "sentence-transformers/all-MiniLM-L6-v2",
        "made_with": {"sentence-transformers": sentence_transformers.__version__,
                      "tokenizers": tokenizers.__version__, "torch": __import__("torch").__version__},
        "model_sha256": sha256(a.model / "model.safetensors"),
        "made_by": "tests/golden/minilm.py",
        "tokenizer": [{"text": t, "ids": tok.encode(t, add_special_tokens=False).ids} for t in TOKENIZER_CASES],
        "sentences": [{"text": s, "ids": [int(i) for i, m in zip(ids[k].tolist(), mask[k].tolist()) if m],
                       "embedding": [float(f"{v:.8g}") for v in np.asarray(emb[k], dtype=np.float32)]}
                      for k, s in enumerate(SENTENCES)],
    }
    if a.check:
        old = json.loads(GOLDEN.read_text())
        bad = [c["text"][:40] for c, o in zip(golden["tokenizer"], old["tokenizer"]) if c["ids"] != o["ids"]]
        for c, o in zip(golden["sentences"], old["sentences"]):
            e, f = np.array(c["embedding"]), np.array(o["embedding"])
            if c["ids"] != o["ids"] or float(e @ f / np.linalg.norm(e) / np.linalg.norm(f)) < 0.999999:
                bad.append(c["text"][:40])
        if bad:
            print("minilm.py: differs from the committed file:", bad, file=sys.stderr)
            return 1
        print("minilm.json matches tokenizers and sentence-transformers")
        return 0
    one = lambda v: json.dumps(v, ensure_ascii=False)  # noqa: E731
    lines = [f" {one(k)}: {one(v)}," for k, v in golden.items() if k not in ("tokenizer", "sentences")]
    for k in ("tokenizer", "sentences"):
        lines.append(f" {one(k)}: [\n" + ",\n".join("  " + one(e) for e in golden[k]) + "\n ],")
    GOLDEN.write_text("{\n" + "\n".join(lines)[:-1] + "\n}\n")
    print(f"wrote {GOLDEN.name}: {len(TOKENIZER_CASES)} tokenizer cases, {len(SENTENCES)} embeddings")
    return 0


if __name__ == "__main__":
    sys.exit(main())
