#!/usr/bin/env bash
# Comptoir developer entry point.
#   ./dev.sh run    set up (first time) and start the desktop app in training mode
#   ./dev.sh test   set up (first time) and run the whole test suite (what CI runs)
#   ./dev.sh bench  run bench/run.py (pass --quick / names after it)
#   ./dev.sh package  build the self-contained Linux app (PyInstaller, one folder) in dist/
# Set-up: Debian packages when root (gnome-keyring for a real Secret Service, Qt's
# runtime libraries, poppler-utils, PostgreSQL: the sandbox suite also runs on a real
# server, which the tests start themselves from its binaries in a temporary folder —
# tests/pgserver.py), then a virtual environment in .venv with the
# project and its test extras, and the project's own bytecode compiled (as pip does for
# what it installs).  Re-running is cheap: nothing is reinstalled unless
# pyproject.toml changed.
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$(pwd)
VENV=${COMPTOIR_VENV:-$ROOT/.venv}

# Qt's xcb platform plugin (a real X display) needs the xcb-util family; Wayland sessions
# use the wayland client libraries.  xvfb + xdotool run the real-display test in CI.
QT_XCB_PACKAGES="libx11-xcb1 libxcb1 libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0 libxcb-render0 libxcb-render-util0 libxcb-shape0 libxcb-shm0 libxcb-sync1 libxcb-xfixes0 libxcb-xinerama0 libxcb-xkb1"
QT_WAYLAND_PACKAGES="libwayland-client0 libwayland-cursor0 libwayland-egl1"
APT_PACKAGES="python3-venv gnome-keyring dbus dbus-x11 libegl1 libgl1 libxkbcommon0 libxkbcommon-x11-0 libfontconfig1 libdbus-1-3 libglib2.0-0 poppler-utils desktop-file-utils $QT_XCB_PACKAGES $QT_WAYLAND_PACKAGES xvfb xdotool postgresql"

need_apt() {
  for p in $APT_PACKAGES; do
    dpkg -s "$p" >/dev/null 2>&1 || return 0
  done
  return 1
}

pick_python() {
  for py in python3.13 python3.12 python3.11 python3; do
    if command -v "$py" >/dev/null 2>&1 && "$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      echo "$py"; return 0
    fi
  done
  echo "Comptoir needs Python 3.11 or newer" >&2
  return 1
}

setup() {
  if command -v apt-get >/dev/null 2>&1 && need_apt; then
    if [ "$(id -u)" = 0 ]; then
      echo "== installing Debian packages: $APT_PACKAGES" >&2
      DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $APT_PACKAGES >&2
    elif command -v sudo >/dev/null 2>&1; then
      sudo DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
      sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $APT_PACKAGES >&2
    else
      echo "warning: not root: install these Debian packages yourself: $APT_PACKAGES" >&2
    fi
  fi
  local py stamp want
  py=$(pick_python)
  if [ ! -x "$VENV/bin/python" ]; then
    echo "== creating $VENV" >&2
    "$py" -m venv "$VENV"
  fi
  stamp="$VENV/.comptoir-installed"
  want=$(sha256sum pyproject.toml | cut -d' ' -f1)
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "== installing Comptoir and its test tools into $VENV" >&2
    "$VENV/bin/python" -m pip install -q --upgrade pip >&2 || true
    "$VENV/bin/python" -m pip install -q -e ".[test,packaging]" >&2
    echo "$want" > "$stamp"
  fi
  # pip compiles what it installs, not an editable project's own sources: without this,
  # where bytecode is never written (PYTHONDONTWRITEBYTECODE) every launch compiles them
  "$VENV/bin/python" "$ROOT/scripts/compile_bytecode.py" >&2
}

cmd=${1:-run}
shift || true
case "$cmd" in
  setup)
    setup ;;
  run)
    setup
    export COMPTOIR_TRAINING=${COMPTOIR_TRAINING:-1}
    exec "$VENV/bin/comptoir" "$@" ;;
  test)
    setup
    export QT_QPA_PLATFORM=offscreen
    export PYTHONDONTWRITEBYTECODE=1
    "$VENV/bin/ruff" check client sync ui bench tests
    set +e
    # Two processes (most tests wait on a server or a subprocess); one file stays on one
    # process, so module fixtures are made once.  COMPTOIR_TEST_WORKERS=0: one process.
    "$ROOT/.ci/with-keyring" "$VENV/bin/python" -m pytest -q -p no:cacheprovider \
      -n "${COMPTOIR_TEST_WORKERS:-2}" --dist loadfile "$@"
    rc=$?
    set -e
    [ $rc -eq 5 ] && { echo "no tests collected" >&2; exit 1; }
    exit $rc ;;
  bench)
    setup
    export QT_QPA_PLATFORM=offscreen
    exec "$ROOT/.ci/with-keyring" "$VENV/bin/python" bench/run.py "$@" ;;
  package)
    setup
    "$VENV/bin/python" -m PyInstaller --noconfirm --clean --log-level WARN \
      --distpath "$ROOT/dist" --workpath "$ROOT/build/pyinstaller" packaging/comptoir.spec
    echo "== built $ROOT/dist/comptoir (run dist/comptoir/comptoir; desktop entry: resources/comptoir.desktop)" >&2 ;;
  *)
    echo "usage: ./dev.sh run|test|bench|package|setup" >&2; exit 2 ;;
esac
