"""The federated agent: a Flower server (OEM) or client (supplier) in its own environment.

Flower pins old FastAPI and Ray, so this file runs under the separate ``.venv-flower``
interpreter and imports nothing from Dure: numpy, flwr and the standard library only.

What is federated is the defect-type head: a softmax layer over embeddings from the
frozen, shipped backbone. Suppliers train it on their own labelled defect images and send
only the head's weights (a few thousand numbers). The PatchCore memory bank, which holds
patch features close to raw images, is never federated; each site keeps its own.

    server --address HOST:PORT --initial in.npz --out out.npz --clients N --rounds R
           [--strategy fedavg|fedprox --mu 0.1 --dp-noise 1.0 --dp-clip 0.5]
    client --address HOST:PORT --data local.npz [--epochs 2 --lr 0.5 --l2 1e-4]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np


def softmax_steps(
    weights: list[np.ndarray],
    x: np.ndarray,
    y: np.ndarray,
    epochs: int,
    lr: float,
    l2: float,
    mu: float,
    seed: int,
) -> tuple[list[np.ndarray], float]:
    """Mini-batch gradient steps on the softmax head; ``mu`` > 0 adds FedProx's proximal pull."""
    w, b = (a.astype(np.float64).copy() for a in weights)
    w0, b0 = w.copy(), b.copy()
    classes = w.shape[0]
    onehot = np.eye(classes)[y]
    rng = np.random.default_rng(seed)
    loss = 0.0
    for _ in range(epochs):
        for batch in np.array_split(rng.permutation(len(y)), max(1, len(y) // 32)):
            z = x[batch] @ w.T + b
            z -= z.max(axis=1, keepdims=True)
            p = np.exp(z)
            p /= p.sum(axis=1, keepdims=True)
            loss = float(-np.mean(np.log(p[np.arange(len(batch)), y[batch]] + 1e-12)))
            g = (p - onehot[batch]) / len(batch)
            w -= lr * (g.T @ x[batch] + l2 * w + mu * (w - w0))
            b -= lr * (g.sum(axis=0) + mu * (b - b0))
    return [w.astype(np.float32), b.astype(np.float32)], loss


def _client(args: argparse.Namespace) -> None:
    import flwr as fl

    data = np.load(args.data)
    x, y = data["x"].astype(np.float64), data["y"].astype(np.int64)

    class HeadClient(fl.client.NumPyClient):  # type: ignore[misc]
        def fit(self, parameters, config):  # type: ignore[no-untyped-def]
            mu = float(config.get("proximal_mu", 0.0))
            rnd = int(config.get("server_round", 0))
            new, loss = softmax_steps(
                parameters, x, y, args.epochs, args.lr, args.l2, mu, args.seed + rnd
            )
            accuracy = float(np.mean((x @ new[0].T + new[1]).argmax(axis=1) == y))
            return new, len(y), {"local_loss": loss, "local_accuracy": accuracy}

        def evaluate(self, parameters, config):  # type: ignore[no-untyped-def]
            z = x @ parameters[0].T + parameters[1]
            return 0.0, len(y), {"accuracy": float(np.mean(z.argmax(axis=1) == y))}

    fl.client.start_client(
        server_address=args.address,
        client=HeadClient().to_client(),
        insecure=True,
        max_retries=30,
        max_wait_time=120.0,
    )


def _server(args: argparse.Namespace) -> None:
    import flwr as fl
    from flwr.common import ndarrays_to_parameters, parameters_to_ndarrays
    from flwr.server.strategy import (
        DifferentialPrivacyServerSideFixedClipping,
        FedAvg,
        FedProx,
    )

    initial = np.load(args.initial)
    start = [initial["w"].astype(np.float32), initial["b"].astype(np.float32)]
    history: list[dict[str, object]] = []

    def fit_config(rnd: int) -> dict[str, int]:
        return {"server_round": rnd}

    def fit_metrics(results):  # type: ignore[no-untyped-def]
        total = sum(n for n, _ in results) or 1
        merged = {
            "local_accuracy": sum(n * m.get("local_accuracy", 0.0) for n, m in results) / total,
            "examples": total,
        }
        history.append({"round": len(history) + 1, **merged})
        return merged

    common = dict(
        min_fit_clients=args.clients,
        min_available_clients=args.clients,
        fraction_evaluate=0.0,
        min_evaluate_clients=0,
        initial_parameters=ndarrays_to_parameters(start),
        on_fit_config_fn=fit_config,
        fit_metrics_aggregation_fn=fit_metrics,
    )
    strategy = (
        FedProx(proximal_mu=args.mu, **common) if args.strategy == "fedprox" else FedAvg(**common)
    )
    if args.dp_noise > 0:
        strategy = DifferentialPrivacyServerSideFixedClipping(
            strategy, args.dp_noise, args.dp_clip, args.clients
        )
    final: dict[str, list[np.ndarray]] = {}
    inner = strategy

    original = inner.aggregate_fit

    def keep(rnd, results, failures):  # type: ignore[no-untyped-def]
        params, metrics = original(rnd, results, failures)
        if params is not None:
            final["weights"] = parameters_to_ndarrays(params)
        return params, metrics

    inner.aggregate_fit = keep  # type: ignore[method-assign]
    started = time.time()
    fl.server.start_server(
        server_address=args.address,
        config=fl.server.ServerConfig(num_rounds=args.rounds, round_timeout=args.round_timeout),
        strategy=inner,
    )
    if "weights" not in final:
        print("no round finished: no client sent an update", file=sys.stderr)
        sys.exit(2)
    np.savez(args.out, w=final["weights"][0], b=final["weights"][1])
    Path(args.out).with_suffix(".json").write_text(
        json.dumps({"rounds": history, "seconds": round(time.time() - started, 2)})
    )


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and run the server or the client."""
    parser = argparse.ArgumentParser(prog="flower_agent")
    sub = parser.add_subparsers(dest="role", required=True)
    server = sub.add_parser("server")
    server.add_argument("--address", required=True)
    server.add_argument("--initial", required=True)
    server.add_argument("--out", required=True)
    server.add_argument("--clients", type=int, required=True)
    server.add_argument("--rounds", type=int, default=30)
    server.add_argument("--round-timeout", type=float, default=600.0)
    server.add_argument("--strategy", choices=("fedavg", "fedprox"), default="fedprox")
    server.add_argument("--mu", type=float, default=0.1)
    server.add_argument("--dp-noise", type=float, default=0.0)
    server.add_argument("--dp-clip", type=float, default=1.0)
    client = sub.add_parser("client")
    client.add_argument("--address", required=True)
    client.add_argument("--data", required=True)
    client.add_argument("--epochs", type=int, default=2)
    client.add_argument("--lr", type=float, default=0.5)
    client.add_argument("--l2", type=float, default=1e-4)
    client.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    _server(args) if args.role == "server" else _client(args)


if __name__ == "__main__":
    main()
