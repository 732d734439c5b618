#!/usr/bin/env python3
"""Compare a pefuse model folder's ONNX towers with the PyTorch model they were exported from.

    python3 stages/embed/parity_check.py --profile openclip-vit-l-14 --model-dir models/openclip-vit-l-14 [--images a.jpg b.png]

Feeds the *same* tensors (made by the reference preprocess/tokenizer) to both, and checks every
embedding pair: cosine >= 0.9999 and max |diff| <= 1e-3 (fp32). Needs torch, onnxruntime, numpy,
PIL and transformers or open_clip_torch. Exit status 1 when any pair is out of tolerance.
"""
import argparse
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from export_onnx import PROFILES, TEXT_FILE, VISION_FILE  # noqa: E402

MIN_COSINE = 0.9999
MAX_ABS_DIFF = 1e-3
SAMPLE_TEXTS = ["a photo of a cat", "a red dress with long sleeves", "two dogs playing in the snow near a lake"]


def compare(a, b):
    """(cosine, max |a-b|) of two equal-length float sequences."""
    if len(a) != len(b):
        raise ValueError(f"length mismatch: {len(a)} vs {len(b)}")
    dot = sum(x * y for x, y in zip(a, b))
    na = math.sqrt(sum(x * x for x in a))
    nb = math.sqrt(sum(y * y for y in b))
    cos = dot / (na * nb) if na > 0 and nb > 0 else 0.0
    return cos, max((abs(x - y) for x, y in zip(a, b)), default=0.0)


def within(cos, diff):
    return cos >= MIN_COSINE and diff <= MAX_ABS_DIFF


def parse_args(argv):
    p = argparse.ArgumentParser(description="ONNX vs PyTorch parity for a pefuse model folder.")
    p.add_argument("--profile", required=True, choices=sorted(PROFILES))
    p.add_argument("--model-dir", required=True)
    p.add_argument("--images", nargs="*", default=[], help="sample images (default: two synthetic ones)")
    return p.parse_args(argv)


def main(argv=None):
    a = parse_args(sys.argv[1:] if argv is None else argv)
    import numpy as np
    import onnxruntime as ort
    import torch
    from PIL import Image

    from export_onnx import load_towers

    spec = PROFILES[a.profile]
    text, vision, tok = load_towers(spec)
    if spec["source"] == "open_clip":
        import open_clip

        _, _, preprocess = open_clip.create_model_and_transforms(spec["arch"], pretrained=spec["pretrained"])
        ids = open_clip.get_tokenizer(spec["arch"])(SAMPLE_TEXTS)
    else:
        from transformers import AutoProcessor

        proc = AutoProcessor.from_pretrained(spec["hf_id"])
        preprocess = lambda im: proc(images=im, return_tensors="pt")["pixel_values"][0]  # noqa: E731
        kw = {"padding": "max_length", "max_length": spec["context"], "truncation": True}
        ids = proc(text=[t.lower() for t in SAMPLE_TEXTS] if spec["source"] == "hf-siglip" else SAMPLE_TEXTS, return_tensors="pt", **kw)["input_ids"]
    images = [Image.open(p).convert("RGB") for p in a.images] or [
        Image.fromarray((np.random.default_rng(s).random((300, 400, 3)) * 255).astype("uint8")) for s in (1, 2)
    ]
    px = torch.stack([preprocess(im) for im in images])
    failures = 0
    for name, module, x, path in [("text", text, ids, TEXT_FILE), ("vision", vision, px, VISION_FILE)]:
        with torch.no_grad():
            ref = module(x).float().numpy()
        sess = ort.InferenceSession(os.path.join(a.model_dir, path), providers=["CPUExecutionProvider"])
        got = sess.run(None, {sess.get_inputs()[0].name: x.numpy()})[0]
        for i in range(ref.shape[0]):
            cos, diff = compare(ref[i].tolist(), got[i].tolist())
            ok = within(cos, diff)
            failures += 0 if ok else 1
            print(f"{name}[{i}]  cosine {cos:.7f}  max|diff| {diff:.2e}  {'ok' if ok else 'OUT OF TOLERANCE'}")
    print("parity ok" if failures == 0 else f"{failures} embeddings out of tolerance")
    return 0 if failures == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
