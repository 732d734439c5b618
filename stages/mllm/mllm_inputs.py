"""What the transformers MLLM worker (worker.py) reads from pefuse: the configure message's sampling
fields, batch size and model id, and each item's input (image, prompt, system prompt, seeds).
Problems with the configuration are SetupError (the worker exits 2); problems with one item are
ItemError (that item fails with the protocol reason, the others go on).
"""

import json
import os

from mllm_runtime import SetupError, log

DEFAULT_SYSTEM = "You are a helpful assistant."


class ItemError(Exception):
    """One item cannot be done; `reason` is a protocol error reason."""

    def __init__(self, reason, message):
        super().__init__(message)
        self.reason = reason



def sampling_of(params):
    """The explicit sampling fields; a missing or bad one is a SetupError (pefuse always sends all)."""
    out = {}
    for k in ("temperature", "top_p", "top_k", "repetition_penalty", "max_tokens"):
        v = params.get(k)
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise SetupError(f"configure params need a numeric {k!r} (got {v!r})")
        out[k] = v
    if out["temperature"] < 0:
        raise SetupError("temperature must be >= 0")
    if not 0 < out["top_p"] <= 1:
        raise SetupError("top_p must be in (0, 1]")
    if out["repetition_penalty"] <= 0:
        raise SetupError("repetition_penalty must be > 0")
    if int(out["max_tokens"]) != out["max_tokens"] or out["max_tokens"] < 1:
        raise SetupError("max_tokens must be a positive integer")
    out["max_tokens"] = int(out["max_tokens"])
    # vLLM's -1 (and 0) mean "no top-k"; transformers spells that 0.
    out["top_k"] = int(out["top_k"]) if out["top_k"] > 0 else 0
    out["greedy"] = out["temperature"] == 0
    return out


def batch_size_of(params, features):
    v = params.get("batch_size", 1)
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise SetupError(f"batch_size must be a positive integer (got {v!r})")
    if v > 1 and "flush" not in features:
        log(f"[worker] this pefuse does not send flush messages: batch_size {v} ignored, running items one by one")
        return 1
    return v


def model_of(model):
    if not isinstance(model, dict) or not isinstance(model.get("model"), str) or not model["model"]:
        raise SetupError(f"configure carries no model id (model: {json.dumps(model)})")
    rev = model.get("revision")
    return model["model"], rev if isinstance(rev, str) and rev else None


def open_image(path):
    """RGB PIL image; transparency becomes white, as qwen-vl-utils and vLLM do (models.md 1.1)."""
    from PIL import Image, UnidentifiedImageError

    if not os.path.isfile(path):
        raise ItemError("input-missing", f"image not found: {path}")
    try:
        with Image.open(path) as im:
            im.load()
            if im.mode in ("RGBA", "LA") or (im.mode == "P" and "transparency" in im.info):
                rgba = im.convert("RGBA")
                white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
                white.alpha_composite(rgba)
                return white.convert("RGB")
            return im.convert("RGB")
    except (UnidentifiedImageError, OSError, ValueError) as e:
        raise ItemError("bad-input", f"cannot decode image {path}: {e}") from e


def request_of(msg):
    """(id, {image, prompt, system, seeds}) for an item message; ItemError when the input is unusable."""
    inp = msg.get("input")
    if not isinstance(inp, dict):
        raise ItemError("bad-input", "item input must be an object")
    path = inp.get("image_path")
    prompt = inp.get("prompt")
    if not isinstance(path, str) or not path:
        raise ItemError("bad-input", 'item input needs a string "image_path"')
    if not isinstance(prompt, str) or not prompt.strip():
        raise ItemError("bad-input", 'item input needs a non-empty string "prompt"')
    system = inp.get("system", DEFAULT_SYSTEM)
    if not isinstance(system, str):
        raise ItemError("bad-input", '"system" must be a string')
    seeds = inp.get("seeds")
    if seeds is None and "seed" in inp:
        seeds = [inp["seed"]]
    if (
        not isinstance(seeds, list)
        or not seeds
        or any(isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in seeds)
    ):
        raise ItemError("bad-input", 'item input needs "seeds": a non-empty list of non-negative integers')
    return {"image": open_image(path), "prompt": prompt, "system": system, "seeds": seeds}
