"""The one wire-format codec: the SDK's signatures, secrets kept wrapped, and the way back."""

from __future__ import annotations

from pulumi.runtime import rpc

from tools import wire


def test_the_signatures_are_the_sdks_own():
    assert (
        rpc._special_sig_key,
        rpc._special_secret_sig,
        rpc._special_resource_sig,
        rpc.UNKNOWN,
    ) == (wire.SIG_KEY, wire.SECRET_SIG, wire.RESOURCE_SIG, wire.UNKNOWN)


def test_encode_wraps_secret_paths_and_keys_and_drops_internal_keys():
    encoded = wire.encode({"a": {"b": "x", "c": [1, "s"]}, "__defaults": [], "k": "v"}, ["a.c.1"], ["k"])
    assert encoded == {"a": {"b": "x", "c": [1, wire.secret("s")]}, "k": wire.secret("v")}
    assert wire.is_secret(encoded["k"]) and not wire.is_secret(encoded["a"])


def test_decode_is_the_way_back_and_records_where_the_secrets_were():
    values = {"a": {"b": "x", "c": [1, "s"]}, "k": {"n": 2}}
    paths: list[str] = []
    assert wire.decode(wire.encode(values, ["a.c.1", "k"]), paths) == values
    assert paths == ["a.c.1", "k"]


def test_decode_shows_references_by_urn_unknowns_as_none_and_whole_numbers_as_ints():
    reference = {wire.SIG_KEY: wire.RESOURCE_SIG, "urn": "urn:pulumi:dev::platform::x::y", "id": "i"}
    decoded = wire.decode({"ref": reference, "later": wire.UNKNOWN, "count": 3.0, "ratio": 0.5})
    assert decoded == {"ref": "urn:pulumi:dev::platform::x::y", "later": None, "count": 3, "ratio": 0.5}
    assert isinstance(decoded["count"], int)


def test_a_struct_carries_secrets_through_a_grpc_message_unchanged():
    values = wire.encode({"values": {"meshConfig": {"mode": "REGISTRY_ONLY"}}, "n": 4}, ["values"])
    assert wire.whole_numbers(wire.from_struct(wire.to_struct(values))) == values


def test_a_path_inside_a_secret_path_is_secret():
    assert wire.in_secret("values.meshConfig", ["values"]) and wire.in_secret("values", ["values"])
    assert not wire.in_secret("valuesYaml", ["values"]) and not wire.in_secret("values", ["values.meshConfig"])
