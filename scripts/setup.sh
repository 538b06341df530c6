#!/usr/bin/env bash
# One-time set-up on a fresh machine (idempotent): Debian packages the tests need, then a venv
# with flowscope and its extras. Every command in the README starts with this script.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v java >/dev/null 2>&1 || need_apt+=(default-jre-headless)
command -v pdftotext >/dev/null 2>&1 || need_apt+=(poppler-utils)   # PDF report tests read PDFs back
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "setup: installing Debian packages: ${need_apt[*]}" >&2
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
  else
    echo "setup: please install ${need_apt[*]} (needed by browser, PDF and Spark tests)" >&2
  fi
fi

PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
stamp=.venv/.flowscope-setup
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  .venv/bin/python -m pip install -q --upgrade pip >/dev/null
  .venv/bin/python -m pip install -q -e ".[dev]"
  touch "$stamp"
fi
# flowscope's own modules compiled to bytecode once, as a non-editable install does: an editable one leaves them
# to each process, and where PYTHONDONTWRITEBYTECODE is set (many containers, this project's CI) every process
# compiled them again from source at its start: ~0.1 s of CPU for the CLI, the dashboard's server and its analyses
# process each (docs/dashboard.md, Start-up). Only files changed since are compiled again.
.venv/bin/python -m compileall -q flowscope >/dev/null
