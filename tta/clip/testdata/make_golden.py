#!/usr/bin/python3
"""Makes the golden test data of package tta/clip (see README.md beside this file).

Usage: /usr/bin/python3 make_golden.py /path/to/openai-CLIP/clip/model.py OUTDIR

Builds tiny CLIP models of both towers with OpenAI's own `model.py` (CLIP class constructor), perturbs every
parameter and the BatchNorm running statistics, writes them as safetensors by hand (with `__metadata__` head
overrides), and writes the inputs and OpenAI's outputs as .npy files.

The ResNet's weights are then replaced by those of OUTDIR/tiny_rn.safetensors, which tta/tpt/testdata/make_golden.py
writes (same architecture, BatchNorm statistics calibrated for TPT): both packages test one tiny ResNet CLIP. The
ResNet is still built and perturbed here first, so the random inputs and the ViT are drawn exactly as before.
"""
import importlib.util
import json
import struct
import sys

import numpy as np
import torch


def load_model_py(path):
    spec = importlib.util.spec_from_file_location("clip_model", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def write_safetensors(path, tensors, metadata, dtype):
    """tensors: ordered dict name -> float32 numpy array; dtype: 'F32' or 'F16'."""
    header = {"__metadata__": metadata}
    blobs = []
    offset = 0
    for name, arr in tensors.items():
        if dtype == "F16":
            raw = np.ascontiguousarray(arr, dtype="<f2").tobytes()
        else:
            raw = np.ascontiguousarray(arr, dtype="<f4").tobytes()
        header[name] = {"dtype": dtype, "shape": list(arr.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    hjson = json.dumps(header, separators=(",", ":")).encode()
    hjson += b" " * ((8 - len(hjson) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hjson)))
        f.write(hjson)
        for b in blobs:
            f.write(b)


def perturb(model, gen, round_f16):
    """Every parameter and BN buffer gets randn*0.02 plus its init (BN var kept positive)."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.add_(torch.randn(p.shape, generator=gen) * 0.02)
            if name.endswith("positional_embedding") or name.endswith("class_embedding"):
                p.add_(torch.randn(p.shape, generator=gen) * 0.1)
            if name.endswith("bn1.weight") or name.endswith("bn2.weight") or name.endswith("bn3.weight") \
                    or name.endswith("downsample.1.weight"):
                p.add_(torch.randn(p.shape, generator=gen) * 0.2)
        for name, b in model.named_buffers():
            if name.endswith("running_mean"):
                b.copy_(torch.randn(b.shape, generator=gen) * 0.1)
            elif name.endswith("running_var"):
                b.copy_(0.5 + torch.rand(b.shape, generator=gen))
        if round_f16:
            for _, t in list(model.named_parameters()) + list(model.named_buffers()):
                if t.dtype == torch.float32:
                    t.copy_(t.half().float())


def read_safetensors(path):
    """name -> float32 numpy array, and the metadata, of a F16/F32 safetensors file."""
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    meta = header.pop("__metadata__", {})
    out = {}
    for name, e in header.items():
        begin, end = e["data_offsets"]
        dt = {"F16": "<f2", "F32": "<f4"}[e["dtype"]]
        out[name] = np.frombuffer(data[8 + n + begin:8 + n + end], dtype=dt).astype(np.float32).reshape(e["shape"])
    return out, meta


def state_dict_np(model):
    out = {}
    for k, v in model.state_dict().items():
        if k.endswith("num_batches_tracked"):
            continue  # OpenAI's released files have them; we keep the files minimal (Go test covers both).
        out[k] = v.detach().cpu().float().numpy()
    return out


def tokens(vocab, eot, lengths, ctx, gen):
    """[len(lengths), ctx] int64: SOT-like first id, random ids < eot, EOT at position len-1, zeros after."""
    t = np.zeros((len(lengths), ctx), dtype=np.int64)
    for i, n in enumerate(lengths):
        body = torch.randint(1, eot, (n,), generator=gen).numpy()
        t[i, :n] = body
        t[i, n - 1] = eot
    return t


def make(m, name, outdir, kind, gen, f16):
    if kind == "rn":
        # RN: vision_width 8 -> attnpool width 256, OpenAI's default heads 256//64=4; the file says 2.
        model = m.CLIP(embed_dim=16, image_resolution=64, vision_layers=(1, 1, 1, 1), vision_width=8,
                       vision_patch_size=None, context_length=77, vocab_size=49408, transformer_width=16,
                       transformer_heads=2, transformer_layers=2)
        # OpenAI's ModifiedResNet takes heads = width*32//64; rebuild the attnpool with 2 heads.
        model.visual.attnpool.num_heads = 2
        meta = {"vision_heads": "2", "text_heads": "2"}
        res, vocab = 64, 49408
        eot = 49407
    else:
        # ViT: width 32 -> default heads 32//64 = 0; the file says 2 (vision) and 4 (text).
        # CLIP's constructor would ask nn.MultiheadAttention for 0 heads: build it at width 64 and put OpenAI's
        # VisionTransformer with 2 heads in its place.
        model = m.CLIP(embed_dim=16, image_resolution=32, vision_layers=2, vision_width=64, vision_patch_size=8,
                       context_length=77, vocab_size=1000, transformer_width=32, transformer_heads=4,
                       transformer_layers=2)
        model.visual = m.VisionTransformer(input_resolution=32, patch_size=8, width=32, layers=2, heads=2,
                                           output_dim=16)
        meta = {"vision_heads": "2", "text_heads": "4"}
        res, vocab = 32, 1000
        eot = 999
    model.eval()
    perturb(model, gen, f16)
    if kind == "rn":
        # tta/tpt's tiny ResNet (see the module doc): load it, strictly but for the buffers the file leaves out.
        shared, file_meta = read_safetensors(f"{outdir}/{name}.safetensors")
        assert file_meta == meta, file_meta
        missing, unexpected = model.load_state_dict({k: torch.from_numpy(v) for k, v in shared.items()}, strict=False)
        assert not unexpected and all(k.endswith("num_batches_tracked") for k in missing), (missing, unexpected)
        sd = state_dict_np(model)
    else:
        sd = state_dict_np(model)
        write_safetensors(f"{outdir}/{name}.safetensors", sd, meta, "F16" if f16 else "F32")

    images = (torch.randn((2, 3, res, res), generator=gen)).float()
    toks = tokens(vocab, eot, [5, 9, 3], 77, gen)
    with torch.no_grad():
        img_f = model.encode_image(images)
        txt_f = model.encode_text(torch.from_numpy(toks))
        logits, _ = model(images, torch.from_numpy(toks))
    # Gradients for the adapters: d/d(token embeddings) of sum(encode_text * w_t) (TPT's path: encode_text's own
    # lines, starting from the embeddings) and d/d(images) of sum(encode_image * w_i) (TPT's image alignment).
    w_t = torch.randn((3, 16), generator=gen)
    w_i = torch.randn((2, 16), generator=gen)
    tt = torch.from_numpy(toks)
    emb = model.token_embedding(tt).detach().requires_grad_(True)
    x = emb + model.positional_embedding
    x = model.transformer(x.permute(1, 0, 2)).permute(1, 0, 2)
    x = model.ln_final(x)
    x = x[torch.arange(x.shape[0]), tt.argmax(dim=-1)] @ model.text_projection
    (x * w_t).sum().backward()
    img = images.clone().requires_grad_(True)
    (model.encode_image(img) * w_i).sum().backward()
    np.save(f"{outdir}/{name}_grad_weights_text.npy", w_t.numpy())
    np.save(f"{outdir}/{name}_grad_weights_image.npy", w_i.numpy())
    np.save(f"{outdir}/{name}_grad_token_embeddings.npy", emb.grad.numpy())  # [3, 77, width]
    np.save(f"{outdir}/{name}_grad_images_nchw.npy", img.grad.numpy())  # [2, 3, R, R]
    np.save(f"{outdir}/{name}_images_nchw.npy", images.numpy())  # NCHW, as `gotta embed --images-npy` reads
    np.save(f"{outdir}/{name}_tokens.npy", toks)
    np.save(f"{outdir}/{name}_image_features.npy", img_f.numpy())
    np.save(f"{outdir}/{name}_text_features.npy", txt_f.numpy())
    np.save(f"{outdir}/{name}_logits.npy", logits.numpy())
    return model, sd, meta


def hf_from_openai(sd, layers_v, layers_t):
    """Renames a tiny OpenAI ViT state dict to Hugging Face CLIPModel names (q/k/v split, Linear transposes)."""
    hf = {}

    def block(prefix_o, prefix_h):
        w = sd[prefix_o + "attn.in_proj_weight"]
        b = sd[prefix_o + "attn.in_proj_bias"]
        d = w.shape[1]
        for j, n in enumerate("qkv"):
            hf[prefix_h + f"self_attn.{n}_proj.weight"] = w[j * d:(j + 1) * d]
            hf[prefix_h + f"self_attn.{n}_proj.bias"] = b[j * d:(j + 1) * d]
        hf[prefix_h + "self_attn.out_proj.weight"] = sd[prefix_o + "attn.out_proj.weight"]
        hf[prefix_h + "self_attn.out_proj.bias"] = sd[prefix_o + "attn.out_proj.bias"]
        hf[prefix_h + "layer_norm1.weight"] = sd[prefix_o + "ln_1.weight"]
        hf[prefix_h + "layer_norm1.bias"] = sd[prefix_o + "ln_1.bias"]
        hf[prefix_h + "layer_norm2.weight"] = sd[prefix_o + "ln_2.weight"]
        hf[prefix_h + "layer_norm2.bias"] = sd[prefix_o + "ln_2.bias"]
        hf[prefix_h + "mlp.fc1.weight"] = sd[prefix_o + "mlp.c_fc.weight"]
        hf[prefix_h + "mlp.fc1.bias"] = sd[prefix_o + "mlp.c_fc.bias"]
        hf[prefix_h + "mlp.fc2.weight"] = sd[prefix_o + "mlp.c_proj.weight"]
        hf[prefix_h + "mlp.fc2.bias"] = sd[prefix_o + "mlp.c_proj.bias"]

    hf["text_model.embeddings.token_embedding.weight"] = sd["token_embedding.weight"]
    hf["text_model.embeddings.position_embedding.weight"] = sd["positional_embedding"]
    for i in range(layers_t):
        block(f"transformer.resblocks.{i}.", f"text_model.encoder.layers.{i}.")
    hf["text_model.final_layer_norm.weight"] = sd["ln_final.weight"]
    hf["text_model.final_layer_norm.bias"] = sd["ln_final.bias"]
    hf["vision_model.embeddings.class_embedding"] = sd["visual.class_embedding"]
    hf["vision_model.embeddings.patch_embedding.weight"] = sd["visual.conv1.weight"]
    hf["vision_model.embeddings.position_embedding.weight"] = sd["visual.positional_embedding"]
    hf["vision_model.pre_layrnorm.weight"] = sd["visual.ln_pre.weight"]
    hf["vision_model.pre_layrnorm.bias"] = sd["visual.ln_pre.bias"]
    for i in range(layers_v):
        block(f"visual.transformer.resblocks.{i}.", f"vision_model.encoder.layers.{i}.")
    hf["vision_model.post_layernorm.weight"] = sd["visual.ln_post.weight"]
    hf["vision_model.post_layernorm.bias"] = sd["visual.ln_post.bias"]
    hf["visual_projection.weight"] = np.ascontiguousarray(sd["visual.proj"].T)
    hf["text_projection.weight"] = np.ascontiguousarray(sd["text_projection"].T)
    hf["logit_scale"] = sd["logit_scale"]
    return hf


def main():
    m = load_model_py(sys.argv[1])
    outdir = sys.argv[2]
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(20261127)
    make(m, "tiny_rn", outdir, "rn", gen, f16=True)
    _, sd, meta = make(m, "tiny_vit", outdir, "vit", gen, f16=False)
    hf = hf_from_openai(sd, 2, 2)
    write_safetensors(f"{outdir}/tiny_vit_hf.safetensors", hf, meta, "F32")


if __name__ == "__main__":
    main()
