"""Fuzzing pack manifests: opening a pack folder (``manifest.json``, ``documents.json``), the
signed sync description (``PackInfo.from_custom``), an unpacked archive's manifest
(``PackInfo.from_manifest``) and a pack's ``golden.jsonl``.

A pack folder, a pack repository's metadata and a pack's sources come from outside the machine.
Opening raises :class:`KnowledgeError` (a damaged pack: :class:`PackDamagedError`), sync raises
:class:`SyncError`, golden questions raise :class:`KnowledgeError` naming the line.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from fuzzkit import has_fix, memory_box, mutated, only_documented
from hypothesis import given
from hypothesis import strategies as st
from test_fuzz_config import JSON

from desktop.core.errors import KnowledgeError, SyncError
from desktop.core.knowledge.compat import SCHEMA_VERSION
from desktop.core.knowledge.embedder import Embedder
from desktop.core.knowledge.golden import GoldenQuestion, parse_golden, read_golden
from desktop.core.knowledge.index import Pack, PackDamagedError
from desktop.core.sync.install import CUSTOM_KEY, PackInfo

SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
NAMES = st.one_of(
    st.sampled_from(["demo", "faq", "1.0", "a" * 64, "a" * 65, ".", "..", "a\n", "a/b", ""]),
    st.text(max_size=12),
)


@pytest.fixture(scope="module")
def unloaded_embedder() -> Embedder:
    """The real embedding model's id and weights (opening a pack never runs the model)."""
    import lancedb  # noqa: F401 - imported once here, not inside an example's memory limit

    model = Embedder()
    model.weights_hash()
    return model


@st.composite
def manifests(draw: st.DrawFn, embedder_id: str) -> object:
    """A manifest near a real one (so opening gets past the compatibility check), or anything."""
    real = {
        "id": draw(st.one_of(NAMES, JSON)),
        "title": draw(st.one_of(st.text(max_size=10), JSON)),
        "version": draw(st.one_of(NAMES, JSON)),
        "schema_version": draw(st.one_of(st.just(SCHEMA_VERSION), JSON)),
        "embedding": draw(st.one_of(st.just({"model": embedder_id}), JSON)),
    }
    drop = draw(st.sets(st.sampled_from(sorted(real))))
    return draw(st.one_of(st.just({k: v for k, v in real.items() if k not in drop}), JSON))


DOCUMENT_ENTRY = st.fixed_dictionaries(
    {},
    optional={
        "source": st.one_of(st.text(max_size=10), JSON),
        "file": st.one_of(st.sampled_from(["docs/0001.txt", "../x", "/etc/passwd"]), JSON),
        "title": JSON,
        "headings": st.one_of(st.lists(st.lists(JSON, max_size=4), max_size=3), JSON),
        "pages": JSON,
        "meta": JSON,
    },
)


def document_files(draw: st.DrawFn, value: object) -> bytes:
    raw = json.dumps(value).encode()
    return draw(st.one_of(st.just(raw), mutated(raw), st.binary(max_size=64)))


@given(st.data())
def test_pack_folder_opens_or_is_refused(
    tmp_path: Path, unloaded_embedder: Embedder, data: st.DataObject
) -> None:
    manifest = data.draw(manifests(unloaded_embedder.model_id))
    documents = data.draw(st.one_of(st.lists(DOCUMENT_ENTRY, max_size=4), JSON))
    (tmp_path / "manifest.json").write_bytes(
        data.draw(st.builds(json.dumps, st.just(manifest))).encode()
    )
    if data.draw(st.booleans()):
        (tmp_path / "manifest.json").write_bytes(document_files(data.draw, manifest))
    (tmp_path / "documents.json").write_bytes(document_files(data.draw, documents))
    result = memory_box(
        lambda: only_documented(lambda: Pack(tmp_path, unloaded_embedder), KnowledgeError),
        limit=20_000_000,
    )
    # There is no LanceDB table here: a pack that gets past its JSON files is damaged.
    assert isinstance(result, KnowledgeError), result
    assert has_fix(result), result


