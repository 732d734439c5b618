#!/usr/bin/env python3
"""Export the text and vision towers of a pefuse built-in profile to a pefuse model folder.

Run on your own machine (needs torch, onnx, and transformers or open_clip_torch, plus the weights):

    python3 stages/embed/export_onnx.py --profile openclip-vit-l-14 --out models/openclip-vit-l-14
    python3 stages/embed/parity_check.py --profile openclip-vit-l-14 --model-dir models/openclip-vit-l-14

The folder layout (what `stages/embed/model/config.ts` reads):

    pefuse-model.json             {"format": "pefuse-embed-model/1", "profile": "<name>"}
    text_model.onnx  [+ text_model.onnx_data]      input_ids int64 [batch, S]       -> text_embeds  float32 [batch, D]
    vision_model.onnx [+ vision_model.onnx_data]   pixel_values float32 [batch,3,H,W] -> image_embeds float32 [batch, D]
    bpe_simple_vocab_16e6.txt.gz  (CLIP / OpenCLIP)  or  tokenizer.json + tokenizer_config.json (SigLIP2)

Embeddings are exported *unnormalised*; pefuse L2-normalises them. Towers above ~1.5 GB (ViT-H/g/bigG)
are saved with their weights in one external-data file next to the graph, which ONNX Runtime loads
from the folder. `--dry-run` writes only pefuse-model.json and prints the plan (no torch needed).

The packages an export needs are checked before anything is written, and the folder is written whole or
not at all: everything goes into a temporary sibling folder that is renamed to `--out` at the end (a
failed or interrupted export leaves no half-written model folder for a spec to point at).
"""
import argparse
import importlib.util
import json
import os
import shutil
import sys

FORMAT = "pefuse-embed-model/1"

# name -> how to build it; must agree with stages/embed/model/profiles.ts
PROFILES = {
    "clip-vit-b-32": {"source": "hf-clip", "hf_id": "openai/clip-vit-base-patch32", "context": 77, "dim": 512, "image": 224},
    "openclip-vit-b-32": {"source": "open_clip", "arch": "ViT-B-32", "pretrained": "laion2b_s34b_b79k", "context": 77, "dim": 512, "image": 224},
    "openclip-vit-l-14": {"source": "open_clip", "arch": "ViT-L-14", "pretrained": "laion2b_s32b_b82k", "context": 77, "dim": 768, "image": 224},
    "openclip-vit-h-14": {"source": "open_clip", "arch": "ViT-H-14", "pretrained": "laion2b_s32b_b79k", "context": 77, "dim": 1024, "image": 224},
    "openclip-vit-g-14": {"source": "open_clip", "arch": "ViT-g-14", "pretrained": "laion2b_s34b_b88k", "context": 77, "dim": 1024, "image": 224},
    "openclip-vit-bigg-14": {"source": "open_clip", "arch": "ViT-bigG-14", "pretrained": "laion2b_s39b_b160k", "context": 77, "dim": 1280, "image": 224},
    "siglip2-base-patch16-224": {"source": "hf-siglip", "hf_id": "google/siglip2-base-patch16-224", "context": 64, "dim": 768, "image": 224},
}
TEXT_FILE, VISION_FILE = "text_model.onnx", "vision_model.onnx"
EXTERNAL_DATA_BYTES = 1_500_000_000


def parse_args(argv):
    p = argparse.ArgumentParser(description="Export a pefuse retrieval profile to ONNX towers.")
    p.add_argument("--profile", choices=sorted(PROFILES), help="built-in profile to export")
    p.add_argument("--out", help="model folder to write (created if missing)")
    p.add_argument("--clip-vocab", help="bpe_simple_vocab_16e6.txt.gz to copy (default: the one inside open_clip)")
    p.add_argument("--opset", type=int, default=17)
    p.add_argument("--dry-run", action="store_true", help="write pefuse-model.json only and print the plan")
    p.add_argument("--list", action="store_true", help="list the profiles and exit")
    a = p.parse_args(argv)
    if not a.list and (a.profile is None or a.out is None):
        p.error("--profile and --out are required (or --list)")
    return a


def missing_packages(spec, clip_vocab):
    """The Python modules an export of `spec` needs that cannot be imported, as (module, pip name) pairs."""
    need = [("torch", "torch"), ("onnx", "onnx")]
    if spec["source"] == "open_clip":
        need.append(("open_clip", "open_clip_torch"))
    else:
        need.append(("transformers", "transformers"))
        # CLIP vocabularies are copied from open_clip unless --clip-vocab names the file.
        if spec["source"] == "hf-clip" and clip_vocab is None:
            need.append(("open_clip", "open_clip_torch"))
    return [(m, pip) for m, pip in need if importlib.util.find_spec(m) is None]


def fail(message, status=1):
    print(f"export_onnx.py: {message}", file=sys.stderr)
    return status


def write_layout(out, profile):
    """Creates the folder and its pefuse-model.json; returns the paths the towers go to."""
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "pefuse-model.json"), "w") as f:
        json.dump({"format": FORMAT, "profile": profile}, f, indent=2)
        f.write("\n")
    return os.path.join(out, TEXT_FILE), os.path.join(out, VISION_FILE)


