"""Device vs host, window by window: what `unikd-mcu hil` and hil_tests/ measure, and the report they write.

Host reference = the golden TFLM interpreter (codegen.golden) on windows quantised by codegen.quantise, the same
rule the device applies. Two modes:

- window mode: every window of the scenario's target test split is sent as int8; the device's int8 outputs must
  equal the golden outputs exactly, and so must its macro-F1.
- stream mode: the target subject's windows are stitched back into continuous recordings (consecutive windows
  overlap by window - stride samples, bit for bit), raw float32 samples are streamed, and the device's own windowed
  loop must produce, at every stride, the golden outputs of the window of the stream that ends there.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from codegen.metadata import ModelMetadata
from unikd.data.normalise import Normaliser
from unikd.errors import UserError
from unikd_mcu.hil import protocol as P
from unikd_mcu.hil.client import HilClient
from unikd.metrics import confusion_matrix, macro_f1


@dataclass
class Deployed:
    """A built model as the host scores it: metadata.json, the int8 .tflite and the run's data."""

    build_dir: Path
    metadata: ModelMetadata
    model: bytes
    run: object  # unikd.rundir.Run
    data: object  # unikd.data.scenario.ScenarioData
    elf: Path | None = None  # the emulated board's firmware image, once built

    @property
    def normaliser(self) -> Normaliser:
        return self.metadata.normaliser()

    def quantise(self, X_raw: np.ndarray) -> np.ndarray:
        from codegen.quantise import quantise_windows

        m = self.metadata
        return quantise_windows(X_raw, self.normaliser, m.input_scale, m.input_zero_point)

    def golden(self, q: np.ndarray) -> np.ndarray:
        from codegen.golden import GoldenModel

        return GoldenModel(self.model).run(q)


def load_deployed(build_dir, run_dir=None, data_dir=None) -> Deployed:
    """Read `unikd-mcu build`'s output folder (model.tflite, metadata.json) and its run's scenario data."""
    from unikd.rundir import load_run

    build_dir = Path(build_dir)
    for name in ("model.tflite", "metadata.json"):
        if not (build_dir / name).is_file():
            raise UserError(f"{build_dir} holds no {name}: build it with `unikd-mcu build --board qemu-m4 --run ...`")
    metadata = ModelMetadata.load(build_dir / "metadata.json")
    model = (build_dir / "model.tflite").read_bytes()
    if run_dir is None:
        report = build_dir / "report.json"
        if not report.is_file():
            raise UserError(f"{build_dir} does not say which run it was built from: give --run")
        run_dir = json.loads(report.read_text())["run"]
    run = load_run(run_dir)
    return Deployed(build_dir, metadata, model, run, run.scenario_data(data_dir))


# ---- streams -------------------------------------------------------------------------------------------------


@dataclass
class Segment:
    rows: np.ndarray  # data set rows of the windows, in recording order
    samples: np.ndarray  # (T, C) float32, T = window + (len(rows) - 1) * stride


def stitch_segments(X: np.ndarray, rows: np.ndarray, stride: int) -> list[Segment]:
    """Chain windows (X[rows], (N, C, L), in recording order) whose last L - stride samples equal the next
    window's first L - stride samples, bit for bit, into continuous recordings."""
    L = X.shape[2]
    overlap = L - stride
    segments, current = [], [int(rows[0])]
    for a, b in zip(rows[:-1], rows[1:]):
        if np.array_equal(X[a][:, stride:], X[b][:, :overlap]):
            current.append(int(b))
        else:
            segments.append(current)
            current = [int(b)]
    segments.append(current)
    out = []
    for seg in segments:
        parts = [X[seg[0]].T] + [X[r][:, overlap:].T for r in seg[1:]]
        out.append(Segment(np.asarray(seg), np.ascontiguousarray(np.concatenate(parts), np.float32)))
    return out


