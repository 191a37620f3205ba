//! Tests of `token_cache`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use super::*;

struct Blob(usize);
impl Weigh for Blob {
    fn weight(&self) -> usize {
        self.0
    }
}

/// A key landing in shard `shard`, distinct per `n`.
fn key(shard: u8, n: u8) -> CacheKey {
    let mut k = [0u8; 32];
    k[0] = shard;
    k[1] = n;
    k
}

fn cache(ttl_us: Option<i64>, max_entries: usize, max_bytes: usize) -> TokenCache<Blob> {
    TokenCache::new(CacheLimits {
        ttl_us,
        max_entries,
        max_bytes,
    })
}

#[test]
fn hit_miss_and_ttl() {
    let c = cache(Some(10), 1600, 1 << 24);
    c.insert(key(0, 1), Arc::new(Blob(1)), 100);
    assert!(c.get(&key(0, 1), 100).is_some());
    assert!(c.get(&key(0, 1), 109).is_some());
    assert!(c.get(&key(0, 1), 110).is_none());
    assert!(c.get(&key(0, 2), 100).is_none());
    let forever = cache(None, 1600, 1 << 24);
    forever.insert(key(0, 1), Arc::new(Blob(1)), 0);
    assert!(forever.get(&key(0, 1), i64::MAX).is_some());
}

#[test]
fn entry_bound_evicts_oldest_in_shard() {
    // 16 shards × 2 entries.
    let c = cache(None, 32, 1 << 24);
    for n in 0..5 {
        c.insert(key(3, n), Arc::new(Blob(1)), i64::from(n));
    }
    assert_eq!(c.len(), 2);
    assert!(c.get(&key(3, 4), 10).is_some());
    assert!(c.get(&key(3, 3), 10).is_some());
    assert!(c.get(&key(3, 0), 10).is_none());
    // Other shards are unaffected.
    c.insert(key(4, 0), Arc::new(Blob(1)), 10);
    assert_eq!(c.len(), 3);
}

#[test]
fn byte_bound_and_oversize_values() {
    let overhead = TokenCache::<Blob>::SLOT_OVERHEAD;
    let per_shard = 3 * (1000 + overhead);
    let c = cache(None, 1 << 20, per_shard * SHARDS);
    for n in 0..10 {
        c.insert(key(0, n), Arc::new(Blob(1000)), 0);
    }
    assert_eq!(c.len(), 3);
    assert!(c.bytes() <= per_shard);
    c.insert(key(1, 0), Arc::new(Blob(per_shard)), 0);
    assert!(c.get(&key(1, 0), 0).is_none());
}

#[test]
fn charges_count_against_the_bound() {
    let overhead = TokenCache::<Blob>::SLOT_OVERHEAD;
    let per_shard = 3 * (1000 + overhead);
    let c = cache(None, 1 << 20, per_shard * SHARDS);
    for n in 0..3 {
        c.insert(key(0, n), Arc::new(Blob(1000)), 0);
    }
    assert_eq!(c.len(), 3);
    // Only the entry that is still the one charged for.
    c.charge(&key(0, 2), 5000, 0, |b| b.0 == 7);
    assert_eq!((c.len(), c.bytes()), (3, per_shard));
    c.charge(&key(0, 9), 5000, 0, |_| true);
    assert_eq!(c.bytes(), per_shard);
    // The newest entry now holds more: the oldest ones go until the shard fits again.
    c.charge(&key(0, 2), 1000 + overhead, 0, |b| b.0 == 1000);
    assert_eq!(c.len(), 2);
    assert!(c.get(&key(0, 0), 0).is_none());
    assert!(c.bytes() <= per_shard);
    // An entry that alone is over the shard's budget goes too.
    c.charge(&key(0, 2), per_shard, 0, |_| true);
    assert!(c.get(&key(0, 2), 0).is_none());
    assert!(c.bytes() <= per_shard);
}

#[test]
fn replace_and_retain() {
    let c = cache(Some(100), 1600, 1 << 24);
    c.insert(key(0, 1), Arc::new(Blob(5)), 0);
    c.insert(key(0, 1), Arc::new(Blob(7)), 50);
    assert_eq!(c.len(), 1);
    assert_eq!(c.get(&key(0, 1), 120).unwrap().0, 7);
    c.insert(key(0, 2), Arc::new(Blob(9)), 60);
    c.retain(|b| b.0 != 9);
    assert_eq!(c.len(), 1);
    c.clear();
    assert!(c.is_empty());
    assert_eq!(c.bytes(), 0);
}

#[test]
fn expired_entries_make_room_first() {
    let c = cache(Some(10), 32, 1 << 24);
    c.insert(key(2, 0), Arc::new(Blob(1)), 0);
    c.insert(key(2, 1), Arc::new(Blob(1)), 5);
    // At 12 the first has expired: it goes, the second stays.
    c.insert(key(2, 2), Arc::new(Blob(1)), 12);
    assert!(c.get(&key(2, 1), 12).is_some());
    assert!(c.get(&key(2, 2), 12).is_some());
}

#[test]
fn shared_between_threads() {
    let c = Arc::new(cache(Some(1_000_000), 10_000, 1 << 24));
    let handles: Vec<_> = (0..4u8)
        .map(|t| {
            let c = Arc::clone(&c);
            std::thread::spawn(move || {
                for n in 0..200u8 {
                    let k = key(n % 16, t);
                    c.insert(k, Arc::new(Blob(10)), 0);
                    assert!(c.get(&k, 1).is_some());
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert!(c.len() <= 64);
}
