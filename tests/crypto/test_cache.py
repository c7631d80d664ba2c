import sys
import threading

import pytest

from privacy_saas.crypto import TTLCache


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock():
    return FakeClock()


def test_get_put_pop_clear(clock):
    cache = TTLCache(clock=clock)
    assert cache.get("a") is None
    cache.put("a", b"key-a")
    cache.put("b", b"key-b")
    assert cache.get("a") == (b"key-a", False)
    assert cache.pop("a") == b"key-a"
    assert cache.pop("a") is None
    assert cache.get("a") is None
    cache.clear()
    assert cache.get("b") is None
    assert len(cache) == 0


def test_entries_expire_after_ttl(clock):
    cache = TTLCache(ttl=300, recheck=5, clock=clock)
    cache.put("k", 1)
    clock.advance(299.9)
    assert cache.get("k") is not None
    clock.advance(0.1)
    assert cache.get("k") is None
    assert len(cache) == 0


def test_recheck_flag_and_mark_checked(clock):
    cache = TTLCache(ttl=300, recheck=5, clock=clock)
    cache.put("k", "v")
    clock.advance(4.9)
    assert cache.get("k") == ("v", False)
    clock.advance(0.1)
    assert cache.get("k") == ("v", True)
    cache.mark_checked("k")
    assert cache.get("k") == ("v", False)
    clock.advance(5)
    assert cache.get("k") == ("v", True)
    # Re-checking does not extend the lifetime.
    clock.advance(285)
    cache.mark_checked("k")
    assert cache.get("k") == ("v", False)
    clock.advance(5)
    assert cache.get("k") is None
    cache.mark_checked("missing")
    assert cache.get("missing") is None


def test_put_resets_lifetime_and_check(clock):
    cache = TTLCache(ttl=10, recheck=5, clock=clock)
    cache.put("k", "old")
    clock.advance(8)
    cache.put("k", "new")
    clock.advance(8)
    assert cache.get("k") == ("new", True)


def test_lru_eviction(clock):
    cache = TTLCache(maxsize=2, clock=clock)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == (1, False)  # a is now most recently used
    cache.put("c", 3)
    assert cache.get("b") is None
    assert cache.get("a") == (1, False)
    assert cache.get("c") == (3, False)
    cache.put("a", 10)  # overwrite refreshes recency without growing
    cache.put("d", 4)
    assert cache.get("c") is None
    assert cache.get("a") == (10, False)
    assert len(cache) == 2


def test_repr_shows_only_count(clock):
    cache = TTLCache(clock=clock)
    cache.put("tenant-1", b"\x01secret-key-bytes")
    assert repr(cache) == "TTLCache(entries=1)"


def test_rejects_bad_configuration():
    for kwargs in ({"ttl": 0}, {"recheck": -1}, {"maxsize": 0}):
        with pytest.raises(ValueError):
            TTLCache(**kwargs)


#: Rounds per thread: without the lock, the races below show in every run (checked 20 times).
ROUNDS = 20_000


def test_concurrent_use_keeps_size_bound():
    """Threads sharing keys put, read and evict at once: nothing raises, the bound holds throughout."""
    cache = TTLCache(maxsize=8)
    errors, sizes = [], []
    start = threading.Barrier(8)

    def worker(offset: int) -> None:
        start.wait()
        try:
            for i in range(ROUNDS):
                # Overlapping keys: one thread evicts or pops what another has just stored.
                key = (offset + i) % 16
                cache.put(key, i)
                found = cache.get(key)
                assert found is None or isinstance(found[0], int)
                cache.pop((key + 1) % 16)
                sizes.append(len(cache))
        except Exception as error:  # a thread's exception would otherwise vanish with the thread
            errors.append(error)

    # Switch threads as often as the interpreter can, so unguarded read-modify-write sequences
    # (store then move_to_end, test then delete) interleave instead of running whole.
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    finally:
        sys.setswitchinterval(interval)
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    assert len(sizes) == 8 * ROUNDS and max(sizes) <= 8
