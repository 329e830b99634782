#!/usr/bin/env python3
"""Exports LTX-Video's stages to ONNX for the worker's `ltx` backend.

The worker runs diffusers' LTXPipeline (text to video) and LTXImageToVideoPipeline
(a cameo's reference frame as the first frame) as four ONNX graphs (text
encoder, transformer, VAE encoder, VAE decoder) with the sampler, latent maths
and tokenizer in Rust.
This script is the only place those graphs come from, so the numerics are the
reference implementation's.

Modes (run from the repository root; needs torch, diffusers, transformers, onnx,
onnxruntime, safetensors; CI needs none of them: its fixtures are committed):

  python3 gpu-worker/models/ltx/export.py --tiny
      Tiny random-weight configuration (fixed seed) into
      gpu-worker/tests/fixtures/ltx/tiny/, plus the parity references in
      gpu-worker/tests/fixtures/ltx/tiny/reference/.
  python3 gpu-worker/models/ltx/export.py --weights DIR --out OUT
      The real model from a diffusers-format LTX-Video directory
      (Lightricks/LTX-Video: text_encoder/, tokenizer/, transformer/, vae/, scheduler/).
  python3 gpu-worker/models/ltx/export.py --random-real --out OUT
      The real configuration with random weights (GPU benchmark; about 10 GB of
      graphs, several minutes and ~40 GB of RAM: not for a laptop).

Output layout (what `LtxModel::load` reads): text_encoder.onnx, transformer.onnx,
vae_encoder.onnx, vae_decoder.onnx (big graphs keep their weights in `*.onnx.data` beside them),
config.json, tokenizer.json.

Graph interfaces (all float32 unless said; L, N, F, H, W are dynamic):
  text_encoder (B dynamic): input_ids int64 [B,L] -> last_hidden_state [B,L,D]
      (LTXPipeline runs T5 without an attention mask; the mask only reaches the
      transformer, so the graph takes ids alone.)
  transformer (B fixed at 2: the guidance pair): hidden_states [B,N,C*pt*p*p] (packed latents), encoder_hidden_states
      [B,L,D], timestep [B,N] (sigma*1000 per token: LTXImageToVideoPipeline gives the
      conditioning first frame's tokens 0), encoder_attention_mask [B,L] (1 keep, 0 pad),
      video_coords [B,3,N] -> velocity [B,N,C*pt*p*p]
      video_coords are the RoPE positions the pipeline derives from
      rope_interpolation_scale: (frame*temporal_ratio/frame_rate*pt,
      row*spatial_ratio*p, col*spatial_ratio*p) per token, in packing order; the
      caller computes them so one graph serves every resolution and frame rate.
  vae_encoder (B and F fixed at 1: one picture): image [1,3,1,H,W] in -1..1 ->
      posterior_mean, posterior_std [1,C,1,H/s,W/s]: the posterior the pipeline samples from
      (`latent_dist.sample`: mean + std * noise; the caller supplies the noise).
  vae_decoder: latents [1,C,F,H,W] (denormalised) [+ timestep [B] when the VAE is
      timestep-conditioned] -> video [B,3,F',H',W'] in about -1..1.
"""

import argparse
import json
import os
import sys

import numpy as np
import torch

OPSET = 18  # the dynamo exporter's own opset: no version conversion
SEED = 1234
REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
TINY_DIR = os.path.join(REPO, "gpu-worker", "tests", "fixtures", "ltx", "tiny")

# The tiny end-to-end reference: a 5-frame 32x32 clip in 3 guided steps.
TINY_RUN = dict(height=32, width=32, num_frames=5, frame_rate=25, steps=3, guidance=3.0)
TINY_MAX_SEQ = 16


