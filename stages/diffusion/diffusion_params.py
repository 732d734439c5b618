"""Parameters of the diffusers worker (stages/diffusion/worker.py): what a `configure` may ask for,
validated, and the explicit pipeline call. pefuse fills every default at plan time
(stages/diffusion/params.ts); nothing here falls back to a diffusers default.
"""

import json

PIPELINES = ("sdxl-instructpix2pix", "sdxl-turbo", "generic")
IMAGE_TO_IMAGE = ("sdxl-turbo", "generic")
DTYPES = ("fp16", "bf16", "fp32")


class ConfigError(Exception):
    """A configure the worker cannot serve; reported on stderr, exit code 2 (model-load)."""


# --- parameters -----------------------------------------------------------------------------------


def _number(params, name, minimum=None, exclusive_min=None, maximum=None, integer=False):
    v = params.get(name)
    if isinstance(v, bool) or not isinstance(v, (int, float)) or v != v or v in (float("inf"), float("-inf")):
        raise ConfigError(f"diffusion parameter `{name}` must be a number (got {json.dumps(v)})")
    if integer and (not float(v).is_integer()):
        raise ConfigError(f"diffusion parameter `{name}` must be an integer (got {v})")
    if minimum is not None and v < minimum:
        raise ConfigError(f"diffusion parameter `{name}` must be at least {minimum} (got {v})")
    if exclusive_min is not None and v <= exclusive_min:
        raise ConfigError(f"diffusion parameter `{name}` must be above {exclusive_min} (got {v})")
    if maximum is not None and v > maximum:
        raise ConfigError(f"diffusion parameter `{name}` must be at most {maximum} (got {v})")
    return int(v) if integer else float(v)


def check_params(params, model):
    """The settings one configure asks for, validated; raises ConfigError naming the problem."""
    if not isinstance(params, dict):
        raise ConfigError("configure params must be an object")
    model = model if isinstance(model, dict) else {}
    pipeline = params.get("pipeline", model.get("pipeline"))
    if pipeline not in PIPELINES:
        raise ConfigError(
            f"diffusion pipeline {json.dumps(pipeline)} is not served by the diffusers worker "
            f"(it serves {', '.join(PIPELINES)})"
        )
    checkpoint = model.get("model")
    if not isinstance(checkpoint, str) or checkpoint == "":
        raise ConfigError(f"pipeline {pipeline} needs a checkpoint id (diffusion.model)")
    revision = model.get("revision")
    if revision is not None and not isinstance(revision, str):
        raise ConfigError("diffusion.revision must be a string")
    dtype = params.get("dtype")
    if dtype not in DTYPES:
        raise ConfigError(f"diffusion parameter `dtype` must be one of {', '.join(DTYPES)} (got {json.dumps(dtype)})")
    s = {
        "pipeline": pipeline,
        "model": checkpoint,
        "revision": revision,
        "dtype": dtype,
        "steps": _number(params, "steps", minimum=1, integer=True),
        "guidance_scale": _number(params, "guidance_scale", minimum=0),
        "size": _number(params, "size", minimum=64, integer=True),
    }
    if s["size"] % 8 != 0:
        raise ConfigError(f"diffusion parameter `size` must be a multiple of 8 (got {s['size']})")
    if pipeline in IMAGE_TO_IMAGE:
        s["strength"] = _number(params, "strength", exclusive_min=0, maximum=1)
        if int(s["steps"] * s["strength"]) < 1:
            raise ConfigError(
                f"steps x strength = {s['steps']} x {s['strength']} < 1: the {pipeline} pipeline would run "
                "no denoising step (raise steps or strength)"
            )
    else:
        s["image_guidance_scale"] = _number(params, "image_guidance_scale", minimum=0)
    return s


def call_kwargs(settings, prompt, image, generator):
    """The pipeline call: every parameter explicit, nothing left to a diffusers default."""
    kw = {
        "prompt": prompt,
        "image": image,
        "num_inference_steps": settings["steps"],
        "guidance_scale": settings["guidance_scale"],
        "generator": generator,
        "output_type": "pil",
    }
    if settings["pipeline"] in IMAGE_TO_IMAGE:
        kw["strength"] = settings["strength"]
    else:
        kw["image_guidance_scale"] = settings["image_guidance_scale"]
        kw["height"] = settings["size"]
        kw["width"] = settings["size"]
    return kw
