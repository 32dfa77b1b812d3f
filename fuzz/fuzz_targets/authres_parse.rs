//! Fuzz target: the Authentication-Results parser must never panic and must do linear work on any input
//! (DESIGN.md §10 "fuzzed parsers never panic"). The parser file is compiled in directly (it depends only on
//! std, serde and thiserror), so fuzzing does not build the AWS SDKs.
#![no_main]

use std::cell::Cell;

use libfuzzer_sys::fuzz_target;

#[allow(dead_code)]
#[path = "../../src/authres/parse.rs"]
mod parse;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let steps = Cell::new(0);
    let _ = parse::parse_counted(text, &steps);
    // Same bound as the unit tests' property test: a constant number of steps per input byte.
    assert!(
        steps.get() <= 8 * text.len() as u64 + 64,
        "{} steps for {} bytes",
        steps.get(),
        text.len()
    );
    let _ = parse::parse_arc(text);
    let _ = parse::parse_resinfo(text);
});
