//! The integration-test binary: real servers, in-process where they are ours (the twin) and as real
//! processes where they are not (Dovecot, moto). One binary so the crate links once; `util` holds the
//! harnesses.

mod authres_check_headers;
mod authres_peers;
mod authres_receivers;
mod util;
