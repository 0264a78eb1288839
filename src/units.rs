//! Memory sizes and durations as operators write them (`"512M"`, `"30s"`).
//!
//! Compose and Docker use the same suffixes, so the stack file keeps them; the
//! model stores exact numbers so budgets and comparisons are arithmetic.

use std::fmt;

/// A memory size in mebibytes. Docker limits in the seeds are all whole MiB.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Default, serde::Serialize)]
pub struct Mib(pub u64);

/// A size or a duration vpai cannot read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnitError {
    #[error("`{0}` is not a memory size; write e.g. \"512M\" or \"4G\"")]
    NotAMemorySize(String),
    #[error("`{0}` has no unit vpai accepts; write e.g. \"512M\" or \"4G\"")]
    UnknownMemoryUnit(String),
    #[error("`{0}` is not a duration; write e.g. \"30s\" or \"2m\"")]
    NotADuration(String),
    #[error("`{0}` has an unknown unit; use s, m or h")]
    UnknownTimeUnit(String),
}

/// `"512M"` -> `(512, "M")`; `None` when it does not start with a number.
fn number_and_unit(text: &str) -> Option<(u64, &str)> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    Some((digits.parse().ok()?, unit.trim()))
}

impl Mib {
    pub fn parse(text: &str) -> Result<Self, UnitError> {
        let (n, unit) =
            number_and_unit(text).ok_or_else(|| UnitError::NotAMemorySize(text.to_string()))?;
        let mib = match unit {
            "M" | "m" | "MB" | "MiB" | "Mi" => n,
            "G" | "g" | "GB" | "GiB" | "Gi" => n * 1024,
            "T" | "TB" | "TiB" | "Ti" => n * 1024 * 1024,
            _ => return Err(UnitError::UnknownMemoryUnit(text.to_string())),
        };
        Ok(Mib(mib))
    }
}

impl fmt::Display for Mib {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 >= 1024 && self.0 % 1024 == 0 {
            write!(f, "{}G", self.0 / 1024)
        } else {
            write!(f, "{}M", self.0)
        }
    }
}

/// A duration in whole seconds, written `"30s"`, `"2m"`, `"1h"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct Seconds(pub u64);

impl Seconds {
    pub fn parse(text: &str) -> Result<Self, UnitError> {
        let (n, unit) =
            number_and_unit(text).ok_or_else(|| UnitError::NotADuration(text.to_string()))?;
        let secs = match unit {
            "s" | "" => n,
            "m" => n * 60,
            "h" => n * 3600,
            _ => return Err(UnitError::UnknownTimeUnit(text.to_string())),
        };
        Ok(Seconds(secs))
    }
}

impl fmt::Display for Seconds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}s", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_sizes() {
        assert_eq!(Mib::parse("512M"), Ok(Mib(512)));
        assert_eq!(Mib::parse("4G"), Ok(Mib(4096)));
        assert_eq!(Mib(1536).to_string(), "1536M");
        assert_eq!(Mib(8192).to_string(), "8G");
        assert!(Mib::parse("lots").is_err());
        assert!(Mib::parse("12X").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(Seconds::parse("30s"), Ok(Seconds(30)));
        assert_eq!(Seconds::parse("2m"), Ok(Seconds(120)));
        assert!(Seconds::parse("soon").is_err());
    }
}
