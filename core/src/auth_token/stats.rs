//! Counters of what the authenticator decided, for a host's metrics: requests by decision, tokens
//! accepted and refused by the step that refused them, and hits and misses of the process cache and
//! the shared cache.
//!
//! A host counts a request once, from its final outcome: it may authenticate a request more than
//! once (again after fetching what [`crate::auth_token::Outcome::wants`] asked for), so the
//! authenticator does not count by itself. [`Outcome::tally`] is what a request counts, small and
//! `Copy` so a binding can keep it with the outcome it hands out, and
//! [`crate::auth_token::Authenticator::record`] adds it. Counters are relaxed atomics: a few
//! uncontended additions per request, no lock; a forked child resets them so that every process
//! counts only what it served.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::auth_token::outcome::{Decision, Outcome, Source, TokenReport};
use crate::auth_token::refusal::{Refusal, Unavailable};
use crate::pipeline::Step;

/// The decisions counted, in [`StatsSnapshot::decisions`] order.
pub const DECISIONS: [&str; 4] = ["pass", "reject", "unavailable", "delegate"];

/// How many refusals are counted apart: the pipeline's steps, then the authenticator's own four.
const REFUSAL_KINDS: usize = Step::ALL.len() + 4;

/// The authenticator's own refusals, after the pipeline's steps.
const OWN_REFUSALS: [Refusal; 4] = [
    Refusal::NoTenancy,
    Refusal::ServiceRoles,
    Refusal::Unavailable(Unavailable::NoCertificates),
    Refusal::Unavailable(Unavailable::NoRevocationList),
];

/// The names of the refusals counted ([`Refusal::as_str`]), in [`StatsSnapshot::refused`] order:
/// the pipeline's steps ([`Step::as_str`]), then `no_tenancy`, `service_roles`, `no_certificates`,
/// `no_revocation_list`.
pub fn refusal_names() -> [&'static str; REFUSAL_KINDS] {
    let mut names = [""; REFUSAL_KINDS];
    let all = Step::ALL.iter().map(|s| s.as_str());
    for (slot, name) in names
        .iter_mut()
        .zip(all.chain(OWN_REFUSALS.iter().map(Refusal::as_str)))
    {
        *slot = name;
    }
    names
}

/// Where a refusal is counted: its step's place, or its place among the authenticator's own.
fn refusal_slot(refusal: &Refusal) -> Option<usize> {
    match refusal {
        Refusal::Rejected(r) => Step::ALL.iter().position(|s| *s == r.step()),
        own => OWN_REFUSALS
            .iter()
            .position(|o| o == own)
            .map(|i| Step::ALL.len() + i),
    }
}

/// What one token of a request counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct TokenTally {
    /// Index in [`refusal_names`], `None` when accepted.
    refusal: Option<usize>,
    source: Source,
}

impl TokenTally {
    fn of(report: &TokenReport) -> Self {
        TokenTally {
            refusal: report.refusal.as_ref().and_then(refusal_slot),
            source: report.source,
        }
    }
}

/// What one request counts, taken from its final outcome ([`Outcome::tally`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    decision: usize,
    tokens: [Option<TokenTally>; 2],
}

impl Tally {
    /// This tally with the caches' part taken from `first`, the request's first decided outcome,
    /// where that one looked the token up: what the caches held when the request arrived (a token
    /// validated, refused, then judged again after a fetch is found in the process cache the second
    /// time, yet it missed). A token `first` could not judge (keystone was needed first) counts as
    /// the final outcome found it.
    pub fn with_sources_of(mut self, first: &Tally) -> Tally {
        for (token, first) in self.tokens.iter_mut().zip(first.tokens) {
            if let (Some(token), Some(first)) = (token.as_mut(), first) {
                if first.source != Source::None {
                    token.source = first.source;
                }
            }
        }
        self
    }
}

impl Outcome {
    /// What this outcome counts, as the request's final one
    /// ([`crate::auth_token::Authenticator::record`]).
    pub fn tally(&self) -> Tally {
        Tally {
            decision: match self.decision {
                Decision::Pass => 0,
                Decision::Reject => 1,
                Decision::Unavailable => 2,
                Decision::Delegate => 3,
            },
            tokens: [
                self.user.as_ref().map(TokenTally::of),
                self.service.as_ref().map(TokenTally::of),
            ],
        }
    }
}

/// Hits and misses of one cache level.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheCounts {
    /// Tokens found.
    pub hits: u64,
    /// Tokens looked for and not found (then validated).
    pub misses: u64,
}

/// The counters at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    /// Requests by decision, in [`DECISIONS`] order.
    pub decisions: [u64; 4],
    /// Tokens (user and service) valid for their request.
    pub accepted: u64,
    /// Tokens refused, by refusal, in [`refusal_names`] order.
    pub refused: [u64; REFUSAL_KINDS],
    /// The process cache.
    pub process_cache: CacheCounts,
    /// The shared cache (memcached), when one is configured.
    pub shared_cache: CacheCounts,
}

/// The counters, shared by every thread.
#[derive(Debug, Default)]
pub struct Stats {
    decisions: [AtomicU64; 4],
    accepted: AtomicU64,
    refused: [AtomicU64; REFUSAL_KINDS],
    process_hits: AtomicU64,
    process_misses: AtomicU64,
    shared_hits: AtomicU64,
    shared_misses: AtomicU64,
}

