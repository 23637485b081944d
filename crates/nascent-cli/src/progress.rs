//! Progress output on stderr.

use indicatif::ProgressBar;

/// Prints `line` on stderr above `bar`: through the bar on a terminal, plainly when the bar is
/// hidden (stderr redirected to a file or a pipe), so logs keep every line.
pub fn say(bar: &ProgressBar, line: impl AsRef<str>) {
    if bar.is_hidden() {
        eprintln!("{}", line.as_ref());
    } else {
        bar.println(line);
    }
}
