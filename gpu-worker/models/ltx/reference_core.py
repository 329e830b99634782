"""Reference fixtures for the worker's pure-Rust LTX-Video pieces.

Writes, from the Python reference implementations:
  - tests/fixtures/ltx/tiny/tokenizer.json: the tiny configuration's T5-layout
    Unigram tokenizer (vocab 1000; <pad>=0, </s>=1, <unk>=2), trained here with
    the `tokenizers` library on committed prompt text;
  - tests/fixtures/ltx/core/*: what `T5TokenizerFast`, diffusers'
    FlowMatchEulerDiscreteScheduler (as LTXPipeline drives it) and LTXPipeline's
    latent helpers produce, for gpu-worker/tests/ltx_core_parity.rs.

Usage: `python gpu-worker/models/ltx/reference_core.py [fixtures|tokenizer|all]`
(default fixtures: the parity fixtures from the committed tokenizer;
`tokenizer` retrains it from the committed corpus; paths are relative to this
file). Needs torch (CPU), diffusers, transformers, tokenizers and
sentencepiece; CI has none of them, so the outputs are committed. Reruns on
the same inputs write identical files. The tiny tokenizer's vocabulary is the
tiny text encoder's: keep it at 1000 pieces with the specials where they are.
"""

import json
import os
import re
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
WORKER = os.path.normpath(os.path.join(HERE, "..", ".."))
REPO = os.path.dirname(WORKER)
TINY = os.path.join(WORKER, "tests", "fixtures", "ltx", "tiny")
CORE = os.path.join(WORKER, "tests", "fixtures", "ltx", "core")
VOCAB_SIZE = 1000
SPECIALS = ["<pad>", "</s>", "<unk>"]


CORPUS = os.path.join(CORE, "tokenizer_corpus.txt")


def corpus_lines():
    """The tiny tokenizer's training text, frozen in CORPUS (so retraining
    is reproducible while the sources change); made from the sources when
    that file is absent."""
    if not os.path.exists(CORPUS):
        os.makedirs(CORE, exist_ok=True)
        with open(CORPUS, "w", encoding="utf-8") as handle:
            handle.write("\n".join(source_lines()) + "\n")
    with open(CORPUS, encoding="utf-8") as handle:
        return [line.rstrip("\n") for line in handle if line.strip()]


def source_lines():
    """Allowed prompts of both labelled sets (blocked rows are not vocabulary
    we want) and the README's lines: the sets alone give under 1000 pieces."""
    sources = [
        os.path.join(REPO, "functions", "core", "src", "safety", "lists", "labelled.tsv"),
        os.path.join(WORKER, "tests", "fixtures", "semantic_labelled.tsv"),
    ]
    lines = []
    for path in sources:
        with open(path, encoding="utf-8") as handle:
            for row in handle:
                if row.startswith("#") or not row.strip():
                    continue
                cols = row.rstrip("\n").split("\t")
                if len(cols) >= 2 and cols[1] == "allow":
                    lines.append(cols[0])
    with open(os.path.join(REPO, "README.md"), encoding="utf-8") as handle:
        lines += [line.strip() for line in handle if line.strip()]
    return lines