def subject_segments(data, stride: int) -> list[Segment]:
    """The target subject's recording, all its windows (train and test parts), in data set row order."""
    ws = data.windows
    rows = np.flatnonzero(ws.domain == data.scenario.target)
    return stitch_segments(ws.X, rows, stride)


def pick_segments(segments: list[Segment], max_windows: int | None, window: int, stride: int) -> list[Segment]:
    """Longest segments first, cut so that at most `max_windows` windows are streamed (None: all)."""
    chosen, left = [], max_windows
    for seg in sorted(segments, key=lambda s: -len(s.rows)):
        if left is not None and left <= 0:
            break
        n = len(seg.rows) if left is None else min(len(seg.rows), left)
        chosen.append(Segment(seg.rows[:n], seg.samples[: window + (n - 1) * stride]))
        if left is not None:
            left -= n
    return chosen


# ---- the two modes -------------------------------------------------------------------------------------------


def ticks_summary(ticks: list[int], hello: P.Hello) -> dict:
    """Inference time in the device's unit (instructions (QEMU) or microseconds)."""
    v = np.asarray(ticks, np.int64) * hello.ticks_scale
    if v.size == 0:
        return {"unit": hello.timer_label}
    return {"unit": hello.timer_label, "min": int(v.min()), "median": float(np.median(v)), "max": int(v.max()),
            "mean": float(v.mean())}


def scored(y_true: np.ndarray, predicted: np.ndarray, k: int) -> np.ndarray:
    """Device predictions ready for scoring: a failed inference (class 0xFF, or any value outside 0..k-1) counts
    as a wrong class for that window, so accuracy, macro-F1 and the confusion matrix all see it as an error."""
    y_true, predicted = np.asarray(y_true), np.asarray(predicted)
    return np.where((predicted >= 0) & (predicted < k), predicted, (y_true + 1) % k)


def window_mode(client: HilClient, dep: Deployed, progress=None, max_windows: int | None = None) -> dict:
    """Every window of the target test split (or its first `max_windows`) through the device and the host."""
    part = dep.data.target_test
    X, y = part.X[:max_windows], part.y[:max_windows]  # a slice: the deployed data stay whole for other callers
    q = dep.quantise(X)
    host = dep.golden(q)
    t0 = time.perf_counter()
    results = client.infer_windows(q, progress)
    seconds = time.perf_counter() - t0
    dev = np.stack([np.frombuffer(r.outputs, np.int8) for r in results])
    dev_pred = np.array([r.predicted for r in results])
    host_pred = host.argmax(1)
    same = (dev == host).all(axis=1)
    k = dep.metadata.num_classes
    dev_scored = scored(y, dev_pred, k)
    return {
        "windows": int(len(q)),
        "identical_outputs": int(same.sum()),
        "identical_fraction": float(same.mean()),
        "max_abs_output_difference": int(np.abs(dev.astype(int) - host.astype(int)).max()),
        "first_differing_windows": [int(i) for i in np.flatnonzero(~same)[:10]],
        "failed_inferences": int(sum(r.status != 0 for r in results)),
        "same_prediction": int((dev_pred == host_pred).sum()),
        "device": {"accuracy": float((dev_scored == y).mean()), "macro_f1": macro_f1(y, dev_scored, k)},
        "host_int8": {"accuracy": float((host_pred == y).mean()), "macro_f1": macro_f1(y, host_pred, k)},
        "confusion_matrix": confusion_matrix(y, dev_scored, k).tolist(),
        "inference": ticks_summary([r.ticks for r in results if r.status == 0], client.hello),
        "seconds": seconds,
        "windows_per_second": len(q) / seconds if seconds > 0 else None,
    }