class Transformer(torch.nn.Module):
    """The transformer with RoPE positions as an input instead of Python ints."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, hidden_states, encoder_hidden_states, timestep, encoder_attention_mask, video_coords):
        return self.inner(
            hidden_states=hidden_states,
            encoder_hidden_states=encoder_hidden_states,
            timestep=timestep,
            encoder_attention_mask=encoder_attention_mask,
            video_coords=video_coords,
            return_dict=False,
        )[0]


class TextEncoder(torch.nn.Module):
    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, input_ids):
        return self.inner(input_ids)[0]


class VaeEncoder(torch.nn.Module):
    """The posterior's mean and standard deviation: the caller samples."""

    def __init__(self, vae):
        super().__init__()
        self.vae = vae

    def forward(self, image):
        posterior = self.vae.encode(image).latent_dist
        return posterior.mean, posterior.std


class VaeDecoder(torch.nn.Module):
    def __init__(self, vae):
        super().__init__()
        self.vae = vae

    def forward(self, latents, timestep=None):
        return self.vae.decode(latents, timestep, return_dict=False)[0]


def video_coords(batch, frames, height, width, vae_t, vae_s, frame_rate, p, pt):
    """RoPE positions exactly as LTXVideoRotaryPosEmbed derives them (before /base)."""
    f = torch.arange(frames, dtype=torch.float32)
    h = torch.arange(height, dtype=torch.float32)
    w = torch.arange(width, dtype=torch.float32)
    grid = torch.stack(torch.meshgrid(f, h, w, indexing="ij"), dim=0)
    grid[0:1] = grid[0:1] * (vae_t / frame_rate) * pt
    grid[1:2] = grid[1:2] * vae_s * p
    grid[2:3] = grid[2:3] * vae_s * p
    return grid.flatten(1, 3).unsqueeze(0).repeat(batch, 1, 1)


def tiny_parts():
    from diffusers import AutoencoderKLLTXVideo, FlowMatchEulerDiscreteScheduler, LTXVideoTransformer3DModel
    from transformers import T5Config, T5EncoderModel

    torch.manual_seed(SEED)
    text_encoder = T5EncoderModel(
        T5Config(
            vocab_size=1000, d_model=32, d_kv=8, d_ff=64, num_layers=2, num_heads=4,
            relative_attention_num_buckets=8, relative_attention_max_distance=16,
            feed_forward_proj="gated-gelu", dropout_rate=0.0, pad_token_id=0, eos_token_id=1,
        )
    ).eval()
    torch.manual_seed(SEED + 1)
    transformer = LTXVideoTransformer3DModel(
        in_channels=8, out_channels=8, patch_size=1, patch_size_t=1, num_attention_heads=4,
        attention_head_dim=8, cross_attention_dim=32, num_layers=1, caption_channels=32,
    ).eval()
    torch.manual_seed(SEED + 2)
    vae = AutoencoderKLLTXVideo(
        in_channels=3, out_channels=3, latent_channels=8,
        block_out_channels=(8, 8, 8, 8), decoder_block_out_channels=(8, 8, 8, 8),
        layers_per_block=(1, 1, 1, 1, 1), decoder_layers_per_block=(1, 1, 1, 1, 1),
        spatio_temporal_scaling=(True, True, False, False),
        decoder_spatio_temporal_scaling=(True, True, False, False),
        decoder_inject_noise=(False, False, False, False, False),
        upsample_residual=(False, False, False, False), upsample_factor=(1, 1, 1, 1),
        timestep_conditioning=False, patch_size=1, patch_size_t=1,
        encoder_causal=True, decoder_causal=False,
    ).eval()
    train_tiny_vae(vae)
    # Non-trivial statistics so the (de)normalisation is exercised.
    g = torch.Generator().manual_seed(SEED + 3)
    vae.latents_mean.copy_(torch.randn(8, generator=g) * 0.1)
    vae.latents_std.copy_(torch.rand(8, generator=g) + 0.5)
    # LTX-Video's scheduler configuration (its model_index ships this one).
    scheduler = FlowMatchEulerDiscreteScheduler(
        num_train_timesteps=1000, shift=1.0, use_dynamic_shifting=True, base_shift=0.95,
        max_shift=2.05, base_image_seq_len=1024, max_image_seq_len=4096, shift_terminal=0.1,
        time_shift_type="exponential",
    )
    return text_encoder, transformer, vae, scheduler


