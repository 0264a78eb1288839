//! "Did you mean" suggestions for misspelled names.

/// The closest candidate to `word`, if one is close enough to be a likely typo.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    // Jaro-Winkler ranks candidates; an edit distance of one (or one per four
    // characters) also counts, so short transpositions (`vsp` for `vps`) are caught
    // while unrelated names that share a suffix (`openai_api_key` for
    // `anthropic_api_key`) are not.
    let mut best: Option<(f64, &'a str)> = None;
    for candidate in candidates {
        let score = strsim::jaro_winkler(word, candidate);
        let edits = strsim::osa_distance(word, candidate);
        let close = score >= 0.88 || edits <= (word.chars().count() / 4).max(1);
        if close && best.is_none_or(|(s, _)| score > s) {
            best = Some((score, candidate));
        }
    }
    best.map(|(_, c)| c)
}

/// A ready-to-print hint, or `None` when nothing is close.
pub fn hint<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    did_you_mean(word, candidates).map(|c| format!("did you mean `{c}`?"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        let names = ["postgresql", "redis", "n8n"];
        assert_eq!(did_you_mean("postgres", names), Some("postgresql"));
        assert_eq!(did_you_mean("redsi", names), Some("redis"));
        assert_eq!(did_you_mean("grafana", names), None);
        assert_eq!(did_you_mean("vsp", ["vps", "workstation"]), Some("vps"));
        assert_eq!(did_you_mean("openai_api_key", ["anthropic_api_key"]), None);
    }
}
