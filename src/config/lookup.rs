//! Which probe file a command means: `--config FILE`, or the one file in `--probes DIR` whose `pool_id`
//! is `--pool` and/or whose name (its `name` key, or its file name without `.toml`) is `--probe`.
//!
//! A run sends real mail and spends real quota (a CONFIRMED user's ForgotPassword budget), so a selector
//! that matches several files is refused with the list, never resolved by taking the first.

use std::path::{Path, PathBuf};

use super::{ConfigError, ProbeFile, probe_paths};

/// What the command line asked for.
#[derive(Debug, Clone, Copy)]
pub struct Selector<'a> {
    pub config: Option<&'a Path>,
    pub pool: Option<&'a str>,
    pub probe: Option<&'a str>,
    pub dir: &'a Path,
}

impl Selector<'_> {
    /// Whether a file with these values is the one asked for.
    fn wants(&self, pool_id: Option<&str>, name: Option<&str>, path: &Path) -> bool {
        let stem = path.file_stem().map(|s| s.to_string_lossy());
        let pool_ok = self.pool.is_none_or(|p| pool_id == Some(p));
        let probe_ok = self.probe.is_none_or(|p| name == Some(p) || stem.as_deref() == Some(p));
        pool_ok && probe_ok
    }

    fn wanted(&self) -> String {
        match (self.pool, self.probe) {
            (Some(pool), Some(probe)) => format!("pool_id {pool:?} and name {probe:?}"),
            (Some(pool), None) => format!("pool_id {pool:?}"),
            (None, probe) => format!("name {:?}", probe.unwrap_or_default()),
        }
    }
}

/// The probe file the selector names, loaded and validated.
pub fn locate(selector: &Selector<'_>) -> Result<ProbeFile, ConfigError> {
    if let Some(path) = selector.config {
        return ProbeFile::load(path);
    }
    if selector.pool.is_none() && selector.probe.is_none() {
        return Err(ConfigError::NothingToRun);
    }
    let mut matched: Vec<(PathBuf, Result<ProbeFile, ConfigError>)> = Vec::new();
    let mut unreadable = None;
    for path in probe_paths(selector.dir)? {
        match ProbeFile::load(&path) {
            Ok(p) if selector.wants(Some(&p.pool_id), Some(&p.name), &path) => matched.push((path, Ok(p))),
            Ok(_) => {}
            Err(e) => match loose_identity(&path) {
                // A broken file that is (or may be) the one asked for is reported, not skipped.
                Some((pool, name)) if selector.wants(pool.as_deref(), name.as_deref(), &path) => {
                    matched.push((path, Err(e)))
                }
                Some(_) => {}
                None if selector.wants(None, None, &path) => matched.push((path, Err(e))),
                None => {
                    unreadable.get_or_insert(e);
                }
            },
        }
    }
    match matched.len() {
        1 => matched.pop().map(|(_, r)| r).unwrap_or(Err(ConfigError::NothingToRun)),
        0 => Err(unreadable.unwrap_or_else(|| not_found(selector))),
        _ => Err(ConfigError::Ambiguous {
            dir: selector.dir.to_path_buf(),
            wanted: selector.wanted(),
            files: matched.into_iter().map(|(p, _)| p).collect(),
        }),
    }
}

fn not_found(selector: &Selector<'_>) -> ConfigError {
    match (selector.pool, selector.probe) {
        (Some(id), None) => ConfigError::NoSuchPool { dir: selector.dir.to_path_buf(), pool_id: id.to_string() },
        _ => ConfigError::NoSuchProbe { dir: selector.dir.to_path_buf(), wanted: selector.wanted() },
    }
}

/// `pool_id` and `name` of a file that does not validate but is still TOML; `None` when it is not even
/// that.
/// The name and pool id of the one probe file the selector means, read loosely from a file that does not
/// load (a wrong field, a missing secret): what a report of that broken file is filed under — the EMF
/// dimensions its alarms watch. `(None, None)` when no single file is meant or its TOML does not parse.
pub fn identity_hint(selector: &Selector<'_>) -> (Option<String>, Option<String>) {
    let name_of = |path: &Path, name: Option<String>| {
        name.filter(|n| !n.is_empty()).or_else(|| path.file_stem().map(|s| s.to_string_lossy().into_owned()))
    };
    if let Some(path) = selector.config {
        let (pool, name) = loose_identity(path).unwrap_or_default();
        return (name_of(path, name), pool);
    }
    let Ok(paths) = probe_paths(selector.dir) else { return (None, None) };
    let mut meant = paths.iter().filter_map(|path| {
        let (pool, name) = loose_identity(path)?;
        selector.wants(pool.as_deref(), name.as_deref(), path).then(|| (name_of(path, name), pool))
    });
    match (meant.next(), meant.next()) {
        (Some(only), None) => only,
        _ => (None, None),
    }
}

