"""Differential tests of signed revocation lists: keystonemiddleware 5.3.0 (the last release that fetches
and enforces them) against the side under test, both fetching the list from the keystone stand-in
(``GET /v3/auth/tokens/OS-PKI/revoked`` or, with ``auth_version = v2.0``, ``/v2.0/tokens/revoked``)
with their service user's token: tokens revoked by hash (md5, sha256) and by audit id, user and service
tokens, cached tokens with and without ``check_revocations_for_cached``, a list revoked after the token
was cached, a list signed by an untrusted key, a failing list endpoint, keystone unreachable."""

import hashlib
import time
from typing import Dict, List

import pytest

from harness import Case, run_matrix, write_report
from standin import revocation_entry
from test_differential import KNOWN_DIFFERENCES, SPOOFED, base_conf, make_sides, print_reports, token_case

pytestmark = pytest.mark.ksm5

# the known differences are the one table in test_differential.py
REVOCATION_KNOWN = KNOWN_DIFFERENCES

REVOKED_NAMES = ("v3-revoked-hash-pki", "v3-revoked-hash-pkiz", "v2-revoked-hash-pki", "v2-revoked-hash-pkiz")
AUDIT_NAMES = ("v3-revoked-audit-pki", "v3-revoked-audit-pkiz", "v2-revoked-audit-pki", "v2-revoked-audit-pkiz")


def revocation_entries(tokens, algorithms=("md5",)) -> List[Dict[str, str]]:
    """The list keystone would publish: revoked tokens by their hash (keystone stores the hash of a
    PKI token as its id), and by audit id."""
    out = []
    for name in REVOKED_NAMES:
        for h in tokens.tokens[name].hashes(algorithms):
            out.append(revocation_entry(token_hash=h, audit=None))
    for name in AUDIT_NAMES:
        out.append(revocation_entry(audit=tokens.tokens[name].audit_ids[0]))
    # unrelated entries, as in a real list
    out.append(revocation_entry(token_hash=hashlib.md5(b"someone else").hexdigest(), audit="AAAAAAAAAAAAAAAAAAAAAA"))
    return out


def revocation_cases(tokens, extra_tags=()) -> List[Case]:
    t = tokens.tokens
    names = REVOKED_NAMES + AUDIT_NAMES + ("v3-project-pki", "v3-project-pkiz", "v2-project-pki", "v3-expired-pki",
                                           "v3-tampered-pkiz", "v3-wrong-ca-pki", "pki-truncated", "v3-domain-pkiz")
    out = []
    for name in names:
        tok = t[name]
        out.append(token_case(tok, "x-auth-token", {"X-Auth-Token": tok.text}, extra_tags=extra_tags))
        out.append(token_case(tok, "spoofed", dict(SPOOFED, **{"X-Auth-Token": tok.text}), extra_tags=extra_tags))
    svc = t["v3-service-pki"].text
    for name in ("v3-revoked-hash-pkiz", "v3-revoked-audit-pki", "v3-project-pki"):
        tok = t[name]
        out.append(token_case(tok, "as-service-token", {"X-Auth-Token": t["v3-project-pkiz"].text,
                                                        "X-Service-Token": tok.text}, extra_tags=extra_tags))
        out.append(token_case(tok, "user+service", {"X-Auth-Token": tok.text, "X-Service-Token": svc},
                              extra_tags=extra_tags))
    return out


def lists_conf(standin, signing_src, **extra):
    conf = base_conf(standin, signing_src, revocation_cache_time="10", check_revocations_for_cached="false",
                     http_request_max_retries="0")
    conf.update(extra)
    return conf


@pytest.fixture
def published(standin, tokens):
    """Publish the revocation list (md5 and sha256 entries); restore an empty, healthy stand-in after."""
    standin.set_revoked(revocation_entries(tokens, ("md5", "sha256")))
    yield
    standin.set_revoked([])
    standin.fail({})
    standin.up()


def check_revocation_reference(rep, cases):
    """keystonemiddleware 5.3.0 refused every revoked token and accepted the valid ones."""
    checked = 0
    for case in cases:
        if case.tags[-1] not in ("x-auth-token", "spoofed"):
            continue
        out = rep.reference[case.name]
        if "revoked-hash" in case.tags or "revoked-audit" in case.tags:
            assert out.status == 401, (case.name, out.brief())
            checked += 1
        elif "valid" in case.tags:
            assert out.status == 200, (case.name, out.brief())
            checked += 1
    assert checked >= 20, checked


def test_revocation_matrix(pair, tokens, standin, pki, tmp_path, published):
    signing_src = pki.signing_dir(str(tmp_path / "signing-src"))
    reports = []
    for name, overrides in (
        ("lists", {}),
        ("lists, hash_algorithms=sha256,md5", {"hash_algorithms": "sha256,md5"}),
        ("lists, auth_version=v2.0", {"auth_version": "v2.0"}),
        ("lists, check_revocations_for_cached", {"check_revocations_for_cached": "true"}),
        ("lists, delay_auth_decision", {"delay_auth_decision": "true"}),
    ):
        standin.reset_counts()
        a, b = make_sides(pair, lists_conf(standin, signing_src, **overrides), signing_src, str(tmp_path),
                          "rev-" + str(len(reports)))
        cases = revocation_cases(tokens, ("delay",) if "delay" in name else ())
        rep = run_matrix(name, a, b, cases, REVOCATION_KNOWN)
        if "delay" not in name:
            check_revocation_reference(rep, cases)
        reports.append(rep)
        counts = standin.counts()
        path = "GET /v2.0/tokens/revoked" if "v2.0" in name else "GET /v3/auth/tokens/OS-PKI/revoked"
        # each side fetched the list at least once, over the API version configured
        assert counts.get(path, 0) >= 2, counts
    write_report(reports, "differential-ksm5")
    print_reports(reports)
    failures = [f for r in reports for f in r.failures]
    assert not failures, "%d unexpected differences:\n%s" % (len(failures), "\n".join(failures[:40]))


