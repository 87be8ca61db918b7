//! A class census: how many live JS objects each constructor name has, and the rows a caller
//! asked for.
//!
//! The native side walks the heap once (V8's `HeapProfiler::QueryObjects`) and hands every
//! object's class to [`Census::add`] by a small integer id it got from [`Census::class_id`]
//! (so the per-object work is an increment, and each name is hashed once per class, not once
//! per object). [`Census::rows`] then sorts and trims what the caller wants to see.

use std::collections::HashMap;

/// Live objects per class, as counted by one heap walk.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Census {
    names: Vec<String>,
    counts: Vec<u64>,
    ids: HashMap<String, u32>,
}

/// One row of a census: a class and its number of live objects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CensusRow {
    /// The class: the constructor name, as DevTools' Summary names it.
    pub what: String,
    /// Live objects of that class.
    pub count: u64,
}

/// Which rows [`Census::rows`] returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CensusOptions {
    /// At most this many rows, the most numerous first (default: all).
    pub top: Option<u32>,
    /// Only classes with at least this many objects (default 1, at least 1).
    pub min: u64,
}

impl Default for CensusOptions {
    fn default() -> Self {
        CensusOptions { top: None, min: 1 }
    }
}

/// An option value a census cannot use: `{option} must be {requirement}, got {got}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CensusOptionError {
    /// The option's JS name (`top`, `min`).
    pub option: &'static str,
    /// What it must be.
    pub requirement: &'static str,
    /// The value given, as printed.
    pub got: String,
}

impl std::fmt::Display for CensusOptionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} must be {}, got {}",
            self.option, self.requirement, self.got
        )
    }
}

impl std::error::Error for CensusOptionError {}

impl CensusOptions {
    /// Checks the ranges: `top` and `min` are at least 1.
    pub fn validate(&self) -> Result<(), CensusOptionError> {
        if let Some(top) = self.top {
            if top < 1 {
                return Err(CensusOptionError {
                    option: "top",
                    requirement: "at least 1",
                    got: top.to_string(),
                });
            }
        }
        if self.min < 1 {
            return Err(CensusOptionError {
                option: "min",
                requirement: "at least 1",
                got: self.min.to_string(),
            });
        }
        Ok(())
    }
}

impl Census {
    /// An empty census.
    pub fn new() -> Self {
        Census::default()
    }

    /// The id of class `name`, added with a count of 0 on first use.
    pub fn class_id(&mut self, name: &str) -> u32 {
        if let Some(&id) = self.ids.get(name) {
            return id;
        }
        let id = self.names.len() as u32;
        self.names.push(name.to_owned());
        self.counts.push(0);
        self.ids.insert(name.to_owned(), id);
        id
    }

    /// Counts one object of class `id` (from [`Census::class_id`]; an unknown id is ignored).
    #[inline]
    pub fn add(&mut self, id: u32) {
        if let Some(c) = self.counts.get_mut(id as usize) {
            *c += 1;
        }
    }

    /// Counts `n` objects of class `id` at once (an unknown id is ignored).
    pub fn add_n(&mut self, id: u32, n: u64) {
        if let Some(c) = self.counts.get_mut(id as usize) {
            *c += n;
        }
    }

    /// Objects counted for `name` (0 for a class never seen).
    pub fn count(&self, name: &str) -> u64 {
        self.ids.get(name).map_or(0, |&id| self.counts[id as usize])
    }

    /// Every class with its count, in the order first seen.
    pub fn counts(&self) -> impl Iterator<Item = (&str, u64)> + '_ {
        self.names
            .iter()
            .map(String::as_str)
            .zip(self.counts.iter().copied())
    }

    /// Objects counted in all.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Classes with at least one object.
    pub fn classes(&self) -> usize {
        self.counts.iter().filter(|&&c| c > 0).count()
    }

    /// The rows `options` asks for: classes with at least `min` objects, the most numerous
    /// first (ties by name, in byte order), at most `top` of them.
    pub fn rows(&self, options: &CensusOptions) -> Vec<CensusRow> {
        let mut ids: Vec<usize> = (0..self.names.len())
            .filter(|&i| self.counts[i] >= options.min.max(1))
            .collect();
        ids.sort_unstable_by(|&a, &b| {
            self.counts[b]
                .cmp(&self.counts[a])
                .then_with(|| self.names[a].cmp(&self.names[b]))
        });
        if let Some(top) = options.top {
            ids.truncate(top as usize);
        }
        ids.into_iter()
            .map(|i| CensusRow {
                what: self.names[i].clone(),
                count: self.counts[i],
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::census_plan::tests::census;

    fn whats(rows: &[CensusRow]) -> Vec<(&str, u64)> {
        rows.iter().map(|r| (r.what.as_str(), r.count)).collect()
    }

    #[test]
    fn ids_are_stable_and_counts_add_up() {
        let mut c = Census::new();
        let a = c.class_id("A");
        let b = c.class_id("B");
        assert_eq!(c.class_id("A"), a);
        assert_ne!(a, b);
        c.add(a);
        c.add(a);
        c.add(b);
        c.add(99); // unknown: ignored
        c.add_n(b, 4);
        c.add_n(99, 4);
        assert_eq!(c.count("A"), 2);
        assert_eq!(c.count("B"), 5);
        assert_eq!(c.count("C"), 0);
        assert_eq!(c.total(), 7);
        assert_eq!(c.classes(), 2);
    }

    #[test]
    fn rows_most_first_ties_by_name() {
        let c = census(&[("Zed", 3), ("Object", 10), ("Array", 3), ("Never", 0)]);
        let rows = c.rows(&CensusOptions::default());
        assert_eq!(whats(&rows), [("Object", 10), ("Array", 3), ("Zed", 3)]);
    }

    #[test]
    fn top_and_min_trim() {
        let c = census(&[("A", 5), ("B", 4), ("C", 2), ("D", 1)]);
        let top2 = c.rows(&CensusOptions {
            top: Some(2),
            min: 1,
        });
        assert_eq!(whats(&top2), [("A", 5), ("B", 4)]);
        let min2 = c.rows(&CensusOptions { top: None, min: 2 });
        assert_eq!(whats(&min2), [("A", 5), ("B", 4), ("C", 2)]);
        let both = c.rows(&CensusOptions {
            top: Some(10),
            min: 5,
        });
        assert_eq!(whats(&both), [("A", 5)]);
    }

    #[test]
    fn options_are_checked() {
        assert!(CensusOptions::default().validate().is_ok());
        let e = CensusOptions {
            top: Some(0),
            min: 1,
        }
        .validate()
        .unwrap_err();
        assert_eq!(e.to_string(), "top must be at least 1, got 0");
        let e = CensusOptions { top: None, min: 0 }.validate().unwrap_err();
        assert_eq!(e.option, "min");
    }
}
