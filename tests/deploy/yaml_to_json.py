"""Prints the YAML documents of each file named (or of stdin, for `-`) as one JSON array, so that
the Rust tests read YAML without a YAML crate: [[file 1's documents...], [file 2's...]]."""

import json
import sys

import yaml


def documents(name):
    if name == "-":
        return [d for d in yaml.safe_load_all(sys.stdin) if d is not None]
    with open(name) as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


print(json.dumps([documents(name) for name in sys.argv[1:]]))
