"""``python -m siri_verl.data prepare NAME... [--out DIR] [--from DIR] [--limit N]`` | ``list``

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

PREPARE_EXAMPLES = """examples:
  python -m siri_verl.data prepare all                                    # every data set, from the Hugging Face hub
  python -m siri_verl.data prepare deepscaler aime24 aime25 amc math500   # what the SIRI recipes read
  python -m siri_verl.data prepare aime24 math500 --from ../shared/data --out data/ --limit 50
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m siri_verl.data",
        description="Prepare the training and benchmark data sets as verl RL parquet, one row per problem in\n"
        "the DeepSeek-R1-Distill chat layout, where the recipes and eval read them\n"
        f"(siri_verl.data_dir, default {DEFAULT_OUT}).\nBad rows are reported by file and index and skipped.",
        epilog=PREPARE_EXAMPLES
        + "  python -m siri_verl.data list                                           # the registry, with notes\n",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = commands.add_parser(
        "prepare", help="write <out>/<name>.parquet for each NAME",
        description="Write <out>/<name>.parquet for each NAME, from the Hugging Face hub (the ids in\n"
        "siri_verl/data/sources.py) or from a local mirror (--from).",
        epilog=PREPARE_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    run.add_argument("names", nargs="+", metavar="NAME", help=f"one of {', '.join(SOURCES)} or {ALL}")
    run.add_argument(
        "--out",
        metavar="DIR",
        default=str(DEFAULT_OUT),
        help=f"output directory (default {DEFAULT_OUT}; $SIRI_VERL_DATA_DIR moves it)",
    )
    run.add_argument(
        "--from",
        dest="from_dir",
        metavar="DIR",
        default=None,
        help="read a local mirror laid out like ../shared/data instead of the hub",
    )
    run.add_argument("--limit", metavar="N", type=int, default=None, help="keep at most N rows per data set")
    commands.add_parser(
        "list", help="show the registered data sets",
        description="Show the registered data sets: name, split, Hugging Face id, local file names, notes.",
        epilog="example:\n  python -m siri_verl.data list", formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "list":
        for source in SOURCES.values():
            where = source.hf_id + (f" ({source.hf_config})" if source.hf_config else "")
            print(
                f"{source.name:14s} {source.split:5s} {where:45s} {', '.join(source.local_files)}"
                + (f"  # {source.note}" if source.note else "")
            )
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
