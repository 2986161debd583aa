//! The `kafkalab` binary: see `kafkalab --help`.

use std::process::ExitCode;

fn main() -> ExitCode {
    let mut stdout = std::io::stdout().lock();
    let mut stderr = std::io::stderr().lock();
    ExitCode::from(kafkalab::cli::main(
        std::env::args_os(),
        &mut stdout,
        &mut stderr,
    ))
}
