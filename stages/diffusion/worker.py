#!/usr/bin/env python3
"""The diffusers worker of the `diffusion.edit` stage (backend `diffusers`).

It speaks pefuse's worker protocol (runner/exec/protocol.ts): JSON lines on stdin/stdout, stdout
reserved for protocol lines (everything else, including what libraries print, goes to stderr).

    configure {kind: "diffusion.edit", params, model}  ->  ready {identity}
    item {id, input: {reference_path, text, seed, out_path?}}
        ->  result {id, output: {image: {file}, prompt_tokens, truncated_tokens}, seconds, peak_mem_mb?}
        |   error {id, reason: oom | input-missing | bad-input | bad-output, message}
    shutdown  ->  exit 0 (also when stdin closes)

Pipelines (params.pipeline; model.model is the checkpoint id, model.revision its revision):
    sdxl-instructpix2pix  StableDiffusionXLInstructPix2PixPipeline: steps, guidance_scale,
                          image_guidance_scale, size (height = width)
    sdxl-turbo, generic   AutoPipelineForImage2Image: steps, strength, guidance_scale (the input is
                          resized to size; the output follows it)
Every value comes from params (pefuse fills the defaults at plan time); nothing falls back to a
diffusers default. dtype fp16 | bf16 | fp32. The invisible watermark is off.

Seeds: each item carries its own seed (pefuse derives it from the spec seed, the repeat and the item
id); the worker draws the noise from a CPU torch.Generator seeded with it, so an image does not depend
on batching or on which GPU ran it.

Out of memory: the item is answered with reason `oom` after the worker frees what it can; pefuse's
retry policy decides what happens next (the worker never retries by itself).

Usage:
    python3 worker.py                             serve the protocol (needs torch + diffusers)
    python3 worker.py --probe                     print library versions and CUDA devices as one JSON line
    python3 worker.py --fake-pipeline MOD:CLASS   TEST OPTION: use CLASS instead of diffusers (MOD is a
                                                  module name or a path to a .py file). The same as env
                                                  PEFUSE_DIFFUSION_FAKE=MOD:CLASS. Without torch installed
                                                  the fake mode uses a stand-in CPU generator.
"""

import gc
import importlib
import importlib.util
import json
import os
import sys
import time
import traceback

WORKER_VERSION = "1"
PROTOCOL_VERSION = 1
FAKE_ENV = "PEFUSE_DIFFUSION_FAKE"
KIND = "diffusion.edit"

PIPELINES = ("sdxl-instructpix2pix", "sdxl-turbo", "generic")
IMAGE_TO_IMAGE = ("sdxl-turbo", "generic")
DTYPES = ("fp16", "bf16", "fp32")
# What each pipeline reads from params; the rest (text source, seed, ...) is for pefuse.
READS = {
    "sdxl-instructpix2pix": ("steps", "guidance_scale", "image_guidance_scale", "size", "dtype"),
    "sdxl-turbo": ("steps", "guidance_scale", "strength", "size", "dtype"),
    "generic": ("steps", "guidance_scale", "strength", "size", "dtype"),
}
INSTALL_HINT = (
    "install what the GPU workers need into the interpreter pefuse runs "
    "(PEFUSE_PYTHON, default python3): pip install -r requirements-gpu.txt"
)

# --- stdout hygiene -------------------------------------------------------------------------------
# The protocol gets its own copy of fd 1; fd 1 itself (and sys.stdout) then point at stderr, so a
# library's print, tqdm bar or C-level write can never corrupt the protocol stream.
_PROTO = None


def _claim_stdout():
    global _PROTO
    fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    _PROTO = os.fdopen(fd, "w", encoding="utf-8", buffering=1)


def send(msg):
    try:
        _PROTO.write(json.dumps(msg, separators=(",", ":"), allow_nan=False) + "\n")
        _PROTO.flush()
    except (BrokenPipeError, OSError):
        # The orchestrator is gone (even kill -9): nobody will read the answer; stop.
        os._exit(0)


def log(message):
    sys.stderr.write(f"[diffusion-worker] {message}\n")
    sys.stderr.flush()


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


# --- the worker -----------------------------------------------------------------------------------


