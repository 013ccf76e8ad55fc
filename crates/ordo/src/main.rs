//! The `ordo` binary. Everything lives in the library; this only picks the allocator and hands
//! over the exit code.

/// mimalloc: many small short-lived allocations from several threads (orders, facts, SQL
/// arguments) cost a quarter of the CPU under glibc's allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    ordo::cli::main()
}
