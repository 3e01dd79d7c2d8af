//! Accounts on the public listener: sessions (and, beside them, the self-service flows).

pub mod session;
