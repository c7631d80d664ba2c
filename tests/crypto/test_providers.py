import base64
import traceback

import pytest

from privacy_saas.crypto import (
    KeyProvider,
    KeyUnavailable,
    LocalKeyProvider,
    generate_master_key_spec,
    load_master_keys_file,
    new_data_key,
    parse_master_keys,
)

KEY1 = bytes(range(32))
KEY2 = bytes(range(100, 132))
B64_1 = base64.b64encode(KEY1).decode()
B64_2 = base64.b64encode(KEY2).decode()
CONTEXT = b"tenant:8f14e45f-ceea-467f-a0e6-1b1a2b3c4d5e:v3"


def test_parse_master_keys_comma_separated():
    assert parse_master_keys(f"2:{B64_2},1:{B64_1}") == {2: KEY2, 1: KEY1}


def test_parse_master_keys_accepts_whitespace_and_newlines():
    spec = f"\n  2:{B64_2} ,\n\t1:{B64_1}\n"
    assert parse_master_keys(spec) == {2: KEY2, 1: KEY1}
    assert parse_master_keys(f"2:{B64_2} 1:{B64_1}") == {2: KEY2, 1: KEY1}


def test_generate_master_key_spec_parses():
    spec = generate_master_key_spec(4)
    keys = parse_master_keys(spec)
    assert list(keys) == [4] and len(keys[4]) == 32
    assert parse_master_keys(generate_master_key_spec()).keys() == {1}
    assert generate_master_key_spec() != generate_master_key_spec()


@pytest.mark.parametrize(
    "spec, message",
    [
        ("", "no master keys"),
        (" ,\n ", "no master keys"),
        (f"1:{B64_1[:-2]}!!", "version 1 is not valid base64"),
        (f"3:{B64_1[:-1]}", "version 3 is not valid base64"),
        (f"2:{base64.b64encode(KEY1[:16]).decode()}", "version 2 must decode to 32 bytes, got 16"),
        (
            f"2:{base64.b64encode(KEY1 + b'x').decode()}",
            "version 2 must decode to 32 bytes, got 33",
        ),
        (f"1:{B64_1},1:{B64_2}", "version 1 is given more than once"),
        (B64_1, "entry 1 is not in 'version:base64key' form"),
        (f"{B64_1}:{B64_2}", "entry 1 has a non-integer version"),
        (f"2:{B64_2},x{B64_1[:8]}:{B64_1}", "entry 2 has a non-integer version"),
        (f"0:{B64_1}", "entry 1 has version 0"),
    ],
)
def test_parse_master_keys_rejects_bad_specs_without_key_material(spec, message):
    with pytest.raises(ValueError, match=message) as caught:
        parse_master_keys(spec)
    # The whole printed traceback counts: a chained int() error would quote the entry.
    text = "".join(traceback.format_exception(caught.value))
    for secret in (B64_1, B64_2, B64_1[:8], B64_2[:8], KEY1.hex()[:16], KEY2.hex()[:16]):
        assert secret not in text


def test_load_master_keys_file(tmp_path):
    path = tmp_path / "master.keys"
    path.write_text(f"2:{B64_2}\n1:{B64_1}\n")
    assert load_master_keys_file(path) == {2: KEY2, 1: KEY1}
    assert load_master_keys_file(str(path)) == {2: KEY2, 1: KEY1}


def test_new_data_key():
    assert len(new_data_key()) == 32
    assert new_data_key() != new_data_key()


def test_local_provider_wrap_unwrap():
    provider = LocalKeyProvider({1: KEY1})
    assert isinstance(provider, KeyProvider)
    dek = new_data_key()
    version, wrapped = provider.wrap(dek, CONTEXT)
    assert version == 1
    assert dek not in wrapped
    assert provider.unwrap(1, wrapped, CONTEXT) == dek


def test_wrap_uses_newest_master_and_old_versions_still_unwrap():
    old = LocalKeyProvider({1: KEY1})
    dek = new_data_key()
    _, wrapped_v1 = old.wrap(dek, CONTEXT)

    rotated = LocalKeyProvider(parse_master_keys(f"2:{B64_2},1:{B64_1}"))
    assert rotated.newest_version == 2
    version, wrapped_v2 = rotated.wrap(dek, CONTEXT)
    assert version == 2
    assert rotated.unwrap(2, wrapped_v2, CONTEXT) == dek
    assert rotated.unwrap(1, wrapped_v1, CONTEXT) == dek
    # Newest is the highest version, not the first listed.
    assert LocalKeyProvider({1: KEY1, 2: KEY2}).newest_version == 2


def test_unwrap_with_removed_version_names_version():
    _, wrapped = LocalKeyProvider({1: KEY1, 2: KEY2}).wrap(new_data_key(), CONTEXT)
    provider = LocalKeyProvider({1: KEY1})
    with pytest.raises(KeyUnavailable, match="^master key version 2 is not configured$"):
        provider.unwrap(2, wrapped, CONTEXT)


def test_unwrap_with_other_context_fails():
    provider = LocalKeyProvider({1: KEY1})
    _, wrapped = provider.wrap(new_data_key(), CONTEXT)
    other = b"tenant:00000000-0000-0000-0000-000000000000:v3"
    with pytest.raises(KeyUnavailable) as caught:
        provider.unwrap(1, wrapped, other)
    assert str(caught.value) == f"master key version 1 cannot unwrap data key for {other.decode()}"
    with pytest.raises(KeyUnavailable):
        provider.unwrap(1, wrapped, CONTEXT[:-1] + b"4")


def test_unwrap_with_wrong_master_key_or_damaged_blob_fails():
    _, wrapped = LocalKeyProvider({1: KEY1}).wrap(new_data_key(), CONTEXT)
    impostor = LocalKeyProvider({1: KEY2})
    with pytest.raises(KeyUnavailable, match="version 1 cannot unwrap"):
        impostor.unwrap(1, wrapped, CONTEXT)
    provider = LocalKeyProvider({1: KEY1})
    with pytest.raises(KeyUnavailable):
        provider.unwrap(1, wrapped[:10], CONTEXT)
    with pytest.raises(KeyUnavailable):
        provider.unwrap(1, wrapped[:-1] + bytes([wrapped[-1] ^ 1]), CONTEXT)


def test_provider_repr_and_errors_hide_keys():
    provider = LocalKeyProvider({1: KEY1, 2: KEY2})
    text = repr(provider)
    assert text == "LocalKeyProvider(versions=[2, 1])"
    for key in (KEY1, KEY2):
        assert key.hex() not in text and repr(key) not in text
        assert base64.b64encode(key).decode() not in text


def test_provider_rejects_bad_master_keys():
    with pytest.raises(ValueError, match="no master keys"):
        LocalKeyProvider({})
    with pytest.raises(ValueError, match="master key version 5 must be 32 bytes"):
        LocalKeyProvider({5: KEY1[:31]})