def stream_mode(client: HilClient, dep: Deployed, max_windows: int | None = None, progress=None,
                calibrate: bool = False) -> dict:
    """Stream the target subject's recording. With `calibrate`, the host session's on-device calibration is on
    (reset at the start, carried across the segments) and the host's expectation is its exact re-computation
    (codegen.calibration); otherwise the build's constants, bit-exact with the golden interpreter."""
    m = dep.metadata
    window, stride = m.window, m.stride
    segments = pick_segments(subject_segments(dep.data, stride), max_windows, window, stride)
    rate = m.sample_rate_hz
    cal = None
    if calibrate:
        from codegen.calibration import CalibSettings, RunningCalibration

        cal = RunningCalibration(m.norm_mean, m.norm_inv_std, CalibSettings(m.calib_warmup, m.calib_refresh))
        client.set_mode(P.Mode.HOST)
        client.calibrate(P.CalibAction.RESET, P.CalibContext.HOST)
    total = {"segments": len(segments), "windows": 0, "identical": 0, "missing": 0, "extra": 0, "samples": 0,
             "quantised_windows_identical": 0}
    per_segment, ticks, mismatches = [], [], []
    y_true, y_dev = [], []
    t0 = time.perf_counter()
    for si, seg in enumerate(segments):
        ends = list(range(window, len(seg.samples) + 1, stride))
        if cal is None:
            host_q = dep.quantise(np.stack([seg.samples[e - window:e].T for e in ends]))  # (n, L, C) int8
        else:
            from codegen.quantise import quantise_normalised

            normalised, _ = cal.run(seg.samples)
            host_q = quantise_normalised(np.stack([normalised[e - window:e] for e in ends]), m.input_scale,
                                         m.input_zero_point)
        host = dep.golden(host_q)
        t_seg = time.perf_counter()
        got = client.stream_samples(seg.samples)
        seg_seconds = time.perf_counter() - t_seg
        # the device's last window, as it quantised the raw samples, against the host's quantisation
        dump_end, dump = client.dump_window()
        quant_same = dump_end == len(seg.samples) and np.array_equal(dump, host_q[-1])
        total["quantised_windows_identical"] += int(quant_same)
        identical = 0
        for i, e in enumerate(ends):
            r = got.get(e)
            if r is None:
                total["missing"] += 1
                continue
            out = np.frombuffer(r.outputs, np.int8)
            if r.status == 0 and np.array_equal(out, host[i]):
                identical += 1
            else:
                mismatches.append({"segment": si, "end": e, "row": int(seg.rows[i])})
            if r.status == 0:
                ticks.append(r.ticks)
            y_true.append(int(dep.data.windows.y[seg.rows[i]]))
            y_dev.append(int(r.predicted))
        total["extra"] += len(set(got) - set(ends))
        total["windows"] += len(ends)
        total["identical"] += identical
        total["samples"] += len(seg.samples)
        per_segment.append({"rows": [int(seg.rows[0]), int(seg.rows[-1])], "samples": len(seg.samples),
                            "windows": len(ends), "identical": identical, "seconds": seg_seconds})
        if progress:
            progress(si + 1, len(segments))
    seconds = time.perf_counter() - t0
    k = m.num_classes
    y_true = np.asarray(y_true)
    y_dev = scored(y_true, y_dev, k)
    return {
        **total,
        "calibrated": calibrate,
        "identical_fraction": total["identical"] / total["windows"] if total["windows"] else None,
        "mismatches": mismatches[:20],
        "device": {"accuracy": float((y_true == y_dev).mean()) if len(y_true) else None,
                   "macro_f1": macro_f1(y_true, y_dev, k) if len(y_true) else None},
        "inference": ticks_summary(ticks, client.hello),
        "seconds": seconds,
        "recording_seconds": total["samples"] / rate,
        "real_time_factor": (total["samples"] / rate) / seconds if seconds > 0 else None,
        "segments_detail": per_segment,
    }


def hello_dict(h: P.Hello) -> dict:
    return {"protocol_version": h.protocol_version, "firmware_version": h.firmware_version, "runtime": h.runtime,
            "model_hash": h.model_hash, "window": h.window, "channels": h.channels, "stride": h.stride,
            "classes": h.class_names, "input": [h.input_scale, h.input_zero_point],
            "output": [h.output_scale, h.output_zero_point], "timer_unit": h.timer_label,
            "runtime_ram_bytes": h.runtime_ram_bytes, "boot_count": h.boot_count,
            "mode": _name(P.Mode, h.mode),
            "sensor": _name(P.SensorState, h.sensor_state), "calibration": _name(P.CalibState, h.calib_state),
            "calibration_samples": h.calib_samples}


