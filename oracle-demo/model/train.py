#!/usr/bin/env python3
"""Trains the oracle demo's price model and writes its ONNX file and data.

The market is synthetic but has the stylised facts of a real hourly crypto series:
  - GARCH(1,1) volatility clustering (calm stretches and bursts, fat-tailed returns),
  - weak short-term momentum (AR(1) returns, phi = 0.15) so recent returns carry some signal,
  - volume that rises with volatility and with the size of the last move (log-normal noise).

Features of hour t (17 values, all of order 1 so one quantization scale fits them all):
  [0]      p_t, the price in USD (the token trades around 1-4 USD)
  [1..8]   the last 8 log-returns r_{t-7..t}, divided by the series' long-run volatility
  [9..16]  the last 8 log-volumes as z-scores against the trailing 48-hour mean and deviation
Target: p_{t+1}, the next hour's price in USD. The oracle publishes the model's estimate.

The model is a residual MLP: p_{t+1} = p_t + f(features), f a 17-32-16-1 ReLU MLP trained on
the next hour's price change (in cents). It is exported as plain Gemm/Relu layers, ONNX opset 13,
input shape [1, 17]: the skip connection is one extra ReLU unit per hidden layer carrying p_t
(positive, so ReLU passes it unchanged), hence 17-33-17-1 in the file. Everything is seeded:
running this again writes the same files.

Writes, next to this script:
  price_mlp.onnx       the model
  calibration.json     {"input_data": [...]}: 64 training rows for `zkml compile --calibrate`
  sample.input.json    {"input_data": [[...]]}: one held-out row
  rounds.json          the held-out rows the demo proves, one per oracle round, with the
                       actual next price and the model's float prediction
Usage: python3 oracle-demo/model/train.py   (needs numpy scikit-learn skl2onnx onnx)
"""

import json
import os

import numpy as np
from sklearn.neural_network import MLPRegressor
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
SEED = 20261126
HOURS = 6000
LAGS = 8
VOL_WINDOW = 48
N_FEATURES = 1 + 2 * LAGS
N_ROUNDS = 32


def market(rng):
    """Prices and volumes of HOURS hours."""
    omega, alpha, beta = 2e-6, 0.09, 0.89  # GARCH(1,1); long-run hourly vol ~ 0.95%
    phi = 0.15
    var = omega / (1 - alpha - beta)
    r_prev = 0.0
    eps_prev = 0.0
    price = np.empty(HOURS + 1)
    volume = np.empty(HOURS + 1)
    price[0] = 2.0
    volume[0] = 1e6
    for t in range(1, HOURS + 1):
        var = omega + alpha * eps_prev**2 + beta * var
        eps = np.sqrt(var) * rng.standard_t(5) / np.sqrt(5 / 3)
        r = phi * r_prev + eps - 0.5 * var
        # Keep the token within its range (a soft pull toward 2 USD over long horizons).
        r += -0.002 * np.log(price[t - 1] / 2.0)
        price[t] = price[t - 1] * np.exp(r)
        volume[t] = 1e6 * np.exp(0.8 * np.log(np.sqrt(var) / 0.0095) + 25 * abs(r) + 0.3 * rng.standard_normal())
        r_prev, eps_prev = r, eps
    return price, volume


def features(price, volume):
    """Rows t = VOL_WINDOW .. HOURS-1: features of hour t, target price[t+1]."""
    logret = np.diff(np.log(price), prepend=np.log(price[0]))
    sigma = logret[1:].std()
    logvol = np.log(volume)
    rows, targets, index = [], [], []
    for t in range(VOL_WINDOW, len(price) - 1):
        window = logvol[t - VOL_WINDOW + 1 : t + 1]
        z = (logvol[t - LAGS + 1 : t + 1] - window.mean()) / (window.std() + 1e-9)
        r = np.clip(logret[t - LAGS + 1 : t + 1] / sigma, -4, 4)
        rows.append(np.concatenate([[price[t]], r, np.clip(z, -4, 4)]))
        targets.append(price[t + 1])
        index.append(t)
    return np.array(rows), np.array(targets), np.array(index), sigma


