#!/usr/bin/env python3
"""pefuse MLLM worker for `mllm.backend: transformers` (README "Worker protocol", "MLLM on a local GPU").

Loads Qwen2.5-VL (3B/7B) or LLaVA-1.5 once through Hugging Face transformers and answers the stages
`mllm.compose` and `mllm.caption` over pefuse's JSON-lines protocol (runner/exec/protocol.ts):

    configure {kind, params, model, features}  ->  ready {identity, batch_size?}
    item {id, input}                           ->  result {id, output, seconds, peak_mem_mb} | error
    flush                                      (run the queued items as a partial batch)
    shutdown / end of stdin                    ->  exit 0

Item input (built by stages/mllm/transformers.ts; seeds are derived there, never here):
    {"image_path": "/abs/img.png", "prompt": "...", "system": "You are a helpful assistant.",
     "seeds": [1234, ...]}          one description per seed (`mllm.descriptions`)
Output:
    {"text", "tokens", "finish_reason", "prompt_tokens", "completion_tokens", "seed",
     "texts"?, "descriptions"? (several descriptions), "batch"? (items generated together, when > 1)}

Sampling is always explicit (temperature, top_p, top_k, repetition_penalty, max_tokens), so the
model's generation_config.json never silently wins (models.md 1.2); temperature 0 is greedy decoding.
Seeding: with `batch_size` 1 (the default) the RNG is seeded with each description's seed right
before its generate call, so an item's text depends only on its own seed. With `batch_size` > 1 the
queued items run together with left padding and ONE RNG per batch (seeded with the batch's first
seed): outputs then depend on the batch composition and are not reproducible per item.

Modes:
    worker.py                      the protocol on stdin/stdout (stdout carries protocol lines only:
                                   file descriptor 1 is pointed at stderr, native prints included)
    worker.py --probe              one JSON line: Python, torch, transformers, accelerate, PIL, numpy,
                                   CUDA and the visible GPUs (`pefuse doctor`)
    worker.py --fake-model SPEC    test option: SPEC is `module:Class` or `/path/file.py:Class`, a
                                   class with the interface of TransformersMllm below, used instead
                                   of transformers (pefuse passes it from PEFUSE_MLLM_FAKE)

Exit codes: 0 shutdown or end of stdin; 2 protocol error, bad configure or model not loadable (the
message is on stderr; pefuse shows it as a `model-load` failure).
"""

import copy
import json
import os
import sys
import threading
import time
from collections import deque

PROTOCOL = 1
KINDS = ("mllm.compose", "mllm.caption")
DEFAULT_SYSTEM = "You are a helpful assistant."
INSTALL_HINT = '"${PEFUSE_PYTHON:-python3}" -m pip install -r requirements-gpu.txt'

# Quiet libraries before anything imports them: no progress bars, no advisory prints.
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


class SetupError(Exception):
    """The worker cannot serve this configure (missing library, unknown model, bad params)."""


class ItemError(Exception):
    """One item cannot be done; `reason` is a protocol error reason."""

    def __init__(self, reason, message):
        super().__init__(message)
        self.reason = reason


def log(message):
    sys.stderr.write(message.rstrip("\n") + "\n")
    sys.stderr.flush()


def claim_stdout():
    """Keeps the real stdout for protocol lines; everything else written to fd 1 goes to stderr."""
    sys.stdout.flush()
    proto_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return os.fdopen(proto_fd, "w", encoding="utf-8", buffering=1)


class Protocol:
    def __init__(self, stream):
        self.stream = stream
        self.broken = False

    def say(self, msg):
        if self.broken:
            return
        try:
            self.stream.write(json.dumps(msg, ensure_ascii=False, allow_nan=False) + "\n")
            self.stream.flush()
        except (BrokenPipeError, OSError):
            # pefuse is gone: nothing left to answer to.
            self.broken = True


