"""kstoken.cms's per-file caches after certificate rotation (issue 14, item 1).

An operator rotating away from a compromised key replaces the signing certificate, the key and the CA
with another PKI. When the new files have the old ones' sizes and mtime and land on the same inodes
(GNU ``tar -x`` unlinks and recreates each file and ext4 hands the inode back; or an in-place
overwrite followed by ``touch -r``), the cache must still notice: the old PKI's tokens are refused and
the new PKI's verify and sign, on the very next call.
"""

import os
import subprocess
import time

import pytest

import kstoken
from kstoken import cms
from kstoken.exceptions import VerificationError

NAMES = ("signing_cert", "ca_cert", "signing_key")
MTIME_NS = 1_700_000_000 * 10**9  # what the archive and the "touch -r" restore


def same_size_pkis():
    """Two unrelated PKIs whose three PEM files have pairwise equal sizes (padded with newlines)."""
    a = kstoken.generate_pki(key_bits=1024)
    b = kstoken.generate_pki(key_bits=1024)
    for name in NAMES:
        size = max(len(a[name]), len(b[name]))
        a[name] = a[name] + b"\n" * (size - len(a[name]))
        b[name] = b[name] + b"\n" * (size - len(b[name]))
        assert len(a[name]) == len(b[name]) and a[name] != b[name]
    return a, b


def write_pki(directory, pki):
    os.makedirs(directory, exist_ok=True)
    for name in NAMES:
        path = os.path.join(directory, name + ".pem")
        with open(path, "wb") as f:
            f.write(pki[name])
        os.utime(path, ns=(MTIME_NS, MTIME_NS))


def paths(directory):
    return [os.path.join(directory, name + ".pem") for name in NAMES]


def identity(directory):
    """What the old cache key looked at: (device, inode, mtime, size) of each file."""
    out = []
    for path in paths(directory):
        st = os.stat(path)
        out.append((st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size))
    return out


def replace_by_tar(directory, tmp_path, pki):
    staging = tmp_path / "staging"
    write_pki(str(staging), pki)
    archive = tmp_path / "new-pki.tar"
    subprocess.run(["tar", "-cf", str(archive), "-C", str(staging), "."], check=True)
    subprocess.run(["tar", "-xf", str(archive), "-C", directory], check=True)


def replace_in_place(directory, pki):
    for name in NAMES:
        path = os.path.join(directory, name + ".pem")
        with open(path, "r+b") as f:
            f.write(pki[name])
            f.truncate()
        os.utime(path, ns=(MTIME_NS, MTIME_NS))


def use(directory):
    """Verify and sign through kstoken.cms with the files of ``directory`` (fills the caches)."""
    cert, ca, key = paths(directory)
    token = cms.cms_sign_token("signed with the files", cert, key)
    assert cms.verify_token(token, cert, ca) == b"signed with the files"
    return token


def assert_rotated(directory, old, new):
    cert, ca, key = paths(directory)
    old_token = kstoken.Signer(old["signing_cert"], old["signing_key"]).sign_pki("old")
    new_token = kstoken.Signer(new["signing_cert"], new["signing_key"]).sign_pki("new")
    with pytest.raises(VerificationError):
        cms.verify_token(old_token, cert, ca)
    assert cms.verify_token(new_token, cert, ca) == b"new"
    # the cached signer must sign with the new key too
    signed = cms.cms_sign_token("after rotation", cert, key)
    assert kstoken.Verifier(new["signing_cert"], new["ca_cert"]).verify(signed) == b"after rotation"


@pytest.fixture
def rotation(tmp_path):
    cms.clear_cache()
    old, new = same_size_pkis()
    yield tmp_path, old, new
    cms.clear_cache()


def test_tar_and_in_place_replacement_of_settled_files(rotation):
    """Files cached well after their last change (the ctime alone must tell)."""
    tmp_path, old, new = rotation
    by_tar, in_place = str(tmp_path / "by-tar"), str(tmp_path / "in-place")
    write_pki(by_tar, old)
    write_pki(in_place, old)
    # past the window in which a file's content is re-checked after a change
    time.sleep(2.2)
    use(by_tar)
    use(in_place)
    before = identity(by_tar), identity(in_place)

    replace_by_tar(by_tar, tmp_path, new)
    replace_in_place(in_place, new)
    # the old key saw no difference; on ext4 tar's unlink + create reuses the inode
    assert identity(in_place) == before[1]
    assert [i[2:] for i in identity(by_tar)] == [i[2:] for i in before[0]]
    assert_rotated(by_tar, old, new)
    assert_rotated(in_place, old, new)


def test_replacement_right_after_a_read(rotation):
    """Replaced within the same tick of the kernel's coarse clock: the ctime may not change."""
    tmp_path, old, new = rotation
    for round_ in range(20):
        directory = str(tmp_path / ("young-%d" % round_))
        write_pki(directory, old)
        use(directory)
        replace_in_place(directory, new)
        assert_rotated(directory, old, new)
        # and back again, at once
        replace_in_place(directory, old)
        assert_rotated(directory, new, old)


def test_unchanged_files_stay_cached(rotation, monkeypatch):
    """After the re-check window an unchanged file costs one stat: nothing is read again."""
    tmp_path, old, _ = rotation
    directory = str(tmp_path / "steady")
    write_pki(directory, old)
    time.sleep(2.2)
    use(directory)
    cert, ca, key = paths(directory)
    token = cms.cms_sign_token("x", cert, key)
    opened = []
    real_open = open

    def counting_open(file, *args, **kwargs):
        opened.append(file)
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr("builtins.open", counting_open)
    for _ in range(5):
        assert cms.verify_token(token, cert, ca) == b"x"
        cms.cms_sign_token("y", cert, key)
    assert opened == []


def coarse(stat_function, tick_ns):
    """``os.stat``/``os.fstat`` as on a file system that stores timestamps in ``tick_ns`` steps."""

    def wrapped(*args, **kwargs):
        st = stat_function(*args, **kwargs)
        extra = {
            name: getattr(st, name)
            for name in ("st_atime", "st_mtime", "st_ctime", "st_atime_ns", "st_blksize",
                         "st_blocks", "st_rdev")
        }
        extra["st_mtime_ns"] = st.st_mtime_ns - st.st_mtime_ns % tick_ns
        extra["st_ctime_ns"] = st.st_ctime_ns - st.st_ctime_ns % tick_ns
        return os.stat_result(tuple(st), extra)

    return wrapped


def test_replacement_within_one_timestamp_tick(rotation, monkeypatch):
    """On a file system with 1 s timestamps (ext4 with 128-byte inodes, HFS+; or a kernel whose
    coarse clock hands two writes one ctime) a rewrite right after a read keeps every stat field:
    only the content re-check of young files can see it."""
    tmp_path, old, new = rotation
    monkeypatch.setattr(os, "stat", coarse(os.stat, 10**9))
    monkeypatch.setattr(os, "fstat", coarse(os.fstat, 10**9))
    unchanged_stats = 0
    for round_ in range(10):
        directory = str(tmp_path / ("tick-%d" % round_))
        write_pki(directory, old)
        use(directory)
        before = [os.stat(p) for p in paths(directory)]
        replace_in_place(directory, new)
        after = [os.stat(p) for p in paths(directory)]
        unchanged_stats += [
            (s.st_ino, s.st_size, s.st_mtime_ns, s.st_ctime_ns) for s in before
        ] == [(s.st_ino, s.st_size, s.st_mtime_ns, s.st_ctime_ns) for s in after]
        assert_rotated(directory, old, new)
    # the stat key alone could not have told in (nearly) every round
    assert unchanged_stats >= 1
