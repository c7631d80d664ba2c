# Entry points; the real work is in scripts/ so it can be run without make.
#   make run                    local server on http://127.0.0.1:5000 (SQLite)
#   make test [ARGS="-k foo"]   lint-imports + pytest on PostgreSQL and on SQLite
#   make bench [BENCH="name"]   bench/*.py on SQLite then PostgreSQL
#   make clean                  remove .venv and caches (never instance/)
SHELL := /bin/bash

.PHONY: help run test bench clean
.DEFAULT_GOAL := help

# Extra pytest arguments, passed to both pytest runs. Left unquoted on
# purpose: the shell parses them, so ARGS='-k "a and b"' works.
ARGS ?=
# Benchmarks to run (names or paths); empty means all of bench/*.py.
BENCH ?=

help:
	@sed -n 's/^#   make/make/p' $(firstword $(MAKEFILE_LIST))

run:
	@scripts/run.sh

test:
	@scripts/test.sh $(ARGS)

bench:
	@scripts/bench.sh $(BENCH)

# instance/ holds the local SQLite database and keys: never removed here.
clean:
	rm -rf .venv .pytest_cache .hypothesis build dist *.egg-info
	find . -path ./.venv -prune -o -path ./instance -prune -o \
	    -type d -name __pycache__ -prune -exec rm -rf {} +
