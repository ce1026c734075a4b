#!/usr/bin/env python3
"""Measure the real llama-server's throughput curve and fit the simulated backend to it.

Starts llama-server with -np 8 and the tiny model on 127.0.0.1. Sends 1, 2, 4 and 8 concurrent
schema-constrained chat requests of a fixed output length and reports the aggregate output
tokens per second and the per-request latency at each level. Then it fits the simulated
backend's slowdown model, in which one request of n output tokens takes

    n / rate * (1 + slowdown * (active - 1))

(server.sim_output_tokens_per_s and server.sim_slowdown_per_slot), by least squares on the
per-request latency, and prints the fit's relative error per level.

usage: bench/llama_curve.py [--rounds 3] [--tokens 64] [--json]
The binary is OLLAMA_FLOW_LLAMA_SERVER, else llama-server on PATH, else
llama-server/bin/llama-server in the folder beside the repository. The model is
OLLAMA_FLOW_LLAMA_MODEL, else tiny.gguf beside the binary or in the folder above it.
"""
import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

LEVELS = (1, 2, 4, 8)
SLOTS = 8

# One long string: the noise rarely closes it early, so almost every reply ends at max_tokens.
SCHEMA = {
    "type": "object",
    "properties": {"text": {"type": "string"}},
    "required": ["text"],
    "additionalProperties": False,
}


def find_binary():
    named = os.environ.get("OLLAMA_FLOW_LLAMA_SERVER")
    if named:
        return named
    on_path = shutil.which("llama-server")
    if on_path:
        return on_path
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return os.path.join(os.path.dirname(repo), "shared", "llama-server", "bin", "llama-server")


def find_model(binary):
    named = os.environ.get("OLLAMA_FLOW_LLAMA_MODEL")
    if named:
        return named
    folder = os.path.dirname(binary)
    for candidate in (os.path.join(folder, "tiny.gguf"),
                      os.path.join(os.path.dirname(folder), "tiny.gguf")):
        if os.path.isfile(candidate):
            return candidate
    sys.exit(f"error: no tiny.gguf beside {binary}: set OLLAMA_FLOW_LLAMA_MODEL")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(binary, model, port, log):
    argv = [binary, "-m", model, "--host", "127.0.0.1", "--port", str(port), "-np", str(SLOTS),
            "-c", str(SLOTS * 1024), "-fit", "off", "--metrics"]
    server = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"error: llama-server exited with code {server.returncode}: {' '.join(argv)}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as reply:
                if reply.status == 200:
                    return server
        except (urllib.error.URLError, ConnectionError):
            pass
        time.sleep(0.05)
    server.kill()
    sys.exit("error: llama-server was not healthy within 60 s")


def chat(port, tokens, seed):
    body = {
        "messages": [{"role": "user", "content": "Write a long text."}],
        "max_tokens": tokens,
        "temperature": 0.8,
        "seed": seed,
        "response_format": {"type": "json_schema",
                            "json_schema": {"name": "text", "schema": SCHEMA}},
    }
    request = urllib.request.Request(f"http://127.0.0.1:{port}/v1/chat/completions",
                                     data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    begin = time.monotonic()
    with urllib.request.urlopen(request, timeout=600) as reply:
        document = json.load(reply)
    return time.monotonic() - begin, document["usage"]["completion_tokens"]


def measure_level(port, concurrent, rounds, tokens):
    latencies, total_tokens, wall = [], 0, 0.0
    for round_index in range(rounds):
        results = [None] * concurrent

        def run(i):
            results[i] = chat(port, tokens, seed=round_index * 100 + i)

        threads = [threading.Thread(target=run, args=(i,)) for i in range(concurrent)]
        begin = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall += time.monotonic() - begin
        for latency, produced in results:
            latencies.append(latency)
            total_tokens += produced
    return {
        "concurrent": concurrent,
        "output_tokens": total_tokens,
        "aggregate_tokens_per_s": total_tokens / wall,
        "mean_latency_s": sum(latencies) / len(latencies),
        "max_latency_s": max(latencies),
    }


def fit_slowdown(levels, tokens):
    """Least squares of latency = a + b * (c - 1), with a = tokens / rate and b = a * slowdown."""
    xs = [level["concurrent"] - 1 for level in levels]
    ys = [level["mean_latency_s"] for level in levels]
    n = len(xs)
    mean_x, mean_y = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mean_x) ** 2 for x in xs)
    b = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys)) / sxx
    a = mean_y - b * mean_x
    rate = tokens / a
    slowdown = b / a
    errors = []
    for level, x, y in zip(levels, xs, ys):
        predicted = a + b * x
        errors.append({"concurrent": level["concurrent"], "measured_latency_s": y,
                       "predicted_latency_s": predicted, "relative_error": (predicted - y) / y})
    return {"output_tokens_per_s": rate, "slowdown_per_slot": slowdown, "levels": errors,
            "max_abs_relative_error": max(abs(e["relative_error"]) for e in errors)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="batches per concurrency level")
    parser.add_argument("--tokens", type=int, default=64, help="output tokens per request")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    args = parser.parse_args()

    binary = find_binary()
    if not os.access(binary, os.X_OK):
        sys.exit(f"error: llama-server not found at {binary}: set OLLAMA_FLOW_LLAMA_SERVER")
    model = find_model(binary)
    port = free_port()
    with tempfile.NamedTemporaryFile("w", prefix="llama-curve-", suffix=".log") as log:
        server = start_server(binary, model, port, log)
        try:
            chat(port, 8, seed=0)  # warm-up, so that no level pays for the first request
            levels = [measure_level(port, c, args.rounds, args.tokens) for c in LEVELS]
        finally:
            server.terminate()
            server.wait(timeout=10)
    fit = fit_slowdown(levels, args.tokens)
    result = {"binary": binary, "model": model, "slots": SLOTS, "tokens": args.tokens,
              "rounds": args.rounds, "load_average": os.getloadavg(), "levels": levels,
              "fit": fit}
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"llama-server -np {SLOTS}, {args.tokens} output tokens per request, "
          f"{args.rounds} rounds, load average {os.getloadavg()[0]:.1f}")
    print("concurrent  aggregate tok/s  mean latency s  max latency s  fit latency s  fit error")
    for level, error in zip(levels, fit["levels"]):
        print(f"{level['concurrent']:>10}  {level['aggregate_tokens_per_s']:>15.1f}  "
              f"{level['mean_latency_s']:>14.2f}  {level['max_latency_s']:>13.2f}  "
              f"{error['predicted_latency_s']:>13.2f}  {error['relative_error']:>+9.1%}")
    print(f"fit: server.sim_output_tokens_per_s = {fit['output_tokens_per_s']:.1f}, "
          f"server.sim_slowdown_per_slot = {fit['slowdown_per_slot']:.3f}, "
          f"max error {fit['max_abs_relative_error']:.1%}")


if __name__ == "__main__":
    main()