def smooth_clips(g, count, frames=5, size=32):
    """Smooth random pictures panning sideways: what the tiny VAE learns to code."""
    pan = 6
    base = torch.rand(count, 3, 6, 6 + frames, generator=g) * 2 - 1
    wide = torch.nn.functional.interpolate(base, size=(size, size + pan * frames), mode="bilinear",
                                           align_corners=False)
    speed = torch.randint(0, pan, (count,), generator=g)
    return torch.stack([torch.stack([wide[i, :, :, speed[i] * f:speed[i] * f + size] for f in range(frames)], 1)
                        for i in range(count)])


def train_tiny_vae(vae, steps=1000):
    """A short autoencoder training of the tiny VAE (about a minute on one core).

    Random weights decode a reference frame into noise, so "the first frame
    looks like the cameo" could not be tested; after this the tiny VAE keeps a
    picture's coarse shapes and colours, and its posterior is narrow (std about
    0.05) as a trained VAE's is. One thread and deterministic kernels keep the
    result repeatable on one machine.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    g = torch.Generator().manual_seed(SEED + 4)
    optimiser = torch.optim.Adam(vae.parameters(), lr=1e-2)
    vae.train()
    with torch.enable_grad():
        for _ in range(steps):
            x = smooth_clips(g, 4)
            posterior = vae.encode(x).latent_dist
            z = posterior.mean + posterior.std * torch.randn(posterior.mean.shape, generator=g)
            loss = ((vae.decode(z, None, return_dict=False)[0] - x) ** 2).mean()
            loss = loss + 1e-4 * 0.5 * (posterior.mean ** 2 + posterior.var - 1 - posterior.logvar).mean()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    vae.eval()
    torch.use_deterministic_algorithms(False)
    torch.set_num_threads(threads)


def real_parts(weights):
    from diffusers import AutoencoderKLLTXVideo, FlowMatchEulerDiscreteScheduler, LTXVideoTransformer3DModel
    from transformers import T5EncoderModel, T5TokenizerFast

    text_encoder = T5EncoderModel.from_pretrained(weights, subfolder="text_encoder", torch_dtype=torch.float32)
    transformer = LTXVideoTransformer3DModel.from_pretrained(weights, subfolder="transformer", torch_dtype=torch.float32)
    vae = AutoencoderKLLTXVideo.from_pretrained(weights, subfolder="vae", torch_dtype=torch.float32)
    scheduler = FlowMatchEulerDiscreteScheduler.from_pretrained(weights, subfolder="scheduler")
    tokenizer = T5TokenizerFast.from_pretrained(weights, subfolder="tokenizer")
    return text_encoder.eval(), transformer.eval(), vae.eval(), scheduler, tokenizer


def random_real_parts():
    """LTX-Video 0.9.x's published configuration with random weights."""
    from diffusers import AutoencoderKLLTXVideo, FlowMatchEulerDiscreteScheduler, LTXVideoTransformer3DModel
    from transformers import T5Config, T5EncoderModel

    torch.manual_seed(SEED)
    # google/t5-v1_1-xxl's encoder.
    text_encoder = T5EncoderModel(
        T5Config(vocab_size=32128, d_model=4096, d_kv=64, d_ff=10240, num_layers=24, num_heads=64,
                 feed_forward_proj="gated-gelu", dropout_rate=0.0)
    ).eval()
    transformer = LTXVideoTransformer3DModel().eval()  # defaults are the 2B model
    vae = AutoencoderKLLTXVideo().eval()
    scheduler = FlowMatchEulerDiscreteScheduler(
        num_train_timesteps=1000, shift=1.0, use_dynamic_shifting=True, base_shift=0.95,
        max_shift=2.05, base_image_seq_len=1024, max_image_seq_len=4096, shift_terminal=0.1,
        time_shift_type="exponential",
    )
    return text_encoder, transformer, vae, scheduler


