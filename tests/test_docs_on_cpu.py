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


def _readme_layout() -> str:
    text = (ROOT / "README.md").read_text()
    start = text.index("## How it fits together")
    return text[text.index("```\nsiri_verl/", start) : text.index("\n```", text.index("```\nsiri_verl/", start) + 4)]


def test_the_readme_layout_names_every_module_and_folder_of_the_package():
    layout = _readme_layout()
    package = ROOT / "siri_verl"
    names = [p.name for p in package.glob("*.py") if p.name != "__init__.py"]
    names += [f"{p.name}/" for p in package.iterdir() if (p / "__init__.py").exists()]
    names += [p.name for p in (package / "lab").glob("*.py") if p.name != "__init__.py"]
    missing = [name for name in names if not re.search(rf"(?<![\w.]){re.escape(name)}", layout)]
    assert not missing, f"README.md's layout ('How it fits together') does not name: {missing}"


def test_the_readme_and_tests_readme_cite_only_paths_in_the_repo():
    for doc in ("README.md", "tests/README.md"):
        text = (ROOT / doc).read_text()
        for path in re.findall(r"`((?:siri_verl|conf|recipes|results|tests|scripts)/[\w./-]+?)(?::\w[\w.]*)?`", text):
            assert (ROOT / path).exists(), f"{doc} cites {path}, which is not in the repo"


def test_tests_readme_lists_every_test_folder():
    table = (ROOT / "tests" / "README.md").read_text()
    folders = sorted(p.name for p in (ROOT / "tests").iterdir() if p.is_dir() and any(p.glob("test_*.py")))
    missing = [f for f in folders if f"| `{f}/` |" not in table]
    assert not missing, f"tests/README.md's table lacks {missing}"