# ---------------------------------------------------------------------------------------------------
# Reading stdin: a reader thread fills a queue, so the main loop can see what is already queued.


class Inbox:
    def __init__(self, stream):
        self.cv = threading.Condition()
        self.msgs = deque()
        self.eof = False
        t = threading.Thread(target=self._read, args=(stream,), daemon=True)
        t.start()

    def _read(self, stream):
        try:
            for line in stream:
                line = line.strip()
                if not line:
                    continue
                try:
                    msg = json.loads(line)
                except ValueError:
                    msg = None
                if not isinstance(msg, dict):
                    msg = {"type": "_junk", "line": line[:200]}
                with self.cv:
                    self.msgs.append(msg)
                    self.cv.notify_all()
        finally:
            with self.cv:
                self.eof = True
                self.cv.notify_all()

    def next(self, batch_size):
        """The next control message, or a list of items ready to run (a batch).

        Items run when `batch_size` of them are queued, or when something after them releases them:
        a flush, another message (configure, shutdown), or the end of stdin. Returns None at the end
        of stdin (queued items are dropped then, unless a shutdown follows them).
        """
        with self.cv:
            while True:
                # pefuse closed stdin without a shutdown: it is gone (even kill -9), so free the GPU now
                # instead of computing answers nobody reads.
                if self.eof and not any(m.get("type") == "shutdown" for m in self.msgs):
                    return None
                if not self.msgs:
                    self.cv.wait()
                    continue
                head = self.msgs[0]
                if head.get("type") == "flush":
                    self.msgs.popleft()
                    continue
                if head.get("type") != "item":
                    return self.msgs.popleft()
                n = 0
                released = self.eof
                for m in self.msgs:
                    if m.get("type") == "item":
                        n += 1
                        if n >= batch_size:
                            break
                    else:
                        released = True
                        break
                if n >= batch_size or released:
                    return [self.msgs.popleft() for _ in range(min(n, batch_size))]
                self.cv.wait()


# ---------------------------------------------------------------------------------------------------
# Parameters and inputs


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


# ---------------------------------------------------------------------------------------------------
# Models. A model class: __init__(model_id, revision, options); attributes `versions` (dict), `device`
# (str); generate(batch, sampling, seed) -> one {text, prompt_tokens, completion_tokens,
# finish_reason} per request of `batch` ({image, prompt, system}); reset_peak() and peak_mem_mb()
# (float or None). An exception whose text says "out of memory" is reported as `oom`.


