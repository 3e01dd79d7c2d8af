//! The access gateway's rules, free of HTTP: the Oathkeeper-compatible rule format ([`spec`]) and
//! its compiled form ([`rules`]), URL globs ([`glob`]), who the caller is ([`session`]), authorizer
//! decisions ([`mod@authorize`]) and header templates ([`template`]). The web crate runs the
//! authenticators and the proxy around these.

pub mod authorize;
mod compile;
pub mod glob;
pub mod rules;
pub mod session;
pub mod spec;
pub mod template;

pub use authorize::{Authorizer, Denied, authorize};
pub use glob::UrlPattern;
pub use rules::{
    Authenticator, CookieSessionConfig, ErrorHandling, IdTokenConfig, IntrospectionConfig, Mutator,
    Rule, RuleError, RuleSet, Upstream,
};
pub use session::AuthenticationSession;
pub use spec::{JwtConfig, RuleSpec};
pub use template::Template;
