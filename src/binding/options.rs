//! Option values from JS: the checks that only a JS value needs (a number that is a whole
//! count, a string naming a grouping), and the errors thrown as the class JS code expects.

use heapsnap::Grouping;
use napi::bindgen_prelude::*;

/// A bad option value: `TypeError` for a value of the wrong kind, `RangeError` for one out of
/// range.
pub enum BadOption {
    Type(String),
    Range(String),
}

impl BadOption {
    /// `{object} option "{name}" must be {requirement}, got {got}`, as a `RangeError`.
    pub(super) fn range(
        object: &str,
        name: &str,
        requirement: &str,
        got: impl std::fmt::Display,
    ) -> Self {
        BadOption::Range(format!(
            "{object} option \"{name}\" must be {requirement}, got {got}"
        ))
    }

    pub(super) fn throw(self, env: &Env) -> Error {
        let (thrown, msg) = match self {
            BadOption::Type(msg) => (env.throw_type_error(&msg, None), msg),
            BadOption::Range(msg) => (env.throw_range_error(&msg, None), msg),
        };
        match thrown {
            Ok(()) => Error::new(Status::PendingException, msg),
            Err(e) => e,
        }
    }
}

/// Options given from JS as the crate's, their defaults where none were given; a bad value is
/// thrown as its `TypeError` or `RangeError`.
pub(super) fn resolve<J, T>(env: &Env, opts: Option<J>) -> Result<T>
where
    T: Default + TryFrom<J, Error = BadOption>,
{
    opts.map_or_else(
        || Ok(T::default()),
        |o| T::try_from(o).map_err(|e| e.throw(env)),
    )
}

/// A JS number as a count, if it is a whole number >= 0 that `T` holds.
pub(super) fn whole<T: TryFrom<u64>>(v: f64) -> Option<T> {
    let fits = v.is_finite() && v >= 0.0 && v.fract() == 0.0 && v <= 2f64.powi(53);
    fits.then(|| T::try_from(v as u64).ok()).flatten()
}

pub(super) fn grouping_name(g: Grouping) -> &'static str {
    match g {
        Grouping::Classic => "classic",
        Grouping::DevTools => "devtools",
    }
}

pub(super) fn grouping(object: &str, name: &str) -> std::result::Result<Grouping, BadOption> {
    match name {
        "classic" => Ok(Grouping::Classic),
        "devtools" => Ok(Grouping::DevTools),
        other => Err(BadOption::Type(format!(
            "{object} option \"grouping\" must be 'classic' or 'devtools', got {other:?}"
        ))),
    }
}

/// The JS spelling of each analysis option, and the options object it belongs to.
pub(super) fn js_name(field: heapsnap::OptionField) -> (&'static str, &'static str) {
    use heapsnap::OptionField as F;
    match field {
        F::RetentionClasses => ("diff", "retainerClasses"),
        F::RetentionMaxPaths => ("diff", "maxPaths"),
        F::SurvivorMaxPaths => ("analysis", "maxPaths"),
        F::SurvivorMaxClasses => ("analysis", "maxClasses"),
        F::SurvivorMinCount => ("analysis", "minCount"),
        F::TopCount => ("topRetainers", "top"),
        F::DiffMaxStacks => ("diff", "maxStacks"),
        F::SurvivorMaxStacks => ("analysis", "maxStacks"),
    }
}

impl From<heapsnap::OptionError> for BadOption {
    fn from(e: heapsnap::OptionError) -> Self {
        let (object, name) = js_name(e.option);
        BadOption::range(object, name, e.requirement, e.got)
    }
}

/// A count option: a `RangeError` unless whole and >= 0 (the crate judges the rest).
pub(super) fn count<T: TryFrom<u64>>(
    field: heapsnap::OptionField,
    v: f64,
) -> std::result::Result<T, BadOption> {
    let (object, name) = js_name(field);
    whole(v).ok_or_else(|| BadOption::range(object, name, "a whole number >= 0", v))
}
