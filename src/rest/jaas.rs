//! JAAS login configuration files, as Java reads them for Kafka Connect's basic
//! authentication: the file named by the system property `java.security.auth.login.config`,
//! which Kafka's launch scripts take from `KAFKA_OPTS` (`-Djava.security.auth.login.config=…`);
//! so do we. Its syntax: `Name { module.Class flag key="value" …; … };`, with `//` and `/* */`
//! comments.

use std::collections::BTreeMap;
use std::path::PathBuf;

/// The JVM system property that names the file.
pub const LOGIN_CONFIG_PROPERTY: &str = "java.security.auth.login.config";

/// A login module's control flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flag {
    Required,
    Requisite,
    Sufficient,
    Optional,
}

/// One login module of an entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Module {
    pub class: String,
    pub flag: Flag,
    pub options: BTreeMap<String, String>,
}

/// The file named by `-Djava.security.auth.login.config=` in `kafka_opts` (the last one, as
/// the JVM takes the last of repeated `-D`s). `==` (Java's "only this file") reads the same.
pub fn login_config_path(kafka_opts: &str) -> Option<PathBuf> {
    let flag = format!("-D{LOGIN_CONFIG_PROPERTY}=");
    // The launch scripts expand KAFKA_OPTS unquoted: words are split on whitespace.
    kafka_opts
        .split_whitespace()
        .filter_map(|w| w.strip_prefix(&flag))
        .map(|v| v.strip_prefix('=').unwrap_or(v))
        .rfind(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// The modules of every entry of a JAAS file, by entry name; a syntax error with its line.
pub fn parse(text: &str) -> Result<BTreeMap<String, Vec<Module>>, (usize, String)> {
    let tokens = tokenize(text)?;
    let mut p = Parser { tokens, at: 0 };
    let mut entries = BTreeMap::new();
    while !p.done() {
        let name = p.word("an entry name")?;
        p.symbol('{')?;
        let mut modules = Vec::new();
        while !p.peek_symbol('}') {
            modules.push(p.module()?);
        }
        p.symbol('}')?;
        p.symbol(';')?;
        entries.insert(name, modules);
    }
    Ok(entries)
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Word(String),
    Quoted(String),
    Symbol(char),
}

fn tokenize(text: &str) -> Result<Vec<(usize, Token)>, (usize, String)> {
    let mut out = Vec::new();
    let mut line = 1;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\n' => line += 1,
            c if c.is_whitespace() => {}
            '/' if chars.peek() == Some(&'/') => while chars.next_if(|c| *c != '\n').is_some() {},
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                let start = line;
                let mut prev = ' ';
                loop {
                    match chars.next() {
                        None => return Err((start, "unterminated /* comment".into())),
                        Some('/') if prev == '*' => break,
                        Some(c) => {
                            if c == '\n' {
                                line += 1;
                            }
                            prev = c;
                        }
                    }
                }
            }
            '{' | '}' | ';' | '=' => out.push((line, Token::Symbol(c))),
            '"' => {
                let start = line;
                let mut value = String::new();
                loop {
                    match chars.next() {
                        None => return Err((start, "unterminated quoted value".into())),
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(e) => value.push(e),
                            None => return Err((start, "unterminated quoted value".into())),
                        },
                        Some(c) => {
                            if c == '\n' {
                                line += 1;
                            }
                            value.push(c);
                        }
                    }
                }
                out.push((line, Token::Quoted(value)));
            }
            c => {
                let mut word = c.to_string();
                while let Some(c) = chars.next_if(|c| !c.is_whitespace() && !"{};=\"".contains(*c))
                {
                    word.push(c);
                }
                out.push((line, Token::Word(word)));
            }
        }
    }
    Ok(out)
}

struct Parser {
    tokens: Vec<(usize, Token)>,
    at: usize,
}

impl Parser {
    fn done(&self) -> bool {
        self.at >= self.tokens.len()
    }

    fn line(&self) -> usize {
        self.tokens
            .get(self.at)
            .or(self.tokens.last())
            .map_or(1, |(l, _)| *l)
    }

    fn next(&mut self, expected: &str) -> Result<Token, (usize, String)> {
        let line = self.line();
        let t = self.tokens.get(self.at).cloned();
        self.at += 1;
        t.map(|(_, t)| t).ok_or((
            line,
            format!("expected {expected}, found the end of the file"),
        ))
    }

