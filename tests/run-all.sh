#!/usr/bin/env bash
# The project's test command (README "Run the tests"). Installs what the tests need when it is missing —
# Dovecot (Debian dovecot-imapd) for the IMAP tests, moto for the AWS conformance tests — then builds and
# runs every test. Safe to run again: installed tools are detected and skipped.
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

cargo test --locked --no-fail-fast 2>&1
