"""Tests of stages/mllm/worker.py (the transformers MLLM worker) with the fake model of
test/fixtures/mllm/fake_mllm.py: protocol, seeding, batching (partial batches and flush), error paths,
and that stdout carries protocol lines only. Standard library + numpy + PIL (Debian's python3):

    /usr/bin/python3 -m unittest discover -s test/python -p 'test_mllm_*.py' -v
"""

import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
import time
import unittest

from PIL import Image

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
WORKER = os.path.join(ROOT, "stages", "mllm", "worker.py")
FAKE = os.path.join(ROOT, "test", "fixtures", "mllm", "fake_mllm.py") + ":FakeMllm"
PROTOCOL_TYPES = {"ready", "result", "error", "heartbeat"}
SAMPLING = {"temperature": 0.7, "top_p": 0.9, "top_k": 50, "repetition_penalty": 1.05, "max_tokens": 32}
MODEL = {"backend": "transformers", "model": "Qwen/Qwen2.5-VL-7B-Instruct"}


class Worker:
    """The worker as a child process; stdout lines are collected by a thread (each must be JSON)."""

    def __init__(self, args=("--fake-model", FAKE), env=None):
        e = dict(os.environ)
        e.update(env or {})
        self.p = subprocess.Popen(
            [sys.executable, WORKER, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=e,
            text=True,
            bufsize=1,
        )
        self.lines = queue.Queue()
        self.raw = []
        self.stderr = []
        self.pumps = [
            threading.Thread(target=self._pump, args=(self.p.stdout, self.raw, self.lines), daemon=True),
            threading.Thread(target=self._pump, args=(self.p.stderr, self.stderr, None), daemon=True),
        ]
        for t in self.pumps:
            t.start()

    @staticmethod
    def _pump(stream, keep, q):
        for line in stream:
            keep.append(line)
            if q is not None:
                q.put(line)

    def send(self, msg):
        self.p.stdin.write(json.dumps(msg) + "\n")
        self.p.stdin.flush()

    def configure(self, params=None, kind="mllm.compose", features=("flush",), model=MODEL):
        self.send(
            {
                "type": "configure",
                "protocol": 1,
                "kind": kind,
                "params": dict(SAMPLING, **(params or {})),
                "model": model,
                "features": list(features),
            }
        )

    def item(self, id, image, prompt="make it red", seeds=(7,), **extra):
        inp = {"image_path": image, "prompt": prompt, "seeds": list(seeds)}
        inp.update(extra)
        self.send({"type": "item", "id": id, "input": inp})

    def read(self, timeout=20.0):
        line = self.lines.get(timeout=timeout)
        msg = json.loads(line)  # a non-JSON stdout line fails the test here
        assert msg.get("type") in PROTOCOL_TYPES, line
        return msg

    def read_n(self, n, timeout=20.0):
        return [self.read(timeout) for _ in range(n)]

    def nothing_for(self, seconds):
        try:
            line = self.lines.get(timeout=seconds)
        except queue.Empty:
            return True
        raise AssertionError(f"unexpected line: {line}")

    def close(self, timeout=20.0):
        if self.p.poll() is None:
            try:
                self.p.stdin.close()
            except OSError:
                pass
        code = self.p.wait(timeout=timeout)
        self._drain()
        return code

    def _drain(self):
        # The process has exited: wait until the pump threads have read its pipes to the end (a fixed
        # sleep lost the last line on a loaded machine).
        for t in self.pumps:
            t.join(timeout=20.0)

    def stderr_text(self):
        if self.p.poll() is None:
            time.sleep(0.05)
        else:
            self._drain()
        return "".join(self.stderr)


class Base(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        d = cls.tmp.name
        cls.red = os.path.join(d, "red.png")
        cls.blue = os.path.join(d, "blue.png")
        cls.rgba = os.path.join(d, "clear.png")
        cls.bad = os.path.join(d, "bad.png")
        Image.new("RGB", (40, 30), (220, 40, 40)).save(cls.red)
        Image.new("RGB", (40, 30), (40, 70, 220)).save(cls.blue)
        Image.new("RGBA", (20, 20), (0, 0, 0, 0)).save(cls.rgba)  # fully transparent: white
        with open(cls.bad, "wb") as f:
            f.write(b"not a png")

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def setUp(self):
        self.workers = []
        self.log = os.path.join(self.tmp.name, f"log-{self.id()}.jsonl")
        if os.path.exists(self.log):
            os.unlink(self.log)

    def tearDown(self):
        for w in self.workers:
            if w.p.poll() is None:
                w.p.kill()
                w.p.wait()
            for s in (w.p.stdin, w.p.stdout, w.p.stderr):
                try:
                    s.close()
                except OSError:
                    pass

    def start(self, env=None, args=("--fake-model", FAKE)):
        w = Worker(args=args, env=dict({"FAKE_MLLM_LOG": self.log}, **(env or {})))
        self.workers.append(w)
        return w

    def calls(self):
        if not os.path.exists(self.log):
            return []
        with open(self.log, encoding="utf-8") as f:
            return [json.loads(x) for x in f if x.strip()]


class Protocol(Base):
    def test_handshake_identity_and_stdout_hygiene(self):
        w = self.start()
        w.configure()
        ready = w.read()
        self.assertEqual(ready["type"], "ready")
        self.assertEqual(ready["protocol"], 1)
        ident = ready["identity"]
        self.assertEqual(ident["model"], "Qwen/Qwen2.5-VL-7B-Instruct")
        self.assertEqual(ident["backend"], "transformers-fake")
        self.assertEqual(ident["versions"]["fake-mllm"], "1")
        self.assertTrue(ident["versions"]["fake"].endswith("fake_mllm.py:FakeMllm"))
        self.assertEqual(ident["device"], "cpu")
        self.assertNotIn("batch_size", ready)  # batch size 1: nothing to announce
        w.item("q1", self.red)
        r = w.read()
        self.assertEqual(r["type"], "result")
        self.assertEqual(r["id"], "q1")
        out = r["output"]
        self.assertTrue(out["text"].startswith("a red thing"), out)
        self.assertEqual(out["seed"], 7)
        self.assertEqual(out["tokens"], out["completion_tokens"])
        self.assertIn(out["finish_reason"], ("stop", "length"))
        self.assertIsInstance(out["prompt_tokens"], int)
        self.assertIsInstance(r["seconds"], float)
        self.assertIn("peak_mem_mb", r)
        self.assertIsNone(r["peak_mem_mb"])  # no CUDA: null
        w.send({"type": "shutdown"})
        self.assertEqual(w.close(), 0)
        # Every stdout line was a protocol line; the fake's prints (Python and fd 1) went to stderr.
        self.assertEqual(len(w.raw), 2, w.raw)
        for line in w.raw:
            self.assertIn(json.loads(line)["type"], PROTOCOL_TYPES)
        err = w.stderr_text()
        self.assertIn("this line must not reach the protocol channel", err)
        self.assertIn("native write to fd 1", err)
        self.assertIn("fake-mllm: generate 1", err)

    def test_items_answered_in_order_and_transparent_image_is_white(self):
        w = self.start()
        w.configure({"temperature": 0})
        w.read()
        w.item("a", self.blue)
        w.item("b", self.rgba)
        w.item("c", self.red)
        got = w.read_n(3)
        self.assertEqual([m["id"] for m in got], ["a", "b", "c"])
        self.assertTrue(got[1]["output"]["text"].startswith("a white thing"))
        w.send({"type": "shutdown"})
        self.assertEqual(w.close(), 0)

    def test_peak_memory_reported_by_the_model(self):
        w = self.start(env={"FAKE_MLLM_PEAK_MB": "1234.5"})
        w.configure()
        w.read()
        w.item("q1", self.red)
        self.assertEqual(w.read()["peak_mem_mb"], 1234.5)
        w.close()

    def test_reconfigure_keeps_the_loaded_model(self):
        w = self.start()
        w.configure({"temperature": 0})
        w.read()
        w.item("q1", self.red)
        greedy = w.read()["output"]["text"]
        w.configure({"temperature": 1.5}, kind="mllm.caption")
        self.assertEqual(w.read()["type"], "ready")
        w.item("q1", self.red)
        hot = w.read()["output"]["text"]
        self.assertNotEqual(greedy, hot)
        w.close()
        inits = [c for c in self.calls() if c["event"] == "init"]
        self.assertEqual(len(inits), 1)
        temps = [c["temperature"] for c in self.calls() if c["event"] == "generate"]
        self.assertEqual(temps, [0, 1.5])

    def test_end_of_stdin_exits_at_once(self):
        w = self.start(env={"FAKE_MLLM_DELAY_S": "0.3"})
        w.configure()
        w.read()
        for i in range(5):
            w.item(f"q{i}", self.red)
        t0 = time.monotonic()
        self.assertEqual(w.close(), 0)
        # The queued items are dropped (pefuse is gone): at most the running one finishes.
        self.assertLess(time.monotonic() - t0, 1.2)
        self.assertLessEqual(len([c for c in self.calls() if c["event"] == "generate"]), 1)

    def test_probe_prints_one_json_line(self):
        w = self.start(args=("--probe",))
        self.assertEqual(w.close(), 0)
        self.assertEqual(len(w.raw), 1)
        p = json.loads(w.raw[0])
        for k in ("python", "executable", "torch", "transformers", "accelerate", "cuda", "gpus", "errors"):
            self.assertIn(k, p)
        self.assertIsNotNone(p["PIL"])
        self.assertIsNotNone(p["numpy"])
        if p["torch"] is None:
            self.assertIn("torch", p["errors"])
            self.assertFalse(p["cuda"])


class Seeding(Base):
    def one(self, w, id, image, seeds, prompt="make it red"):
        w.item(id, image, prompt=prompt, seeds=seeds)
        return w.read()["output"]

    def test_same_seed_same_text_whatever_came_before(self):
        w = self.start()
        w.configure({"temperature": 1.0})
        w.read()
        alone = self.one(w, "x", self.red, [11])
        self.one(w, "y", self.blue, [99], prompt="something else entirely")
        again = self.one(w, "x", self.red, [11])
        other = [self.one(w, "x", self.red, [s])["text"] for s in (12, 13, 14, 15)]
        w.close()
        self.assertEqual(alone["text"], again["text"])
        self.assertTrue(any(t != alone["text"] for t in other), other)
        # A fresh process gives the same text for the same seed.
        w2 = self.start()
        w2.configure({"temperature": 1.0})
        w2.read()
        self.assertEqual(self.one(w2, "x", self.red, [11])["text"], alone["text"])
        w2.close()

    def test_temperature_zero_is_greedy(self):
        w = self.start()
        w.configure({"temperature": 0})
        w.read()
        texts = {self.one(w, "x", self.red, [s])["text"] for s in (1, 2, 3)}
        w.close()
        self.assertEqual(len(texts), 1)
        self.assertEqual(texts.pop(), "a red thing make it red")

    def test_several_descriptions_one_call_each_with_its_seed(self):
        w = self.start()
        w.configure({"temperature": 1.0})
        w.read()
        out = self.one(w, "x", self.red, [21, 22, 23])
        single = self.one(w, "x", self.red, [22])
        w.close()
        self.assertEqual(len(out["texts"]), 3)
        self.assertEqual([d["seed"] for d in out["descriptions"]], [21, 22, 23])
        self.assertEqual(out["text"], out["texts"][0])
        self.assertEqual(out["seed"], 21)
        self.assertEqual(out["texts"][1], single["text"])  # description 2 = its seed alone
        gens = [c for c in self.calls() if c["event"] == "generate"]
        self.assertEqual([(c["n"], c["seed"]) for c in gens], [(1, 21), (1, 22), (1, 23), (1, 22)])

    def test_seed_comes_from_the_item_not_the_worker(self):
        w = self.start()
        w.configure({"temperature": 1.0})
        w.read()
        w.send({"type": "item", "id": "s", "input": {"image_path": self.red, "prompt": "p", "seed": 5}})
        self.assertEqual(w.read()["output"]["seed"], 5)
        w.close()


class Batching(Base):
    def test_full_and_partial_batches_with_flush(self):
        w = self.start()
        w.configure({"batch_size": 3})
        ready = w.read()
        self.assertEqual(ready["batch_size"], 3)
        for i in range(7):
            w.item(f"q{i}", self.red if i % 2 else self.blue, seeds=[100 + i])
        # Two full batches run; the 7th item waits for two more or a flush.
        got = w.read_n(6)
        self.assertEqual([m["id"] for m in got], [f"q{i}" for i in range(6)])
        self.assertTrue(all(m["output"]["batch"] == 3 for m in got))
        self.assertTrue(w.nothing_for(0.6))
        w.send({"type": "flush"})
        last = w.read()
        self.assertEqual(last["id"], "q6")
        self.assertNotIn("batch", last["output"])
        w.close()
        gens = [c for c in self.calls() if c["event"] == "generate"]
        self.assertEqual([c["n"] for c in gens], [3, 3, 1])
        # One RNG per batch: seeded with the batch's first item's seed.
        self.assertEqual([c["seed"] for c in gens], [100, 103, 106])

    def test_partial_batch_released_by_flush_runs_together(self):
        w = self.start()
        w.configure({"batch_size": 4})
        w.read()
        w.item("a", self.red, seeds=[1])
        w.item("b", self.blue, seeds=[2])
        self.assertTrue(w.nothing_for(0.5))
        w.send({"type": "flush"})
        got = w.read_n(2)
        self.assertEqual([(m["id"], m["output"]["batch"]) for m in got], [("a", 2), ("b", 2)])
        # The batch's time is shared: per-item seconds are reported for each.
        self.assertTrue(all(isinstance(m["seconds"], float) for m in got))
        w.close()

    def test_batched_texts_depend_on_the_batch_not_reproducible_per_item(self):
        w = self.start()
        w.configure({"batch_size": 2, "temperature": 1.0})
        w.read()
        w.item("a", self.red, seeds=[1])
        w.item("b", self.red, seeds=[2])
        pair = w.read_n(2)
        w.configure({"temperature": 1.0})
        w.read()
        w.item("b", self.red, seeds=[2])
        alone = w.read()
        w.close()
        # b's text in the batch came from a's RNG stream; alone it comes from its own seed.
        self.assertNotEqual(pair[1]["output"]["text"], alone["output"]["text"])

    def test_shutdown_releases_a_partial_batch(self):
        w = self.start()
        w.configure({"batch_size": 8})
        w.read()
        w.item("a", self.red)
        w.item("b", self.red)
        w.send({"type": "shutdown"})
        got = w.read_n(2)
        self.assertEqual([m["id"] for m in got], ["a", "b"])
        self.assertEqual(w.close(), 0)

    def test_no_batching_without_the_flush_feature(self):
        w = self.start()
        w.configure({"batch_size": 4}, features=())
        ready = w.read()
        self.assertNotIn("batch_size", ready)
        w.item("a", self.red)
        w.item("b", self.red)
        self.assertEqual([m["id"] for m in w.read_n(2)], ["a", "b"])
        w.close()
        self.assertIn("batch_size 4 ignored", w.stderr_text())
        self.assertEqual([c["n"] for c in self.calls() if c["event"] == "generate"], [1, 1])

    def test_bad_item_in_a_batch_fails_alone(self):
        w = self.start()
        w.configure({"batch_size": 3})
        w.read()
        w.item("a", self.red)
        w.item("b", "/nonexistent/x.png")
        w.item("c", self.blue)
        got = w.read_n(3)
        self.assertEqual([m["id"] for m in got], ["a", "b", "c"])
        self.assertEqual([m["type"] for m in got], ["result", "error", "result"])
        self.assertEqual(got[1]["reason"], "input-missing")
        self.assertEqual(got[0]["output"]["batch"], 2)
        w.close()

    def test_oom_in_a_batch_fails_the_batch(self):
        w = self.start()
        w.configure({"batch_size": 2})
        w.read()
        w.item("a", self.red)
        w.item("b", self.red, prompt="OOM please")
        got = w.read_n(2)
        self.assertEqual([(m["type"], m["reason"]) for m in got], [("error", "oom"), ("error", "oom")])
        w.item("c", self.red)
        w.send({"type": "flush"})
        self.assertEqual(w.read()["type"], "result")
        w.close()


class Errors(Base):
    def item_error(self, w, id, image, **kw):
        w.item(id, image, **kw)
        m = w.read()
        self.assertEqual(m["type"], "error", m)
        self.assertEqual(m["id"], id)
        return m

    def test_item_errors_and_the_worker_goes_on(self):
        w = self.start()
        w.configure()
        w.read()
        self.assertEqual(self.item_error(w, "m", "/nope/missing.png")["reason"], "input-missing")
        e = self.item_error(w, "b", self.bad)
        self.assertEqual(e["reason"], "bad-input")
        self.assertIn("cannot decode image", e["message"])
        self.assertEqual(self.item_error(w, "o", self.red, prompt="OOM now")["reason"], "oom")
        e = self.item_error(w, "x", self.red, prompt="EXPLODE")
        self.assertEqual(e["reason"], "bad-input")
        self.assertIn("ValueError", e["message"])
        self.assertEqual(self.item_error(w, "e", self.red, prompt="EMPTY")["reason"], "bad-output")
        self.assertEqual(self.item_error(w, "p", self.red, prompt="  ")["reason"], "bad-input")
        self.assertEqual(self.item_error(w, "s", self.red, seeds=[])["reason"], "bad-input")
        w.send({"type": "item", "id": "n", "input": "just a string"})
        self.assertEqual(w.read()["reason"], "bad-input")
        w.item("ok", self.red)
        self.assertEqual(w.read()["type"], "result")
        w.send({"type": "shutdown"})
        self.assertEqual(w.close(), 0)
        self.assertIn("Traceback", w.stderr_text())  # the EXPLODE traceback went to stderr, not stdout
        for line in w.raw:
            json.loads(line)

    def test_item_before_configure(self):
        w = self.start()
        w.item("early", self.red)
        m = w.read()
        self.assertEqual((m["type"], m["reason"]), ("error", "bad-input"))
        self.assertIn("before configure", m["message"])
        w.close()

    def assert_setup_failure(self, w, needle):
        code = w.p.wait(timeout=20)  # exits by itself (stdin stays open, as under pefuse)
        err = w.stderr_text()
        self.assertEqual(code, 2, err)
        self.assertIn(needle, err)
        self.assertNotIn("Traceback", err)
        self.assertEqual(w.raw, [])

    def test_missing_sampling_field(self):
        w = self.start()
        w.send({"type": "configure", "protocol": 1, "kind": "mllm.compose", "params": {"temperature": 1}, "model": MODEL})
        self.assert_setup_failure(w, "numeric 'top_p'")

    def test_unknown_kind(self):
        w = self.start()
        w.configure(kind="diffusion.edit")
        self.assert_setup_failure(w, "runs mllm.compose and mllm.caption")

    def test_wrong_protocol(self):
        w = self.start()
        w.send({"type": "configure", "protocol": 2, "kind": "mllm.compose", "params": SAMPLING, "model": MODEL})
        self.assert_setup_failure(w, "speaks protocol 1")

    def test_bad_batch_size(self):
        w = self.start()
        w.configure({"batch_size": 0})
        self.assert_setup_failure(w, "batch_size must be a positive integer")

    def test_junk_line(self):
        w = self.start()
        w.p.stdin.write("hello\n")
        w.p.stdin.flush()
        self.assert_setup_failure(w, "protocol error")

    def test_fake_model_fails_to_load(self):
        w = self.start(env={"FAKE_MLLM_FAIL_LOAD": "1"})
        w.configure()
        self.assert_setup_failure(w, "cannot load Qwen/Qwen2.5-VL-7B-Instruct: RuntimeError: fake weights are corrupt")

    def test_fake_model_spec_errors(self):
        w = self.start(args=("--fake-model", "/nope/fake.py:X"))
        w.configure()
        self.assert_setup_failure(w, "fake model file not found")
        w = self.start(args=("--fake-model", FAKE.replace("FakeMllm", "Nope")))
        w.configure()
        self.assert_setup_failure(w, "has no class Nope")

    def test_crash_exits_non_zero(self):
        w = self.start()
        w.configure()
        w.read()
        w.item("c", self.red, prompt="CRASH")
        self.assertEqual(w.p.wait(timeout=20), 9)

    @unittest.skipIf(
        __import__("importlib").util.find_spec("torch") is not None, "torch is installed: the real path would load"
    )
    def test_real_path_without_torch_says_what_to_install(self):
        w = self.start(args=())
        w.configure()
        self.assert_setup_failure(w, "needs torch and transformers")
        self.assertIn("requirements-gpu.txt", w.stderr_text())
        self.assertIn("PEFUSE_PYTHON", w.stderr_text())


STUBS = os.path.join(ROOT, "test", "fixtures", "mllm", "stubs")


class RealPathWithStubs(Base):
    """The real TransformersMllm path (no --fake-model) against stand-ins for torch and transformers
    (test/fixtures/mllm/stubs): what reaches generate(), seeding, trimming, finish reasons, identity."""

    def start_real(self):
        self.state = os.path.join(self.tmp.name, f"state-{self.id()}.json")
        return self.start(args=(), env={"PYTHONPATH": STUBS, "STUB_STATE": self.state})

    def stub_state(self):
        with open(self.state, encoding="utf-8") as f:
            return json.load(f)

    def test_explicit_sampling_seeding_and_outputs(self):
        w = self.start_real()
        w.configure({"max_tokens": 4, "top_k": -1}, model={"backend": "transformers", "model": "Qwen/Qwen2.5-VL-3B-Instruct"})
        ready = w.read()
        self.assertEqual(ready["identity"]["backend"], "transformers")
        self.assertEqual(ready["identity"]["device"], "cpu")
        self.assertEqual(ready["identity"]["versions"]["torch"], "0.0-stub")
        self.assertEqual(ready["identity"]["versions"]["transformers"], "0.0-stub")
        w.item("q1", self.red, prompt="describe the target", seeds=[42])
        r = w.read()
        self.assertEqual(r["type"], "result", r)
        st = self.stub_state()
        self.assertEqual(st["loads"][0]["cls"], "Qwen2_5_VLForConditionalGeneration")
        self.assertEqual(st["loads"][0]["torch_dtype"], "float32")  # no CUDA: fp32
        self.assertEqual(st["loads"][0]["attn_implementation"], "sdpa")
        self.assertEqual(st["padding_side"], "left")
        call = st["calls"][0]
        self.assertEqual(call["seed"], 42)
        cfg = call["config"]
        # The model's own generation config (top_k 1, top_p 0.001, temperature 0.1) does not win.
        self.assertEqual(
            {k: cfg[k] for k in ("do_sample", "temperature", "top_p", "top_k", "repetition_penalty", "max_new_tokens")},
            {"do_sample": True, "temperature": 0.7, "top_p": 0.9, "top_k": 0, "repetition_penalty": 1.05, "max_new_tokens": 4},
        )
        conv = st["templates"][0]
        self.assertEqual(conv[0], {"role": "system", "content": [{"type": "text", "text": "You are a helpful assistant."}]})
        self.assertEqual(conv[1]["content"], [{"type": "image"}, {"type": "text", "text": "describe the target"}])
        out = r["output"]
        self.assertEqual(out["seed"], 42)
        self.assertTrue(out["text"].startswith("w"), out)
        self.assertIsNone(r["peak_mem_mb"])
        stopped = out["completion_tokens"] < 4
        self.assertEqual(out["finish_reason"], "stop" if stopped else "length")
        w.close()

    def test_greedy_keeps_repetition_penalty_and_trims_at_eos(self):
        w = self.start_real()
        w.configure({"temperature": 0, "max_tokens": 16})
        w.read()
        w.item("q1", self.red, seeds=[1])
        out = w.read()["output"]
        cfg = self.stub_state()["calls"][0]["config"]
        self.assertEqual((cfg["do_sample"], cfg["temperature"], cfg["top_p"], cfg["top_k"]), (False, 1.0, 1.0, 50))
        self.assertEqual(cfg["repetition_penalty"], 1.05)
        self.assertEqual(out["text"], "w11 w12 w13")
        self.assertEqual((out["completion_tokens"], out["finish_reason"]), (4, "stop"))
        w.close()

    def test_batch_one_call_left_padded_first_seed(self):
        w = self.start_real()
        w.configure({"batch_size": 2, "temperature": 1.0})
        self.assertEqual(w.read()["batch_size"], 2)
        w.item("a", self.red, prompt="short", seeds=[7])
        w.item("b", self.blue, prompt="a much longer prompt than the other", seeds=[8])
        got = w.read_n(2)
        self.assertEqual([m["output"]["batch"] for m in got], [2, 2])
        calls = self.stub_state()["calls"]
        self.assertEqual([(c["batch"], c["seed"]) for c in calls], [(2, 7)])
        self.assertNotEqual(got[0]["output"]["prompt_tokens"], got[1]["output"]["prompt_tokens"])
        w.close()

    def test_llava_and_unsupported_models(self):
        w = self.start_real()
        w.configure(model={"backend": "transformers", "model": "llava-hf/llava-1.5-7b-hf"})
        w.read()
        self.assertEqual(self.stub_state()["loads"][0]["cls"], "LlavaForConditionalGeneration")
        w.close()
        w = self.start_real()
        w.configure(model={"backend": "transformers", "model": "google-bert/bert-base"})
        self.assertEqual(w.p.wait(timeout=20), 2)
        self.assertIn("is a 'bert' model", w.stderr_text())
        w = self.start_real()
        w.configure(model={"backend": "transformers", "model": "org/missing-model"})
        self.assertEqual(w.p.wait(timeout=20), 2)
        self.assertIn("cannot read the config of org/missing-model", w.stderr_text())
        self.assertNotIn("Traceback", w.stderr_text())


if __name__ == "__main__":
    unittest.main()