def _name(enum, value) -> str:
    try:
        return enum(value).name.lower()
    except ValueError:
        return f"unknown ({value})"


def status_dict(st: P.Status) -> dict:
    """The device's STATUS for the report: mode, sensor health and the counters of its sensor path."""
    return {"mode": _name(P.Mode, st.mode), "sensor": _name(P.SensorState, st.sensor_state),
            "calibration": _name(P.CalibState, st.calib_state), "calibration_samples": st.calib_samples,
            "calibration_stored": bool(st.calib_stored),
            **{k: getattr(st, k) for k in ("sensor_samples", "sensor_windows", "overruns", "missed", "late",
                                            "repeated", "read_failures", "ignored")}}


# ---- writing ---------------------------------------------------------------------------------------------------


def write_report(report: dict, out_dir: Path) -> dict[str, Path]:
    from unikd.plots import plot_confusion

    from unikd.outputs import atomic_dir

    out_dir = Path(out_dir)
    names = {"json": "hil_report.json", "markdown": "hil_report.md"}
    w = report.get("window_mode")
    if w:
        names["confusion"] = "hil_confusion.png"
    with atomic_dir(out_dir, "hil report") as tmp:
        (tmp / names["json"]).write_text(json.dumps(report, indent=2) + "\n")
        (tmp / names["markdown"]).write_text(markdown(report))
        if w:
            plot_confusion(np.asarray(w["confusion_matrix"]), report["device"]["classes"],
                           f"device ({report['board']}) on target test: macro-F1 {100 * w['device']['macro_f1']:.2f}",
                           tmp / names["confusion"])
    return {k: out_dir / v for k, v in names.items()}


def verdict(report: dict) -> bool:
    w, s, link = report.get("window_mode"), report.get("stream_mode"), report["link"]
    ok = not link["unanswered"]
    if w:
        ok &= w["identical_outputs"] == w["windows"] and w["device"]["macro_f1"] == w["host_int8"]["macro_f1"]
    if s:
        ok &= s["identical"] == s["windows"] and s["missing"] == 0
        ok &= s["quantised_windows_identical"] == s["segments"]
    return bool(ok)


