//! Why an options value was refused, named in this crate's terms.
//!
//! Each options type declares its defaults (`Default`) and its ranges (`validate`) next to its
//! fields; a caller in another language maps `OptionField` to its own spelling of the option.

use std::fmt;

/// One field of one options type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptionField {
    /// `RetentionOptions::classes`
    RetentionClasses,
    /// `RetentionOptions::max_paths`
    RetentionMaxPaths,
    /// `SurvivorOptions::max_paths`
    SurvivorMaxPaths,
    /// `SurvivorOptions::max_classes`
    SurvivorMaxClasses,
    /// `SurvivorOptions::min_count`
    SurvivorMinCount,
    /// `TopRetainerOptions::count`
    TopCount,
    /// `DiffOptions::max_stacks`
    DiffMaxStacks,
    /// `SurvivorOptions::max_stacks`
    SurvivorMaxStacks,
}

/// An option value an analysis cannot work with: `{option} must be {requirement}, got {got}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionError {
    /// The field at fault.
    pub option: OptionField,
    /// What it must be, e.g. `"at least 1"`.
    pub requirement: &'static str,
    /// The value given, as printed.
    pub got: String,
}

impl OptionError {
    /// Every count here has a floor of 1: a zero would make an analysis report nothing while
    /// looking as if it ran.
    pub(crate) fn at_least_one(option: OptionField, got: u64) -> Result<(), OptionError> {
        if got >= 1 {
            return Ok(());
        }
        Err(OptionError {
            option,
            requirement: "at least 1",
            got: got.to_string(),
        })
    }
}

impl fmt::Display for OptionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?} must be {}, got {}",
            self.option, self.requirement, self.got
        )
    }
}

impl std::error::Error for OptionError {}
