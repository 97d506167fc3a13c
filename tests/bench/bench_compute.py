"""Computation benchmark (DESIGN.md §11, issue 5): roll-up and drift, one command.

    .venv/bin/python tests/bench/bench_compute.py            # everything (~3-5 min on 2 cores)
    .venv/bin/python tests/bench/bench_compute.py --skip-evidently

1. **Roll-up**: ``build_profiles`` over 1,000,000 events (20 numeric features, 3 cohort
   attributes, latency, error, prediction, score, label; spread over one day = 288 five-minute
   buckets) in one fresh process: wall time (median of ``--repeats``) and the process's peak
   RSS (``ru_maxrss``, which includes the 1M-event input held in memory). Budget: ≤ 10 s,
   ≤ 1 GB.
2. **Drift of 20 features for one window** (1,000,000 window rows vs 100,000 reference rows):
   our full set (PSI, JS, KS + p-value, normed Wasserstein, BH q-values) from raw values vs
   Evidently 0.7.23's ``DataDriftPreset`` (normed Wasserstein for numeric columns) on the same
   data. Evidently is not a project dependency: it runs in its own virtualenv at
   ``var/bench-evidently`` (created on first use with ``evidently==0.7.23 'pandas<3'``), in a
   subprocess that reads the same arrays from ``var/bench-compute/drift-*.npz``. Budget: ≥ 10x
   faster. Normed Wasserstein and JS are printed side by side; Evidently bins JS on Sturges bins
   over the combined sample (DESIGN uses reference deciles), so the table also shows our
   ``drift.js`` on Evidently's bins, which must reproduce Evidently's number.

Results are printed and written to ``var/bench-compute/results.json``; the exit code is 1 when
a budget is missed. Timings on the shared 2-core machine vary by ±30%.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "var" / "bench-compute"
EVIDENTLY_VENV = ROOT / "var" / "bench-evidently"
EVIDENTLY_SPEC = ["evidently==0.7.23", "pandas<3"]
N_FEATURES = 20
ROLLUP_BUDGET_S = 10.0
ROLLUP_BUDGET_MB = 1024.0
SPEEDUP_BUDGET = 10.0


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def current_rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


# --- data ------------------------------------------------------------------------------------


def feature_matrix(rng: np.random.Generator, n: int, drifted: bool) -> np.ndarray:
    """20 numeric columns (Fortran order: each column contiguous, as loaded from the DB)."""
    x = np.empty((n, N_FEATURES), order="F")
    for j in range(N_FEATURES):
        kind = j % 4
        shift = 0.15 * (j < 4) if drifted else 0.0
        scale = 1.0 + (0.1 if (drifted and j in (4, 5)) else 0.0)
        if kind == 0:
            x[:, j] = rng.normal(shift, scale, n)
        elif kind == 1:
            x[:, j] = rng.lognormal(shift, 0.5 * scale, n)
        elif kind == 2:  # integer-valued: many values sit exactly on the decile edges
            x[:, j] = rng.poisson(20 * (1 + shift), n).astype(np.float64)
        else:
            x[:, j] = rng.uniform(shift, 1 + shift, n) * scale
    nulls = rng.random(n) < 0.02
    x[nulls, 3] = np.nan  # one column with 2% nulls
    return x


# --- 1. roll-up --------------------------------------------------------------------------------


def child_rollup(n: int, repeats: int) -> dict:
    from metrics.compute import profiles as P

    rng = np.random.default_rng(1)
    t0 = time.perf_counter()
    day = np.datetime64("2026-11-20T00:00:00", "ns")
    ts = day + np.sort(rng.integers(0, 86_400 * 10**9, n)).astype("timedelta64[ns]")
    x = feature_matrix(rng, n, drifted=True)
    numeric = {f"f{j}": x[:, j] for j in range(N_FEATURES)}
    score = rng.random(n)
    label = np.where(rng.random(n) < 0.3, (rng.random(n) < score).astype(np.float64), np.nan)
    cohorts = {
        "sex": rng.choice(np.array(["f", "m", "x"], dtype=object), n, p=[0.49, 0.49, 0.02]),
        "age_band": rng.choice(np.array(["18-30", "30-45", "45-60", "60+"], dtype=object), n),
        "region": rng.choice(np.array([f"r{i}" for i in range(8)], dtype=object), n),
    }
    latency = rng.lognormal(3, 0.6, n)
    error = rng.random(n) < 0.01
    ref_rng = np.random.default_rng(2)
    ref_x = feature_matrix(ref_rng, 100_000, drifted=False)
    ref_score = ref_rng.random(100_000)
    spec = P.ProfileSpec.from_reference(
        numeric={f"f{j}": ref_x[:, j] for j in range(N_FEATURES)},
        score=ref_score,
        prediction=(ref_score > 0.5).astype(np.float64),
    )
    del ref_x, ref_score
    generate_s = time.perf_counter() - t0
    rss_before = current_rss_mb()
    times, profiles = [], []
    for _ in range(repeats):
        profiles = []  # free the previous run's profiles before the next
        t = time.perf_counter()
        profiles = P.build_profiles(
            spec,
            timestamps=ts,
            latency_ms=latency,
            error=error,
            numeric=numeric,
            prediction=(score > 0.5).astype(np.float64),
            score=score,
            label=label,
            cohorts=cohorts,
        )
        times.append(time.perf_counter() - t)
    all_traffic = [p for p in profiles if p.segment == ""]
    t = time.perf_counter()
    day_profile = P.merge(all_traffic)
    merge_s = time.perf_counter() - t
    sizes = [len(json.dumps(p.to_dict())) for p in all_traffic[:20]]
    return {
        "events": n,
        "features": N_FEATURES,
        "cohort_attributes": len(cohorts),
        "buckets": len(all_traffic),
        "profiles": len(profiles),
        "generate_s": generate_s,
        "rollup_s_runs": times,
        "rollup_s": statistics.median(times),
        "rss_before_rollup_mb": rss_before,
        "peak_rss_mb": peak_rss_mb(),
        "merge_day_s": merge_s,
        "merged_count": day_profile.count,
        "profile_json_bytes": int(statistics.median(sizes)),
    }


# --- 2. drift --------------------------------------------------------------------------------


def make_drift_data(n_cur: int, n_ref: int) -> Path:
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"drift-{n_ref}-{n_cur}.npz"
    if not path.exists():
        ref = feature_matrix(np.random.default_rng(10), n_ref, drifted=False)
        cur = feature_matrix(np.random.default_rng(11), n_cur, drifted=True)
        np.savez(path, reference=np.ascontiguousarray(ref), current=np.ascontiguousarray(cur))
    return path


def ours_drift_once(ref: np.ndarray, cur: np.ndarray) -> tuple[dict, float, float]:
    """Full drift set for 20 features. Returns values, window seconds, reference-prep seconds."""
    from metrics.compute import drift

    t = time.perf_counter()
    prepared = []
    for j in range(ref.shape[1]):  # once per reference, stored with it in the app
        r = drift.clean_numeric(ref[:, j])
        edges = drift.reference_edges(r)
        prepared.append((np.sort(r), edges, drift.bin_counts(r, edges)))
    prep_s = time.perf_counter() - t
    t = time.perf_counter()
    values = {}
    for j, (ref_sorted, edges, ref_counts) in enumerate(prepared):
        c = drift.clean_numeric(cur[:, j])
        counts = drift.bin_counts(c, edges)
        ks, w = drift.ks_and_wasserstein(ref_sorted, c, ref_sorted=True)
        values[f"f{j}"] = {
            "psi": drift.psi(ref_counts, counts).value,
            "js": drift.js(ref_counts, counts).value,
            "ks": ks.value,
            "ks_p": ks.details["pvalue"],
            "wasserstein_normed": w.value,
        }
    q = drift.bh_qvalues([v["ks_p"] for v in values.values()])
    for v, qv in zip(values.values(), q, strict=True):
        v["ks_q"] = qv
    return values, time.perf_counter() - t, prep_s


def child_drift(path: str, repeats: int) -> dict:
    from metrics.compute import drift

    data = np.load(path)
    # columns contiguous, as the worker loads them (and as pandas holds Evidently's frame)
    ref, cur = np.asfortranarray(data["reference"]), np.asfortranarray(data["current"])
    runs, preps, values = [], [], {}
    for _ in range(repeats):
        values, window_s, prep_s = ours_drift_once(ref, cur)
        runs.append(window_s + prep_s)
        preps.append(prep_s)
    # the profile path: PSI / JS of 20 features from stored counts
    counts = [
        (drift.bin_counts(ref[:, j], e), drift.bin_counts(cur[:, j], e))
        for j, e in enumerate(drift.reference_edges(ref[:, j]) for j in range(ref.shape[1]))
    ]
    t = time.perf_counter()
    for r, c in counts:
        drift.psi(r, c)
        drift.js(r, c)
    from_counts_s = time.perf_counter() - t
    # our JS on Evidently's bins (Sturges over the combined sample, np.histogram)
    js_evidently_bins = {}
    for j in range(ref.shape[1]):
        r, c = drift.clean_numeric(ref[:, j]), drift.clean_numeric(cur[:, j])
        bins = np.histogram_bin_edges(np.concatenate([r, c]), bins="sturges")
        js_evidently_bins[f"f{j}"] = drift.js(np.histogram(r, bins)[0], np.histogram(c, bins)[0]).value
    return {
        "reference_rows": int(ref.shape[0]),
        "current_rows": int(cur.shape[0]),
        "total_s_runs": runs,
        "total_s": statistics.median(runs),
        "reference_prep_s": statistics.median(preps),
        "psi_js_from_counts_ms": from_counts_s * 1000,
        "values": values,
        "js_on_evidently_bins": js_evidently_bins,
        "peak_rss_mb": peak_rss_mb(),
    }


EVIDENTLY_SCRIPT = r"""
import json, resource, sys, time
import numpy as np
import pandas as pd
t = time.perf_counter()
from evidently import DataDefinition, Dataset, Report
from evidently.presets import DataDriftPreset
import_s = time.perf_counter() - t
path, repeats = sys.argv[1], int(sys.argv[2])
data = np.load(path)
cols = [f"f{j}" for j in range(data["reference"].shape[1])]
definition = DataDefinition(numerical_columns=cols)
ref = Dataset.from_pandas(pd.DataFrame(data["reference"], columns=cols), data_definition=definition)
cur = Dataset.from_pandas(pd.DataFrame(data["current"], columns=cols), data_definition=definition)

