//! Integration tests of `gatehouse-verify` against a local issuer (discovery + JWKS over HTTP):
//! key fetching, caching and rotation (`remote`), and the axum extractor, layer and answers
//! through real HTTP calls (`http`).

mod http;
mod remote;
mod support;