def test_revoked_after_cached(pair, tokens, standin, pki, tmp_path, published):
    """A token validated and cached, then revoked: with check_revocations_for_cached the next request is
    refused once the list has been refreshed (revocation_cache_time), without it the cache answers."""
    signing_src = pki.signing_dir(str(tmp_path / "signing-src"))
    t = tokens.tokens
    later = [t["v3-project-pki"], t["v3-small-pkiz"], t["v2-project-pkiz"], t["v3-domain-pki"]]
    reports = []
    standin.set_revoked([])
    sides = {}
    for check in ("false", "true"):
        sides[check] = make_sides(pair, lists_conf(standin, signing_src, revocation_cache_time="1",
                                                   check_revocations_for_cached=check),
                                  signing_src, str(tmp_path), "later-" + check)
    tags = {"false": (), "true": ("check-cached",)}
    for check, (a, b) in sides.items():
        rep = run_matrix("before revocation, check_cached=%s" % check, a, b,
                         [token_case(tok, "x-auth-token", {"X-Auth-Token": tok.text}, extra_tags=tags[check])
                          for tok in later], REVOCATION_KNOWN)
        assert all(o.status == 200 for o in rep.reference.values()), rep.reference
        reports.append(rep)
    # revoke: two by hash, two by audit id
    standin.set_revoked([revocation_entry(token_hash=later[0].hashes()[0]),
                         revocation_entry(token_hash=later[1].hashes()[0]),
                         revocation_entry(audit=later[2].audit_ids[0]),
                         revocation_entry(audit=later[3].audit_ids[0])])
    time.sleep(1.3)
    for check, (a, b) in sides.items():
        cases = []
        for i, tok in enumerate(later):
            kind = "revoked-hash" if i < 2 else "revoked-audit"
            cases.append(token_case(tok, "x-auth-token", {"X-Auth-Token": tok.text},
                                    extra_tags=tags[check] + ("revoked-later", kind)))
        rep = run_matrix("after revocation, check_cached=%s" % check, a, b, cases, REVOCATION_KNOWN)
        reports.append(rep)
        statuses = [rep.reference[c.name].status for c in cases]
        # keystonemiddleware 5.3.0: the cache answers unless check_revocations_for_cached (by hash only)
        assert statuses == ([200, 200, 200, 200] if check == "false" else [401, 401, 200, 200]), statuses
    write_report(reports, "differential-ksm5")
    print_reports(reports)
    failures = [f for r in reports for f in r.failures]
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("trouble", ["untrusted-list", "list-endpoint-fails"])
def test_unusable_list(pair, trouble, tokens, standin, pki, tmp_path, published):
    """The list cannot be used (signed by a key the CA never certified, or the endpoint answers 500)."""
    signing_src = pki.signing_dir(str(tmp_path / "signing-src"))
    if trouble == "untrusted-list":
        standin.set_revoked(revocation_entries(tokens), signer="untrusted")
    else:
        standin.fail({"GET /v3/auth/tokens/OS-PKI/revoked": 500})
    a, b = make_sides(pair, lists_conf(standin, signing_src), signing_src, str(tmp_path), trouble)
    cases = [token_case(tokens.tokens[n], "x-auth-token", {"X-Auth-Token": tokens.tokens[n].text},
                        extra_tags=(trouble,))
             for n in ("v3-project-pki", "v3-revoked-hash-pki", "v2-project-pkiz", "v3-revoked-audit-pkiz")]
    rep = run_matrix(trouble, a, b, cases, REVOCATION_KNOWN)
    write_report([rep], "differential-ksm5")
    print_reports([rep])
    # never accepted on an unverifiable list
    for c in cases:
        assert rep.reference[c.name].status in (401, 503), (c.name, rep.reference[c.name].brief())
    assert not rep.failures, "\n".join(rep.failures)


def test_keystone_down_before_first_list(pair, tokens, standin, pki, tmp_path, published):
    """No list was ever fetched and keystone refuses connections: nothing is accepted."""
    signing_src = pki.signing_dir(str(tmp_path / "signing-src"))
    a, b = make_sides(pair, lists_conf(standin, signing_src), signing_src, str(tmp_path), "down")
    standin.down()
    try:
        cases = [token_case(tokens.tokens[n], "x-auth-token", {"X-Auth-Token": tokens.tokens[n].text},
                            extra_tags=("keystone-down",)) for n in ("v3-project-pki", "v2-project-pkiz")]
        rep = run_matrix("keystone down", a, b, cases, REVOCATION_KNOWN)
    finally:
        standin.up()
    write_report([rep], "differential-ksm5")
    print_reports([rep])
    for c in cases:
        assert rep.reference[c.name].status == 503, (c.name, rep.reference[c.name].brief())
    assert not rep.failures, "\n".join(rep.failures)
