#!/bin/bash
gzip -9 "$1"/*.log.1
