# Berth: `make run` to start everything on this machine, `make test` to run the suite.
# Both install what is missing first (Debian packages, the virtualenv). Run as root.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# The runtime CLI's client of the fork server (runtime/forkclient.c), built here.
CLIENT := $(VENV)/bin/berth-runtime
DEB_PACKAGES := runc conmon nftables redis-server busybox-static iproute2 curl chromium catatonit skopeo \
  debootstrap gcc libc6-dev
# Only the tests need these: podman as the other side of image interchange, a registry and htpasswd.
TEST_DEB_PACKAGES := podman docker-registry apache2-utils
export BERTH_VAR_DIR ?= $(CURDIR)/var

.PHONY: run stop test deps debs venv debian

run: deps
	@deploy/services.sh start

stop:
	@deploy/services.sh stop

# debian:bookworm-slim for the host's store, from Debian's mirror (about half a minute).
debian: deps
	$(PY) -m runtime bootstrap debian

test: deps
	@$(MAKE) -s debs DEB_PACKAGES="$(TEST_DEB_PACKAGES)"
	$(PY) -m pytest

# Byte-compiled once here: where PYTHONDONTWRITEBYTECODE is set, every process (the CLI,
# conmon's exit command) would compile the sources again at each start.
deps: debs venv $(CLIENT)
	@$(PY) -m compileall -q runtime workers webui >/dev/null

# Its constants (the socket's name, the checkout, the interpreter) come from the server's module.
$(CLIENT): runtime/forkclient.c runtime/forkserver.py runtime/config.py $(VENV)/.installed
	@mkdir -p $(VENV)/berth
	@$(PY) -m runtime.forkserver --client-header "$(CURDIR)/$(PY)" > $(VENV)/berth/forkclient.h
	cc -O2 -Wall -Wextra -Werror -o $@ -I$(VENV)/berth runtime/forkclient.c

# Install the Debian packages that are missing; apt-get update only when needed.
debs:
	@missing=$$(for p in $(DEB_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done); \
	if ! $(PYTHON) -c 'import venv, ensurepip' 2>/dev/null; then missing="$$missing python3-venv"; fi; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	touch $@
