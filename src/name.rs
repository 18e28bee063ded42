//! Metric and label name rules, checkable in `const` context.
//!
//! Names follow the Prometheus data model: metric names match
//! `[a-zA-Z_:][a-zA-Z0-9_:]*`, label names `[a-zA-Z_][a-zA-Z0-9_]*`, and label
//! names starting with `__` are reserved for Prometheus itself. Because the
//! checks are `const fn`, a `static` metric with a bad name fails to compile.

/// Whether `name` is a valid metric name.
///
/// ```
/// use nanometrics::name::is_valid_metric_name;
/// assert!(is_valid_metric_name("http_requests_total"));
/// assert!(is_valid_metric_name("job:rate5m"));
/// assert!(!is_valid_metric_name("2xx_total"));
/// assert!(!is_valid_metric_name(""));
/// assert!(!is_valid_metric_name("with-dash"));
/// ```
pub const fn is_valid_metric_name(name: &str) -> bool {
    let b = name.as_bytes();
    if b.is_empty() {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let ok = c.is_ascii_alphabetic() || c == b'_' || c == b':' || (i > 0 && c.is_ascii_digit());
        if !ok {
            return false;
        }
        i += 1;
    }
    true
}

/// Whether `name` is a valid, unreserved label name.
///
/// ```
/// use nanometrics::name::is_valid_label_name;
/// assert!(is_valid_label_name("app_id"));
/// assert!(!is_valid_label_name("__name__"));
/// assert!(!is_valid_label_name("job:x"));
/// assert!(!is_valid_label_name("0a"));
/// ```
pub const fn is_valid_label_name(name: &str) -> bool {
    let b = name.as_bytes();
    if b.is_empty() || (b.len() >= 2 && b[0] == b'_' && b[1] == b'_') {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let ok = c.is_ascii_alphabetic() || c == b'_' || (i > 0 && c.is_ascii_digit());
        if !ok {
            return false;
        }
        i += 1;
    }
    true
}

/// Byte-wise string equality usable in `const` context.
pub(crate) const fn const_str_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// Whether no two of `values` are equal (`const`; `label_enum!` checks its
/// values with it, so a label set never yields two identical series).
///
/// ```
/// use nanometrics::name::all_distinct;
/// assert!(all_distinct(&["public", "private", "presence"]));
/// assert!(!all_distinct(&["a", "b", "a"]));
/// ```
pub const fn all_distinct(values: &[&str]) -> bool {
    let mut i = 0;
    while i < values.len() {
        let mut j = i + 1;
        while j < values.len() {
            if const_str_eq(values[i], values[j]) {
                return false;
            }
            j += 1;
        }
        i += 1;
    }
    true
}

/// Whether `names` are valid label names, none repeated, none in `forbidden`.
pub(crate) const fn valid_label_names(names: &[&str], forbidden: &str) -> bool {
    let mut i = 0;
    while i < names.len() {
        if !is_valid_label_name(names[i]) || const_str_eq(names[i], forbidden) {
            return false;
        }
        let mut j = i + 1;
        while j < names.len() {
            if const_str_eq(names[i], names[j]) {
                return false;
            }
            j += 1;
        }
        i += 1;
    }
    true
}

/// Whether `unit` is a valid unit for `name` (OpenMetrics: the name must end
/// with `_<unit>`, before any `_total`).
pub(crate) const fn valid_unit(name: &str, unit: &str) -> bool {
    if !is_valid_label_name(unit) {
        return false;
    }
    let n = name.as_bytes();
    let u = unit.as_bytes();
    let base_len = if n.len() > 6 && ends_with(n, b"_total") {
        n.len() - 6
    } else {
        n.len()
    };
    if base_len < u.len() + 1 {
        return false;
    }
    let start = base_len - u.len();
    if n[start - 1] != b'_' {
        return false;
    }
    let mut i = 0;
    while i < u.len() {
        if n[start + i] != u[i] {
            return false;
        }
        i += 1;
    }
    true
}

const fn ends_with(s: &[u8], suffix: &[u8]) -> bool {
    if s.len() < suffix.len() {
        return false;
    }
    let off = s.len() - suffix.len();
    let mut i = 0;
    while i < suffix.len() {
        if s[off + i] != suffix[i] {
            return false;
        }
        i += 1;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units() {
        assert!(valid_unit("request_duration_seconds", "seconds"));
        assert!(valid_unit("received_bytes_total", "bytes"));
        assert!(!valid_unit("seconds", "seconds"));
        assert!(!valid_unit("request_duration", "seconds"));
        assert!(!valid_unit("foo_xseconds", "seconds"));
        assert!(!valid_unit("foo_seconds", "se-c"));
    }

    #[test]
    fn label_name_sets() {
        assert!(valid_label_names(&["a", "b"], "le"));
        assert!(!valid_label_names(&["a", "a"], "le"));
        assert!(!valid_label_names(&["le"], "le"));
        assert!(valid_label_names(&["le"], ""));
        assert!(!valid_label_names(&["__x"], ""));
    }

    #[test]
    fn non_ascii_is_rejected() {
        assert!(!is_valid_metric_name("zähler"));
        assert!(!is_valid_label_name("ключ"));
    }
}
