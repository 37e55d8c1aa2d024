#!/usr/bin/env bash
# Installs and starts what the sandbox tests need on the host (stub until the sandbox lands).
exit 0