fn loose_identity(path: &Path) -> Option<(Option<String>, Option<String>)> {
    let table: toml::Table = std::fs::read_to_string(path).ok()?.parse().ok()?;
    let get = |key: &str| table.get(key).and_then(|v| v.as_str()).map(str::to_string);
    Some((get("pool_id"), get("name")))
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &str = "username = \"u\"\n[maildir]\npath = \"/tmp/m\"\n";

    fn dir(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        dir
    }

    #[test]
    fn a_missing_name_is_quoted_once() {
        let d = dir(&[]);
        let selector = Selector { config: None, pool: None, probe: Some("nope"), dir: d.path() };
        let shown = locate(&selector).err().unwrap().to_string();
        assert!(shown.contains(" matches name \"nope\" (by file name"), "{shown}");
    }

    #[test]
    fn a_broken_file_is_still_known_by_its_name_and_pool() {
        let d = dir(&[
            ("production.toml", "pool_id = \"us-east-1_prod\"\nusername = 7\n"),
            ("staging.toml", "pool_id = \"us-east-1_stage\"\nname = \"stage\"\n"),
            ("garbage.toml", "pool_id = \n"),
        ]);
        let sel = |probe: &'static str| Selector { config: None, pool: None, probe: Some(probe), dir: d.path() };
        assert_eq!(identity_hint(&sel("production")), (Some("production".into()), Some("us-east-1_prod".into())));
        assert_eq!(identity_hint(&sel("stage")), (Some("stage".into()), Some("us-east-1_stage".into())));
        assert_eq!(identity_hint(&sel("garbage")), (None, None), "TOML that does not parse tells nothing");
        assert_eq!(identity_hint(&sel("absent")), (None, None));
    }

    fn file(pool: &str, name: Option<&str>) -> String {
        let name = name.map(|n| format!("name = \"{n}\"\n")).unwrap_or_default();
        format!("{name}pool_id = \"{pool}\"\n{BODY}")
    }

    /// (files, --pool, --probe) → the probe's name, or the start of the error.
    #[test]
    #[allow(clippy::type_complexity)] // a case table reads best as tuples
    fn lookup_case_table() {
        let prod = file("us-east-1_aaa", None);
        let named = file("us-east-1_bbb", Some("billing"));
        let twin = file("us-east-1_aaa", Some("prod-copy"));
        let cases: &[(&str, Vec<(&str, &str)>, Option<&str>, Option<&str>, Result<&str, &str>)] = &[
            ("by pool", vec![("prod.toml", &prod)], Some("us-east-1_aaa"), None, Ok("prod")),
            ("by name key", vec![("b.toml", &named)], None, Some("billing"), Ok("billing")),
            ("by file name although the file sets name", vec![("b.toml", &named)], None, Some("b"), Ok("billing")),
            (
                "two files for one pool",
                vec![("prod.toml", &prod), ("z.toml", &twin)],
                Some("us-east-1_aaa"),
                None,
                Err("2 probe files in"),
            ),
            (
                "pool and name narrow it",
                vec![("prod.toml", &prod), ("z.toml", &twin)],
                Some("us-east-1_aaa"),
                Some("z"),
                Ok("prod-copy"),
            ),
            ("no such pool", vec![("prod.toml", &prod)], Some("us-east-1_zzz"), None, Err("no probe file in")),
            ("no such name", vec![("prod.toml", &prod)], None, Some("nope"), Err("no probe file in")),
            (
                "a broken file for the pool is reported",
                vec![("prod.toml", "pool_id = \"us-east-1_aaa\"\nusername = \"u\"\n")],
                Some("us-east-1_aaa"),
                None,
                Err(""),
            ),
            (
                "a broken file for the same pool makes it ambiguous",
                vec![("prod.toml", &prod), ("x.toml", "pool_id = \"us-east-1_aaa\"\nbogus = 1\n")],
                Some("us-east-1_aaa"),
                None,
                Err("2 probe files in"),
            ),
            (
                "a broken file for another pool is not in the way",
                vec![("prod.toml", &prod), ("x.toml", "pool_id = \"us-east-1_other\"\nbogus = 1\n")],
                Some("us-east-1_aaa"),
                None,
                Ok("prod"),
            ),
        ];
        for (case, files, pool, probe, expected) in cases {
            let d = dir(files);
            let selector = Selector { config: None, pool: *pool, probe: *probe, dir: d.path() };
            match (locate(&selector), expected) {
                (Ok(p), Ok(name)) => assert_eq!(p.name, *name, "{case}"),
                (Err(e), Err(start)) => {
                    let shown = e.to_string();
                    assert!(shown.starts_with(start), "{case}: {shown}");
                    if start.starts_with("2 probe") {
                        assert!(shown.contains("refusing to guess"), "{case}: {shown}");
                    }
                }
                (got, _) => panic!("{case}: got {got:?}, expected {expected:?}"),
            }
        }
    }
}