class Worker:
    def __init__(self, fake):
        self.fake = fake
        self.runtime = None
        self.pipe = None
        self.loaded = None  # (pipeline, model, revision, dtype) of self.pipe
        self.settings = None
        self.identity = None
        default_tmp = os.environ.get("PEFUSE_WORKER_TMP") or os.environ.get("TMPDIR") or "/tmp"
        self.out_dir = os.path.join(default_tmp, f"pefuse-diffusion-{os.getpid()}")

    def configure(self, msg):
        if msg.get("protocol") != PROTOCOL_VERSION:
            raise ConfigError(
                f"protocol error: this worker speaks protocol {PROTOCOL_VERSION}, got {json.dumps(msg.get('protocol'))}"
            )
        if msg.get("kind") != KIND:
            raise ConfigError(f"the diffusers worker cannot run stage kind {json.dumps(msg.get('kind'))} (it runs {KIND})")
        settings = check_params(msg.get("params"), msg.get("model"))
        if self.runtime is None:
            self.runtime = Runtime(self.fake is not None)
        wanted = (settings["pipeline"], settings["model"], settings["revision"], settings["dtype"])
        if self.loaded != wanted:
            self.pipe = None
            self.runtime.free()
            self.pipe = load_pipeline(settings, self.runtime, self.fake)
            self.loaded = wanted
        self.settings = settings
        self.identity = self.identity_of(settings)
        send({"type": "ready", "protocol": PROTOCOL_VERSION, "identity": self.identity})

    def identity_of(self, settings):
        rt = self.runtime
        versions = {"pefuse-diffusion-worker": WORKER_VERSION, "python": sys.version.split()[0]}
        for name in ("torch", "diffusers", "transformers", "PIL"):
            mod = sys.modules.get(name)
            if mod is not None and getattr(mod, "__version__", None):
                versions[name] = str(mod.__version__)
        if rt.cuda:
            versions["cuda"] = str(rt.torch.version.cuda)
            device = f"cuda ({rt.torch.cuda.get_device_name(0)})"
        else:
            device = "cpu"
        if self.fake is not None:
            gpu = os.environ.get("CUDA_VISIBLE_DEVICES")
            device = f"fake-gpu {gpu}" if gpu else "fake-cpu"
            return {"model": f"fake {self.fake} ({settings['model']})", "backend": "diffusers-fake",
                    "versions": versions, "device": device}
        return {"model": settings["model"], "backend": "diffusers", "versions": versions, "device": device}

    def item(self, item_id, inp):
        """One item: a result or an error message (never raises for bad input or OOM)."""
        if self.settings is None:
            return send({"type": "error", "id": item_id, "reason": "bad-input", "message": "item received before configure"})
        started = time.perf_counter()
        if not isinstance(inp, dict):
            return self.fail(item_id, "bad-input", "diffusion.edit input must be an object")
        ref, text, seed = inp.get("reference_path"), inp.get("text"), inp.get("seed", 0)
        if not isinstance(ref, str) or not isinstance(text, str):
            return self.fail(item_id, "bad-input", 'diffusion.edit input needs strings "reference_path" and "text"')
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63:
            return self.fail(item_id, "bad-input", f"seed must be a non-negative integer (got {json.dumps(seed)})")
        out_path = inp.get("out_path")
        if out_path is None:
            out_path = os.path.join(self.out_dir, "".join(c if c.isalnum() or c in "._-" else "_" for c in item_id) + ".png")
        if not isinstance(out_path, str) or not os.path.isabs(out_path):
            return self.fail(item_id, "bad-input", f"out_path must be an absolute path (got {json.dumps(out_path)})")
        if not os.path.exists(ref):
            return self.fail(item_id, "input-missing", f"reference image not found: {ref}")
        from PIL import Image

        try:
            with Image.open(ref) as im:
                image = im.convert("RGB")
        except Exception as e:
            return self.fail(item_id, "bad-input", f"cannot decode reference image {ref}: {e}")
        size = self.settings["size"]
        # Explicit square resize (the aspect policy is ours, not the pipeline's preprocessing).
        image = image.resize((size, size), Image.BICUBIC)
        tokens, truncated = count_tokens(self.pipe, text)
        if truncated:
            log(f"item {item_id}: prompt has {tokens} CLIP tokens; the last {truncated} are cut off at the 77-token limit")
        generator = self.runtime.generator(seed)
        self.runtime.reset_peak()
        oom = None
        try:
            out = self.pipe(**call_kwargs(self.settings, text, image, generator)).images[0]
        except Exception as e:
            if not self.runtime.is_oom(e):
                log(f"item {item_id}: the pipeline raised:\n{traceback.format_exc()}")
                if "CUDA error" in str(e):
                    # The CUDA context may be unusable: exit so that pefuse restarts the worker.
                    log("exiting after a CUDA error (pefuse restarts the worker)")
                    os._exit(3)
                return self.fail(
                    item_id, "bad-output", f"the {self.settings['pipeline']} pipeline failed: {type(e).__name__}: {e}"
                )
            first = str(e).splitlines()[0] if str(e) else type(e).__name__
            peak = self.runtime.peak_mb()
            oom = f"out of memory generating item {item_id}" + (f" (peak {peak} MiB)" if peak is not None else "") + f": {first}"
        if oom is not None:
            # The exception (and the tensors its frames held) is gone here: free the cache, then answer;
            # the engine's retry policy decides what happens next.
            generator = image = None
            self.runtime.free()
            return self.fail(item_id, "oom", oom)
        os.makedirs(os.path.dirname(out_path), exist_ok=True)
        tmp = f"{out_path}.{os.getpid()}.tmp"
        try:
            out.save(tmp, format="PNG")
            os.replace(tmp, out_path)
        except Exception as e:
            return self.fail(item_id, "bad-output", f"cannot write {out_path}: {e}")
        output = {"image": {"file": out_path}}
        if tokens is not None:
            output["prompt_tokens"] = tokens
            output["truncated_tokens"] = truncated
        msg = {"type": "result", "id": item_id, "output": output, "seconds": round(time.perf_counter() - started, 4)}
        peak = self.runtime.peak_mb()
        if peak is not None:
            msg["peak_mem_mb"] = peak
        send(msg)

    def fail(self, item_id, reason, message):
        send({"type": "error", "id": item_id, "reason": reason, "message": message})


