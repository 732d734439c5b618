"""Model side of the transformers MLLM worker (worker.py holds the protocol): loading Qwen2.5-VL or
LLaVA-1.5 through transformers, generating with explicit sampling and per-description seeds, and the
`--probe` report for `pefuse doctor`. Imported by worker.py, which runs with this folder on sys.path.
"""

import copy
import os
import sys
import time

INSTALL_HINT = '"${PEFUSE_PYTHON:-python3}" -m pip install -r requirements-gpu.txt'


class SetupError(Exception):
    """The worker cannot serve this configure (missing library, unknown model, bad params)."""


def log(message):
    sys.stderr.write(message.rstrip("\n") + "\n")
    sys.stderr.flush()


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
