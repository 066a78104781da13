//! Shared helper for showing user-supplied text in an intent.

/// How many characters of a message an intent shows: enough for a policy or a
/// confirmation screen, small enough that intents stay cheap to log and store.
pub(crate) const PREVIEW_CHARS: usize = 200;

/// The message as text if it is valid UTF-8, cut to [`PREVIEW_CHARS`] characters
/// (on a character boundary, never inside a code point).
pub(crate) fn utf8_preview(bytes: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(bytes).ok()?;
    Some(text.chars().take(PREVIEW_CHARS).collect())
}