def train_tokenizer():
    """T5's tokenizer.json layout around a freshly trained 1000-piece Unigram model."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.Unigram())
    tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Replace(Regex(" {2,}"), " ")])
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)]
    )
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    trainer = trainers.UnigramTrainer(
        vocab_size=VOCAB_SIZE, special_tokens=SPECIALS, unk_token="<unk>", shrinking_factor=0.75, max_piece_length=12
    )
    tok.train_from_iterator(corpus_lines(), trainer=trainer)
    # Training is not reproducible to the bit (scores move by ~1e-10, and the
    # characters it appends last get 1e-4-spaced scores in hash order), so
    # round scores to 0.01 and order pieces by (score, text): a rerun then
    # writes the same file. The many equal scores also exercise tie-breaking.
    vocab = json.loads(tok.to_str())["model"]["vocab"]
    pieces = sorted(((p, round(s, 2)) for p, s in vocab[len(SPECIALS):]), key=lambda ps: (-ps[1], ps[0]))
    tok.model = models.Unigram([(p, 0.0) for p in SPECIALS] + pieces, unk_id=2, byte_fallback=False)
    assert tok.get_vocab_size() == VOCAB_SIZE, tok.get_vocab_size()
    for i, name in enumerate(SPECIALS):
        assert tok.token_to_id(name) == i, (name, tok.token_to_id(name))
    tok.post_processor = processors.TemplateProcessing(
        single=["$A", "</s>"], pair=["$A", "</s>", "$B", "</s>"], special_tokens=[("</s>", 1)]
    )
    os.makedirs(TINY, exist_ok=True)
    tok.save(os.path.join(TINY, "tokenizer.json"))
    print("wrote", os.path.join(TINY, "tokenizer.json"))


# Prompts for tokenizer parity: plain, unicode (accents precomposed and
# decomposed, other scripts, emoji sequences, compatibility forms), odd
# whitespace and control characters, special tokens typed in, long text.
PROMPTS = [
    "",
    " ",
    "a cat playing the piano in a jazz club",
    "A Cat PLAYING the Piano!!",
    "  leading, trailing   and   repeated   spaces  ",
    "tabs\tand\nnew\r\nlines",
    "café crème brûlée, naïve façade, jalapeño",
    "cafe\u0301 cre\u0300me bru\u0302le\u0301e (decomposed)",
    "Straße, İstanbul, ĳssel, Œuvre, Ångström",
    "Ελληνικά, русский язык, עברית, العربية, हिन्दी, ภาษาไทย",
    "日本語のテキストと中文文本 and 한국어",
    "emoji 🎉🎬 party 👩\u200d💻 coder 👍🏽 thumbs 🇫🇷🇯🇵 flags ❤️ heart",
    "ﬁne ﬂowers, Ｆｕｌｌｗｉｄｔｈ ｔｅｘｔ, ① ② ③, x² ½ Ⅻ, ℌ ℕ ™",
    "zero\u200bwidth\u200cjoiners\u2060 and\u00a0nbsp\u3000ideographic space",
    "control\x00chars\x07here\x1b[0m and soft\u00adhyphen and \ufffd",
    "private \ue000 use and unassigned \U0010ffff",
    "special </s> tokens <pad> inside <unk> text </s></s>",
    "<extra_id_0> sentinel-looking text <extra_id_99>",
    "▁already ▁▁marked▁words▁",
    "numbers 3.14159, 1,000,000 and dates 2026-12-01 12:30",
    "punctuation: ¿qué? ¡sí! «quotes» “curly” ‘single’ — dash … ellipsis",
    "combining stack a\u0301\u0302\u0303\u0304 and hangul \u1100\u1161\u11a8",
    "URL https://example.com/a_b?c=d&e=f#frag and email someone@example.org",
    "a skilled glassblower making a vase " * 30,
    "supercalifragilisticexpialidocious " + "x" * 300,
]
MAX_LENGTHS = [128, 16]


def labelled_prompts():
    """Every row of the core's labelled safety set, disguises decoded: look-alike
    letters, zero-width characters and full-width forms exercise normalisation."""
    path = os.path.join(REPO, "functions", "core", "src", "safety", "lists", "labelled.tsv")
    with open(path, encoding="utf-8") as handle:
        rows = [row.split("\t")[0] for row in handle if row.strip() and not row.startswith("#")]
    return [re.sub(r"\\u\{([0-9A-Fa-f]+)\}", lambda m: chr(int(m.group(1), 16)), row) for row in rows]


def tokenizer_cases(tok, texts, max_lengths):
    """Right-padded with <pad> (0), so a case stores only the unpadded ids."""
    cases = []
    for text in texts:
        for max_length in max_lengths:
            enc = tok(text, padding="max_length", max_length=max_length, truncation=True, add_special_tokens=True)
            ids, mask = enc["input_ids"], enc["attention_mask"]
            real = sum(mask)
            assert mask == [1] * real + [0] * (max_length - real) and ids[real:] == [0] * (max_length - real)
            cases.append({"text": text, "max_length": max_length, "ids": ids[:real]})
    return cases


def random_prompts(count):
    """Seeded strings mixing words, spaces, accents, combining marks, other
    scripts, emoji parts, compatibility forms, controls and special tokens."""
    import random

    rng = random.Random(5)
    alphabet = list("abcdefghijklmnopqrstuvwxyz ABCXYZ0123456789.,!?'-_") + [
        "  ", "\t", "\n", "\u00e9", "\u00df", "\u0301", "\u0308", "\u0327", "\u4e2d", "\u6587", "\u3042",
        "\u0416", "\u03a9", "\u05d0", "\u0627", "\u0915", "\u093f", "\U0001f600", "\u200d", "\ufe0f",
        "\U0001f3fd", "\U0001f1fa", "\uff21", "\ufb01", "\u2460", "\u00b2", "\u200b", "\u00a0", "\x00",
        "\u00ad", "\u2581", "</s>", "<pad>", "<unk>", "<extra_id_7>", "\r\n", "\ufffd", "\u1100", "\u1161",
    ]
    words = corpus_lines()
    prompts = []
    for _ in range(count):
        parts = []
        for _ in range(rng.randint(1, 12)):
            if rng.random() < 0.3:
                parts.append(rng.choice(rng.choice(words).split() or ["x"]))
            else:
                parts.append("".join(rng.choice(alphabet) for _ in range(rng.randint(1, 6))))
        prompts.append(rng.choice(["", " "]).join(parts))
    return prompts


def tokenizer_set(tok):
    return (
        tokenizer_cases(tok, PROMPTS, MAX_LENGTHS)
        + tokenizer_cases(tok, labelled_prompts(), [128])
        + tokenizer_cases(tok, random_prompts(300), [64])
    )


def t5_layout_tokenizer(workdir):
    """A real-layout T5 tokenizer.json: a SentencePiece Unigram model (with
    SentencePiece's own nmt_nfkc precompiled charsmap) converted offline by
    transformers, as a T5 checkpoint's spiece.model is. Also checks the
    converted tokenizer against SentencePiece itself."""
    import sentencepiece as spm
    from transformers import T5TokenizerFast

    corpus = os.path.join(workdir, "corpus.txt")
    with open(corpus, "w", encoding="utf-8") as handle:
        handle.write("\n".join(corpus_lines()))
    model_dir = os.path.join(workdir, "spm")
    os.makedirs(model_dir)
    spm.SentencePieceTrainer.train(
        input=corpus, model_prefix=os.path.join(model_dir, "spiece"), vocab_size=VOCAB_SIZE, model_type="unigram",
        pad_id=0, eos_id=1, unk_id=2, bos_id=-1, num_threads=1, minloglevel=2,
    )
    # T5's 100 sentinels follow the pieces, <extra_id_0> last, as in real checkpoints.
    tok = T5TokenizerFast.from_pretrained(model_dir)
    path = os.path.join(CORE, "t5_layout_tokenizer.json")
    tok.backend_tokenizer.save(path)
    sp = spm.SentencePieceProcessor(model_file=os.path.join(model_dir, "spiece.model"))
    for text in PROMPTS:
        if "<" in text:
            continue  # SentencePiece does not split out special tokens
        ours, theirs = tok(text)["input_ids"], sp.encode(text) + [1]
        if ours != theirs:
            print("note: transformers and sentencepiece differ on", repr(text[:40]), file=sys.stderr)
    return path


def tokenizer_fixture():
    import tempfile

    from transformers import T5TokenizerFast

    # extra_ids=0: the tiny vocabulary has exactly 1000 ids and no sentinels.
    tiny = T5TokenizerFast(tokenizer_file=os.path.join(TINY, "tokenizer.json"), extra_ids=0)
    with tempfile.TemporaryDirectory() as workdir:
        layout = T5TokenizerFast(tokenizer_file=t5_layout_tokenizer(workdir))
    write_json(
        "tokenizer.json",
        {"tiny": tokenizer_set(tiny), "t5_layout": tokenizer_set(layout)},
    )


def write_json(name, value):
    os.makedirs(CORE, exist_ok=True)
    path = os.path.join(CORE, name)
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(value, handle, ensure_ascii=False, separators=(",", ":"))
        handle.write("\n")
    print("wrote", path)


# Scheduler configurations: LTX-Video 0.9.1+ (the one the worker runs),
# 0.9.0 (no terminal stretch), diffusers' defaults, static shifts, the
# linear time shift and inverted sigmas.
LTX_SCHEDULER = {
    "base_image_seq_len": 1024,
    "base_shift": 0.95,
    "invert_sigmas": False,
    "max_image_seq_len": 4096,
    "max_shift": 2.05,
    "num_train_timesteps": 1000,
    "shift": 1.0,
    "shift_terminal": 0.1,
    "use_beta_sigmas": False,
    "use_dynamic_shifting": True,
    "use_exponential_sigmas": False,
    "use_karras_sigmas": False,
}
SCHEDULERS = {
    "ltx": LTX_SCHEDULER,
    "ltx_0.9.0": {**LTX_SCHEDULER, "shift_terminal": None},
    "default": {},
    "static_3": {"shift": 3.0},
    "static_1.7": {"shift": 1.7},
    "linear": {**LTX_SCHEDULER, "time_shift_type": "linear"},
    "inverted": {**LTX_SCHEDULER, "invert_sigmas": True},
}
# (steps, video sequence length): latent frames x height x width.
SCHEDULES = [(1, 24), (2, 96), (8, 1536), (20, 6144), (50, 6144), (40, 3 * 16 * 24), (30, 50000)]


def floats(tensor):
    """f32 values as JSON numbers (Python's repr of an f32 round-trips it)."""
    return [float(v) for v in tensor.detach().to(torch.float32).flatten().tolist()]


def ltx_schedule(config, steps, seq_len):
    """The timesteps LTXPipeline.__call__ sets (step 5 of it), and the scheduler."""
    from diffusers import FlowMatchEulerDiscreteScheduler
    from diffusers.pipelines.ltx.pipeline_ltx import calculate_shift, retrieve_timesteps

    scheduler = FlowMatchEulerDiscreteScheduler.from_config(config)
    sigmas = np.linspace(1.0, 1 / steps, steps)
    mu = calculate_shift(
        seq_len,
        scheduler.config.get("base_image_seq_len", 256),
        scheduler.config.get("max_image_seq_len", 4096),
        scheduler.config.get("base_shift", 0.5),
        scheduler.config.get("max_shift", 1.15),
    )
    with np.errstate(invalid="ignore"):  # see the one-step case in sampler_fixture
        timesteps, _ = retrieve_timesteps(scheduler, steps, "cpu", None, sigmas=sigmas, mu=mu)
    return scheduler, timesteps, mu


def sampler_fixture():
    gen = torch.Generator().manual_seed(12)
    schedules = []
    for name, config in SCHEDULERS.items():
        for steps, seq_len in SCHEDULES:
            scheduler, timesteps, mu = ltx_schedule(config, steps, seq_len)
            if torch.isnan(scheduler.sigmas).any():
                # One step with shift_terminal divides 0 by 0: the worker refuses it.
                schedules.append({"config": name, "steps": steps, "seq_len": seq_len, "mu": mu, "sigmas": None})
                continue
            schedules.append(
                {
                    "config": name,
                    "steps": steps,
                    "seq_len": seq_len,
                    "mu": mu,
                    "sigmas": floats(scheduler.sigmas),
                    "timesteps": floats(timesteps),
                }
            )
    # Whole denoising loops with random velocities: every step's in and out.
    loops = []
    for name in ["ltx", "default", "static_1.7"]:
        scheduler, timesteps, _ = ltx_schedule(SCHEDULERS[name], 8, 1536)
        sample = torch.randn(1, 6, 4, generator=gen)
        steps = []
        for i, t in enumerate(timesteps):
            velocity = torch.randn(sample.shape, generator=gen) * 2
            out = scheduler.step(velocity, t, sample, return_dict=False)[0]
            steps.append({"index": i, "sample": floats(sample), "velocity": floats(velocity), "out": floats(out)})
            sample = out
        loops.append({"config": name, "steps": 8, "seq_len": 1536, "loop": steps})
    write_json("sampler.json", {"configs": SCHEDULERS, "schedules": schedules, "loops": loops})


def latents_fixture():
    from diffusers import LTXPipeline
    from diffusers.pipelines.ltx.pipeline_ltx import rescale_noise_cfg

    gen = torch.Generator().manual_seed(34)
    packs = []
    shape = (2, 4, 3, 4, 6)
    for p, pt in [(1, 1), (2, 1), (2, 3)]:
        x = torch.randn(shape, generator=gen)
        packed = LTXPipeline._pack_latents(x, p, pt)
        back = LTXPipeline._unpack_latents(packed, shape[2] // pt, shape[3] // p, shape[4] // p, p, pt)
        assert torch.equal(back, x)
        packs.append({"shape": list(shape), "patch": p, "patch_t": pt, "packed_shape": list(packed.shape),
                      "latents": floats(x), "packed": floats(packed)})
    norms = []
    shape = (2, 5, 2, 3, 4)
    for scaling in [1.0, 0.7]:
        x = torch.randn(shape, generator=gen) * 3
        mean = torch.randn(shape[1], generator=gen)
        std = torch.rand(shape[1], generator=gen) + 0.2
        norms.append({
            "shape": list(shape), "scaling": scaling, "latents": floats(x), "mean": floats(mean), "std": floats(std),
            "normalized": floats(LTXPipeline._normalize_latents(x, mean, std, scaling)),
            "denormalized": floats(LTXPipeline._denormalize_latents(x, mean, std, scaling)),
        })
    guidance = []
    for scale, rescale in [(3.0, 0.0), (4.5, 0.0), (3.0, 0.7)]:
        uncond, cond = torch.randn(2, 12, 8, generator=gen), torch.randn(2, 12, 8, generator=gen)
        # LTXPipeline.__call__'s guidance lines.
        guided = uncond + scale * (cond - uncond)
        if rescale > 0:
            guided = rescale_noise_cfg(guided, cond, guidance_rescale=rescale)
        guidance.append({"batch": 2, "scale": scale, "rescale": rescale, "uncond": floats(uncond),
                         "cond": floats(cond), "guided": floats(guided)})
    mixes = []
    for scale in [0.025, 0.3]:
        x, noise = torch.randn(1, 4, 2, 3, 3, generator=gen), torch.randn(1, 4, 2, 3, 3, generator=gen)
        # LTXPipeline.__call__'s decode-time mix.
        s = torch.tensor([scale], dtype=x.dtype)[:, None, None, None, None]
        mixes.append({"scale": scale, "latents": floats(x), "noise": floats(noise),
                      "mixed": floats((1 - s) * x + s * noise)})
    shapes = []
    for frames, height, width in [(161, 512, 704), (121, 480, 832), (9, 64, 96), (1, 32, 32), (241, 704, 1280)]:
        # LTXPipeline.prepare_latents / step 5 with the LTX VAE's ratios.
        f, h, w = (frames - 1) // 8 + 1, height // 32, width // 32
        shapes.append({"frames": frames, "height": height, "width": width, "latent": [f, h, w],
                       "seq_len": f * h * w})
    write_json("latents.json", {"pack": packs, "normalize": norms, "guidance": guidance, "decode_noise": mixes,
                                "shapes": shapes})


def main():
    what = sys.argv[1] if len(sys.argv) > 1 else "fixtures"
    if what not in ("fixtures", "tokenizer", "all"):
        sys.exit("usage: reference_core.py [fixtures|tokenizer|all]")
    if what in ("tokenizer", "all"):
        train_tokenizer()
    if what in ("fixtures", "all"):
        tokenizer_fixture()
        sampler_fixture()
        latents_fixture()


if __name__ == "__main__":
    main()
