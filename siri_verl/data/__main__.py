"""``python -m siri_verl.data prepare NAME... [--out DIR] [--from DIR] [--limit N]``

Examples:
    python -m siri_verl.data prepare all                      # from the Hugging Face hub
    python -m siri_verl.data prepare aime24 math500 --from ../shared/data --out data/
    python -m siri_verl.data list                             # the registry, with notes
"""

from __future__ import annotations

import argparse
import sys

from siri_verl.data.prepare import (
    DEFAULT_OUT,
    DataSourceUnavailable,
    expand_names,
    prepare,
)
from siri_verl.data.sources import ALL, SOURCES


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m siri_verl.data", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("prepare", help="write <out>/<name>.parquet for each NAME")
    run.add_argument("names", nargs="+", metavar="NAME", help=f"one of {', '.join(SOURCES)} or {ALL}")
    run.add_argument("--out", default=str(DEFAULT_OUT), help=f"output directory (default {DEFAULT_OUT})")
    run.add_argument("--from", dest="from_dir", default=None,
                     help="read a local mirror laid out like ../shared/data instead of the hub")
    run.add_argument("--limit", type=int, default=None, help="keep at most N rows per data set")
    commands.add_parser("list", help="show the registered data sets")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "list":
        for source in SOURCES.values():
            where = source.hf_id + (f" ({source.hf_config})" if source.hf_config else "")
            print(f"{source.name:14s} {source.split:5s} {where:45s} {', '.join(source.local_files)}"
                  + (f"  # {source.note}" if source.note else ""))
        return 0
    try:
        names = expand_names(args.names)
    except KeyError as error:
        print(f"error: {error.args[0]}", file=sys.stderr)
        return 2
    total_skipped = 0
    for name in names:
        try:
            total_skipped += len(prepare(name, args.out, args.from_dir, args.limit).skipped)
        except DataSourceUnavailable as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
    if total_skipped:
        print(f"{total_skipped} bad rows skipped in all (see the warnings above)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