def serve(fake):
    _claim_stdout()
    worker = Worker(fake)
    for line in sys.stdin:
        if line.strip() == "":
            continue
        try:
            msg = json.loads(line)
        except ValueError:
            log(f"protocol error: not a JSON line: {line[:200]!r}")
            return 2
        t = msg.get("type") if isinstance(msg, dict) else None
        if t == "configure":
            try:
                worker.configure(msg)
            except ConfigError as e:
                log(str(e))
                return 2
        elif t == "item":
            item_id = msg.get("id")
            if not isinstance(item_id, str):
                log("protocol error: item without a string id")
                return 2
            worker.item(item_id, msg.get("input"))
        elif t == "shutdown":
            return 0
        else:
            log(f"protocol error: unknown message type {json.dumps(t)}")
            return 2
    return 0


def probe():
    """Versions and devices as one JSON object on stdout (for `pefuse doctor`)."""
    out = {"worker": WORKER_VERSION, "python": sys.version.split()[0], "executable": sys.executable}
    errors = {}
    for name in ("torch", "diffusers", "transformers", "PIL", "numpy"):
        mod, error = try_import(name)
        out[name] = str(getattr(mod, "__version__", "unknown")) if mod is not None else None
        if error is not None:
            errors[name] = error
    torch = sys.modules.get("torch")
    out["cuda"] = False
    out["gpus"] = []
    if torch is not None:
        try:
            out["cuda"] = bool(torch.cuda.is_available())
            out["cuda_version"] = torch.version.cuda
            if out["cuda"]:
                out["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        except Exception as e:
            errors["cuda"] = f"{type(e).__name__}: {e}"
    out["errors"] = errors
    sys.__stdout__.write(json.dumps(out) + "\n")
    sys.__stdout__.flush()
    return 0


def main(argv):
    fake = os.environ.get(FAKE_ENV) or None
    args = list(argv)
    if "--probe" in args:
        return probe()
    if "--fake-pipeline" in args:
        i = args.index("--fake-pipeline")
        if i + 1 >= len(args):
            sys.stderr.write("--fake-pipeline needs MODULE:CLASS\n")
            return 2
        fake = args[i + 1]
        del args[i : i + 2]
    if args:
        sys.stderr.write(f"unknown arguments: {' '.join(args)}\n{__doc__}")
        return 2
    return serve(fake)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
