"""Property-based tests (hypothesis): SHA1 and URI parsing, filesystem keys that never leave
their root, and the HTTP endpoints, which never answer 500 whatever they are sent."""

import hashlib
import json
import os
import shutil
import tempfile
from urllib.parse import quote

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bitstore_app.core import FileSystemRaw, InvalidURI, Sha1Composite, is_sha1, parse_sha1
from bitstore_app.models import Tier

HEX = "0123456789abcdefABCDEF"


def examples(count=100):
    """Hypothesis settings: `count` examples, no time limit per example, no example database;
    function-scoped fixtures are set up once for all examples, which these tests allow for."""
    return settings(
        max_examples=count,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )


sha1_texts = st.builds(
    lambda digest, upper, prefix: (
        ("sha1://" if prefix else "")
        + "".join(c.upper() if u else c for c, u in zip(digest.hex(), upper, strict=False))
    ),
    st.binary(min_size=20, max_size=20),
    st.lists(st.booleans(), min_size=40, max_size=40),
    st.booleans(),
)
#: Text that looks like a SHA1 or a path often, and like anything else sometimes.
tricky_text = st.one_of(
    st.text(),
    st.text(alphabet=HEX + "/:.\\\0 %sh1", max_size=60),
    sha1_texts.map(lambda s: s + "\n"),
    sha1_texts.flatmap(lambda s: st.sampled_from([s[1:], " " + s, s + "0", s.replace("a", "g")])),
)


@examples(300)
@given(sha1_texts)
def test_a_sha1_in_any_case_with_or_without_its_scheme_parses_to_lower_case(text):
    parsed = parse_sha1(text)
    assert parsed == text.removeprefix("sha1://").lower()
    assert len(parsed) == 40 and set(parsed) <= set("0123456789abcdef")
    assert is_sha1(text) and Sha1Composite().is_valid(text)


@examples(500)
@given(tricky_text)
def test_anything_else_is_refused_with_invalid_uri(text):
    try:
        parsed = parse_sha1(text)
    except InvalidURI as exc:
        assert isinstance(exc, ValueError)
        assert not is_sha1(text)
        return
    assert is_sha1(text)
    assert len(parsed) == 40 and text.lower().endswith(parsed)
    assert text in (parsed, "sha1://" + parsed) or text.lower() in (parsed, "sha1://" + parsed)


@pytest.fixture
def base(tmp_path):
    """A folder holding `outside` (which must stay empty) and the roots of the tiers."""
    (tmp_path / "outside").mkdir()
    return tmp_path


path_keys = st.one_of(
    st.text(max_size=40),
    st.lists(
        st.sampled_from(["..", ".", "", "a", "b", "..\\x", "%2e%2e", "~", "/", "\0"]), max_size=6
    ).map("/".join),
    st.text(alphabet="./\\ab", max_size=20),
)


@examples(200)
@given(path_keys)
def test_a_filesystem_key_never_names_a_path_outside_the_root(base, key):
    store = FileSystemRaw(tempfile.mkdtemp(dir=base, prefix="root-"))
    try:
        try:
            path = store.path(key)
        except InvalidURI:
            assert not store.is_valid(key)
            return
        assert os.path.realpath(path).startswith(str(store.root) + os.sep)
        store.put(key, b"x")
        assert store.get(key) == b"x"
        walk = os.walk(base)
        assert [os.path.join(top, name) for top, _, names in walk for name in names] == [str(path)]
    finally:
        shutil.rmtree(store.root)
    assert os.listdir(base) == ["outside"]


# -- The HTTP endpoints ----------------------------------------------------------------------

range_headers = st.one_of(
    st.text(max_size=30),
    st.builds(
        "bytes={}-{}".format,
        st.one_of(st.none(), st.integers(-5, 2**70)).map(lambda n: "" if n is None else n),
        st.one_of(st.none(), st.integers(-5, 2**70)).map(lambda n: "" if n is None else n),
    ),
    st.lists(st.sampled_from(["bytes=0-1", "0-", "-5", "", "bytes=", "x"]), max_size=4).map(
        ",".join
    ),
)


@pytest.fixture
def endpoint(db, tmp_path):
    """(client of a user who may read blobs and warm, a stored blob's SHA1)."""
    data = b"the one blob"
    sha1 = hashlib.sha1(data).hexdigest()
    (tmp_path / sha1).write_bytes(data)
    Tier.objects.create(name="disk", kind="filesystem", location=str(tmp_path))
    user = User.objects.create(username="reader")
    for codename in ("view_blob", "warm"):
        user.user_permissions.add(Permission.objects.get(codename=codename))
    client = Client(raise_request_exception=True)  # an exception fails the test, too
    client.force_login(user)
    return client, sha1


def read(response):
    return b"".join(response.streaming_content) if response.streaming else response.content


@examples(150)
@given(
    key=st.one_of(tricky_text, st.just("KNOWN"), st.just("KNOWN")),  # mostly the stored blob
    method=st.sampled_from(["get", "get", "get", "head", "head", "post", "options"]),
    range_header=st.one_of(st.none(), range_headers),
    if_none_match=st.one_of(st.none(), st.text(max_size=50), st.just("*")),
    download=st.one_of(st.none(), st.text(max_size=30)),
    signed=st.sampled_from([False, False, False, True]),
)
def test_the_blob_endpoint_never_answers_500(
    endpoint, service, key, method, range_header, if_none_match, download, signed
):
    client, sha1 = endpoint
    key = sha1 if key == "KNOWN" else key
    headers = {}
    if range_header is not None:
        headers["HTTP_RANGE"] = range_header
    if if_none_match is not None:
        headers["HTTP_IF_NONE_MATCH"] = if_none_match
    query = {"download": download} if download is not None else {}
    if signed:
        query |= {"signature": "x", "expires": "1"}
    caller = Client() if signed else client  # anonymous, with a (bad) signature
    url = "/bitstore/blobs/" + quote(key, safe="")
    try:
        response = getattr(caller, method)(url, query if method == "get" else None, **headers)
    except ValueError as exc:  # the test client itself refuses some headers (newlines)
        assert "header" in str(exc).lower() or "newline" in str(exc).lower()
        return
    read(response)
    assert response.status_code < 500 or response.status_code == 503


@examples(100)
@given(
    body=st.one_of(
        st.binary(max_size=200),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=45),
            lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(), inner),
            max_leaves=10,
        ).map(lambda value: json.dumps(value).encode()),
        st.lists(sha1_texts, max_size=5).map(lambda value: json.dumps(value).encode()),
    )
)
def test_the_warm_endpoint_never_answers_500(endpoint, service, body):
    client, _ = endpoint
    response = client.post("/bitstore/warm", body, content_type="application/json")
    assert response.status_code < 500


@examples(150)
@given(range_header=range_headers, method=st.sampled_from(["get", "head"]))
def test_any_range_of_a_stored_blob_is_served_exactly_or_refused(
    endpoint, service, range_header, method
):
    client, sha1 = endpoint
    data = b"the one blob"
    response = getattr(client, method)(f"/bitstore/blobs/{sha1}", HTTP_RANGE=range_header)
    body = read(response)
    assert response.status_code in (200, 206, 416)
    if response.status_code == 206:
        first, last = map(int, response["Content-Range"].split()[1].split("/")[0].split("-"))
        assert 0 <= first <= last < len(data)
        assert body == (data[first : last + 1] if method == "get" else b"")
    elif response.status_code == 200:
        assert body == (data if method == "get" else b"")
