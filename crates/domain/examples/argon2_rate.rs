//! The argon2 ceiling for login throughput: how many argon2id hashes per second one thread
//! computes with the parameters the server uses (`HashParams::default()`). A password login
//! costs one such computation, so on one core this is the most logins per second there can be.
//!
//!   taskset -c 0 cargo run --release --example argon2_rate -p gatehouse-domain [SECONDS]
//!
//! Prints `BENCH_RESULT hashes_per_s=<n> hashes=<n> seconds=<s> memory_kib=<m> iterations=<t>
//! parallelism=<p>` (bench/login.sh reads it).

use std::time::{Duration, Instant};

use gatehouse_domain::identity::password::{HashParams, hash_password};

#[expect(
    clippy::print_stdout,
    reason = "the result line is what bench/login.sh reads"
)]
fn main() {
    let seconds: f64 = std::env::args()
        .nth(1)
        .map(|s| s.parse().expect("SECONDS must be a number"))
        .unwrap_or(5.0);
    let params = HashParams::default();

    // Warm-up: page in the 19 MiB block buffer and settle the CPU's clock.
    let warm_until = Instant::now() + Duration::from_secs(1);
    while Instant::now() < warm_until {
        hash_password(&params, "correct horse battery staple").expect("argon2 hash");
    }

    let budget = Duration::from_secs_f64(seconds);
    let start = Instant::now();
    let mut hashes: u64 = 0;
    while start.elapsed() < budget {
        let h = hash_password(&params, "correct horse battery staple").expect("argon2 hash");
        std::hint::black_box(h);
        hashes += 1;
    }
    let elapsed = start.elapsed().as_secs_f64();
    let rate = hashes as f64 / elapsed;
    println!(
        "BENCH_RESULT hashes_per_s={rate:.1} hashes={hashes} seconds={elapsed:.2} memory_kib={} iterations={} parallelism={}",
        params.memory_kib, params.iterations, params.parallelism
    );
}