def export(model):
    """The residual MLP as Gemm/Relu layers with the skip connection folded in."""
    w1, w2, w3 = model.coefs_
    b1, b2, b3 = model.intercepts_
    e0 = np.zeros((N_FEATURES, 1)); e0[0, 0] = 1.0
    w1x = np.hstack([w1, e0]); b1x = np.append(b1, 0.0)               # unit 32 = p_t
    w2x = np.zeros((w2.shape[0] + 1, w2.shape[1] + 1))
    w2x[:-1, :-1] = w2; w2x[-1, -1] = 1.0; b2x = np.append(b2, 0.0)   # unit 16 = p_t
    w3x = np.vstack([w3 / 100, [[1.0]]]); b3x = b3 / 100              # p_t + f / 100
    layers = [(w1x, b1x), (w2x, b2x), (w3x, b3x)]
    nodes, inits, cur = [], [], "features"
    for i, (w, b) in enumerate(layers):
        inits += [numpy_helper.from_array(w.astype(np.float32), f"W{i}"),
                  numpy_helper.from_array(b.astype(np.float32), f"B{i}")]
        out = "price" if i == len(layers) - 1 else f"h{i}"
        nodes.append(helper.make_node("Gemm", [cur, f"W{i}", f"B{i}"], [out + ("" if i == len(layers) - 1 else "_lin")], name=f"dense{i}"))
        if i < len(layers) - 1:
            nodes.append(helper.make_node("Relu", [out + "_lin"], [out], name=f"relu{i}"))
        cur = out
    graph = helper.make_graph(nodes, "price_mlp",
                              [helper.make_tensor_value_info("features", TensorProto.FLOAT, [1, N_FEATURES])],
                              [helper.make_tensor_value_info("price", TensorProto.FLOAT, [1, 1])], inits)
    onx = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="zkml oracle-demo")
    onx.ir_version = 8
    onnx.checker.check_model(onx)
    return onx


def forward(onx, x):
    """The exported model in numpy (float32), to check the export."""
    p = {i.name: numpy_helper.to_array(i) for i in onx.graph.initializer}
    h = x.astype(np.float32)
    for i in range(3):
        h = h @ p[f"W{i}"] + p[f"B{i}"]
        if i < 2:
            h = np.maximum(h, 0)
    return h[:, 0]


def main():
    rng = np.random.default_rng(SEED)
    price, volume = market(rng)
    x, y, idx, sigma = features(price, volume)
    split = int(len(x) * 0.8)
    xtr, ytr, xte, yte = x[:split], y[:split], x[split:], y[split:]

    model = MLPRegressor(hidden_layer_sizes=(32, 16), activation="relu", alpha=1e-4,
                         learning_rate_init=1e-3, max_iter=400, early_stopping=True,
                         n_iter_no_change=25, random_state=SEED)
    model.fit(xtr, 100 * (ytr - xtr[:, 0]))  # next hour's change in cents
    pred = xte[:, 0] + model.predict(xte) / 100
    naive = xte[:, 0]
    rmse = lambda a: float(np.sqrt(np.mean((a - yte) ** 2)))
    direction = float(np.mean(np.sign(pred - naive) == np.sign(yte - naive)))
    print(f"series: {HOURS} hours, price {price.min():.3f}..{price.max():.3f} USD, hourly vol {sigma:.4%}")
    print(f"test RMSE: model {rmse(pred):.5f} USD, last price {rmse(naive):.5f} USD; "
          f"direction hit rate {direction:.1%} over {len(yte)} hours")

    onx = export(model)
    ops = sorted({n.op_type for n in onx.graph.node})
    with open(os.path.join(HERE, "price_mlp.onnx"), "wb") as f:
        f.write(onx.SerializeToString())
    check = forward(onx, xte[:64])
    assert np.allclose(check, pred[:64], atol=1e-4), "exported model disagrees with the trained one"

    r6 = lambda v: [round(float(a), 6) for a in v]
    cal = np.linspace(0, split - 1, 64).astype(int)
    with open(os.path.join(HERE, "calibration.json"), "w") as f:
        json.dump({"input_data": [r6(x[i]) for i in cal]}, f)
    with open(os.path.join(HERE, "sample.input.json"), "w") as f:
        json.dump({"input_data": [r6(xte[0])]}, f)
    rounds = [
        {"hour": int(idx[split + i]), "features": r6(xte[i]), "price": round(float(xte[i, 0]), 6),
         "next_price": round(float(yte[i]), 6), "model_price": round(float(pred[i]), 6)}
        for i in range(N_ROUNDS)
    ]
    meta = {"description": "SYN/USD next-hour price (zkml residual MLP 17-32-16-1)", "features": N_FEATURES,
            "seed": SEED, "test_rmse_model": rmse(pred), "test_rmse_last_price": rmse(naive),
            "direction_hit_rate": direction, "ops": ops}
    with open(os.path.join(HERE, "rounds.json"), "w") as f:
        json.dump({"meta": meta, "rounds": rounds}, f, indent=1)
    print(f"wrote price_mlp.onnx ({ops}), calibration.json, sample.input.json, rounds.json")


if __name__ == "__main__":
    main()
