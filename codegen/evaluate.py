"""Host float vs host int8 on a scenario's target TEST split.

float: the torch student on normalised windows. int8: the same raw windows quantised by codegen.quantise (the
device's rule) and run by the golden TFLM interpreter. Reported: accuracy and macro-F1 of each, the macro-F1 drop,
and top-1 agreement (the fraction of windows where int8 and float predict the same class)."""

from __future__ import annotations

import numpy as np

from codegen.golden import GoldenModel
from codegen.quantise import dequantise, quantise_windows
from unikd.metrics import macro_f1


def float_logits(net, normaliser, X_raw: np.ndarray, batch: int = 256) -> np.ndarray:
    import torch

    net.eval()
    X = normaliser.apply(X_raw)
    with torch.no_grad():
        return np.concatenate([net(torch.from_numpy(X[i:i + batch])).numpy() for i in range(0, len(X), batch)])


def int8_outputs(model: bytes, info, normaliser, X_raw: np.ndarray) -> np.ndarray:
    q = quantise_windows(X_raw, normaliser, info.input_scale, info.input_zero_point)
    return GoldenModel(model).run(q)


def compare_float_int8(net, model: bytes, info, normaliser, X_raw: np.ndarray, y: np.ndarray,
                       num_classes: int) -> dict:
    f = float_logits(net, normaliser, X_raw)
    q = int8_outputs(model, info, normaliser, X_raw)
    pf, pq = f.argmax(1), q.argmax(1)
    deq = dequantise(q, info.output_scale, info.output_zero_point)
    f1_f, f1_q = macro_f1(y, pf, num_classes), macro_f1(y, pq, num_classes)
    return {
        "windows": int(len(y)),
        "float": {"accuracy": float((pf == y).mean()), "macro_f1": f1_f},
        "int8": {"accuracy": float((pq == y).mean()), "macro_f1": f1_q},
        "macro_f1_drop_points": 100.0 * (f1_f - f1_q),
        "top1_agreement": float((pf == pq).mean()),
        "disagreeing_windows": int((pf != pq).sum()),
        "max_abs_logit_error": float(np.abs(deq - f).max()),
        "output_scale": float(info.output_scale),
    }
