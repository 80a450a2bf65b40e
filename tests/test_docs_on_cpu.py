"""Every ``docs/...`` path that the package, its configs, the recipes or the README cite exists in the repo."""

from __future__ import annotations

import re

from _repo import REPO as ROOT

CITING = ("siri_verl", "conf", "recipes", "README.md", "docs")
DOC_PATH = re.compile(r"(?<![\w/.])docs/[\w./-]*\w")


def _citing_files():
    for name in CITING:
        path = ROOT / name
        if path.is_file():
            yield path
        else:
            yield from (p for p in path.rglob("*") if p.is_file() and p.suffix in {".py", ".yaml", ".md"})


def test_every_cited_doc_exists():
    cited = {(str(path.relative_to(ROOT)), m) for path in _citing_files() for m in DOC_PATH.findall(path.read_text())}
    assert any(doc == "docs/siri.md" for _, doc in cited) and any(doc == "docs/inftythink.md" for _, doc in cited)
    missing = sorted(f"{where}: {doc}" for where, doc in cited if not (ROOT / doc).exists())
    assert not missing, "cited but not in the repo:\n" + "\n".join(missing)


def test_the_docs_cite_only_files_in_the_repo():
    for doc in ("docs/siri.md", "docs/inftythink.md"):
        text = (ROOT / doc).read_text()
        assert "../shared" not in text and "/work/" not in text, doc
        for path in re.findall(r"`((?:siri_verl|conf|recipes|results|tests)/[\w./-]+?)(?::\w[\w.]*)?`", text):
            assert (ROOT / path).exists(), f"{doc} cites {path}, which is not in the repo"
