//! Where in the typed data a refusal is about, e.g. `message.items[2].to`.
//!
//! A path is a chain of stack frames (each frame borrows its parent), so
//! descending into a value allocates nothing; only a refusal formats it.

use std::fmt;

use crate::error::{ChainError, ErrorKind};

use super::FIELD;
use super::limits::MAX_NAME_BYTES;

#[derive(Clone, Copy)]
enum Step<'a> {
    Root(&'a str),
    Key(&'a str),
    Index(usize),
}

/// One step of a path plus the path it extends.
#[derive(Clone, Copy)]
pub(super) struct Path<'a> {
    step: Step<'a>,
    parent: Option<&'a Path<'a>>,
}

impl<'a> Path<'a> {
    pub(super) fn root(name: &'a str) -> Self {
        Self {
            step: Step::Root(name),
            parent: None,
        }
    }

    pub(super) fn key(&'a self, key: &'a str) -> Path<'a> {
        Path {
            step: Step::Key(key),
            parent: Some(self),
        }
    }

    pub(super) fn index(&'a self, index: usize) -> Path<'a> {
        Path {
            step: Step::Index(index),
            parent: Some(self),
        }
    }

    /// A refusal about this place: "`<path>`: `<reason>`".
    pub(super) fn invalid(&self, reason: impl fmt::Display) -> ChainError {
        ChainError::new(
            ErrorKind::InvalidTypedData,
            FIELD,
            printable(&format!("{self}: {reason}")),
        )
    }
}

/// Names and keys in a refusal come from the request and may end up in logs: anything but
/// printable ASCII is escaped, so a key cannot forge log lines or reorder text (bidi controls).
pub(super) fn printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii_graphic() || c == ' ' {
            out.push(c);
        } else {
            out.extend(c.escape_default());
        }
    }
    out
}

impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Value nesting is bounded (MAX_VALUE_DEPTH), so collecting the steps is cheap.
        let mut steps = Vec::new();
        let mut at = Some(self);
        while let Some(path) = at {
            steps.push(path.step);
            at = path.parent;
        }
        for step in steps.iter().rev() {
            match step {
                Step::Root(name) => f.write_str(name)?,
                Step::Key(key) if key.len() <= MAX_NAME_BYTES => write!(f, ".{key}")?,
                // A key the sender chose may be huge: never echo more than a prefix.
                Step::Key(key) => {
                    let mut end = MAX_NAME_BYTES;
                    while !key.is_char_boundary(end) {
                        end -= 1;
                    }
                    write!(f, ".{}…", &key[..end])?;
                }
                Step::Index(index) => write!(f, "[{index}]")?,
            }
        }
        Ok(())
    }
}
