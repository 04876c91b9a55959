#!/usr/bin/env python3
"""Builds the bundled word-level corpus (train.txt, valid.txt, test.txt) from a plain-text dump
of the King James Version of the Bible.

Usage: python3 make_corpus.py RAW_DUMP [OUT_DIR]

RAW_DUMP is the output of the `bible` program of Debian's bible-kjv package (with the
bible-kjv-text data package):  bible -l0 "Gen1:1-Rev22:21" > RAW_DUMP
It holds chapter headings ("Genesis 1", "1 Samuel 3") and verse lines ("  20 He which ...").
The script reads only that file; it downloads nothing. OUT_DIR defaults to this script's folder.

Steps, in order:
 1. One line per verse, the verse number dropped; each line lowercased.
 2. A possessive 's is split off as its own token, as in the Penn Treebank ("lord's" -> "lord 's");
    any other apostrophe is removed ("moses'" -> "moses").
 3. Every run of digits becomes N (as in the Penn Treebank; the KJV text spells numbers out).
 4. A hyphen between two letters is kept ("beer-sheba"); every other character that is not a
    letter, N or an apostrophe of 's is replaced by a space; spaces are collapsed.
 5. Split by book: train = Matthew, Mark, Luke, Acts; valid = John chapters 1-10;
    test = John chapters 11-21.
 6. The vocabulary is the VOCAB most frequent words of train (ties broken alphabetically);
    every other word, in all three splits, becomes <unk>.
"""
import collections
import os
import re
import sys

VOCAB = 2000
TRAIN_BOOKS = ["Matthew", "Mark", "Luke", "Acts"]
VALID = ("John", 1, 10)
TEST = ("John", 11, 21)

HEADING = re.compile(r"^((?:[1-3] )?[A-Z][A-Za-z ]*?) (\d+)$")
VERSE = re.compile(r"^\s+\d+ (.*)$")


def normalise(text):
    t = text.lower()
    t = re.sub(r"'s\b", " 's", t)
    t = re.sub(r"(?<! )'", " ", t)        # apostrophes other than the one opening 's
    t = re.sub(r"[0-9]+", " N ", t)
    t = re.sub(r"(?<=[a-z])-(?=[a-z])", "\x00", t)   # protect word-internal hyphens
    t = re.sub(r"[^a-zN'\x00]+", " ", t)
    t = re.sub(r"(^| )'(?!s( |$))", " ", t)  # a lone apostrophe left over
    return " ".join(t.replace("\x00", "-").split())


def read_verses(path):
    """Yields (book, chapter, normalised verse) in order."""
    book = chapter = None
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line.strip():
                continue
            m = HEADING.match(line)
            if m:
                book, chapter = m.group(1), int(m.group(2))
                continue
            m = VERSE.match(line)
            if not m or book is None:
                sys.exit(f"{path}:{n}: neither a chapter heading nor a verse: {line!r}")
            yield book, chapter, normalise(m.group(1))


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    raw = sys.argv[1]
    out = sys.argv[2] if len(sys.argv) == 3 else os.path.dirname(os.path.abspath(__file__))
    splits = {"train": [], "valid": [], "test": []}
    for book, chapter, verse in read_verses(raw):
        if book in TRAIN_BOOKS:
            splits["train"].append(verse)
        elif book == VALID[0] and VALID[1] <= chapter <= VALID[2]:
            splits["valid"].append(verse)
        elif book == TEST[0] and TEST[1] <= chapter <= TEST[2]:
            splits["test"].append(verse)
    counts = collections.Counter(w for v in splits["train"] for w in v.split())
    keep = {w for w, _ in sorted(counts.items(), key=lambda wc: (-wc[1], wc[0]))[:VOCAB]}
    for name, verses in splits.items():
        path = os.path.join(out, name + ".txt")
        tokens = unk = 0
        with open(path, "w", encoding="utf-8", newline="\n") as f:
            for v in verses:
                words = [w if w in keep else "<unk>" for w in v.split()]
                tokens += len(words) + 1
                unk += sum(w == "<unk>" for w in words)
                f.write(" ".join(words) + "\n")
        print(f"{name}.txt: {len(verses)} lines, {tokens} tokens with </s>, {unk} <unk> ({100.0 * unk / tokens:.2f}%)")
    print(f"vocabulary: {len(keep)} words of {len(counts)} distinct in train, plus <unk> and </s>")


if __name__ == "__main__":
    main()
