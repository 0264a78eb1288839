//! Writing to stdout and stderr without panicking when the reader has gone
//! (`vpai explain | head -1`, a closed terminal): the standard `println!` panics on
//! a broken pipe, which would end a command midway, with a lock held or a file half
//! written. Here the work goes on and the output nobody reads is dropped; any other
//! write error is said once on stderr.

use std::fmt;
use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};

static STDOUT_FAILED: AtomicBool = AtomicBool::new(false);

#[doc(hidden)]
pub fn write_stdout(args: fmt::Arguments) {
    if let Err(e) = io::stdout().lock().write_fmt(args)
        && e.kind() != io::ErrorKind::BrokenPipe
        && !STDOUT_FAILED.swap(true, Ordering::Relaxed)
    {
        write_stderr(format_args!("vpai: cannot write to stdout: {e}\n"));
    }
}

#[doc(hidden)]
pub fn write_stderr(args: fmt::Arguments) {
    // Nowhere is left to report a failing stderr.
    let _ = io::stderr().lock().write_fmt(args);
}

/// `print!` that survives a closed pipe.
macro_rules! stdout {
    ($($arg:tt)*) => { $crate::console::write_stdout(format_args!($($arg)*)) };
}

/// `println!` that survives a closed pipe.
macro_rules! stdoutln {
    () => { $crate::console::write_stdout(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::console::write_stdout(format_args!("{}\n", format_args!($($arg)*))) };
}

/// `eprint!` that survives a closed pipe.
macro_rules! stderr {
    ($($arg:tt)*) => { $crate::console::write_stderr(format_args!($($arg)*)) };
}

/// `eprintln!` that survives a closed pipe.
macro_rules! stderrln {
    () => { $crate::console::write_stderr(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::console::write_stderr(format_args!("{}\n", format_args!($($arg)*))) };
}

pub(crate) use {stderr, stderrln, stdout, stdoutln};
