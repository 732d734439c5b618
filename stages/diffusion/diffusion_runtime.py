"""torch (or its fake-mode stand-ins), pipeline loading and prompt token counting for the diffusers
worker (stages/diffusion/worker.py). torch and diffusers are imported only when a configure needs them.
"""

import gc
import importlib
import importlib.util
import json
import os
import sys
import time

from diffusion_params import ConfigError

INSTALL_HINT = (
    "install what the GPU workers need into the interpreter pefuse runs "
    "(PEFUSE_PYTHON, default python3): pip install -r requirements-gpu.txt"
)


def log(message):
    sys.stderr.write(f"[diffusion-worker] {message}\n")
    sys.stderr.flush()


# --- torch, or its stand-ins in fake mode ---------------------------------------------------------


def try_import(name):
    try:
        return importlib.import_module(name), None
    except Exception as e:  # ImportError, or a broken install raising anything
        return None, f"{type(e).__name__}: {e}"


class StandInGenerator:
    """Fake mode without torch: a CPU generator stand-in that only remembers its seed."""

    device = "cpu"

    def __init__(self):
        self._seed = None

    def manual_seed(self, seed):
        self._seed = int(seed)
        return self

    def initial_seed(self):
        return self._seed


class Runtime:
    """torch when it is there (required outside fake mode), else the fake-mode stand-ins."""

    def __init__(self, fake):
        self.torch, self.torch_error = try_import("torch")
        if self.torch is None and not fake:
            raise ConfigError(f"the diffusers worker needs torch ({self.torch_error}); {INSTALL_HINT}")
        self.cuda = bool(self.torch is not None and self.torch.cuda.is_available())

    def generator(self, seed):
        if self.torch is None:
            return StandInGenerator().manual_seed(seed)
        return self.torch.Generator("cpu").manual_seed(seed)

    def dtype(self, name):
        if self.torch is None:
            return name
        return {"fp16": self.torch.float16, "bf16": self.torch.bfloat16, "fp32": self.torch.float32}[name]

    def device(self):
        return "cuda" if self.cuda else "cpu"

    def reset_peak(self):
        if self.cuda:
            self.torch.cuda.reset_peak_memory_stats()

    def peak_mb(self):
        if not self.cuda:
            return None
        return round(self.torch.cuda.max_memory_allocated() / (1024 * 1024), 1)

    def free(self):
        gc.collect()
        if self.cuda:
            self.torch.cuda.empty_cache()

    def is_oom(self, e):
        if self.torch is not None:
            oom = getattr(self.torch.cuda, "OutOfMemoryError", None)
            if oom is not None and isinstance(e, oom):
                return True
        if isinstance(e, MemoryError):
            return True
        return type(e).__name__ == "OutOfMemoryError" or "out of memory" in str(e).lower()


def load_class(spec):
    """`module:Class` or `/path/to/file.py:Class`."""
    mod_name, sep, cls_name = spec.rpartition(":")
    if sep == "" or mod_name == "" or cls_name == "":
        raise ConfigError(f"fake pipeline must be MODULE:CLASS or FILE.py:CLASS (got {json.dumps(spec)})")
    try:
        if mod_name.endswith(".py"):
            path = os.path.abspath(mod_name)
            module_spec = importlib.util.spec_from_file_location("pefuse_fake_pipeline", path)
            if module_spec is None or module_spec.loader is None:
                raise ImportError(f"cannot load {path}")
            module = importlib.util.module_from_spec(module_spec)
            module_spec.loader.exec_module(module)
        else:
            module = importlib.import_module(mod_name)
        return getattr(module, cls_name)
    except ConfigError:
        raise
    except Exception as e:
        raise ConfigError(f"cannot load fake pipeline {spec}: {type(e).__name__}: {e}") from e


def pipeline_class(settings, fake):
    if fake is not None:
        return load_class(fake)
    diffusers, error = try_import("diffusers")
    if diffusers is None:
        raise ConfigError(f"the diffusers worker needs diffusers ({error}); {INSTALL_HINT}")
    if settings["pipeline"] == "sdxl-instructpix2pix":
        return diffusers.StableDiffusionXLInstructPix2PixPipeline
    return diffusers.AutoPipelineForImage2Image


def load_pipeline(settings, runtime, fake):
    cls = pipeline_class(settings, fake)
    kwargs = {"torch_dtype": runtime.dtype(settings["dtype"])}
    if settings["revision"] is not None:
        kwargs["revision"] = settings["revision"]
    if settings["pipeline"] != "generic":
        kwargs["add_watermarker"] = False  # SDXL pipelines: generated pseudo-targets stay unperturbed
    started = time.perf_counter()
    try:
        if settings["pipeline"] == "sdxl-turbo" and settings["dtype"] != "fp32" and fake is None:
            try:
                pipe = cls.from_pretrained(settings["model"], variant="fp16", **kwargs)
            except (OSError, ValueError):
                pipe = cls.from_pretrained(settings["model"], **kwargs)
        else:
            pipe = cls.from_pretrained(settings["model"], **kwargs)
    except ConfigError:
        raise
    except Exception as e:
        if runtime.is_oom(e):
            raise ConfigError(f"out of memory while loading {settings['model']}: {e}") from e
        raise ConfigError(f"cannot load {settings['model']}: {type(e).__name__}: {e}") from e
    # Any pipeline with a watermarker (generic checkpoints too): switch it off.
    if getattr(pipe, "watermark", None) is not None:
        pipe.watermark = None
    if hasattr(pipe, "set_progress_bar_config"):
        pipe.set_progress_bar_config(disable=True)
    pipe = pipe.to(runtime.device())
    log(f"loaded {settings['pipeline']} {settings['model']} ({settings['dtype']}) on {runtime.device()} "
        f"in {time.perf_counter() - started:.1f} s")
    return pipe


# --- prompt tokens --------------------------------------------------------------------------------


def count_tokens(pipe, prompt):
    """(tokens incl. start/end, tokens cut off) with the pipeline's first CLIP tokenizer (77 max)."""
    tok = getattr(pipe, "tokenizer", None)
    if tok is None:
        return None, None
    limit = int(getattr(tok, "model_max_length", 77) or 77)
    try:
        ids = tok(prompt, truncation=False, add_special_tokens=True)["input_ids"]
    except (TypeError, KeyError):
        ids = tok(prompt, truncation=False, add_special_tokens=True).input_ids
    n = len(ids)
    return n, max(0, n - limit)
