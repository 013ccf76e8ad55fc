//! The `ordo` binary. Everything lives in the library; this only hands over the exit code.

fn main() -> std::process::ExitCode {
    ordo::cli::main()
}
