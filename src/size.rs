//! Sizes in bytes as humans read and write them: `"10 MiB"`, `"64KiB"`, `"500kB"` or a plain number of
//! bytes in a settings file (a serde deserializer), and the one way output prints a size.

use serde::Deserializer;

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;
const GIB: u64 = 1024 * MIB;

/// The units a size may carry: IEC binary (`KiB`, `MiB`, `GiB`) and SI decimal (`kB`, `MB`, `GB`), case
/// ignored; no unit (or `B`) is bytes.
const UNITS: [(&str, u64); 8] = [
    ("", 1),
    ("b", 1),
    ("kib", KIB),
    ("mib", MIB),
    ("gib", GIB),
    ("kb", 1000),
    ("mb", 1000 * 1000),
    ("gb", 1000 * 1000 * 1000),
];

/// Parses `"10 MiB"`, `"64KiB"`, `"500kB"`, `"4096"` into bytes.
pub fn parse(text: &str) -> Result<u64, String> {
    let expected = "expected a number of bytes or a size such as \"10 MiB\", \"64 KiB\", \"500 kB\"";
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let unit = unit.trim().to_ascii_lowercase();
    let Some((_, factor)) = UNITS.iter().find(|(u, _)| *u == unit) else {
        return Err(format!("invalid size {text:?} (unknown unit {:?}), {expected}", unit));
    };
    let n: u64 = number.parse().map_err(|_| format!("invalid size {text:?}, {expected}"))?;
    n.checked_mul(*factor).ok_or_else(|| format!("size {text:?} is too large"))
}

/// A size written as a string (`"10 MiB"`) or as a plain number of bytes (`10485760`).
pub fn de<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    struct Size;
    impl serde::de::Visitor<'_> for Size {
        type Value = u64;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a number of bytes or a size such as \"10 MiB\"")
        }
        fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<u64, E> {
            Ok(n)
        }
        fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<u64, E> {
            u64::try_from(n).map_err(|_| E::custom(format!("invalid size {n}, expected a positive number of bytes")))
        }
        fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<u64, E> {
            parse(text).map_err(E::custom)
        }
    }
    d.deserialize_any(Size)
}

/// `10 MiB`, `64 KiB`, `1500 bytes`: the largest binary unit that divides the size exactly, else bytes, so a
/// limit prints as it was most likely written and never rounded.
pub fn show(bytes: u64) -> String {
    for (unit, factor) in [("GiB", GIB), ("MiB", MIB), ("KiB", KIB)] {
        if bytes >= factor && bytes.is_multiple_of(factor) {
            return format!("{} {unit}", bytes / factor);
        }
    }
    format!("{bytes} bytes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_as_written() {
        let cases = [
            ("4096", Ok(4096)),
            ("10 MiB", Ok(10 * MIB)),
            ("64KiB", Ok(64 * KIB)),
            ("1gib", Ok(GIB)),
            ("500 kB", Ok(500_000)),
            ("2MB", Ok(2_000_000)),
            ("12 B", Ok(12)),
            ("10 MiBs", Err("unknown unit \"mibs\"")),
            ("MiB", Err("invalid size \"MiB\"")),
            ("-1", Err("invalid size \"-1\"")),
            ("1.5 MiB", Err("unknown unit \".5 mib\"")),
            ("99999999999999 GiB", Err("too large")),
        ];
        for (text, expected) in cases {
            match (parse(text), expected) {
                (Ok(got), Ok(want)) => assert_eq!(got, want, "{text}"),
                (Err(got), Err(want)) => assert!(got.contains(want), "{text}: {got}"),
                (got, want) => panic!("{text}: got {got:?}, expected {want:?}"),
            }
        }
    }

    #[test]
    fn sizes_show_exactly() {
        let cases = [(10 * MIB, "10 MiB"), (64 * KIB, "64 KiB"), (GIB, "1 GiB"), (1500, "1500 bytes"), (0, "0 bytes")];
        for (bytes, text) in cases {
            assert_eq!(show(bytes), text);
        }
    }
}