def run(preset):
    t = time.perf_counter()
    snapshot = Report([preset]).run(current_data=cur, reference_data=ref)
    elapsed = time.perf_counter() - t
    values, methods = {}, {}
    for m in snapshot.dict()["metrics"]:
        cfg = m.get("config", {})
        if cfg.get("type", "").endswith("ValueDrift"):
            values[cfg["column"]] = m["value"]
            methods[cfg["column"]] = cfg.get("method")
    return elapsed, values, methods

default_runs = [run(DataDriftPreset()) for _ in range(repeats)]
js_time, js_values, _ = run(DataDriftPreset(method="jensenshannon"))
print(json.dumps({
    "import_s": import_s,
    "default_s_runs": [r[0] for r in default_runs],
    "default_values": default_runs[-1][1],
    "default_methods": default_runs[-1][2],
    "js_s": js_time,
    "js_values": js_values,
    "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
}))
"""


def ensure_evidently() -> Path:
    python = EVIDENTLY_VENV / "bin" / "python"
    if not python.exists():
        print(f"creating {EVIDENTLY_VENV} with {' '.join(EVIDENTLY_SPEC)} …", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(EVIDENTLY_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *EVIDENTLY_SPEC], check=True)
    return python


def run_evidently(path: Path, repeats: int) -> dict:
    python = ensure_evidently()
    done = subprocess.run(
        [str(python), "-c", EVIDENTLY_SCRIPT, str(path), str(repeats)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    if done.returncode != 0:
        raise RuntimeError(f"Evidently run failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# --- driver ----------------------------------------------------------------------------------


def run_child(kind: str, *args: str) -> dict:
    done = subprocess.run(
        [sys.executable, __file__, "--child", kind, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    if done.returncode != 0:
        raise RuntimeError(f"{kind} child failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def fmt(x: float | None, digits: int = 6) -> str:
    return "—" if x is None else f"{x:.{digits}g}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--reference-rows", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3, help="our runs (median)")
    parser.add_argument(
        "--evidently-repeats", type=int, default=1, help="Evidently default-preset runs (median)"
    )
    parser.add_argument("--skip-evidently", action="store_true")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("child_args", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child == "rollup":
        print(json.dumps(child_rollup(int(args.child_args[0]), int(args.child_args[1]))))
        return 0
    if args.child == "drift":
        print(json.dumps(child_drift(args.child_args[0], int(args.child_args[1]))))
        return 0

    load = os.getloadavg()
    print(
        f"machine: {os.cpu_count()} cores shared with other work (load average {load[0]:.1f} / {load[1]:.1f} / "
        f"{load[2]:.1f}), python {sys.version.split()[0]}, numpy {np.__version__}"
    )
    failures = []
    results: dict = {"cores": os.cpu_count(), "loadavg_start": load}

    print(
        f"\n1. roll-up: {args.events:,} events, {N_FEATURES} numeric features, 3 cohort attributes …",
        flush=True,
    )
    rollup = run_child("rollup", str(args.events), str(args.repeats))
    results["rollup"] = rollup
    runs = " / ".join(f"{t:.2f}" for t in rollup["rollup_s_runs"])
    print(
        f"   build_profiles: {rollup['rollup_s']:.2f} s median (runs {runs}), "
        f"{rollup['profiles']:,} profiles over {rollup['buckets']} buckets\n"
        f"   peak RSS {rollup['peak_rss_mb']:.0f} MB (input data alone {rollup['rss_before_rollup_mb']:.0f} MB)\n"
        f"   merge of {rollup['buckets']} five-minute profiles → day: {rollup['merge_day_s'] * 1000:.1f} ms; "
        f"one profile as JSON ≈ {rollup['profile_json_bytes']:,} bytes"
    )
    if rollup["rollup_s"] > ROLLUP_BUDGET_S:
        failures.append(f"roll-up {rollup['rollup_s']:.2f} s > {ROLLUP_BUDGET_S} s")
    if rollup["peak_rss_mb"] > ROLLUP_BUDGET_MB:
        failures.append(f"roll-up peak RSS {rollup['peak_rss_mb']:.0f} MB > {ROLLUP_BUDGET_MB:.0f} MB")

    print(f"\n2. drift: {N_FEATURES} features, {args.events:,} window rows vs {args.reference_rows:,} reference rows …",
          flush=True)  # fmt: skip
    path = make_drift_data(args.events, args.reference_rows)
    ours = run_child("drift", str(path), str(args.repeats))
    results["drift_ours"] = ours
    runs = " / ".join(f"{t:.2f}" for t in ours["total_s_runs"])
    print(
        f"   ours (PSI, JS, KS+p, normed Wasserstein, BH q): {ours['total_s']:.2f} s median (runs {runs}), "
        f"of which reference preparation {ours['reference_prep_s']:.2f} s; "
        f"PSI+JS of 20 features from profile counts: {ours['psi_js_from_counts_ms']:.1f} ms"
    )
    if not args.skip_evidently:
        print("   Evidently 0.7.23 DataDriftPreset (own venv, subprocess) …", flush=True)
        ev = run_evidently(path, args.evidently_repeats)
        results["drift_evidently"] = ev
        ev_s = statistics.median(ev["default_s_runs"])
        speedup = ev_s / ours["total_s"]
        results["speedup"] = speedup
        print(
            f"   Evidently: {ev_s:.1f} s (Report.run, import {ev['import_s']:.1f} s excluded; runs "
            f"{' / '.join(f'{t:.1f}' for t in ev['default_s_runs'])}), JS preset {ev['js_s']:.1f} s, "
            f"peak RSS {ev['peak_rss_mb']:.0f} MB\n   speed-up: {speedup:.1f}x"
        )
        if speedup < SPEEDUP_BUDGET:
            failures.append(f"drift speed-up {speedup:.1f}x < {SPEEDUP_BUDGET}x")
        header = (
            f"   {'feature':8} {'W normed (ours)':>17} {'W normed (Evid.)':>17} {'|diff|':>9}   "
            f"{'JS deciles (ours)':>17} {'JS Sturges (Evid.)':>18} {'JS ours, Sturges':>17} {'|diff|':>9}"
        )
        print("\n" + header)
        max_w, max_js = 0.0, 0.0
        for name, v in ours["values"].items():
            w_ev = ev["default_values"].get(name)
            js_ev = ev["js_values"].get(name)
            js_same = ours["js_on_evidently_bins"][name]
            dw = abs(v["wasserstein_normed"] - w_ev) if w_ev is not None else None
            dj = abs(js_same - js_ev) if js_ev is not None else None
            max_w = max(max_w, dw or 0.0)
            max_js = max(max_js, dj or 0.0)
            print(
                f"   {name:8} {fmt(v['wasserstein_normed'], 10):>17} {fmt(w_ev, 10):>17} {fmt(dw, 2):>9}   "
                f"{fmt(v['js'], 8):>17} {fmt(js_ev, 8):>18} {fmt(js_same, 8):>17} {fmt(dj, 2):>9}"
            )
        methods = set(ev["default_methods"].values())
        print(f"   Evidently's default method for these columns: {', '.join(sorted(methods))}")
        print(f"   max |difference|: normed Wasserstein {max_w:.2g}, JS on the same bins {max_js:.2g}")
        results["max_abs_diff"] = {"wasserstein_normed": max_w, "js_same_bins": max_js}
        if max_w > 1e-9 or max_js > 1e-9:
            failures.append("values differ from Evidently's")

    results["loadavg_end"] = os.getloadavg()
    print(f"\nload average at the end: {results['loadavg_end'][0]:.1f} / {results['loadavg_end'][1]:.1f}")
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "results.json").write_text(json.dumps(results, indent=2))
    print(f"\nresults: {OUT / 'results.json'}")
    if failures:
        print("BUDGET MISSED: " + "; ".join(failures))
        return 1
    print("all budgets met")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
