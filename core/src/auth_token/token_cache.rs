//! A bounded, thread-safe token cache keyed by a token's SHA-256: keystonemiddleware's token cache,
//! in process (`docs/reference-behaviour.md#cache-keys`).
//!
//! Entries live for a fixed time (`token_cache_time`) and the cache is bounded both by entry count
//! and by bytes. Every entry has the same lifetime, so insertion order is also expiry order: each
//! shard keeps a FIFO that evicts the oldest entries first, expired or not. Lookups take a shard's
//! read lock only; inserts take its write lock. The key is the SHA-256 of the token text, so a hit
//! means the same token (a collision would need a SHA-256 second preimage).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, PoisonError, RwLock};

use crate::algorithm::HashAlgorithm;
use crate::cms::crypto::digest;

/// The cache key of a token: SHA-256 of its bytes as received (after whitespace trimming).
pub type CacheKey = [u8; 32];

/// The cache key of `token` (`None` only if OpenSSL cannot compute SHA-256: then nothing is cached).
pub fn cache_key(token: &[u8]) -> Option<CacheKey> {
    #[cfg(test)]
    KEYS_COMPUTED.with(|n| n.set(n.get() + 1));
    digest(HashAlgorithm::Sha256, token)
        .ok()
        .and_then(|d| CacheKey::try_from(&d[..]).ok())
}

#[cfg(test)]
thread_local! {
    /// How many cache keys this thread computed (each hashes a whole token): for the tests that
    /// check a request hashes each token once.
    pub(crate) static KEYS_COMPUTED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Number of independently locked shards.
const SHARDS: usize = 16;

/// Sizes of the process token cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheLimits {
    /// How long an entry lives, in microseconds; `None` for no time limit.
    pub ttl_us: Option<i64>,
    /// Most entries held.
    pub max_entries: usize,
    /// Most bytes held (as estimated).
    pub max_bytes: usize,
}

/// What an entry costs in memory, roughly.
pub trait Weigh {
    /// Estimated bytes held by this value.
    fn weight(&self) -> usize;
}

struct Slot<V> {
    value: Arc<V>,
    expires_at_us: Option<i64>,
    bytes: usize,
    seq: u64,
}

struct Shard<V> {
    map: HashMap<CacheKey, Slot<V>>,
    order: VecDeque<(CacheKey, u64)>,
    bytes: usize,
    next_seq: u64,
}

/// The cache: `Send + Sync`, shared by every thread of a process.
pub struct TokenCache<V> {
    shards: Vec<RwLock<Shard<V>>>,
    limits: CacheLimits,
}

impl<V: Weigh> std::fmt::Debug for TokenCache<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCache")
            .field("limits", &self.limits)
            .field("entries", &self.len())
            .finish()
    }
}

impl<V: Weigh> TokenCache<V> {
    /// An empty cache with these bounds (spread evenly over the shards).
    pub fn new(limits: CacheLimits) -> Self {
        let shards = (0..SHARDS)
            .map(|_| {
                RwLock::new(Shard {
                    map: HashMap::new(),
                    order: VecDeque::new(),
                    bytes: 0,
                    next_seq: 0,
                })
            })
            .collect();
        TokenCache { shards, limits }
    }

    #[allow(clippy::indexing_slicing)] // `i < SHARDS == self.shards.len()`
    fn shard(&self, key: &CacheKey) -> &RwLock<Shard<V>> {
        &self.shards[usize::from(key[0]) % SHARDS]
    }

    /// The live entry for `key` at `now_us`, if any.
    pub fn get(&self, key: &CacheKey, now_us: i64) -> Option<Arc<V>> {
        let shard = self
            .shard(key)
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        let slot = shard.map.get(key)?;
        if slot.expires_at_us.is_some_and(|t| t <= now_us) {
            return None;
        }
        Some(Arc::clone(&slot.value))
    }