def markdown(r: dict) -> str:
    d = r["device"]
    lines = [
        f"# HIL report: {r['board']} ({'PASS' if r['pass'] else 'FAIL'})",
        "",
        f"- Device: firmware {d['firmware_version']}, protocol {d['protocol_version']}, runtime {d['runtime']}, "
        f"model `{d['model_hash'][:16]}...` (matches metadata.json), {d['window']} x {d['channels']} window, "
        f"stride {d['stride']}, runtime RAM {d['runtime_ram_bytes']:,} B",
        f"- Link: {r['link_name']}",
        f"- Scenario: {r['scenario']}; model {r['build_dir']}",
    ]
    st = r.get("device_status")
    if st:
        lines.append(f"- Sensor: {st['sensor']}; mode {st['mode']}; wearer calibration {st['calibration']} "
                     f"({st['calibration_samples']:,} samples{', stored' if st['calibration_stored'] else ''}); "
                     f"sensor readings {st['sensor_samples']:,}, windows {st['sensor_windows']:,}, overruns "
                     f"{st['overruns']}, missed {st['missed']}, late {st['late']}, repeated {st['repeated']}, read "
                     f"failures {st['read_failures']}, ignored during the session {st['ignored']:,}")
    for line in r.get("link", {}).get("device_log", [])[-10:]:
        lines.append(f"- Device log: {line}")
    lines.append("")
    w = r.get("window_mode")
    if w:
        inf = w["inference"]
        lines += [
            f"## Window mode: target test split ({w['windows']} windows)",
            "",
            f"- int8 outputs identical to the golden TFLM interpreter: {w['identical_outputs']} / {w['windows']} "
            f"({100 * w['identical_fraction']:.2f} %), largest difference {w['max_abs_output_difference']}",
            f"- same predicted class: {w['same_prediction']} / {w['windows']}",
            "",
            "| | accuracy | macro-F1 |",
            "|---|---:|---:|",
            f"| device | {100 * w['device']['accuracy']:.2f} % | {100 * w['device']['macro_f1']:.4f} |",
            f"| host int8 (TFLM) | {100 * w['host_int8']['accuracy']:.2f} % | "
            f"{100 * w['host_int8']['macro_f1']:.4f} |",
            "",
            f"- inference: median {inf.get('median', 0):,.0f} {inf['unit']} (min {inf.get('min', 0):,}, "
            f"max {inf.get('max', 0):,})",
            f"- throughput: {w['windows_per_second']:.2f} windows/s over the serial link",
            "",
        ]
    s = r.get("stream_mode")
    if s:
        lines += [
            f"## Stream mode: target subject's recording ({s['segments']} continuous segments, {s['samples']:,} "
            f"samples, {s['windows']} windows)",
            "",
            *(["- on-device calibration on (the host session's: reset at the start, carried across the segments); "
                "the host's expectation is its exact re-computation (codegen.calibration)"]
              if s.get("calibrated") else []),
            f"- device predictions identical to the host's for the same window of the stream: {s['identical']} / "
            f"{s['windows']}; missing {s['missing']}, unexpected {s['extra']}",
            f"- the device's own quantisation of the raw samples (its last window, read back) identical to the "
            f"host's: {s['quantised_windows_identical']} / {s['segments']} segments",
            f"- device macro-F1 on the streamed windows: "
            f"{100 * s['device']['macro_f1']:.2f}" if s["device"]["macro_f1"] is not None else "- no windows",
            f"- real-time factor {s['real_time_factor']:.2f} ({s['recording_seconds']:.1f} s of recording at "
            f"{r['sample_rate_hz']:g} Hz streamed in {s['seconds']:.1f} s)",
            "",
        ]
    link = r["link"]
    lines += [
        "## Link accounting",
        "",
        f"- requests {link['requests']}, frames sent {link['transmissions']}, retries {link['retries']}, "
        f"timeouts {link['timeouts']}, unanswered {len(link['unanswered'])}",
        f"- device error frames: {link['device_errors'] or 'none'}; stray frames {link['stray_frames']}; "
        f"stream windows repaired {link['stream_repairs']}",
        f"- device resets detected: {len(link['resets'])}, requests sent again after a reset: "
        f"{link.get('resent_after_reset', 0)}"
        + "".join(f"\n  - boot {x['boot_count']} during {x['during']} (run resumed)" for x in link["resets"]),
        "",
    ]
    return "\n".join(lines)


def run_hil(client: HilClient, dep: Deployed, *, board: str, link_name: str, stream_windows: int | None = None,
            do_window: bool = True, do_stream: bool = True, progress=None, calibrate: bool = False) -> dict:
    """Handshake, window mode, stream mode; returns the report dict (see write_report)."""
    hello = client.hello or client.handshake()  # hil_session has usually handshaken already
    report = {
        "board": board, "link_name": link_name, "build_dir": str(dep.build_dir),
        "scenario": f"{dep.metadata.dataset} {dep.metadata.source}->{dep.metadata.target}",
        "sample_rate_hz": dep.metadata.sample_rate_hz, "device": hello_dict(hello),
    }
    if do_window:
        report["window_mode"] = window_mode(client, dep, progress and (lambda i: progress("window", i)))
    if do_stream:
        report["stream_mode"] = stream_mode(client, dep, stream_windows,
                                            progress and (lambda i, n: progress("segment", i, n)), calibrate)
    report["device_status"] = status_dict(client.status())
    report["link"] = client.log.to_dict()
    report["pass"] = verdict(report)
    return report
