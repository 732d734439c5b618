"""Tests of stages/diffusion/worker.py driven over its protocol with the fake pipeline.

Run with Debian's interpreter (standard library, numpy and PIL only):
    /usr/bin/python3 -m unittest discover -s test/python
`npm test` runs them through test/stages/diffusion/python.test.ts.
"""

import hashlib
import json
import os
import subprocess
import sys
import tempfile
import unittest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
WORKER = os.path.join(ROOT, "stages", "diffusion", "worker.py")
FAKE = os.path.join(ROOT, "test", "fixtures", "diffusion", "fake_pipeline.py") + ":FakePipeline"

IP2P = {
    "params": {
        "pipeline": "sdxl-instructpix2pix",
        "text": "caption",
        "guidance_scale": 7.5,
        "image_guidance_scale": 3.0,
        "steps": 30,
        "size": 64,
        "dtype": "bf16",
        "seed": 0,
    },
    "model": {"backend": "diffusers", "pipeline": "sdxl-instructpix2pix", "model": "diffusers/sdxl-instructpix2pix-768"},
}
TURBO = {
    "params": {
        "pipeline": "sdxl-turbo",
        "text": "caption",
        "guidance_scale": 0.0,
        "strength": 0.5,
        "steps": 2,
        "size": 72,
        "dtype": "fp16",
        "seed": 0,
    },
    "model": {"backend": "diffusers", "pipeline": "sdxl-turbo", "model": "stabilityai/sdxl-turbo"},
}


def configure(cfg, **params):
    p = dict(cfg["params"])
    p.update(params)
    return {"type": "configure", "protocol": 1, "kind": "diffusion.edit", "params": p, "model": cfg["model"]}


class WorkerCase(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="pefuse-py-")
        self.dir = self.tmp.name
        self.log = os.path.join(self.dir, "fake.jsonl")
        from PIL import Image

        self.ref = os.path.join(self.dir, "ref.png")
        Image.new("RGB", (40, 24), (200, 30, 30)).save(self.ref)

    def tearDown(self):
        self.tmp.cleanup()

    def run_worker(self, messages, fake=True, args=(), env=None):
        """Runs the worker over `messages`; returns (exit code, parsed stdout lines, raw stdout, stderr)."""
        e = dict(os.environ)
        e.pop("PEFUSE_DIFFUSION_FAKE", None)
        e.update({"PEFUSE_FAKE_LOG": self.log, "PEFUSE_WORKER_TMP": self.dir})
        e.update(env or {})
        argv = [sys.executable, WORKER, *args] + (["--fake-pipeline", FAKE] if fake else [])
        stdin = "".join(json.dumps(m) + "\n" for m in messages)
        p = subprocess.run(argv, input=stdin, capture_output=True, text=True, env=e, timeout=60)
        lines = [ln for ln in p.stdout.split("\n") if ln != ""]
        return p.returncode, [json.loads(ln) for ln in lines], p.stdout, p.stderr

    def item(self, item_id, text="make it blue", seed=7, **extra):
        return {"type": "item", "id": item_id, "input": {"reference_path": self.ref, "text": text, "seed": seed, **extra}}

    def calls(self):
        if not os.path.exists(self.log):
            return []
        with open(self.log, encoding="utf-8") as f:
            return [json.loads(ln) for ln in f if ln.strip()]