def plan(profile, out):
    spec = PROFILES[profile]
    tok = "bpe_simple_vocab_16e6.txt.gz" if spec["source"] != "hf-siglip" else "tokenizer.json, tokenizer_config.json"
    src = spec.get("hf_id") or f"open_clip {spec['arch']} / {spec['pretrained']}"
    return [
        f"profile {profile} from {src}",
        f"{os.path.join(out, TEXT_FILE)}: input_ids int64 [batch, {spec['context']}] -> text_embeds float32 [batch, {spec['dim']}]",
        f"{os.path.join(out, VISION_FILE)}: pixel_values float32 [batch, 3, {spec['image']}, {spec['image']}] -> image_embeds float32 [batch, {spec['dim']}]",
        f"tokenizer: {tok}",
    ]


def load_towers(spec):
    """Returns (text_fn, vision_fn, tokenizer_writer) as torch modules/callables."""
    import torch

    class Tower(torch.nn.Module):
        def __init__(self, fn):
            super().__init__()
            self.fn = fn

        def forward(self, x):
            return self.fn(x)

    if spec["source"] == "open_clip":
        import open_clip

        model, _, _ = open_clip.create_model_and_transforms(spec["arch"], pretrained=spec["pretrained"])
        model.eval()
        text = Tower(lambda ids: model.encode_text(ids, normalize=False))
        vision = Tower(lambda px: model.encode_image(px, normalize=False))
        text.add_module("model", model)
        vision.add_module("model", model)
        return text, vision, None
    from transformers import AutoModel, AutoTokenizer

    model = AutoModel.from_pretrained(spec["hf_id"]).eval()
    text = Tower(lambda ids: model.get_text_features(input_ids=ids))
    vision = Tower(lambda px: model.get_image_features(pixel_values=px))
    text.add_module("model", model)
    vision.add_module("model", model)
    tok = AutoTokenizer.from_pretrained(spec["hf_id"]) if spec["source"] == "hf-siglip" else None
    return text, vision, tok


def export_tower(module, dummy, path, in_name, out_name, opset):
    import onnx
    import torch

    tmp = path + ".tmp.onnx"
    with torch.no_grad():
        torch.onnx.export(module, (dummy,), tmp, input_names=[in_name], output_names=[out_name],
                          dynamic_axes={in_name: {0: "batch"}, out_name: {0: "batch"}}, opset_version=opset)
    m = onnx.load(tmp, load_external_data=True)
    big = sum(t.ByteSize() for t in m.graph.initializer) > EXTERNAL_DATA_BYTES
    if big:
        onnx.save_model(m, path, save_as_external_data=True, all_tensors_to_one_file=True,
                        location=os.path.basename(path) + "_data")
    else:
        onnx.save_model(m, path)
    for n in os.listdir(os.path.dirname(tmp) or "."):
        if n.startswith(os.path.basename(tmp)):
            os.remove(os.path.join(os.path.dirname(tmp), n))


def copy_clip_vocab(out, given):
    src = given
    if src is None:
        try:
            import open_clip.tokenizer as oct

            src = oct.default_bpe()
        except ImportError:
            raise SystemExit("pass --clip-vocab PATH/bpe_simple_vocab_16e6.txt.gz (or pip install open_clip_torch)")
    shutil.copyfile(src, os.path.join(out, "bpe_simple_vocab_16e6.txt.gz"))


def main(argv=None):
    a = parse_args(sys.argv[1:] if argv is None else argv)
    if a.list:
        for name in sorted(PROFILES):
            print(name)
        return 0
    spec = PROFILES[a.profile]
    out = os.path.abspath(a.out)
    if not a.dry_run:
        missing = missing_packages(spec, a.clip_vocab)
        if missing:
            names = ", ".join(m for m, _ in missing)
            pips = " ".join(p for _, p in dict.fromkeys(missing))
            return fail(
                f"cannot export {a.profile}: missing Python package(s) {names} (pip install {pips}); "
                f"nothing was written to {out}"
            )
    if os.path.exists(out) and (not os.path.isdir(out) or os.listdir(out)):
        return fail(f"{out} already exists and is not empty: remove it or choose another --out", 2)
    # Written whole or not at all: a sibling temp folder, renamed to `out` when complete.
    tmp = f"{out}.tmp-{os.getpid()}"
    try:
        text_path, vision_path = write_layout(tmp, a.profile)
        for line in plan(a.profile, out):
            print(line)
        if not a.dry_run:
            export(spec, a, tmp, text_path, vision_path)
        if os.path.isdir(out):
            os.rmdir(out)
        os.rename(tmp, out)
    except KeyboardInterrupt:
        return fail(f"interrupted; nothing was written to {out}", 130)
    except Exception as e:  # noqa: BLE001 - any export failure: one line, no half-written folder
        return fail(f"export of {a.profile} failed: {type(e).__name__}: {e}; nothing was written to {out}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("dry run: wrote pefuse-model.json only" if a.dry_run else f"done: {out}")
    return 0


def export(spec, a, out, text_path, vision_path):
    import torch

    text, vision, tok = load_towers(spec)
    ids = torch.zeros((2, spec["context"]), dtype=torch.int64)
    ids[:, 0], ids[:, 1] = (49406, 49407) if spec["source"] != "hf-siglip" else (1, 0)
    px = torch.zeros((2, 3, spec["image"], spec["image"]), dtype=torch.float32)
    export_tower(text, ids, text_path, "input_ids", "text_embeds", a.opset)
    export_tower(vision, px, vision_path, "pixel_values", "image_embeds", a.opset)
    if spec["source"] == "hf-siglip":
        tok.save_pretrained(out)
    else:
        copy_clip_vocab(out, a.clip_vocab)


if __name__ == "__main__":
    sys.exit(main())
