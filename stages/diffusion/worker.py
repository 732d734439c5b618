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

Code: this file (protocol, items), diffusion_params.py (configure validation, the pipeline call),
diffusion_runtime.py (torch or its stand-ins, loading, token counts).

Usage:
    python3 worker.py                             serve the protocol (needs torch + diffusers)
    python3 worker.py --probe                     print library versions and CUDA devices as one JSON line
    python3 worker.py --fake-pipeline MOD:CLASS   TEST OPTION: use CLASS instead of diffusers (MOD is a
                                                  module name or a path to a .py file). The same as env
                                                  PEFUSE_DIFFUSION_FAKE=MOD:CLASS. Without torch installed
                                                  the fake mode uses a stand-in CPU generator.
"""

import json
import os
import sys
import time
import traceback

# The two helper modules sit beside this file (a script's folder is first on sys.path).
from diffusion_params import ConfigError, call_kwargs, check_params
from diffusion_runtime import INSTALL_HINT, Runtime, count_tokens, load_pipeline, log, try_import

WORKER_VERSION = "1"
PROTOCOL_VERSION = 1
FAKE_ENV = "PEFUSE_DIFFUSION_FAKE"
KIND = "diffusion.edit"


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
            pil, error = try_import("PIL.Image")
            if pil is None:
                raise ConfigError(f"the diffusers worker needs Pillow ({error}); {INSTALL_HINT}")
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