class Protocol(WorkerCase):
    def test_handshake_result_and_clean_stdout(self):
        code, msgs, raw, err = self.run_worker([configure(IP2P), self.item("q1"), {"type": "shutdown"}])
        self.assertEqual(code, 0, err)
        # Every stdout line is a protocol line although the fake prints to stdout (print and fd 1).
        self.assertEqual([m["type"] for m in msgs], ["ready", "result"])
        self.assertEqual(len(raw.strip().split("\n")), 2)
        self.assertIn("junk on stdout", err)
        self.assertIn("raw fd-1 junk", err)
        ready = msgs[0]
        self.assertEqual(ready["protocol"], 1)
        self.assertEqual(ready["identity"]["backend"], "diffusers-fake")
        self.assertIn("fake", ready["identity"]["model"])
        self.assertEqual(ready["identity"]["versions"]["pefuse-diffusion-worker"], "1")
        res = msgs[1]
        self.assertEqual(res["id"], "q1")
        path = res["output"]["image"]["file"]
        self.assertTrue(os.path.isabs(path) and os.path.exists(path), path)
        self.assertTrue(path.startswith(self.dir))
        with open(path, "rb") as f:
            self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n")
        self.assertGreaterEqual(res["seconds"], 0)
        self.assertNotIn("peak_mem_mb", res)  # no CUDA here
        self.assertEqual(res["output"]["prompt_tokens"], 5)
        self.assertEqual(res["output"]["truncated_tokens"], 0)

    def test_exits_when_stdin_closes_and_honours_out_path(self):
        out = os.path.join(self.dir, "sub", "x.png")
        code, msgs, _, err = self.run_worker([configure(IP2P), self.item("q1", out_path=out)])
        self.assertEqual(code, 0, err)
        self.assertEqual(msgs[1]["output"]["image"]["file"], out)
        self.assertTrue(os.path.exists(out))
        self.assertEqual([f for f in os.listdir(os.path.dirname(out)) if f.endswith(".tmp")], [])

    def test_ip2p_call_is_explicit_and_input_resized(self):
        self.run_worker([configure(IP2P), self.item("q1")])
        load, call = self.calls()
        self.assertEqual(load["event"], "load")
        self.assertEqual(load["model"], "diffusers/sdxl-instructpix2pix-768")
        self.assertEqual(load["kwargs"]["add_watermarker"], "False")
        self.assertEqual(load["kwargs"]["torch_dtype"], "bf16")
        self.assertEqual(
            call["kwargs"],
            {
                "num_inference_steps": 30,
                "guidance_scale": 7.5,
                "image_guidance_scale": 3.0,
                "height": 64,
                "width": 64,
                "output_type": "pil",
            },
        )
        self.assertEqual(call["image_size"], [64, 64])
        self.assertEqual(call["generator_device"], "cpu")
        self.assertTrue(call["watermark_off"])
        self.assertEqual(call["progress"], {"disable": True})

    def test_turbo_call_has_strength_and_no_image_guidance(self):
        code, msgs, _, err = self.run_worker([configure(TURBO), self.item("q1")])
        self.assertEqual(code, 0, err)
        load, call = self.calls()
        self.assertEqual(
            call["kwargs"],
            {"num_inference_steps": 2, "guidance_scale": 0.0, "strength": 0.5, "output_type": "pil"},
        )
        self.assertEqual(call["image_size"], [72, 72])
        self.assertEqual(load["kwargs"]["add_watermarker"], "False")

    def test_generic_pipeline_gets_no_watermarker_argument_but_watermark_off(self):
        cfg = {"params": dict(TURBO["params"], pipeline="generic", strength=0.8, steps=10),
               "model": {"backend": "diffusers", "pipeline": "generic", "model": "some/img2img"}}
        code, _, _, err = self.run_worker([configure(cfg), self.item("q1")])
        self.assertEqual(code, 0, err)
        load, call = self.calls()
        self.assertNotIn("add_watermarker", load["kwargs"])
        self.assertTrue(call["watermark_off"])
        self.assertEqual(call["kwargs"]["strength"], 0.8)

    def test_reconfigure_keeps_the_loaded_pipeline(self):
        code, msgs, _, err = self.run_worker(
            [configure(IP2P), self.item("a"), configure(IP2P, guidance_scale=3.0), self.item("b")]
        )
        self.assertEqual(code, 0, err)
        self.assertEqual([m["type"] for m in msgs], ["ready", "result", "ready", "result"])
        events = self.calls()
        self.assertEqual([e["event"] for e in events], ["load", "call", "call"])
        self.assertEqual([e["kwargs"]["guidance_scale"] for e in events[1:]], [7.5, 3.0])

    def test_protocol_violation_exits_2(self):
        code, msgs, _, err = self.run_worker([{"type": "bogus"}])
        self.assertEqual(code, 2)
        self.assertEqual(msgs, [])
        self.assertIn("unknown message type", err)


