"""Checks that tfmon runs it like python: argv, __name__, sys.path[0], cwd."""
import argparse
import json
import os
import sys

parser = argparse.ArgumentParser()
parser.add_argument("--lr", type=float, required=True)
parser.add_argument("--name")
parser.add_argument("out")
args = parser.parse_args()
with open(args.out, "w") as f:
    json.dump(
        {
            "lr": args.lr,
            "name": args.name,
            "argv": sys.argv,
            "main": __name__,
            "path0": sys.path[0],
            "cwd": os.getcwd(),
        },
        f,
    )