def write_config(out, transformer, vae, scheduler, *, max_seq, defaults, variant):
    config = {
        "model": "ltx-video",
        "variant": variant,
        "latent_channels": vae.config.latent_channels,
        "patch_size": transformer.config.patch_size,
        "patch_size_t": transformer.config.patch_size_t,
        "spatial_compression_ratio": vae.spatial_compression_ratio,
        "temporal_compression_ratio": vae.temporal_compression_ratio,
        "latents_mean": [float(x) for x in vae.latents_mean],
        "latents_std": [float(x) for x in vae.latents_std],
        "scaling_factor": float(vae.config.scaling_factor),
        "vae_timestep_conditioning": bool(vae.config.timestep_conditioning),
        "caption_channels": transformer.config.caption_channels,
        "max_sequence_length": max_seq,
        # diffusers' bookkeeping keys (one is an unordered set) are left out.
        "scheduler": {k: v for k, v in scheduler.config.items() if not k.startswith("_")},
        **defaults,
    }
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(config, f, indent=2, default=str)
        f.write("\n")
    return config


def rms_norm(x, normalized_shape, weight=None, eps=None):
    """torch's fused rms_norm has no ONNX symbol before opset 23: the same maths, spelled out."""
    dims = tuple(range(-len(normalized_shape), 0))
    eps = torch.finfo(x.dtype).eps if eps is None else eps
    y = x * torch.rsqrt(x.pow(2).mean(dims, keepdim=True) + eps)
    return y * weight if weight is not None else y


def export(module, args, path, names, outputs, dynamic, external):
    """`dynamic` maps each input to {axis: name}; equal names are one shared size."""
    from torch.export import Dim

    torch.nn.functional.rms_norm = rms_norm
    dims = {}
    shapes = {k: {a: dims.setdefault(d, Dim(d)) for a, d in v.items()} for k, v in dynamic.items()}
    torch.onnx.export(
        module, args, path, input_names=names, output_names=outputs, dynamic_shapes=shapes,
        opset_version=OPSET, dynamo=True, external_data=external, optimize=True,
    )
    if not external:
        # Byte-stable files, so re-running the script leaves the fixtures unchanged.
        import onnx

        model = onnx.load(path)
        # Source line numbers of this script would change every graph on any edit.
        for node in model.graph.node:
            keep = [m for m in node.metadata_props if m.key != "pkg.torch.onnx.stack_trace"]
            del node.metadata_props[:]
            node.metadata_props.extend(keep)
        with open(path, "wb") as f:
            f.write(model.SerializeToString(deterministic=True))


