//! Authentication-Results engine (RFC 8601): parsing, trust selection, alignment and expectations.