class TransformersMllm:
    """Qwen2.5-VL or LLaVA-1.5 through transformers, on cuda:0 when CUDA is there (models.md 1.8)."""

    def __init__(self, model_id, revision, options):
        try:
            import torch
            import transformers
        except ImportError as e:
            raise SetupError(
                f"the transformers backend needs torch and transformers in {sys.executable} "
                f"({e}); install them with {INSTALL_HINT}, or point PEFUSE_PYTHON at a Python that has them"
            ) from e
        try:
            import accelerate  # noqa: F401  (low-memory loading; listed in requirements-gpu.txt)

            accel = accelerate.__version__
        except ImportError:
            accel = None
        from transformers import AutoConfig, AutoProcessor

        self.torch = torch
        self.cuda = torch.cuda.is_available()
        self.device = "cuda:0" if self.cuda else "cpu"
        try:
            config = AutoConfig.from_pretrained(model_id, revision=revision)
        except (OSError, ValueError, KeyError) as e:
            raise SetupError(f"cannot read the config of {model_id}: {e}") from e
        kind = getattr(config, "model_type", "")
        if kind == "qwen2_5_vl":
            from transformers import Qwen2_5_VLForConditionalGeneration as cls
        elif kind == "llava":
            from transformers import LlavaForConditionalGeneration as cls
        else:
            raise SetupError(
                f"{model_id} is a {kind!r} model; the transformers worker runs Qwen2.5-VL (qwen2_5_vl) and LLaVA-1.5 (llava)"
            )
        self.family = kind
        dtypes = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}
        dtype = dtypes[options.get("dtype") or ("bf16" if self.cuda else "fp32")]
        self.dtype = dtype
        attn = options.get("attn_implementation") or "sdpa"
        log(f"[worker] loading {model_id} ({kind}, {dtype}, attention {attn}) on {self.device}")
        t0 = time.perf_counter()
        load = dict(revision=revision, torch_dtype=dtype, attn_implementation=attn, low_cpu_mem_usage=True)
        if accel:
            # accelerate puts the weights straight onto the device instead of staging them in host memory.
            self.model = cls.from_pretrained(model_id, device_map={"": self.device}, **load)
        else:
            self.model = cls.from_pretrained(model_id, **load).to(self.device)
        self.model.eval()
        proc_kwargs = {}
        if kind == "qwen2_5_vl":
            for k in ("min_pixels", "max_pixels"):
                if isinstance(options.get(k), int):
                    proc_kwargs[k] = options[k]
        self.processor = AutoProcessor.from_pretrained(model_id, revision=revision, **proc_kwargs)
        # Batched generation pads on the left (models.md 1.8).
        self.processor.tokenizer.padding_side = "left"
        tok = self.processor.tokenizer
        self.pad_id = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
        eos = self.model.generation_config.eos_token_id
        self.eos_ids = set(eos if isinstance(eos, list) else [eos] if eos is not None else [])
        if tok.eos_token_id is not None:
            self.eos_ids.add(tok.eos_token_id)
        log(f"[worker] loaded in {time.perf_counter() - t0:.1f} s")
        self.versions = {"torch": torch.__version__, "transformers": transformers.__version__}
        if accel:
            self.versions["accelerate"] = accel
        if self.cuda:
            self.versions["cuda"] = str(torch.version.cuda)
            self.versions["gpu"] = torch.cuda.get_device_name(0)

    def _generation_config(self, s):
        g = copy.deepcopy(self.model.generation_config)
        g.max_new_tokens = s["max_tokens"]
        g.repetition_penalty = float(s["repetition_penalty"])
        g.num_beams = 1
        g.num_return_sequences = 1
        g.pad_token_id = self.pad_id
        if s["greedy"]:
            # Neutral values: unused by greedy search, and no "do_sample is False but ..." warnings.
            g.do_sample, g.temperature, g.top_p, g.top_k = False, 1.0, 1.0, 50
        else:
            g.do_sample = True
            g.temperature = float(s["temperature"])
            g.top_p = float(s["top_p"])
            g.top_k = s["top_k"]
        return g

    def generate(self, batch, sampling, seed):
        torch = self.torch
        texts = []
        for r in batch:
            conversation = [
                {"role": "system", "content": [{"type": "text", "text": r["system"]}]},
                {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": r["prompt"]}]},
            ]
            texts.append(
                self.processor.apply_chat_template(conversation, tokenize=False, add_generation_prompt=True)
            )
        inputs = self.processor(
            text=texts, images=[r["image"] for r in batch], padding=True, return_tensors="pt"
        ).to(self.device, dtype=self.dtype)  # casts only the floating tensors (pixel values)
        config = self._generation_config(sampling)
        # One RNG stream for this call: seeds torch's CPU and every CUDA generator.
        torch.manual_seed(seed)
        with torch.inference_mode():
            out = self.model.generate(**inputs, generation_config=config)
        prompt_len = inputs["input_ids"].shape[1]
        results = []
        for i in range(len(batch)):
            ids = out[i, prompt_len:].tolist()
            n = len(ids)
            for j, t in enumerate(ids):
                if t in self.eos_ids:
                    n = j + 1
                    break
            stopped = n > 0 and ids[n - 1] in self.eos_ids
            text = self.processor.tokenizer.decode(ids[:n], skip_special_tokens=True).strip()
            results.append(
                {
                    "text": text,
                    "prompt_tokens": int(inputs["attention_mask"][i].sum().item()),
                    "completion_tokens": n,
                    "finish_reason": "stop" if stopped or n < sampling["max_tokens"] else "length",
                }
            )
        return results

    def reset_peak(self):
        if self.cuda:
            self.torch.cuda.reset_peak_memory_stats(0)

    def peak_mem_mb(self):
        if not self.cuda:
            return None
        return round(self.torch.cuda.max_memory_allocated(0) / 2**20, 1)

    def after_oom(self):
        if self.cuda:
            self.torch.cuda.empty_cache()


def load_class(spec):
    """`module:Class` (importable) or `/path/file.py:Class`."""
    import importlib
    import importlib.util

    mod_name, sep, cls_name = spec.rpartition(":")
    if not sep or not mod_name or not cls_name:
        raise SetupError(f"--fake-model wants module:Class or /path/file.py:Class (got {spec!r})")
    try:
        if mod_name.endswith(".py"):
            if not os.path.isfile(mod_name):
                raise SetupError(f"fake model file not found: {mod_name}")
            loader = importlib.util.spec_from_file_location("pefuse_fake_mllm", mod_name)
            module = importlib.util.module_from_spec(loader)
            loader.loader.exec_module(module)
        else:
            module = importlib.import_module(mod_name)
    except ImportError as e:
        raise SetupError(f"cannot import the fake model {spec}: {e}") from e
    cls = getattr(module, cls_name, None)
    if cls is None:
        raise SetupError(f"{mod_name} has no class {cls_name}")
    return cls


# ---------------------------------------------------------------------------------------------------
# The worker


class Worker:
    def __init__(self, proto, fake):
        self.proto = proto
        self.fake = fake
        self.model = None
        self.model_key = None
        self.sampling = None
        self.kind = None
        self.batch_size = 1

    def configure(self, msg):
        if msg.get("protocol") != PROTOCOL:
            raise SetupError(f"this worker speaks protocol {PROTOCOL}, pefuse sent {msg.get('protocol')!r}")
        kind = msg.get("kind")
        if kind not in KINDS:
            raise SetupError(f"the transformers MLLM worker runs {' and '.join(KINDS)}, not {kind!r}")
        params = msg.get("params") if isinstance(msg.get("params"), dict) else {}
        features = msg.get("features") if isinstance(msg.get("features"), list) else []
        sampling = sampling_of(params)
        batch_size = batch_size_of(params, features)
        model_id, revision = model_of(msg.get("model"))
        options = {k: params[k] for k in ("dtype", "attn_implementation", "min_pixels", "max_pixels") if k in params}
        key = (model_id, revision, json.dumps(options, sort_keys=True))
        if self.model is None or self.model_key != key:
            self.model = None
            cls = load_class(self.fake) if self.fake else TransformersMllm
            try:
                self.model = cls(model_id, revision, options)
            except SetupError:
                raise
            except Exception as e:  # a download or weight-loading problem: say what, not a traceback
                raise SetupError(f"cannot load {model_id}: {type(e).__name__}: {e}") from e
            self.model_key = key
        self.kind, self.sampling, self.batch_size = kind, sampling, batch_size
        versions = {str(k): str(v) for k, v in dict(getattr(self.model, "versions", {})).items()}
        if self.fake:
            versions["fake"] = self.fake
        ready = {
            "type": "ready",
            "protocol": PROTOCOL,
            "identity": {
                "model": model_id,
                "backend": "transformers-fake" if self.fake else "transformers",
                "versions": versions,
                "device": str(getattr(self.model, "device", "cpu")),
            },
        }
        if batch_size > 1:
            ready["batch_size"] = batch_size
        self.proto.say(ready)

    def run_items(self, msgs):
        """Answers a batch of item messages, in order."""
        if self.model is None:
            for m in msgs:
                self.proto.say(
                    {"type": "error", "id": str(m.get("id")), "reason": "bad-input", "message": "item received before configure"}
                )
            return
        t0 = time.perf_counter()
        ok = []  # (id, request)
        answers = {}
        for m in msgs:
            mid = m.get("id")
            if not isinstance(mid, str):
                log(f"[worker] item without a string id ignored: {json.dumps(m)[:200]}")
                continue
            try:
                ok.append((mid, request_of(m)))
            except ItemError as e:
                answers[mid] = {"type": "error", "id": mid, "reason": e.reason, "message": str(e)}
        if len(ok) == 1 or (ok and self.batch_size == 1):
            for mid, req in ok:
                answers[mid] = self._one(mid, req)
        elif ok:
            answers.update(self._batch(ok, t0))
        for m in msgs:
            mid = m.get("id")
            if isinstance(mid, str) and mid in answers:
                self.proto.say(answers.pop(mid))

    def _call(self, batch, seed):
        """Runs one generate call: (results, peak_mem_mb); raises ItemError."""
        model = self.model
        if hasattr(model, "reset_peak"):
            model.reset_peak()
        try:
            results = model.generate(batch, dict(self.sampling), seed)
        except Exception as e:  # noqa: BLE001 (every failure becomes an item error with its message)
            text = f"{type(e).__name__}: {e}"
            if "out of memory" in text.lower() or type(e).__name__ == "OutOfMemoryError":
                if hasattr(model, "after_oom"):
                    model.after_oom()
                raise ItemError("oom", f"out of memory: {text}"[:2000]) from e
            import traceback

            log(traceback.format_exc())
            raise ItemError("bad-input", f"generation failed: {text}"[:2000]) from e
        if not isinstance(results, list) or len(results) != len(batch):
            raise ItemError("bad-output", f"the model returned {type(results).__name__} for {len(batch)} request(s)")
        for r in results:
            if not isinstance(r, dict) or not isinstance(r.get("text"), str):
                raise ItemError("bad-output", "the model returned a result without a text")
            if not r["text"].strip():
                raise ItemError("bad-output", "the model answered an empty text")
        peak = model.peak_mem_mb() if hasattr(model, "peak_mem_mb") else None
        return results, peak

    def _one(self, mid, req):
        """One item, one generate call per seed, each seeded with its own seed: exact per item."""
        t0 = time.perf_counter()
        descs, peak = [], None
        try:
            for seed in req["seeds"]:
                results, p = self._call([req], seed)
                if p is not None:
                    peak = p if peak is None else max(peak, p)
                descs.append(dict(results[0], seed=seed))
        except ItemError as e:
            return {"type": "error", "id": mid, "reason": e.reason, "message": str(e)}
        return self._result(mid, descs, time.perf_counter() - t0, peak, 1)

    def _batch(self, reqs, t0):
        """Several items together (left padding): one call per description index, one RNG per call."""
        n_desc = max(len(r["seeds"]) for _, r in reqs)
        descs = {mid: [] for mid, _ in reqs}
        peak = None
        try:
            for d in range(n_desc):
                part = [(mid, r) for mid, r in reqs if d < len(r["seeds"])]
                batch = [{"image": r["image"], "prompt": r["prompt"], "system": r["system"]} for _, r in part]
                results, p = self._call(batch, part[0][1]["seeds"][d])
                if p is not None:
                    peak = p if peak is None else max(peak, p)
                for (mid, r), res in zip(part, results):
                    descs[mid].append(dict(res, seed=r["seeds"][d]))
        except ItemError as e:
            return {mid: {"type": "error", "id": mid, "reason": e.reason, "message": str(e)} for mid, _ in reqs}
        seconds = (time.perf_counter() - t0) / len(reqs)  # the batch's time, shared evenly
        return {mid: self._result(mid, descs[mid], seconds, peak, len(reqs)) for mid, _ in reqs}

    def _result(self, mid, descs, seconds, peak, batch):
        first = descs[0]
        output = {
            "text": first["text"].strip(),
            "tokens": first.get("completion_tokens"),
            "finish_reason": first.get("finish_reason"),
            "prompt_tokens": first.get("prompt_tokens"),
            "completion_tokens": first.get("completion_tokens"),
            "seed": first["seed"],
        }
        if len(descs) > 1:
            output["texts"] = [d["text"].strip() for d in descs]
            output["descriptions"] = [
                {k: d.get(k) for k in ("text", "seed", "finish_reason", "prompt_tokens", "completion_tokens")}
                for d in descs
            ]
        if batch > 1:
            output["batch"] = batch
        msg = {"type": "result", "id": mid, "output": output, "seconds": round(seconds, 6)}
        msg["peak_mem_mb"] = peak
        return msg

    def serve(self, inbox):
        while True:
            got = inbox.next(self.batch_size)
            if got is None:
                return 0  # stdin closed: pefuse is gone or done
            if isinstance(got, list):
                self.run_items(got)
                continue
            kind = got.get("type")
            if kind == "configure":
                try:
                    self.configure(got)
                except SetupError as e:
                    log(f"pefuse transformers worker: {e}")
                    return 2
            elif kind == "shutdown":
                return 0
            elif kind == "_junk":
                log(f"pefuse transformers worker: protocol error: not a JSON object line: {got['line']}")
                return 2
            else:
                log(f"[worker] ignoring unknown message type {kind!r}")


# ---------------------------------------------------------------------------------------------------
# --probe


def probe():
    out = {
        "worker": "mllm-transformers",
        "python": sys.version.split()[0],
        "executable": sys.executable,
        "torch": None,
        "transformers": None,
        "accelerate": None,
        "PIL": None,
        "numpy": None,
        "cuda": False,
        "cuda_version": None,
        "gpus": [],
        "errors": {},
    }
    for name in ("numpy", "PIL", "transformers", "accelerate", "torch"):
        try:
            mod = __import__(name)
            out[name] = str(getattr(mod, "__version__", "?"))
        except Exception as e:  # noqa: BLE001 (a broken install must be reported, not crash the probe)
            out["errors"][name] = f"{type(e).__name__}: {e}"
    if out["torch"] is not None:
        try:
            import torch

            out["cuda_version"] = torch.version.cuda
            out["cuda"] = bool(torch.cuda.is_available())
            if out["cuda"]:
                for i in range(torch.cuda.device_count()):
                    p = torch.cuda.get_device_properties(i)
                    out["gpus"].append(
                        {"index": i, "name": p.name, "memory_mb": round(p.total_memory / 2**20)}
                    )
        except Exception as e:  # noqa: BLE001
            out["errors"]["cuda"] = f"{type(e).__name__}: {e}"
    out["cuda_visible_devices"] = os.environ.get("CUDA_VISIBLE_DEVICES")
    return out


def main(argv):
    proto_stream = claim_stdout()
    proto = Protocol(proto_stream)
    args = list(argv)
    if args == ["--probe"]:
        proto.say(probe())
        return 0
    fake = None
    if len(args) == 2 and args[0] == "--fake-model":
        fake = args[1]
    elif args:
        log("usage: worker.py [--probe | --fake-model module:Class]")
        return 2
    if fake:
        log(f"[worker] TEST OPTION: fake model {fake} instead of transformers")
    worker = Worker(proto, fake)
    try:
        return worker.serve(Inbox(sys.stdin))
    except SetupError as e:
        log(f"pefuse transformers worker: {e}")
        return 2


if __name__ == "__main__":
    code = main(sys.argv[1:])
    sys.stderr.flush()
    # Skip interpreter teardown (CUDA contexts, daemon reader thread): the answers are written.
    os._exit(code)
