"""NumPy reference for `npm run bench -- score`: the field's usual exact top-K code.

`S = Q @ G.T`, then `np.argpartition` for the top-k per row and a sort of those k (CIRR: the reference's
similarity is set to -inf first, as CIRPLANT does). Reads the same raw little-endian .f32 files as the
TypeScript scorer; prints one JSON line with timings and the process's peak RSS.
"""

import json
import resource
import sys
import time

import numpy as np


def peak_rss_mb() -> float:
    """VmHWM: this process's own peak RSS (ru_maxrss would include the parent's at fork time)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    a = json.loads(sys.argv[1])
    nq, ng, d, k = a["nq"], a["ng"], a["dim"], a["k"]
    t0 = time.perf_counter()
    q = np.fromfile(a["queries"], dtype="<f4").reshape(nq, d)
    g = np.fromfile(a["gallery"], dtype="<f4").reshape(ng, d)
    ref = np.fromfile(a["exclude"], dtype="<i4") if a.get("exclude") else None
    load_s = time.perf_counter() - t0

    def score():
        s = q @ g.T
        if ref is not None:
            s[np.arange(nq), ref] = -np.inf
        part = np.argpartition(s, ng - k, axis=1)[:, ng - k :]
        top = np.take_along_axis(s, part, axis=1)
        order = np.argsort(-top, axis=1, kind="stable")
        return np.take_along_axis(part, order, axis=1)

    times = []
    idx = None
    for _ in range(a["reps"]):
        t = time.perf_counter()
        idx = score()
        times.append(time.perf_counter() - t)
    if a.get("out"):
        idx.astype("<i4").tofile(a["out"])
    rss_mb = peak_rss_mb()
    print(json.dumps({"load_s": load_s, "score_s": times, "rss_mb": rss_mb, "numpy": np.__version__}))


if __name__ == "__main__":
    main()
