//! What the classifier reads of a ticket: its words, lower case, with numbers (order numbers,
//! amounts) made one token, and each pair of neighbouring words.

/// The words of `text`: runs of letters and digits, lower case; an apostrophe joins ("can't"
/// is `cant`); a word with a digit in it is `#`.
pub fn tokens(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut Vec<String>| {
        if !word.is_empty() {
            out.push(if word.chars().any(|c| c.is_ascii_digit()) { "#".to_owned() } else { std::mem::take(word) });
            word.clear();
        }
    };
    for c in text.chars() {
        if c.is_alphanumeric() {
            word.extend(c.to_lowercase());
        } else if c != '\'' && c != '’' {
            flush(&mut word, &mut out);
        }
    }
    flush(&mut word, &mut out);
    out
}

/// The features of `text`: each word, and each pair of neighbouring words (`"cancel order"`).
pub fn features(text: &str) -> Vec<String> {
    let words = tokens(text);
    let pairs = words.windows(2).map(|pair| format!("{} {}", pair[0], pair[1]));
    words.iter().cloned().chain(pairs).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_lower_case_with_numbers_folded_and_apostrophes_joined() {
        assert_eq!(tokens("I can't find Order 113542617735902?!"), ["i", "cant", "find", "order", "#"]);
        assert_eq!(tokens("  "), Vec::<String>::new());
        assert_eq!(tokens("ÄRGER über 3x"), ["ärger", "über", "#"]);
    }

    #[test]
    fn features_are_words_and_their_pairs() {
        assert_eq!(features("cancel my order"), ["cancel", "my", "order", "cancel my", "my order"]);
    }
}