def check_info(result: object) -> None:
    if isinstance(result, SyncError):
        return
    assert isinstance(result, PackInfo)
    assert SAFE_NAME.fullmatch(result.id) and SAFE_NAME.fullmatch(result.version), result
    assert result.id not in {".", ".."} and result.version not in {".", ".."}
    assert all(isinstance(v, int) for v in (result.schema_version, result.file_count))


CUSTOM_FIELDS = st.fixed_dictionaries(
    {},
    optional={
        key: st.one_of(NAMES, JSON, st.sampled_from([1e400, -1e400, float("nan"), 2**70]))
        for key in (
            "id",
            "version",
            "title",
            "embedding_model",
            "schema_version",
            "unpacked_size",
            "file_count",
            "weights_sha256",
        )
    },
)


@given(st.one_of(st.fixed_dictionaries({CUSTOM_KEY: st.one_of(CUSTOM_FIELDS, JSON)}), JSON))
def test_signed_pack_description_is_read_or_refused(custom: object) -> None:
    result = only_documented(lambda: PackInfo.from_custom(custom), SyncError)  # type: ignore[arg-type]
    if isinstance(result, SyncError):
        assert has_fix(result)
    check_info(result)


@given(st.one_of(CUSTOM_FIELDS, JSON), st.integers(0, 2**40), st.integers(0, 10**6))
def test_unpacked_manifest_is_read_or_refused(manifest: object, size: int, count: int) -> None:
    result = only_documented(lambda: PackInfo.from_manifest(manifest, size, count), SyncError)  # type: ignore[arg-type]
    check_info(result)


GOLDEN_LINE = st.one_of(
    st.builds(
        json.dumps,
        st.dictionaries(
            st.sampled_from(["question", "expect", "article", "fact", "topic", "qestion"]),
            st.one_of(
                st.sampled_from(["answered", "no_source", "route_to_human", "a.md", "../x"]), JSON
            ),
            max_size=5,
        ),
    ),
    st.builds(lambda n: "[" * n + "]" * n, st.integers(0, 50_000)),
    st.text(max_size=40),
)


@given(st.lists(GOLDEN_LINE, max_size=6).map("\n".join), st.booleans())
def test_golden_file_is_read_or_refused(tmp_path: Path, text: str, bom: bool) -> None:
    path = tmp_path / "golden.jsonl"
    path.write_bytes(("\ufeff" if bom else "").encode() + text.encode("utf-8", "replace"))
    result = only_documented(lambda: read_golden(path), KnowledgeError)
    if isinstance(result, KnowledgeError):
        assert has_fix(result) or "cannot be read" in result.message
        return
    for question in result:
        assert question.question.strip() and question.expect in (
            "answered",
            "no_source",
            "route_to_human",
        )


QUESTIONS = st.builds(
    lambda q, a, f: GoldenQuestion(line=0, question=q, article=a, fact=f),
    st.text(min_size=1, max_size=30).filter(str.strip).map(str.strip),
    st.from_regex(r"[a-z0-9\u2028\x85 ]{1,10}\.md", fullmatch=True).filter(
        lambda a: a.strip() == a
    ),
    st.text(max_size=20).map(str.strip),
)


@given(st.lists(QUESTIONS, min_size=1, max_size=5))
def test_golden_questions_written_as_json_lines_read_back(questions: list[GoldenQuestion]) -> None:
    text = "\n".join(
        json.dumps({k: v for k, v in q.to_json().items() if k != "line"}, ensure_ascii=False)
        for q in questions
    )
    read = only_documented(lambda: parse_golden(text), KnowledgeError)
    assert not isinstance(read, Exception), read
    assert [(q.question, q.article, q.fact) for q in read] == [
        (q.question, q.article, q.fact) for q in questions
    ]


# Failures the fuzzer found, as named regression tests (each raised a bare Python error, or
# accepted what it must refuse, or refused what it must accept).


def test_regression_signed_description_not_an_object() -> None:
    """Custom metadata ``true`` (not an object): AttributeError instead of SyncError."""
    with pytest.raises(SyncError, match="no usable Deskmate pack description") as caught:
        PackInfo.from_custom(True)  # type: ignore[arg-type]
    assert has_fix(caught.value)