fn add(counter: Option<&AtomicU64>) {
    if let Some(c) = counter {
        c.fetch_add(1, Ordering::Relaxed);
    }
}

impl Stats {
    /// Counts one request; `shared` says whether a shared cache is configured (a validated token
    /// then missed it too).
    pub fn record(&self, tally: &Tally, shared: bool) {
        add(self.decisions.get(tally.decision));
        for token in tally.tokens.iter().flatten() {
            match token.refusal {
                None => add(Some(&self.accepted)),
                Some(i) => add(self.refused.get(i)),
            }
            match token.source {
                Source::Cache => add(Some(&self.process_hits)),
                Source::SharedCache => {
                    add(Some(&self.process_misses));
                    add(Some(&self.shared_hits));
                }
                Source::Validated => {
                    add(Some(&self.process_misses));
                    if shared {
                        add(Some(&self.shared_misses));
                    }
                }
                Source::None => {}
            }
        }
    }

    /// The counters now.
    pub fn snapshot(&self) -> StatsSnapshot {
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        StatsSnapshot {
            decisions: self.decisions.each_ref().map(load),
            accepted: load(&self.accepted),
            refused: self.refused.each_ref().map(load),
            process_cache: CacheCounts {
                hits: load(&self.process_hits),
                misses: load(&self.process_misses),
            },
            shared_cache: CacheCounts {
                hits: load(&self.shared_hits),
                misses: load(&self.shared_misses),
            },
        }
    }

    /// Every counter back to zero (a forked child's start).
    pub fn reset(&self) {
        let zero = |c: &AtomicU64| c.store(0, Ordering::Relaxed);
        self.decisions.iter().for_each(zero);
        zero(&self.accepted);
        self.refused.iter().for_each(zero);
        for c in [
            &self.process_hits,
            &self.process_misses,
            &self.shared_hits,
            &self.shared_misses,
        ] {
            zero(c);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::pipeline::Rejection;

    fn report(refusal: Option<Refusal>, source: Source) -> TokenReport {
        TokenReport {
            refusal,
            data: None,
            hashes: Vec::new(),
            source,
            cache_key: None,
        }
    }

    fn outcome(
        decision: Decision,
        user: Option<TokenReport>,
        service: Option<TokenReport>,
    ) -> Outcome {
        Outcome {
            decision,
            user,
            service,
            service_role_check: None,
            shared_store: Vec::new(),
        }
    }

    #[test]
    fn every_refusal_has_its_own_counter_under_its_name() {
        let refusals = [
            Refusal::Rejected(Rejection::NotPki),
            Refusal::Rejected(Rejection::Revoked { by_audit_id: false }),
            Refusal::Rejected(Rejection::Revoked { by_audit_id: true }),
            Refusal::Rejected(Rejection::Expired),
            Refusal::NoTenancy,
            Refusal::ServiceRoles,
            Refusal::Unavailable(Unavailable::NoCertificates),
            Refusal::Unavailable(Unavailable::NoRevocationList),
        ];
        let names = refusal_names();
        for r in refusals {
            let slot = refusal_slot(&r).unwrap();
            assert_eq!(names[slot], r.as_str());
        }
        let mut unique = names.to_vec();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), names.len(), "{names:?}");
        assert!(!names.contains(&""));
    }

    #[test]
    fn requests_tokens_and_cache_levels_are_counted() {
        let stats = Stats::default();
        let expired = Refusal::Rejected(Rejection::Expired);
        let expired_slot = refusal_slot(&expired);
        stats.record(
            &outcome(Decision::Pass, Some(report(None, Source::Cache)), None).tally(),
            true,
        );
        stats.record(
            &outcome(
                Decision::Reject,
                Some(report(Some(expired.clone()), Source::SharedCache)),
                Some(report(None, Source::Validated)),
            )
            .tally(),
            true,
        );
        stats.record(
            &outcome(Decision::Pass, Some(report(None, Source::Validated)), None).tally(),
            false,
        );
        // A request judged twice counts once, its caches as its first outcome found them.
        let first = outcome(
            Decision::Reject,
            Some(report(None, Source::Validated)),
            None,
        )
        .tally();
        let last = outcome(Decision::Pass, Some(report(None, Source::Cache)), None).tally();
        stats.record(&last.with_sources_of(&first), false);
        // A token the first outcome could not judge (no list yet) counts as the final one found it.
        let unavailable = Refusal::Unavailable(Unavailable::NoRevocationList);
        let first = outcome(
            Decision::Unavailable,
            Some(report(Some(unavailable), Source::None)),
            None,
        )
        .tally();
        let last = outcome(Decision::Pass, Some(report(None, Source::Validated)), None).tally();
        stats.record(&last.with_sources_of(&first), false);
        let s = stats.snapshot();
        assert_eq!(s.decisions, [4, 1, 0, 0]);
        assert_eq!(s.accepted, 5);
        assert_eq!(s.refused.iter().sum::<u64>(), 1);
        assert_eq!(s.refused[expired_slot.unwrap()], 1);
        assert_eq!(s.process_cache, CacheCounts { hits: 1, misses: 5 });
        // A validated token missed the shared cache only where one is configured.
        assert_eq!(s.shared_cache, CacheCounts { hits: 1, misses: 1 });
        stats.reset();
        assert_eq!(stats.snapshot(), StatsSnapshot::default());
    }
}
