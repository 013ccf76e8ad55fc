//! The `ordo` program: parses the command line and configuration, opens the application, and
//! runs one command. Serving HTTP means composing the API and the dashboard adapters with the
//! cross-cutting layers (request ids, tracing, time-outs, body limits) in [`serve`].

/// Prints a line of a command's output, as `println!` would; see [`say`].
macro_rules! say {
    () => { $crate::say(format_args!("")) };
    ($($arg:tt)*) => { $crate::say(format_args!($($arg)*)) };
}

pub mod anomalies;
pub mod backup;
pub mod bench;
pub mod checkpoints;
pub mod cli;
pub mod config;
pub mod files;
pub mod forecasting;
pub mod serve;
pub mod stand_ins;
pub mod triage;
pub mod workload;

/// Writes one line of a command's output; see [`out`].
pub(crate) fn say(line: std::fmt::Arguments) {
    out(format!("{line}\n").as_bytes());
}

/// Writes a command's output. A reader that stops early (`ordo … | head`) ends the command
/// quietly and successfully, as the end of a pipe ends any other tool, where `println!` would
/// panic. Any other failure to write (a full disk) ends it with the error.
pub(crate) fn out(bytes: &[u8]) {
    use std::io::Write;
    if let Err(error) = std::io::stdout().lock().write_all(bytes) {
        if error.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: cannot write the output: {error}");
        std::process::exit(1);
    }
}