def test_regression_signed_description_infinite_count() -> None:
    """``"file_count": 1e400`` (JSON reads it as infinity): OverflowError from int()."""
    fields = {"id": "faq", "version": "1", "embedding_model": "m", "schema_version": 3}
    with pytest.raises(SyncError):
        PackInfo.from_custom({CUSTOM_KEY: {**fields, "unpacked_size": 1, "file_count": 1e400}})


@pytest.mark.parametrize(
    "manifest", [None, [], {"id": "faq", "version": "1", "schema_version": 1e400}]
)
def test_regression_unpacked_manifest_malformed(manifest: object) -> None:
    """A manifest that is null, a list or has an infinite schema version: AttributeError or
    OverflowError instead of SyncError. ("embedding" as text is read as no model: refused
    later as another model's pack.)"""
    with pytest.raises(SyncError) as caught:
        PackInfo.from_manifest(manifest, 1, 1)  # type: ignore[arg-type]
    assert has_fix(caught.value)


@pytest.mark.parametrize("name", ["faq\n", "1.0\n"])
def test_regression_pack_name_with_final_newline(name: str) -> None:
    """``^...$`` let a pack id or version end in a newline (``$`` matches before a final
    ``\\n``), which then became part of a folder name."""
    fields = {"id": "faq", "version": "1", "embedding_model": "m", "schema_version": 3}
    for key in ("id", "version"):
        custom = {**fields, key: name, "unpacked_size": 1, "file_count": 1}
        with pytest.raises(SyncError, match="not a usable pack"):
            PackInfo.from_custom({CUSTOM_KEY: custom})


@pytest.mark.parametrize(
    "documents",
    ["{}", "[1]", '[{"file": "docs/1.txt"}]', '[{"source": ["a"], "file": "x"}]'],
)
def test_regression_documents_json_not_a_list_of_documents(
    tmp_path: Path, unloaded_embedder: Embedder, documents: str
) -> None:
    """documents.json as an object, a list of numbers, or entries without a text source:
    TypeError or KeyError instead of PackDamagedError."""
    manifest = {
        "id": "faq",
        "schema_version": SCHEMA_VERSION,
        "embedding": {"model": unloaded_embedder.model_id},
    }
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    (tmp_path / "documents.json").write_text(documents)
    with pytest.raises(PackDamagedError, match=r"documents\.json is not a list"):
        Pack(tmp_path, unloaded_embedder)


@pytest.mark.parametrize("name", ["manifest.json", "documents.json"])
def test_regression_pack_json_nested_absurdly_deep(
    tmp_path: Path, unloaded_embedder: Embedder, name: str
) -> None:
    """100,000 nested brackets in a pack's JSON: RecursionError instead of PackDamagedError."""
    manifest = {
        "id": "faq",
        "schema_version": SCHEMA_VERSION,
        "embedding": {"model": unloaded_embedder.model_id},
    }
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    (tmp_path / "documents.json").write_text("[]")
    (tmp_path / name).write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(PackDamagedError, match="nested more than"):
        Pack(tmp_path, unloaded_embedder)


def test_regression_golden_line_nested_absurdly_deep() -> None:
    """A golden.jsonl line of thousands of nested brackets: RecursionError from the JSON parser."""
    with pytest.raises(KnowledgeError, match="line 2: not valid JSON") as caught:
        parse_golden('{"question": "q", "expect": "no_source"}\n' + "[" * 5000 + "]" * 5000)
    assert has_fix(caught.value)


@pytest.mark.parametrize("separator", ["\x85", "\u2028", "\u2029"])
def test_regression_golden_line_separator_inside_a_string(separator: str) -> None:
    """``json.dumps(..., ensure_ascii=False)`` writes U+0085 or U+2028 as they are; splitting
    the file with ``str.splitlines`` broke such a line in two ("not valid JSON")."""
    line = json.dumps({"question": f"a{separator}b", "article": "x.md"}, ensure_ascii=False)
    (question,) = parse_golden(f"{line}\r\n\r\n")
    assert question.question == f"a{separator}b"
