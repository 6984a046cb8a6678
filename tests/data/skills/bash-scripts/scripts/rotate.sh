#!/bin/sh
set -eu
for f in "$1"/*.log; do mv "$f" "$f.1"; done