def export_graphs(out, text_encoder, transformer, vae, *, max_seq, example, external):
    """Traces the four graphs at `example`'s shapes with every size axis dynamic.

    `external`: weights in `<graph>.onnx.data` beside each graph (real models
    pass protobuf's 2 GB limit); the tiny graphs keep them inline.
    """
    c = vae.config.latent_channels
    lf, lh, lw = example
    n = lf * lh * lw
    d = transformer.config.caption_channels
    with torch.no_grad():
        export(TextEncoder(text_encoder), (torch.ones(1, max_seq, dtype=torch.int64),),
               os.path.join(out, "text_encoder.onnx"), ["input_ids"], ["last_hidden_state"],
               {"input_ids": {0: "batch", 1: "tokens"}}, external)
        export(Transformer(transformer),
               (torch.randn(2, n, c), torch.randn(2, max_seq, d), torch.full((2, n), 500.0),
                torch.ones(2, max_seq), torch.rand(2, 3, n)),
               os.path.join(out, "transformer.onnx"),
               ["hidden_states", "encoder_hidden_states", "timestep", "encoder_attention_mask", "video_coords"],
               ["velocity"],
               # Batch stays 2 (unconditional + conditional in one call): torch.export
               # cannot keep it symbolic through the time embedding's reshapes.
               {"hidden_states": {1: "latent_tokens"}, "encoder_hidden_states": {1: "tokens"},
                "timestep": {1: "latent_tokens"}, "encoder_attention_mask": {1: "tokens"},
                "video_coords": {2: "latent_tokens"}},
               external)
        s = vae.spatial_compression_ratio
        # Batch and frames stay 1 (one reference picture): torch.export fixes size-1 axes.
        export(VaeEncoder(vae), (torch.rand(1, 3, 1, lh * s, lw * s) * 2 - 1,),
               os.path.join(out, "vae_encoder.onnx"), ["image"], ["posterior_mean", "posterior_std"],
               {"image": {3: "height", 4: "width"}}, external)
        lat = torch.randn(1, c, lf, lh, lw)
        dyn = {"latents": {2: "frames", 3: "height", 4: "width"}}
        if vae.config.timestep_conditioning:
            export(VaeDecoder(vae), (lat, torch.tensor([0.05])), os.path.join(out, "vae_decoder.onnx"),
                   ["latents", "timestep"], ["video"], {**dyn, "timestep": {}}, external)
        else:
            export(VaeDecoder(vae), (lat,), os.path.join(out, "vae_decoder.onnx"), ["latents"], ["video"], dyn, external)


def save(path, tensors):
    from safetensors.numpy import save_file

    save_file({k: np.ascontiguousarray(v, dtype=np.float32) for k, v in tensors.items()}, path)


