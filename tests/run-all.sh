#!/usr/bin/env bash
# The project's test command (README "Run the tests"). Installs what the tests need when it is missing —
# Dovecot (Debian dovecot-imapd) for the IMAP tests, moto for the AWS conformance tests, cargo-lambda for the
# Lambda function's test — then builds and runs every test. Safe to run again: installed tools are detected
# and skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
[ -x /usr/sbin/dovecot ] || need_apt+=(dovecot-imapd)
if [ ${#need_apt[@]} -gt 0 ]; then
    echo "tests: installing ${need_apt[*]} (apt)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need_apt[@]}"
fi
# Dovecot's package starts a system instance where it can; the tests run their own on random ports.
# moto serves the conformance tests (tests/it/moto_conformance.rs); pinned to the version they were written against.
if ! command -v moto_server >/dev/null 2>&1 \
    || ! python3 -c 'import moto, sys; sys.exit(moto.__version__ != "5.2.1")' 2>/dev/null; then
    echo "tests: installing moto 5.2.1 (pip)"
    python3 -m pip install -q "moto[cognitoidp]==5.2.1" flask flask-cors
    # pyenv's Pythons reach PATH through shims, made for new console scripts only on rehash.
    if command -v pyenv >/dev/null 2>&1; then pyenv rehash; fi
    command -v moto_server >/dev/null 2>&1 || { echo "tests: moto_server still not on PATH after pip install" >&2; exit 1; }
fi

# cargo-lambda's emulator (`cargo lambda watch` / `invoke`) runs probe-lambda in tests/it/lambda.rs; pinned to the
# version the test was written against.
if ! cargo lambda --version 2>/dev/null | grep -q '^cargo-lambda 1\.9\.2 '; then
    echo "tests: installing cargo-lambda 1.9.2 (pip)"
    python3 -m pip install -q "cargo-lambda==1.9.2"
    if command -v pyenv >/dev/null 2>&1; then pyenv rehash; fi
    cargo lambda --version >/dev/null 2>&1 || { echo "tests: cargo lambda still not found after pip install" >&2; exit 1; }
fi

# The AWS CLI is exercised against `probe sandbox` (tests/it/twin_sandbox.rs).
if ! command -v aws >/dev/null 2>&1; then
    echo "tests: installing the AWS CLI (pip)"
    python3 -m pip install -q awscli
    if command -v pyenv >/dev/null 2>&1; then pyenv rehash; fi
    command -v aws >/dev/null 2>&1 || { echo "tests: aws still not on PATH after pip install" >&2; exit 1; }
fi

# checkov scans terraform-example (tests/it/terraform.rs). It lives in its own virtualenv: it pins an old
# boto3/botocore that would break the AWS CLI and moto if installed beside them.
CHECKOV_VENV="${XDG_CACHE_HOME:-$HOME/.cache}/cognito-delivery-probe/checkov-venv"
if [ ! -x "$CHECKOV_VENV/bin/checkov" ]; then
    echo "tests: installing checkov into $CHECKOV_VENV (pip)"
    python3 -m venv "$CHECKOV_VENV"
    "$CHECKOV_VENV/bin/python" -m pip install -q --upgrade pip
    "$CHECKOV_VENV/bin/python" -m pip install -q checkov
fi
export CHECKOV="$CHECKOV_VENV/bin/checkov"

# Formatting and lints are part of the tests. rustfmt leaves a statement alone when a line of it cannot fit
# in max_width (120), so lines over 120 characters are refused here: otherwise `cargo fmt --check` would
# pass on code it never formatted.
cargo fmt --all -- --check
long=$(find src crates tests benches -name '*.rs' -not -path '*/target/*' -print0 | python3 -c '
import sys
for path in sys.stdin.read().split("\0"):
    if path:
        for n, line in enumerate(open(path, encoding="utf-8").read().split("\n"), 1):
            if len(line) > 120:
                print(f"{path}:{n}: {len(line)} characters")
')
if [ -n "$long" ]; then
    echo "tests: lines over 120 characters (rustfmt skips the statements holding them):" >&2
    echo "$long" >&2
    exit 1
fi
cargo clippy --workspace --all-targets --locked -- -D warnings
# probe-lambda is built only with its feature.
cargo clippy --all-targets --locked --features lambda -- -D warnings

# The benches share crates/testkit with the tests: compile them (test profile, not run) so a change there
# cannot break them unnoticed. --workspace: the twin's and the testkit's own tests run too.
cargo test --locked --workspace --benches --no-run 2>&1
cargo test --locked --workspace --no-fail-fast 2>&1