class Seeding(WorkerCase):
    def test_same_seed_same_call_and_image_different_seed_differs(self):
        code, msgs, _, err = self.run_worker(
            [configure(IP2P), self.item("a", seed=11), self.item("b", seed=11), self.item("c", seed=12)]
        )
        self.assertEqual(code, 0, err)
        calls = [c for c in self.calls() if c["event"] == "call"]
        self.assertEqual([c["seed"] for c in calls], [11, 11, 12])
        self.assertEqual(calls[0]["kwargs"], calls[1]["kwargs"])
        digest = []
        for m in msgs[1:]:
            with open(m["output"]["image"]["file"], "rb") as f:
                digest.append(hashlib.sha256(f.read()).hexdigest())
        self.assertEqual(digest[0], digest[1])
        self.assertNotEqual(digest[0], digest[2])

    def test_a_seed_does_not_depend_on_what_ran_before(self):
        # Item order (batching, which worker) does not change an item's generator seed.
        self.run_worker([configure(IP2P), self.item("x", seed=3), self.item("y", seed=4)])
        first = {c["prompt"] + str(c["seed"]) for c in self.calls() if c["event"] == "call"}
        os.remove(self.log)
        self.run_worker([configure(IP2P), self.item("y", seed=4), self.item("x", seed=3)])
        second = {c["prompt"] + str(c["seed"]) for c in self.calls() if c["event"] == "call"}
        self.assertEqual(first, second)

    def test_different_repeat_seeds_reach_the_generator(self):
        # pefuse derives the item seed from (spec seed, repeat, item id) (stages/dummy/items.ts
        # itemSeed); the worker must hand each one unchanged to its CPU generator.
        seeds = [0, 1, 2**32 - 1]
        self.run_worker([configure(IP2P), *[self.item(f"r{s}", seed=s) for s in seeds]])
        self.assertEqual([c["seed"] for c in self.calls() if c["event"] == "call"], seeds)

    def test_bad_seed_is_bad_input(self):
        code, msgs, _, _ = self.run_worker([configure(IP2P), self.item("a", seed=-1), self.item("b", seed="x")])
        self.assertEqual(code, 0)
        self.assertEqual([(m["id"], m["reason"]) for m in msgs[1:]], [("a", "bad-input"), ("b", "bad-input")])


class Validation(WorkerCase):
    def refused(self, msg, needle):
        code, msgs, _, err = self.run_worker([msg, self.item("q1")])
        self.assertEqual(code, 2, err)
        self.assertEqual(msgs, [])  # no ready, nothing else
        self.assertIn(needle, err)
        self.assertEqual([c for c in self.calls() if c["event"] == "call"], [])

    def test_steps_times_strength_below_one(self):
        self.refused(configure(TURBO, steps=1, strength=0.5), "steps x strength = 1 x 0.5 < 1")

    def test_missing_parameter_is_not_defaulted(self):
        cfg = configure(IP2P)
        del cfg["params"]["image_guidance_scale"]
        self.refused(cfg, "`image_guidance_scale` must be a number")

    def test_bad_values(self):
        self.refused(configure(IP2P, dtype="fp8"), "`dtype` must be one of fp16, bf16, fp32")
        self.refused(configure(IP2P, steps=2.5), "`steps` must be an integer")
        self.refused(configure(IP2P, size=100), "multiple of 8")
        self.refused(configure(IP2P, guidance_scale=-1), "`guidance_scale` must be at least 0")
        self.refused(configure(TURBO, strength=1.5), "`strength` must be at most 1")

    def test_unknown_pipeline_kind_protocol_and_model(self):
        self.refused(configure(IP2P, pipeline="dummy"), "is not served by the diffusers worker")
        wrong_kind = dict(configure(IP2P), kind="mllm.compose")
        self.refused(wrong_kind, "cannot run stage kind")
        self.refused(dict(configure(IP2P), protocol=9), "speaks protocol 1, got 9")
        no_model = dict(configure(IP2P), model={"backend": "diffusers", "pipeline": "generic"})
        no_model["params"] = dict(no_model["params"], pipeline="generic", strength=0.5)
        self.refused(no_model, "needs a checkpoint id")

    def test_bad_fake_spec(self):
        code, _, _, err = self.run_worker([configure(IP2P)], fake=False, args=["--fake-pipeline", "nope:Nope"])
        self.assertEqual(code, 2)
        self.assertIn("cannot load fake pipeline nope:Nope", err)

    def test_item_inputs(self):
        from PIL import Image  # noqa: F401

        broken = os.path.join(self.dir, "broken.png")
        with open(broken, "wb") as f:
            f.write(b"not a png")
        code, msgs, _, err = self.run_worker(
            [
                configure(IP2P),
                {"type": "item", "id": "a", "input": {"reference_path": os.path.join(self.dir, "gone.png"), "text": "x", "seed": 1}},
                {"type": "item", "id": "b", "input": {"reference_path": broken, "text": "x", "seed": 1}},
                {"type": "item", "id": "c", "input": {"reference_path": self.ref, "seed": 1}},
                self.item("d", out_path="relative.png"),
                self.item("e", text="FAKE-FAIL"),
                self.item("f"),
            ]
        )
        self.assertEqual(code, 0, err)
        got = [(m["id"], m.get("reason", "ok")) for m in msgs[1:]]
        self.assertEqual(
            got,
            [("a", "input-missing"), ("b", "bad-input"), ("c", "bad-input"), ("d", "bad-input"), ("e", "bad-output"), ("f", "ok")],
        )


