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
                                   class with the interface of TransformersMllm (mllm_runtime.py), used instead
                                   of transformers (pefuse passes it from PEFUSE_MLLM_FAKE)

Exit codes: 0 shutdown or end of stdin; 2 protocol error, bad configure or model not loadable (the
message is on stderr; pefuse shows it as a `model-load` failure).
"""

import json
import os
import sys
import threading
import time
from collections import deque

from mllm_inputs import ItemError, batch_size_of, model_of, request_of, sampling_of
from mllm_runtime import SetupError, TransformersMllm, log, probe

PROTOCOL = 1
KINDS = ("mllm.compose", "mllm.caption")

# Quiet libraries before anything imports them: no progress bars, no advisory prints.
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


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
# Models. A model class: __init__(model_id, revision, options); attributes `versions` (dict), `device`
# (str); generate(batch, sampling, seed) -> one {text, prompt_tokens, completion_tokens,
# finish_reason} per request of `batch` ({image, prompt, system}); reset_peak() and peak_mem_mb()
# (float or None). An exception whose text says "out of memory" is reported as `oom`.


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
