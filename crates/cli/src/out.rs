//! Writing to stdout and stderr without panicking when the reader has gone away (for example
//! `ahv bench | head`): write errors are ignored, as the output has nowhere to go.

use std::io::Write;

/// Prints one line on stdout.
pub fn line(s: impl AsRef<str>) {
    let mut o = std::io::stdout().lock();
    let _ = writeln!(o, "{}", s.as_ref());
}

/// Prints one line on stderr.
pub fn err_line(s: impl AsRef<str>) {
    let mut o = std::io::stderr().lock();
    let _ = writeln!(o, "{}", s.as_ref());
}

/// Prints text on stderr without a newline and flushes it (progress displays).
pub fn err_progress(s: impl AsRef<str>) {
    let mut o = std::io::stderr().lock();
    let _ = write!(o, "{}", s.as_ref());
    let _ = o.flush();
}
