"""Python side of benches/authres.rs: parses the same corpus with PyPI `authres` and prints one JSON line.

Usage: python3 benches/authres_python.py CORPUS.json [SECONDS]
CORPUS.json is a JSON list of `Authentication-Results: ...` strings (unfolded), written by the Rust
benchmark. Loops over the corpus until SECONDS (default 2) have passed; parse errors count as work done.
"""

import json
import sys
import time

try:
    import authres
except ImportError:
    sys.stderr.write("python module authres is missing; hint: pip install authres==1.2.0\n")
    sys.exit(2)


def main() -> None:
    corpus = json.load(open(sys.argv[1], encoding="utf-8"))
    budget = float(sys.argv[2]) if len(sys.argv) > 2 else 2.0
    parse = authres.AuthenticationResultsHeader.parse

    ok = error = 0
    for header in corpus:
        try:
            parse(header)
            ok += 1
        except Exception:  # noqa: BLE001 - a rejected header is a result, not a failure of the run
            error += 1

    done = 0
    start = time.perf_counter()
    while time.perf_counter() - start < budget:
        for header in corpus:
            try:
                parse(header)
            except Exception:  # noqa: BLE001
                pass
        done += len(corpus)
    elapsed = time.perf_counter() - start
    version = getattr(authres, "__version__", None)
    if version is None:
        try:
            from importlib.metadata import version as dist_version

            version = dist_version("authres")
        except Exception:  # noqa: BLE001
            version = "?"
    print(json.dumps({"headers_per_sec": done / elapsed, "ok": ok, "error": error, "version": version}))


if __name__ == "__main__":
    main()