def tiny():
    from diffusers import LTXPipeline

    text_encoder, transformer, vae, scheduler = tiny_parts()
    out = TINY_DIR
    ref = os.path.join(out, "reference")
    os.makedirs(ref, exist_ok=True)
    r = TINY_RUN
    lf = (r["num_frames"] - 1) // vae.temporal_compression_ratio + 1
    lh, lw = r["height"] // vae.spatial_compression_ratio, r["width"] // vae.spatial_compression_ratio
    write_config(out, transformer, vae, scheduler, max_seq=TINY_MAX_SEQ, variant="tiny-random", defaults={
        "width": r["width"], "height": r["height"], "num_frames": r["num_frames"],
        "frame_rate": r["frame_rate"], "num_inference_steps": r["steps"], "guidance_scale": r["guidance"],
        "decode_timestep": 0.0, "decode_noise_scale": 0.0,
    })
    export_graphs(out, text_encoder, transformer, vae, max_seq=TINY_MAX_SEQ, example=(lf, lh, lw), external=False)

    g = torch.Generator().manual_seed(SEED + 10)
    # Token ids as the tokenizer would give them: words, eos (1), padding (0).
    ids = torch.zeros(2, TINY_MAX_SEQ, dtype=torch.int64)
    ids[0, :7] = torch.tensor([37, 512, 9, 803, 64, 211, 1])
    ids[1, :1] = torch.tensor([1])  # the empty negative prompt: eos alone
    mask = (ids != 0).to(torch.int64)
    mask[:, 0] = 1
    with torch.no_grad():
        hidden = text_encoder(ids)[0]
    save(os.path.join(ref, "text_encoder.safetensors"), {"input_ids": ids.numpy(), "last_hidden_state": hidden.numpy()})

    # One transformer call at a mid-schedule timestep, guidance batch of two.
    n = lf * lh * lw
    c = vae.config.latent_channels
    lat = torch.randn(2, n, c, generator=g)
    enc = torch.randn(2, TINY_MAX_SEQ, 32, generator=g)
    t = torch.tensor([731.25, 731.25])
    coords = video_coords(2, lf, lh, lw, vae.temporal_compression_ratio, vae.spatial_compression_ratio,
                          r["frame_rate"], 1, 1)
    with torch.no_grad():
        vel = Transformer(transformer)(lat, enc, t, mask.float(), coords)
        # The same call the pipeline makes (Python ints + rope_interpolation_scale).
        vel_pipe = transformer(hidden_states=lat, encoder_hidden_states=enc, timestep=t,
                               encoder_attention_mask=mask, num_frames=lf, height=lh, width=lw,
                               rope_interpolation_scale=(vae.temporal_compression_ratio / r["frame_rate"],
                                                         vae.spatial_compression_ratio, vae.spatial_compression_ratio),
                               return_dict=False)[0]
        # LTXImageToVideoPipeline's per-token timestep: t * (1 - conditioning mask),
        # the first latent frame (the reference picture) at 0.
        first_frame = torch.zeros(2, n)
        first_frame[:, :lh * lw] = 1.0
        t_tokens = t.unsqueeze(-1) * (1 - first_frame)
        vel_tokens = transformer(hidden_states=lat, encoder_hidden_states=enc, timestep=t_tokens,
                                 encoder_attention_mask=mask, num_frames=lf, height=lh, width=lw,
                                 rope_interpolation_scale=(vae.temporal_compression_ratio / r["frame_rate"],
                                                           vae.spatial_compression_ratio,
                                                           vae.spatial_compression_ratio),
                                 return_dict=False)[0]
    assert torch.allclose(vel, vel_pipe, atol=1e-5), "video_coords must reproduce the pipeline's RoPE"
    save(os.path.join(ref, "transformer.safetensors"), {
        "hidden_states": lat.numpy(), "encoder_hidden_states": enc.numpy(), "timestep": t.numpy(),
        "encoder_attention_mask": mask.float().numpy(), "video_coords": coords.numpy(), "velocity": vel_pipe.numpy(),
        "timestep_per_token": t_tokens.numpy(), "velocity_per_token": vel_tokens.numpy()})

    # The VAE encoder on a reference picture (8-bit RGB, as the worker gets it).
    picture = ((smooth_clips(torch.Generator().manual_seed(SEED + 11), 1)[0, :, 0] + 1) * 127.5)
    picture = picture.round().clamp(0, 255).to(torch.uint8).permute(1, 2, 0).contiguous()  # [H, W, 3]
    pixels = (picture.numpy().astype(np.float32) / 255.0) * 2.0 - 1.0  # diffusers' preprocess
    pixels = torch.from_numpy(pixels).permute(2, 0, 1)[None, :, None].contiguous()  # [1, 3, 1, H, W]
    with torch.no_grad():
        mean, std = VaeEncoder(vae)(pixels)
    save(os.path.join(ref, "vae_encoder.safetensors"), {
        "picture": picture.numpy(), "pixels": pixels.numpy(), "mean": mean.numpy(), "std": std.numpy()})

    z = torch.randn(1, c, lf, lh, lw, generator=g)
    with torch.no_grad():
        video = vae.decode(z, None, return_dict=False)[0]
    save(os.path.join(ref, "vae_decoder.safetensors"), {"latents": z.numpy(), "video": video.numpy()})

    # End to end: the pipeline itself, from token ids and fixed initial latents.
    pipe = LTXPipeline(scheduler=scheduler, vae=vae, text_encoder=text_encoder, tokenizer=None, transformer=transformer)
    init = torch.randn(1, n, c, generator=g)
    with torch.no_grad():
        emb = text_encoder(ids)[0]
        steps = []
        frames = pipe(
            prompt_embeds=emb[0:1], prompt_attention_mask=mask[0:1],
            negative_prompt_embeds=emb[1:2], negative_prompt_attention_mask=mask[1:2],
            height=r["height"], width=r["width"], num_frames=r["num_frames"], frame_rate=r["frame_rate"],
            num_inference_steps=r["steps"], guidance_scale=r["guidance"], latents=init.clone(),
            output_type="np", max_sequence_length=TINY_MAX_SEQ,
            callback_on_step_end=lambda p, i, t, kw: steps.append(kw["latents"].clone()) or {},
        ).frames
    tensors = {"input_ids": ids.numpy(), "attention_mask": mask.numpy(), "initial_latents": init.numpy(),
               "timesteps": pipe.scheduler.timesteps.numpy(), "sigmas": pipe.scheduler.sigmas.numpy(),
               "frames": frames}
    for i, s in enumerate(steps):
        tensors[f"latents_after_step_{i}"] = s.numpy()
    save(os.path.join(ref, "pipeline.safetensors"), tensors)
    image_to_video(ref, scheduler, vae, text_encoder, transformer, ids, mask, picture, (lf, lh, lw))
    check(out, ref)
    for name in sorted(os.listdir(out)) + ["reference/" + n for n in sorted(os.listdir(ref))]:
        p = os.path.join(out, name)
        if os.path.isfile(p):
            print(f"{os.path.getsize(p):>9} {name}")


