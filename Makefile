# Voiceprint Studio: two commands for a newcomer.
#   make run   set up (Debian libraries, .venv, the package) and open the window
#   make test  the same set-up, then the whole test suite headless
# Both are idempotent: a second call only checks stamps and starts at once.

PYTHON      ?= python3
VENV        ?= .venv
PY          := $(VENV)/bin/python
PIP         := $(PY) -m pip
# pip's cache is kept (and shared between clones), so a second set-up does not
# download the ~2.5 GB torch wheels again.
export PIP_CACHE_DIR ?= $(HOME)/.cache/pip
# CPU-only users: point TORCH_INDEX at PyTorch's CPU wheel index (the one the
# install selector on PyTorch's site gives for "CPU"); default is PyPI (CUDA build on Linux).
TORCH_INDEX ?=
TORCH_PINS  := torch==2.9.1 torchaudio==2.9.1

# Debian runtime libraries for Qt (xcb/offscreen platforms) and PortAudio; strace for
# the test that watches the app's system calls for network traffic (tests/test_no_network.py).
DEB_PACKAGES := strace libportaudio2 libsndfile1 libegl1 libgl1 libxkbcommon0 libxkbcommon-x11-0 \
	libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0 \
	libxcb-render-util0 libxcb-shape0 libxcb-xinerama0 libxcb-xfixes0 libdbus-1-3 \
	libfontconfig1 libglib2.0-0

STAMP_DEB   := $(VENV)/.deb-ok
STAMP_TORCH := $(VENV)/.torch-ok
STAMP_PKG   := $(VENV)/.pkg-ok

.PHONY: run test setup system-deps lint bench package screenshots clean

run: setup
	$(VENV)/bin/voiceprint-studio

test: setup
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q
	$(VENV)/bin/ruff check engine gui tests bench packaging
	$(VENV)/bin/lint-imports

setup: $(STAMP_PKG)

system-deps: $(STAMP_DEB)

# Rechecked when the Makefile changes (a package added to DEB_PACKAGES reaches existing
# set-ups); the pip steps only need the venv to exist, so they do not rerun for it.
$(STAMP_DEB): Makefile
	@missing=""; for p in $(DEB_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = "0" ]; then \
	    echo "Installing Debian packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	  else \
	    echo "Missing Debian packages:$$missing"; \
	    echo "Install them with: sudo apt-get install$$missing"; exit 1; \
	  fi; \
	fi
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@touch $@

$(STAMP_TORCH): | $(STAMP_DEB)
	$(PIP) install -q --upgrade pip
	$(PIP) install $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX)) $(TORCH_PINS)
	@touch $@

$(STAMP_PKG): $(STAMP_TORCH) pyproject.toml
	$(PIP) install -e '.[test,bench]'
	@touch $@

lint: setup
	$(VENV)/bin/ruff check engine gui tests bench packaging
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy

bench: setup
	$(PIP) install -q -e '.[bench,plots]'
	$(PY) bench/run_all.py

# The desktop build uses its own venv (packaging/build/venv) with a CPU-only torch,
# so no CUDA library ends up in the bundle; see packaging/README.md.
package:
	$(PYTHON) packaging/build.py

clean:
	rm -rf $(VENV) build dist *.egg-info