    /// Inserts (or replaces) the entry for `key` at `now_us`, evicting the oldest entries as needed.
    /// A value larger than a whole shard's byte budget is not cached.
    pub fn insert(&self, key: CacheKey, value: Arc<V>, now_us: i64) {
        let (max_entries, max_bytes) = self.shard_bounds();
        let bytes = value.weight() + Self::SLOT_OVERHEAD;
        if bytes > max_bytes {
            return;
        }
        let mut guard = self
            .shard(&key)
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let shard = &mut *guard;
        if let Some(old) = shard.map.remove(&key) {
            shard.bytes -= old.bytes;
        }
        evict(shard, 1, bytes, now_us, max_entries, max_bytes);
        let seq = shard.next_seq;
        shard.next_seq += 1;
        let expires_at_us = self.limits.ttl_us.map(|ttl| now_us.saturating_add(ttl));
        shard.order.push_back((key, seq));
        shard.bytes += bytes;
        shard.map.insert(
            key,
            Slot {
                value,
                expires_at_us,
                bytes,
                seq,
            },
        );
    }

    /// Adds `extra` bytes to the entry for `key` if it is still the one `is_it` recognises, then
    /// evicts the oldest entries until its shard is within its bounds again (this one too, if it
    /// is the oldest): what a binding builds for an entry after it was inserted (its own objects)
    /// is held as long as the entry, so it counts against the same bound.
    pub fn charge(&self, key: &CacheKey, extra: usize, now_us: i64, is_it: impl Fn(&V) -> bool) {
        let (max_entries, max_bytes) = self.shard_bounds();
        let mut guard = self
            .shard(key)
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let shard = &mut *guard;
        let Some(slot) = shard.map.get_mut(key).filter(|s| is_it(&s.value)) else {
            return;
        };
        slot.bytes += extra;
        shard.bytes += extra;
        evict(shard, 0, 0, now_us, max_entries, max_bytes);
    }

    /// What a slot costs besides its value: the map's slot (key, [`Slot`], control byte, at the
    /// map's load factor of 7/8), the FIFO record, and the value's `Arc` header.
    const SLOT_OVERHEAD: usize = (std::mem::size_of::<(CacheKey, Slot<V>)>() + 1) * 8 / 7
        + std::mem::size_of::<(CacheKey, u64)>()
        + 2 * std::mem::size_of::<usize>();

    /// Each shard's share of the bounds.
    fn shard_bounds(&self) -> (usize, usize) {
        (
            (self.limits.max_entries / SHARDS).max(1),
            self.limits.max_bytes / SHARDS,
        )
    }

    /// Keeps only the entries for which `keep` returns true.
    pub fn retain(&self, mut keep: impl FnMut(&V) -> bool) {
        for shard in &self.shards {
            let mut guard = shard.write().unwrap_or_else(PoisonError::into_inner);
            let shard = &mut *guard;
            let mut freed = 0;
            shard.map.retain(|_, slot| {
                let k = keep(&slot.value);
                if !k {
                    freed += slot.bytes;
                }
                k
            });
            shard.bytes -= freed;
            let map = &shard.map;
            shard
                .order
                .retain(|(key, seq)| map.get(key).is_some_and(|s| s.seq == *seq));
        }
    }

    /// Removes every entry.
    pub fn clear(&self) {
        self.retain(|_| false);
    }

    /// Number of entries held (expired ones included until evicted).
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.read().unwrap_or_else(PoisonError::into_inner).map.len())
            .sum()
    }

    /// Whether the cache holds no entries.
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes held, as estimated.
    pub fn bytes(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.read().unwrap_or_else(PoisonError::into_inner).bytes)
            .sum()
    }
}

/// Evicts expired entries, then the oldest, from the front of the shard's FIFO until `incoming`
/// more entries of `incoming_bytes` fit its bounds.
fn evict<V>(
    shard: &mut Shard<V>,
    incoming: usize,
    incoming_bytes: usize,
    now_us: i64,
    max_entries: usize,
    max_bytes: usize,
) {
    while let Some(&(front_key, front_seq)) = shard.order.front() {
        let live = shard
            .map
            .get(&front_key)
            .filter(|s| s.seq == front_seq)
            .map(|s| s.expires_at_us.is_none_or(|t| t > now_us));
        let over =
            shard.map.len() + incoming > max_entries || shard.bytes + incoming_bytes > max_bytes;
        match live {
            // A stale FIFO record: the key was replaced or removed since.
            None => {}
            Some(true) if !over => break,
            Some(_) => {
                if let Some(old) = shard.map.remove(&front_key) {
                    shard.bytes -= old.bytes;
                }
            }
        }
        shard.order.pop_front();
    }
}

#[cfg(test)]
mod tests;