def image_to_video(ref, scheduler, vae, text_encoder, transformer, ids, mask, picture, latent):
    """LTXImageToVideoPipeline itself, unmodified, on the reference picture.

    It samples the VAE posterior (mean + std * noise) and then draws the initial
    noise from one generator; replaying that generator gives both draws, which
    the fixture carries so the worker can use exactly the same values.
    """
    from diffusers import LTXImageToVideoPipeline
    from PIL import Image

    r = TINY_RUN
    lf, lh, lw = latent
    c = vae.config.latent_channels
    pipe = LTXImageToVideoPipeline(scheduler=scheduler, vae=vae, text_encoder=text_encoder, tokenizer=None,
                                   transformer=transformer)
    image = Image.fromarray(picture.numpy())
    seed = SEED + 20
    replay = torch.Generator().manual_seed(seed)
    posterior_noise = torch.randn((1, c, 1, lh, lw), generator=replay)
    initial_noise = torch.randn((1, c, lf, lh, lw), generator=replay)
    steps = []
    with torch.no_grad():
        emb = text_encoder(ids)[0]
        frames = pipe(
            image=image, prompt_embeds=emb[0:1], prompt_attention_mask=mask[0:1],
            negative_prompt_embeds=emb[1:2], negative_prompt_attention_mask=mask[1:2],
            height=r["height"], width=r["width"], num_frames=r["num_frames"], frame_rate=r["frame_rate"],
            num_inference_steps=r["steps"], guidance_scale=r["guidance"], generator=torch.Generator().manual_seed(seed),
            output_type="np", max_sequence_length=TINY_MAX_SEQ,
            callback_on_step_end=lambda p, i, t, kw: steps.append(kw["latents"].clone()) or {},
        ).frames
        # The replay is the pipeline's own draw: its first frame is the normalised sample.
        posterior = vae.encode(pipe.video_processor.preprocess(image, r["height"], r["width"]).unsqueeze(2)).latent_dist
        first = pipe._normalize_latents(posterior.mean + posterior.std * posterior_noise, vae.latents_mean,
                                        vae.latents_std)
    assert torch.equal(steps[0][0, :lh * lw], first[0, :, 0].flatten(1).T), "generator replay"
    tensors = {"picture": picture.numpy(), "posterior_noise": posterior_noise.numpy(),
               "initial_noise": initial_noise.numpy(), "timesteps": pipe.scheduler.timesteps.numpy(),
               "frames": frames}
    for i, s in enumerate(steps):
        tensors[f"latents_after_step_{i}"] = s.numpy()
    save(os.path.join(ref, "image_to_video.safetensors"), tensors)