class Truncation(WorkerCase):
    def test_tokens_counted_and_cut_ones_reported(self):
        long_text = " ".join(f"w{i}" for i in range(100))
        exact = " ".join(f"w{i}" for i in range(75))  # 75 words + start + end = 77
        code, msgs, _, err = self.run_worker(
            [configure(IP2P), self.item("long", text=long_text), self.item("exact", text=exact), self.item("short", text="red")]
        )
        self.assertEqual(code, 0, err)
        out = {m["id"]: m["output"] for m in msgs[1:]}
        self.assertEqual((out["long"]["prompt_tokens"], out["long"]["truncated_tokens"]), (102, 25))
        self.assertEqual((out["exact"]["prompt_tokens"], out["exact"]["truncated_tokens"]), (77, 0))
        self.assertEqual((out["short"]["prompt_tokens"], out["short"]["truncated_tokens"]), (3, 0))
        self.assertIn("item long: prompt has 102 CLIP tokens; the last 25 are cut off", err)
        self.assertNotIn("item exact:", err)


class OutOfMemory(WorkerCase):
    def test_oom_is_reported_after_freeing_and_the_worker_goes_on(self):
        code, msgs, _, err = self.run_worker([configure(IP2P), self.item("big", text="FAKE-OOM"), self.item("next")])
        self.assertEqual(code, 0, err)
        self.assertEqual(msgs[1]["type"], "error")
        self.assertEqual(msgs[1]["id"], "big")
        self.assertEqual(msgs[1]["reason"], "oom")
        self.assertIn("out of memory generating item big", msgs[1]["message"])
        self.assertEqual(msgs[2]["type"], "result")
        calls = [c for c in self.calls() if c["event"] == "call"]
        # Exactly one attempt at the OOM item (no retry loop in the worker) ...
        self.assertEqual([c["prompt"] for c in calls], ["FAKE-OOM", "make it blue"])
        # ... and what the failed call held was freed before the next item ran.
        self.assertTrue(calls[1]["ballast_freed"])


class RealPath(WorkerCase):
    def test_without_torch_the_real_path_says_what_to_install(self):
        try:
            import torch  # noqa: F401

            self.skipTest("torch is installed here: the real path would load diffusers")
        except ImportError:
            pass
        code, msgs, _, err = self.run_worker([configure(IP2P), self.item("q1")], fake=False)
        self.assertEqual(code, 2)
        self.assertEqual(msgs, [])
        self.assertIn("the diffusers worker needs torch", err)
        self.assertIn("pip install -r requirements-gpu.txt", err)
        self.assertNotIn("Traceback", err)

    def test_fake_from_the_environment(self):
        code, msgs, _, err = self.run_worker(
            [configure(IP2P), self.item("q1")], fake=False, env={"PEFUSE_DIFFUSION_FAKE": FAKE}
        )
        self.assertEqual(code, 0, err)
        self.assertEqual(msgs[0]["identity"]["backend"], "diffusers-fake")

    def test_probe_prints_one_json_line(self):
        p = subprocess.run([sys.executable, WORKER, "--probe"], capture_output=True, text=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr)
        lines = p.stdout.strip().split("\n")
        self.assertEqual(len(lines), 1)
        info = json.loads(lines[0])
        for k in ("python", "torch", "diffusers", "PIL", "numpy", "cuda", "gpus", "errors", "worker"):
            self.assertIn(k, info)
        self.assertIsNotNone(info["PIL"])
        if info["torch"] is None:
            self.assertIn("torch", info["errors"])


if __name__ == "__main__":
    unittest.main()
