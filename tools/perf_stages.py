#!/usr/bin/env python3
"""Groups a perf profile of a segd load by stage.

    taskset -c 0 perf record -F 500 build/tools/segd query --load FILE \
        --rule '{"field":"city","op":"eq","value":"Pune"}' --limit 0
    perf report --no-children --sort dso,symbol | tools/perf_stages.py

Reads perf's report on standard input and prints each stage's share of the
samples: the kernel, parsing, storing, the dictionaries and their trigram
lists, number and event columns, decoding stored profiles, and copies.
"""
import re
import sys

# First match wins: the trigram build before the rest of the dictionaries.
STAGES = [
    ("trigram lists", r"BuildTrigrams|BuildLetterRuns"),
    ("parse", r"RecordParser|simdjson|ParseDateShaped|ParseIso|NestingDepth"
              r"|CivilFromDays|IsNull|BlockProcessor|SplitLines|memchr"),
    ("store", r"ProfileStore|ProfileEncoder|PutVarint|RowTable|IsoLayout"
              r"|FormatIsoLayout|BlobArena|PutString"),
    ("dictionaries", r"StringIndex|FoldAscii|SortByText|HashBytes|introsort"
                     r"|insertion_sort"),
    ("number and event columns", r"IntKeys|SortByKey|RadixSort|Index::Build"
                                 r"|BuildEventColumns|roaring|ToColumn|KeyRuns"
                                 r"|RealKeys|RangeBuckets|Union|TakeBitmap"),
    ("decoding stored profiles", r"DecodeProfile"),
    ("copies and compares", r"memmove|memcmp|memcpy|memset|_M_replace"
                            r"|basic_string"),
]


def main():
    shares = {name: 0.0 for name, _ in STAGES}
    kernel = {"all": 0.0, "zeroing fresh pages": 0.0, "copying file data": 0.0}
    other = 0.0
    line_re = re.compile(r"\s*([\d.]+)%\s+\S+\s+\[(.)\]\s+(.*)")
    for line in sys.stdin:
        m = line_re.match(line)
        if not m:
            continue
        share, kind, symbol = float(m.group(1)), m.group(2), m.group(3)
        if kind == "k":
            kernel["all"] += share
            if "clear_page" in symbol:
                kernel["zeroing fresh pages"] += share
            elif "copy_to_iter" in symbol:
                kernel["copying file data"] += share
            continue
        for name, pattern in STAGES:
            if re.search(pattern, symbol):
                shares[name] += share
                break
        else:
            other += share
    print(f"{'kernel':28s} {kernel['all']:5.1f}%")
    for part in ("zeroing fresh pages", "copying file data"):
        print(f"  {part:26s} {kernel[part]:5.1f}%")
    for name, share in sorted(shares.items(), key=lambda kv: -kv[1]):
        print(f"{name:28s} {share:5.1f}%")
    print(f"{'other':28s} {other:5.1f}%")


if __name__ == "__main__":
    main()
