"""The worker's torch paths: CPU generator seeding (with torch), peak GPU memory and a real CUDA
out-of-memory error. Skipped where torch (or CUDA) is absent, as on CI; run on a GPU machine with
    python3 -m unittest discover -s test/python -p 'test_torch*'
"""

import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import unittest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
WORKER = os.path.join(ROOT, "stages", "diffusion", "worker.py")
FAKE = os.path.join(ROOT, "test", "fixtures", "diffusion", "torch_fake_pipeline.py") + ":TorchFakePipeline"
HAS_TORCH = importlib.util.find_spec("torch") is not None and importlib.util.find_spec("PIL") is not None


def cuda_available():
    if not HAS_TORCH:
        return False
    import torch

    return torch.cuda.is_available()


@unittest.skipUnless(HAS_TORCH, "torch (and PIL) not installed for this interpreter")
class TorchPaths(unittest.TestCase):
    def run_items(self, items, dtype="fp16"):
        with tempfile.TemporaryDirectory(prefix="pefuse-torch-") as d:
            from PIL import Image

            ref = os.path.join(d, "ref.png")
            Image.new("RGB", (30, 20), (1, 2, 3)).save(ref)
            log = os.path.join(d, "log.jsonl")
            msgs = [
                {
                    "type": "configure",
                    "protocol": 1,
                    "kind": "diffusion.edit",
                    "params": {"pipeline": "sdxl-instructpix2pix", "guidance_scale": 7.5, "image_guidance_scale": 3.0,
                               "steps": 30, "size": 64, "dtype": dtype},
                    "model": {"backend": "diffusers", "pipeline": "sdxl-instructpix2pix", "model": "m"},
                }
            ] + [
                {"type": "item", "id": f"i{n}", "input": {"reference_path": ref, "text": text, "seed": seed}}
                for n, (text, seed) in enumerate(items)
            ]
            env = dict(os.environ, PEFUSE_FAKE_LOG=log, PEFUSE_WORKER_TMP=d)
            p = subprocess.run(
                [sys.executable, WORKER, "--fake-pipeline", FAKE],
                input="".join(json.dumps(m) + "\n" for m in msgs),
                capture_output=True, text=True, env=env, timeout=300,
            )
            self.assertEqual(p.returncode, 0, p.stderr)
            out = [json.loads(x) for x in p.stdout.split("\n") if x]
            with open(log, encoding="utf-8") as f:
                calls = [json.loads(x) for x in f if x.strip()]
            return out, calls, p.stderr

    def test_cpu_generator_seeding(self):
        out, calls, err = self.run_items([("a", 5), ("b", 5), ("c", 6)])
        self.assertEqual([m["type"] for m in out], ["ready", "result", "result", "result"], err)
        self.assertEqual({c["generator"] for c in calls}, {"torch._C.Generator"})
        self.assertEqual({c["generator_device"] for c in calls}, {"cpu"})
        self.assertEqual([c["seed"] for c in calls], [5, 5, 6])
        self.assertEqual(calls[0]["noise"], calls[1]["noise"])
        self.assertNotEqual(calls[0]["noise"], calls[2]["noise"])
        self.assertEqual(calls[0]["dtype"], "torch.float16")
        print(f"\n  torch path, CPU generator: seed 5 -> noise {calls[0]['noise']}, seed 6 -> {calls[2]['noise']}",
              file=sys.stderr)

    @unittest.skipUnless(cuda_available(), "no CUDA device")
    def test_peak_memory_and_real_oom(self):
        out, calls, err = self.run_items([("a", 1), ("FAKE-OOM", 2), ("c", 3)], dtype="bf16")
        ready, a, oom, c = out
        self.assertTrue(ready["identity"]["device"].startswith("cuda"), ready)
        self.assertIn("cuda", ready["identity"]["versions"])
        self.assertGreaterEqual(a["peak_mem_mb"], 64)
        self.assertEqual(oom["type"], "error")
        self.assertEqual(oom["reason"], "oom")
        self.assertIn("out of memory", oom["message"])
        self.assertEqual(c["type"], "result")
        # What the failed call held was freed: the next call starts where the first one did.
        self.assertEqual(calls[2]["allocated_at_start"], calls[0]["allocated_at_start"])
        print(f"\n  torch path, CUDA: {ready['identity']['device']}, peak {a['peak_mem_mb']} MiB; oom -> {oom['message']}",
              file=sys.stderr)


if __name__ == "__main__":
    unittest.main()
