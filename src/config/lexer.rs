//! Splits one line of `haproxy.cfg` into words, the way HAProxy's `parse_line()` does.
//!
//! - Words are separated by spaces or tabs; `#` outside quotes starts a comment (anywhere).
//! - `"..."`: spaces and `#` are literal, `\"` and `\\` are escapes, variables are expanded.
//! - `'...'`: everything is literal until the closing `'`.
//! - Outside single quotes, `\` makes the next space, tab, `#`, `\`, `'`, `"` or `$` literal;
//!   `\r`, `\n`, `\t` and `\xHH` are a CR, LF, tab and that byte (`tcp-check send PING\r\n`);
//!   a backslash before any other character is kept as is.
//! - `${NAME}`, `${NAME-default}` and `$NAME` are replaced by the environment variable (unset and
//!   no default: empty), unquoted or in double quotes, never in single quotes. As in a shell, an
//!   unquoted word that expands to nothing disappears; `""` is an empty word.
//!
//! Errors are plain messages; the parser adds file and line.

/// Looks an environment variable up. Injected so tests do not touch the process environment.
pub(super) type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Quote {
    None,
    Single,
    Double,
}

/// The words of one line, after quotes, escapes, variables and comments were handled.
pub(super) fn split_words(line: &str, env: EnvLookup) -> Result<Vec<String>, String> {
    let mut lexer = Lexer {
        chars: line.trim_end_matches('\r').chars().collect(),
        pos: 0,
        env,
        words: Vec::new(),
        word: String::new(),
        word_started: false,
        quote: Quote::None,
    };
    lexer.run()?;
    Ok(lexer.words)
}

struct Lexer<'a> {
    chars: Vec<char>,
    pos: usize,
    env: EnvLookup<'a>,
    words: Vec<String>,
    word: String,
    /// A quote or a character was seen: the word exists even if it stays empty (`""`).
    word_started: bool,
    quote: Quote,
}

impl Lexer<'_> {
    fn run(&mut self) -> Result<(), String> {
        while let Some(c) = self.next_char() {
            match (self.quote, c) {
                (Quote::None, ' ' | '\t') => self.end_word(),
                (Quote::None, '#') => break,
                (Quote::None, '\'') => self.open(Quote::Single),
                (Quote::None, '"') => self.open(Quote::Double),
                (Quote::Single, '\'') | (Quote::Double, '"') => self.quote = Quote::None,
                (Quote::Single, _) => self.word.push(c),
                (_, '\\') => self.escape(),
                (_, '$') => self.expand_variable()?,
                _ => self.push(c),
            }
        }
        match self.quote {
            Quote::Single => return Err("missing closing single quote (')".into()),
            Quote::Double => return Err("missing closing double quote (\")".into()),
            Quote::None => {}
        }
        self.end_word();
        Ok(())
    }

    fn next_char(&mut self) -> Option<char> {
        let c = self.chars.get(self.pos).copied();
        self.pos += 1;
        c
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn push(&mut self, c: char) {
        self.word.push(c);
        self.word_started = true;
    }

    fn open(&mut self, quote: Quote) {
        self.quote = quote;
        self.word_started = true;
    }

    fn end_word(&mut self) {
        if self.word_started {
            self.words.push(std::mem::take(&mut self.word));
        }
        self.word_started = false;
    }

    fn escape(&mut self) {
        match self.peek() {
            Some(c @ (' ' | '\t' | '#' | '\\' | '\'' | '"' | '$')) => {
                self.pos += 1;
                self.push(c);
            }
            Some(c @ ('r' | 'n' | 't')) => {
                self.pos += 1;
                self.push(match c {
                    'r' => '\r',
                    'n' => '\n',
                    _ => '\t',
                });
            }
            Some('x') if self.hex_byte().is_some() => {
                let byte = self.hex_byte().unwrap_or_default();
                self.pos += 3;
                self.push(char::from(byte));
            }
            // An unknown escape keeps its backslash, as HAProxy does.
            _ => self.push('\\'),
        }
    }

    /// The byte of a `\xHH` escape whose `x` is next.
    fn hex_byte(&self) -> Option<u8> {
        let digits: String = self.chars.get(self.pos + 1..self.pos + 3)?.iter().collect();
        u8::from_str_radix(&digits, 16).ok()
    }

    /// Called after a `$`: `${NAME}`, `${NAME-default}` or `$NAME`; a lone `$` stays literal.
    fn expand_variable(&mut self) -> Result<(), String> {
        let value = match self.peek() {
            Some('{') => {
                self.pos += 1;
                self.braced_variable()?
            }
            Some(c) if is_name_start(c) => {
                let name = self.take_name();
                (self.env)(&name).unwrap_or_default()
            }
            _ => {
                self.push('$');
                return Ok(());
            }
        };
        // Appending an empty value does not start a word: `${UNSET}` alone is no word at all.
        if !value.is_empty() {
            self.word.push_str(&value);
            self.word_started = true;
        }
        Ok(())
    }

    fn braced_variable(&mut self) -> Result<String, String> {
        let name = self.take_name();
        if name.is_empty() {
            return Err("invalid variable: expected a name after '${'".into());
        }
        let default = match self.next_char() {
            Some('}') => None,
            Some('-') => Some(self.take_until_brace(&name)?),
            _ => {
                return Err(format!(
                    "invalid variable '${{{name}': expected '}}' or '-default}}'"
                ))
            }
        };
        Ok((self.env)(&name).or(default).unwrap_or_default())
    }

    fn take_name(&mut self) -> String {
        let mut name = String::new();
        while let Some(c) = self.peek().filter(|&c| is_name_char(c)) {
            name.push(c);
            self.pos += 1;
        }
        name
    }

    fn take_until_brace(&mut self, name: &str) -> Result<String, String> {
        let mut text = String::new();
        loop {
            match self.next_char() {
                Some('}') => return Ok(text),
                Some(c) => text.push(c),
                None => return Err(format!("missing '}}' after '${{{name}-{text}'")),
            }
        }
    }
}

