"""Latency of a running `serve` under concurrent clients: each client keeps one connection
and POSTs the same 280x280 PNG drawing (a 7, as the page sends) to /api/predict, one request
after another. Prints requests per second and the 50th/90th/99th percentile latency; nothing
is asserted (the machine decides the numbers: say which one with them).

    cargo run --release -- serve --run artifacts/<run> --port 8080 &
    python3 bench/serve_load.py --url http://127.0.0.1:8080 --clients 8 --requests 500

Needs numpy (for the drawing, shared with drawn_digits.py).
"""

import argparse
import http.client
import json
import platform
import threading
import time
import urllib.parse

import numpy as np

from drawn_digits import draw, png


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def client(host, port, body, count, latencies, errors):
    connection = http.client.HTTPConnection(host, port, timeout=60)
    for _ in range(count):
        start = time.perf_counter()
        connection.request("POST", "/api/predict", body=body, headers={"Content-Type": "image/png"})
        response = connection.getresponse()
        answer = response.read()
        latencies.append(time.perf_counter() - start)
        if response.status != 200 or json.loads(answer)["class"] != 7:
            errors.append(f"{response.status}: {answer[:200]!r}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:8080")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=500, help="per client")
    args = parser.parse_args()
    url = urllib.parse.urlparse(args.url)
    body = png(draw(7, np.random.default_rng(7)))
    latencies, errors = [], []
    threads = [threading.Thread(target=client, args=(url.hostname, url.port, body, args.requests, latencies, errors))
               for _ in range(args.clients)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    ms = np.percentile(np.array(latencies) * 1000, [50, 90, 99])
    print(f"{cpu_model()}: {args.clients} clients x {args.requests} requests, {len(body)}-byte PNG")
    print(f"{len(latencies) / elapsed:.0f} requests/s; latency p50 {ms[0]:.1f} ms, p90 {ms[1]:.1f} ms, "
          f"p99 {ms[2]:.1f} ms; errors {len(errors)}")
    for error in errors[:5]:
        print("  ", error)


if __name__ == "__main__":
    main()