def check(out, ref):
    """Runs each graph in onnxruntime against its reference, and at a second shape."""
    import onnxruntime as ort
    from safetensors.numpy import load_file

    def sess(name):
        return ort.InferenceSession(os.path.join(out, name), providers=["CPUExecutionProvider"])

    te = load_file(os.path.join(ref, "text_encoder.safetensors"))
    got = sess("text_encoder.onnx").run(None, {"input_ids": te["input_ids"].astype(np.int64)})[0]
    print("text_encoder max abs", np.abs(got - te["last_hidden_state"]).max())
    tr = load_file(os.path.join(ref, "transformer.safetensors"))
    feeds = {k: tr[k] for k in ["hidden_states", "encoder_hidden_states", "timestep", "encoder_attention_mask", "video_coords"]}
    transformer = sess("transformer.onnx")
    n = tr["hidden_states"].shape[1]
    got = transformer.run(None, {**feeds, "timestep": np.repeat(tr["timestep"][:, None], n, axis=1)})[0]
    print("transformer max abs", np.abs(got - tr["velocity"]).max())
    got = transformer.run(None, {**feeds, "timestep": tr["timestep_per_token"]})[0]
    print("transformer (per-token timestep) max abs", np.abs(got - tr["velocity_per_token"]).max())
    ve = load_file(os.path.join(ref, "vae_encoder.safetensors"))
    encoder = sess("vae_encoder.onnx")
    mean, std = encoder.run(None, {"image": ve["pixels"]})
    print("vae_encoder max abs", np.abs(mean - ve["mean"]).max(), np.abs(std - ve["std"]).max())
    other = encoder.run(None, {"image": np.zeros((1, 3, 1, 24, 40), np.float32)})[0]
    print("vae_encoder at another shape", other.shape)
    vd = load_file(os.path.join(ref, "vae_decoder.safetensors"))
    dec = sess("vae_decoder.onnx")
    got = dec.run(None, {"latents": vd["latents"]})[0]
    print("vae_decoder max abs", np.abs(got - vd["video"]).max())
    # Dynamic axes really are dynamic: a longer, wider latent decodes.
    c = vd["latents"].shape[1]
    other = dec.run(None, {"latents": np.zeros((1, c, 3, 6, 10), np.float32)})[0]
    print("vae_decoder at another shape", other.shape)


def real(out, parts, tokenizer):
    text_encoder, transformer, vae, scheduler = parts
    if any(vae.config.decoder_inject_noise):
        # 0.9.1's decoder draws noise with a shape torch.export cannot keep symbolic.
        sys.exit("VAEs with decoder_inject_noise (LTX-Video 0.9.1) do not export yet: use 0.9.0 or 0.9.5+")
    os.makedirs(out, exist_ok=True)
    write_config(out, transformer, vae, scheduler, max_seq=128, variant="ltx-video", defaults={
        # LTXPipeline's documented operating point for LTX-Video 0.9.x.
        "width": 768, "height": 512, "num_frames": 121, "frame_rate": 25, "num_inference_steps": 40,
        "guidance_scale": 3.0, "decode_timestep": 0.05 if vae.config.timestep_conditioning else 0.0,
        "decode_noise_scale": 0.025 if vae.config.timestep_conditioning else 0.0,
    })
    if tokenizer is not None:
        tokenizer.backend_tokenizer.save(os.path.join(out, "tokenizer.json"))
    # Small example shapes keep tracing cheap; every size axis is dynamic.
    export_graphs(out, text_encoder, transformer, vae, max_seq=128, example=(2, 4, 6), external=True)
    print("exported to", out)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tiny", action="store_true")
    ap.add_argument("--weights")
    ap.add_argument("--random-real", action="store_true")
    ap.add_argument("--out")
    a = ap.parse_args()
    torch.set_grad_enabled(False)
    if a.tiny:
        tiny()
    elif a.weights and a.out:
        *parts, tok = real_parts(a.weights)
        real(a.out, parts, tok)
    elif a.random_real and a.out:
        real(a.out, random_real_parts(), None)
        print("no tokenizer.json: copy one from a real export (random weights need only the layout)")
    else:
        ap.print_help()
        sys.exit(2)


if __name__ == "__main__":
    main()