fn is_name_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "PORT" => Some("8080".into()),
            "EMPTY" => Some(String::new()),
            "SPACED" => Some("a b".into()),
            _ => None,
        }
    }

    fn words(line: &str) -> Vec<String> {
        split_words(line, &env).unwrap()
    }

    fn error(line: &str) -> String {
        split_words(line, &env).unwrap_err()
    }

    #[test]
    fn splits_on_spaces_and_tabs() {
        assert_eq!(
            words("  server\ts1   127.0.0.1:80  "),
            ["server", "s1", "127.0.0.1:80"]
        );
        assert!(words("").is_empty());
        assert!(words(" \t ").is_empty());
    }

    #[test]
    fn control_escapes_are_haproxys() {
        assert_eq!(
            words(r#"send PING\r\n "a\tb" \x41\xZZ 'raw\n'"#),
            ["send", "PING\r\n", "a\tb", "A\\xZZ", "raw\\n"]
        );
    }

    #[test]
    fn comments_start_anywhere_outside_quotes() {
        assert!(words("# whole line").is_empty());
        assert_eq!(
            words("server nginx2 127.0.0.1:82 check  # comment"),
            ["server", "nginx2", "127.0.0.1:82", "check"]
        );
        assert_eq!(words("backend bk_app# glued"), ["backend", "bk_app"]);
        assert_eq!(
            words("description \"a # b\" 'c # d'"),
            ["description", "a # b", "c # d"]
        );
        assert_eq!(words(r"description a\#b"), ["description", "a#b"]);
    }

    #[test]
    fn double_quotes_keep_spaces_and_handle_escapes() {
        assert_eq!(
            words(r#"x "a b" "say \"hi\"" "back\\slash""#),
            ["x", "a b", "say \"hi\"", "back\\slash"]
        );
        assert_eq!(words(r#"x "" y"#), ["x", "", "y"]);
        assert_eq!(words(r#"x ab"cd ef"gh"#), ["x", "abcd efgh"]);
    }

    #[test]
    fn single_quotes_are_literal() {
        assert_eq!(
            words(r#"x 'a "b" \n ${PORT}'"#),
            ["x", r#"a "b" \n ${PORT}"#]
        );
        assert_eq!(words("x ''"), ["x", ""]);
    }

    #[test]
    fn backslash_escapes_outside_quotes() {
        assert_eq!(words(r"x a\ b \$PORT \q"), ["x", "a b", "$PORT", r"\q"]);
        assert_eq!(words(r"x end\"), ["x", r"end\"]);
    }

    #[test]
    fn expands_variables_unquoted_and_in_double_quotes() {
        assert_eq!(words("bind :${PORT}"), ["bind", ":8080"]);
        assert_eq!(words("bind \":${PORT}\""), ["bind", ":8080"]);
        assert_eq!(words("bind :$PORT"), ["bind", ":8080"]);
        assert_eq!(words("x ${SPACED}"), ["x", "a b"]);
    }

    #[test]
    fn variable_defaults_apply_only_when_unset() {
        assert_eq!(words("x ${UNSET-80} ${PORT-80}"), ["x", "80", "8080"]);
        assert_eq!(words("x a${EMPTY-dflt}b"), ["x", "ab"]);
        assert_eq!(words("x ${UNSET-a b}"), ["x", "a b"]);
    }

    #[test]
    fn unset_variables_expand_to_nothing() {
        assert_eq!(words("x ${UNSET} y"), ["x", "y"]);
        assert_eq!(words("x \"${UNSET}\" y"), ["x", "", "y"]);
        assert_eq!(words("x pre${UNSET}post"), ["x", "prepost"]);
    }

    #[test]
    fn a_dollar_without_a_name_is_literal() {
        assert_eq!(words("x $ $1 a$"), ["x", "$", "$1", "a$"]);
    }

    #[test]
    fn no_expansion_in_single_quotes() {
        assert_eq!(words("x '${PORT}'"), ["x", "${PORT}"]);
    }

    #[test]
    fn crlf_line_endings_are_accepted() {
        assert_eq!(words("bind :80\r"), ["bind", ":80"]);
    }

    #[test]
    fn reports_unterminated_quotes_and_variables() {
        assert_eq!(error("x \"abc"), "missing closing double quote (\")");
        assert_eq!(error("x 'abc"), "missing closing single quote (')");
        assert_eq!(
            error("x ${PORT"),
            "invalid variable '${PORT': expected '}' or '-default}'"
        );
        assert_eq!(error("x ${PORT-80"), "missing '}' after '${PORT-80'");
        assert_eq!(
            error("x ${}"),
            "invalid variable: expected a name after '${'"
        );
    }
}