    fn word(&mut self, expected: &str) -> Result<String, (usize, String)> {
        let line = self.line();
        match self.next(expected)? {
            Token::Word(w) => Ok(w),
            other => Err((
                line,
                format!("expected {expected}, found {}", shown(&other)),
            )),
        }
    }

    fn symbol(&mut self, c: char) -> Result<(), (usize, String)> {
        let line = self.line();
        match self.next(&format!("`{c}`"))? {
            Token::Symbol(s) if s == c => Ok(()),
            other => Err((line, format!("expected `{c}`, found {}", shown(&other)))),
        }
    }

    fn peek_symbol(&self, c: char) -> bool {
        matches!(self.tokens.get(self.at), Some((_, Token::Symbol(s))) if *s == c)
    }

    /// `module.Class flag key=value ... ;`
    fn module(&mut self) -> Result<Module, (usize, String)> {
        let class = self.word("a login module class")?;
        let line = self.line();
        let flag = match self.word("a control flag")?.to_ascii_lowercase().as_str() {
            "required" => Flag::Required,
            "requisite" => Flag::Requisite,
            "sufficient" => Flag::Sufficient,
            "optional" => Flag::Optional,
            other => {
                return Err((
                    line,
                    format!(
                    "`{other}` is not a control flag (required, requisite, sufficient, optional)"
                ),
                ))
            }
        };
        let mut options = BTreeMap::new();
        while !self.peek_symbol(';') {
            let key = self.word("an option name or `;`")?;
            self.symbol('=')?;
            let line = self.line();
            let value = match self.next("an option value")? {
                Token::Word(w) | Token::Quoted(w) => w,
                other => return Err((line, format!("expected a value, found {}", shown(&other)))),
            };
            options.insert(key, value);
        }
        self.symbol(';')?;
        Ok(Module {
            class,
            flag,
            options,
        })
    }
}

fn shown(t: &Token) -> String {
    match t {
        Token::Word(w) => format!("`{w}`"),
        // An option value may be a secret: never repeat it.
        Token::Quoted(_) => "a quoted value".into(),
        Token::Symbol(c) => format!("`{c}`"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_path_comes_from_kafka_opts() {
        let opts = "-Xmx1G -Djava.security.auth.login.config=/a.jaas -Dx=y \
                    -Djava.security.auth.login.config==/etc/connect.jaas";
        assert_eq!(
            login_config_path(opts),
            Some(PathBuf::from("/etc/connect.jaas"))
        );
        assert_eq!(login_config_path("-Xmx1G"), None);
        assert_eq!(login_config_path(""), None);
    }

    #[test]
    fn entries_modules_and_options() {
        let text = r#"
            // Kafka Connect's REST users
            KafkaConnect {
                org.apache.kafka.connect.rest.basic.auth.extension.PropertyFileLoginModule required
                file="/mnt/secret/credentials.properties";
            };
            /* a client entry
               spanning lines */
            KafkaClient {
                org.apache.kafka.common.security.plain.PlainLoginModule Sufficient
                username=alice password="a \"quoted\" secret";
            };
        "#;
        let entries = parse(text).unwrap();
        let connect = &entries["KafkaConnect"];
        assert_eq!(connect.len(), 1);
        assert_eq!(connect[0].flag, Flag::Required);
        assert!(connect[0].class.ends_with("PropertyFileLoginModule"));
        assert_eq!(
            connect[0].options["file"],
            "/mnt/secret/credentials.properties"
        );
        let client = &entries["KafkaClient"][0];
        assert_eq!(client.flag, Flag::Sufficient);
        assert_eq!(client.options["password"], "a \"quoted\" secret");
        assert_eq!(client.options["username"], "alice");
    }

    #[test]
    fn syntax_errors_have_a_line_and_hide_values() {
        let (line, message) =
            parse("KafkaConnect {\n  a.B required\n  password=\"secret\" }\n};").unwrap_err();
        assert_eq!(line, 3);
        assert!(!message.contains("secret"), "{message}");
        let (_, message) = parse("KafkaConnect {\n a.B always;\n};").unwrap_err();
        assert!(message.contains("not a control flag"), "{message}");
        assert!(
            parse("KafkaConnect {\n a.B required;\n}").is_err(),
            "missing `;`"
        );
    }
}
